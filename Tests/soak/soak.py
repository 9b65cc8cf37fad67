"""Soak: clients act at random on a few shared function names against one real `warren serve`.

    sudo WARREN_BIN=.build/debug/warren python3 Tests/soak/soak.py [--seconds 300] [--clients 6]

Each client creates and deletes the functions, publishes, moves an alias and its routing weights,
sets and removes reserved and provisioned concurrency (on versions and the alias), updates code,
configuration, limits and retry settings, and invokes (RequestResponse, Event and DryRun, on
$LATEST, versions and the alias; handlers that return, time out, raise or exit), so that every
management call races the others and the invocations. A call that takes over 30 s, an error
other than the ones such races legitimately cause, or a server that does not stop clean on
SIGTERM fails the soak (exit 1); a stuck server's threads are printed first. Loads of this kind
found the supervisor's livelock on overlapping provisioned-concurrency passes and the crash on an
instance destroyed before its invocation reached it; `make soak` runs it.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import botocore.exceptions

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from conftest import thread_dump  # noqa: E402
from helpers import ROLE, WarrenServer, function_arn, python_zip  # noqa: E402

#: Errors a race between clients causes by itself (a function deleted meanwhile, a version not yet
#: published, provisioned concurrency above a reservation, a reservation of 0 throttling, …).
EXPECTED = {"TooManyRequestsException", "InvalidParameterValueException", "ResourceNotFoundException",
            "ResourceConflictException", "ProvisionedConcurrencyConfigNotFoundException",
            "PreconditionFailedException"}
NAMES = ["soak-a", "soak-b", "soak-c"]
SLOW = 30


def operation(lam, server, rng):
    name = rng.choice(NAMES)
    target = rng.choice(["1", "2", "live"])
    qualifier = rng.choice(["1", "2", "live", "$LATEST"])
    # The handler returns, sleeps past a short timeout, raises, or exits (the runtime dies).
    event = json.dumps({"action": rng.choice(["none", "sleep", "raise", "exit", "size"]),
                        "seconds": rng.choice([0.2, 3.5]), "status": 7}).encode()
    table = [
        ("create", lambda: lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE,
                                               Handler="lambda_function.handler", Code={"ZipFile": python_zip()})),
        ("delete", lambda: lam.delete_function(FunctionName=name)),
        ("publish", lambda: lam.publish_version(FunctionName=name)),
        ("alias", lambda: lam.create_alias(FunctionName=name, Name="live", FunctionVersion=rng.choice(["1", "2"]))),
        ("unalias", lambda: lam.delete_alias(FunctionName=name, Name="live")),
        ("reserve", lambda: lam.put_function_concurrency(FunctionName=name,
                                                         ReservedConcurrentExecutions=rng.choice([0, 1, 2, 5]))),
        ("unreserve", lambda: lam.delete_function_concurrency(FunctionName=name)),
        ("provision", lambda: lam.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier=target, ProvisionedConcurrentExecutions=rng.choice([1, 2]))),
        ("unprovision", lambda: lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier=target)),
        ("status", lambda: lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=target)),
        ("configure", lambda: lam.update_function_configuration(
            FunctionName=name, Environment={"Variables": {"SOAK": str(rng.random())}})),
        ("event", lambda: lam.invoke(FunctionName=name, Qualifier=qualifier, InvocationType="Event", Payload=b"{}")),
        ("instances", server.instances),
        ("code", lambda: lam.update_function_code(FunctionName=name, ZipFile=python_zip(marker=str(rng.random())),
                                                  Publish=rng.random() < 0.3)),
        ("limits", lambda: lam.update_function_configuration(FunctionName=name, Timeout=rng.choice([2, 3, 10]),
                                                             MemorySize=rng.choice([128, 256]))),
        ("weights", lambda: lam.update_alias(FunctionName=name, Name="live", FunctionVersion="1",
                                             RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})),
        ("retries", lambda: lam.put_function_event_invoke_config(FunctionName=name,
                                                                 MaximumRetryAttempts=rng.choice([0, 1, 2]))),
        ("dryrun", lambda: lam.invoke(FunctionName=name, Qualifier=qualifier, InvocationType="DryRun", Payload=b"{}")),
        ("invoke", lambda: lam.invoke(FunctionName=name, Qualifier=qualifier, Payload=event)),
        ("stream", lambda: list(lam.invoke_with_response_stream(FunctionName=name, Qualifier=qualifier,
                                                                 Payload=event)["EventStream"])),
        ("tag", lambda: lam.tag_resource(Resource=function_arn(name), Tags={"soak": str(rng.random())})),
        ("untag", lambda: lam.untag_resource(Resource=function_arn(name), TagKeys=["soak"])),
    ]
    return rng.choice(table)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--clients", type=int, default=6)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="warren-soak-"))
    server = WarrenServer(state_dir=work / "state", workdir=work).start()
    print(f"soak: {args.clients} clients for {args.seconds:.0f} s against {server.endpoint} (pid {server.pid})",
          flush=True)
    end = time.monotonic() + args.seconds
    calls: dict[str, int] = {}
    failures: list[str] = []
    lock = threading.Lock()

    def client(n: int):
        lam = server.client(read_timeout=SLOW * 2)
        rng = random.Random(n)
        while time.monotonic() < end and not failures:
            what, call = operation(lam, server, rng)
            started = time.monotonic()
            outcome = "ok"
            try:
                call()
            except botocore.exceptions.ClientError as error:
                outcome = error.response["Error"]["Code"]
            except Exception as error:  # a read timeout or a closed connection: the server is in trouble
                outcome = f"{type(error).__name__}: {error}"
            took = time.monotonic() - started
            with lock:
                calls[what] = calls.get(what, 0) + 1
                if outcome != "ok" and outcome not in EXPECTED:
                    failures.append(f"{what}: {outcome}")
                elif took > SLOW:
                    failures.append(f"{what} took {took:.0f} s")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(f"soak: {sum(calls.values())} calls: {dict(sorted(calls.items()))}", flush=True)
    if failures:
        print("soak: FAILED: " + "; ".join(failures[:10]), flush=True)
        if server.process.poll() is None:
            print(thread_dump(server.pid), flush=True)
        print(server.log_tail(), flush=True)
        server.stop(check=False)
        print(f"soak: the server's state and logs are kept in {work}", flush=True)
        return 1
    server.stop(check=True)
    shutil.rmtree(work)
    print("soak: every call answered in time, server stopped clean", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
