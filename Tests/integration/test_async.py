"""Event invocations: they run, failures are retried and then go to the
OnFailure destination, successes to OnSuccess, and accepted events survive
a crash (SIGKILL) or a stop (SIGTERM) of the server."""

import json
import os
import signal
import subprocess
import threading
import time

import botocore.exceptions
import pytest

from conftest import Functions, wait_active
from helpers import (ASYNC_DEADLINE, RECORDER_HANDLER, WarrenServer, function_arn, instance_cgroup_dirs, invoke,
                     log_blocks, metric, poll, processes_in_instance_cgroups, python_zip, records, unique_name,
                     warren_bin)


def send_event(lam, name, event, **kwargs):
    response = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event).encode(), **kwargs)
    assert response["StatusCode"] == 202, response
    return response["ResponseMetadata"]["RequestId"]


def wait_for_markers(server, name, markers, deadline=ASYNC_DEADLINE):
    """Polls the function's log until every marker appears; returns the log."""
    def probe():
        log = server.logs(name)[0].decode(errors="replace")
        missing = [m for m in markers if m not in log]
        return log if not missing else None
    return poll(f"{len(markers)} markers in the log of {name}", probe, deadline=deadline, interval=0.25)


def test_event_invocations_all_run(server, lam, functions):
    name = functions.create()["FunctionName"]
    markers = [f"evt-{n}-{unique_name()}" for n in range(8)]
    ids = [send_event(lam, name, {"action": "print", "text": marker}) for marker in markers]
    assert len(set(ids)) == len(ids)
    wait_for_markers(server, name, markers)
    for request_id in ids:
        poll(f"REPORT of {request_id}", lambda: log_blocks(server.logs(name)[0].decode(), request_id))


def test_failures_are_retried_then_sent_to_on_failure(server, lam, functions):
    sink = functions.create(zip_file=python_zip(source=RECORDER_HANDLER))["FunctionName"]
    name = functions.create()["FunctionName"]
    lam.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": function_arn(sink)}})
    event = {"action": "raise", "message": f"always fails {unique_name()}"}
    request_id = send_event(lam, name, event)

    def delivered():
        found = [r for r in records(server.logs(sink)[0].decode()) if r.get("requestPayload") == event]
        return found or None
    [record] = poll("the failure record at the OnFailure destination", delivered, deadline=ASYNC_DEADLINE,
                    interval=0.5)
    context = record["requestContext"]
    assert context["requestId"] == request_id
    assert context["functionArn"] == function_arn(name, "$LATEST")
    assert context["condition"] == "RetriesExhausted"
    assert context["approximateInvokeCount"] == 2
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "ValueError"
    assert record["responsePayload"]["errorMessage"] == event["message"]
    assert record["version"] == "1.0"
    # One first attempt and one retry, each a whole invocation in the log, with the same request id.
    attempts = poll("two attempts in the log", lambda: (lambda b: b if len(b) >= 2 else None)(
        log_blocks(server.logs(name)[0].decode(), request_id)))
    assert len(attempts) == 2, attempts


def test_no_retries_means_one_attempt(server, lam, functions):
    sink = functions.create(zip_file=python_zip(source=RECORDER_HANDLER))["FunctionName"]
    name = functions.create()["FunctionName"]
    lam.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": function_arn(sink)}})
    event = {"action": "raise", "message": f"once {unique_name()}"}
    request_id = send_event(lam, name, event)
    [record] = poll("the failure record", lambda: [r for r in records(server.logs(sink)[0].decode())
                                                    if r.get("requestPayload") == event] or None,
                    deadline=ASYNC_DEADLINE, interval=0.5)
    assert record["requestContext"]["approximateInvokeCount"] == 1
    attempts = poll("the attempt in the log", lambda: log_blocks(server.logs(name)[0].decode(), request_id))
    assert len(attempts) == 1, attempts


def test_success_goes_to_on_success(server, lam, functions):
    sink = functions.create(zip_file=python_zip(source=RECORDER_HANDLER))["FunctionName"]
    name = functions.create(zip_file=python_zip("succeeds"))["FunctionName"]
    lam.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": function_arn(sink)}})
    event = {"hello": unique_name()}
    request_id = send_event(lam, name, event)
    [record] = poll("the success record", lambda: [r for r in records(server.logs(sink)[0].decode())
                                                    if r.get("requestPayload") == event] or None,
                    deadline=ASYNC_DEADLINE, interval=0.5)
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["responseContext"]["statusCode"] == 200
    assert record["responsePayload"]["marker"] == "succeeds"
    assert record["responsePayload"]["event"] == event


def build_state(lam, functions):
    """Functions, versions, aliases and settings a restart must keep; returns what to compare."""
    name = functions.create(Environment={"Variables": {"MARKER": "p1"}})["FunctionName"]
    lam.publish_version(FunctionName=name)
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"MARKER": "p2"}},
                                      TracingConfig={"Mode": "Active"})
    wait_active(lam, name)
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1",
                     RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    lam.create_alias(FunctionName=name, Name="beta", FunctionVersion="2")
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=7)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=2, MaximumEventAgeInSeconds=3600)
    lam.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com")
    lam.add_permission(FunctionName=name, Qualifier="beta", StatementId="sns", Action="lambda:InvokeFunction",
                       Principal="sns.amazonaws.com")
    lam.put_function_code_signing_config(
        FunctionName=name,
        CodeSigningConfigArn="arn:aws:lambda:us-east-1:000000000000:code-signing-config:csc-0123456789abcdefg")
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="beta", ProvisionedConcurrentExecutions=1)
    poll("provisioned concurrency on beta READY", lambda: lam.get_provisioned_concurrency_config(
        FunctionName=name, Qualifier="beta")["Status"] == "READY")
    return name, snapshot(lam, name)


def snapshot(lam, name):
    def clean(d):
        return {k: v for k, v in d.items() if k != "ResponseMetadata"}
    return {
        "latest": clean(lam.get_function_configuration(FunctionName=name)),
        "versions": [clean(v) for v in lam.list_versions_by_function(FunctionName=name)["Versions"]],
        "aliases": sorted((clean(a) for a in lam.list_aliases(FunctionName=name)["Aliases"]),
                          key=lambda a: a["Name"]),
        "reserved": lam.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions"),
        "event": {k: v for k, v in clean(lam.get_function_event_invoke_config(FunctionName=name)).items()
                  if k != "LastModified"},
        "policies": [clean(lam.get_policy(FunctionName=name)),
                     clean(lam.get_policy(FunctionName=name, Qualifier="beta"))],
        "code signing": clean(lam.get_function_code_signing_config(FunctionName=name)),
        "provisioned": lam.get_provisioned_concurrency_config(
            FunctionName=name, Qualifier="beta")["RequestedProvisionedConcurrentExecutions"],
    }


#: Events the queue runs at once (EventQueue's default concurrency).
QUEUE_CONCURRENCY = 8


def queue_in_flight_and_waiting(server, lam, functions):
    """A function with QUEUE_CONCURRENCY long events running (claimed, leased) and 4 short ones waiting.

    Returns (function, markers of the long events, markers of the waiting events).
    """
    slow = functions.create(Timeout=120)["FunctionName"]
    long = [f"long-{n}-{unique_name()}" for n in range(QUEUE_CONCURRENCY)]
    short = [f"short-{n}-{unique_name()}" for n in range(4)]
    for marker in long:
        send_event(lam, slow, {"action": "sleep", "seconds": 90, "text": marker})
    for marker in short:
        send_event(lam, slow, {"action": "print", "text": marker})
    poll(f"{QUEUE_CONCURRENCY} busy instances of {slow}", lambda: len(
        [i for i in server.instances() if i["FunctionName"] == slow and i["State"] == "busy"]) == QUEUE_CONCURRENCY)
    log = server.logs(slow)[0].decode()
    assert not [m for m in long + short if m in log], "an event ran although the queue was full"
    return slow, long, short


def assert_waiting_run_and_in_flight_stay_queued(server, slow, long, short):
    """After a restart: the waiting events run at once; the ones in flight at the stop are neither run
    nor lost: they stay leased (EventQueue.Timing.lease, 960 s), counted in warren_async_queue_depth."""
    wait_for_markers(server, slow, short)
    poll(f"warren_async_queue_depth == {len(long)}",
         lambda: metric(server, "warren_async_queue_depth") == len(long))
    log = server.logs(slow)[0].decode()
    assert not [m for m in long if m in log]


def test_state_and_queued_events_survive_sigkill(make_server, tmp_path):
    state = tmp_path / "state"
    first = make_server(state_dir=state)
    lam = first.client()
    functions = Functions(lam, "persist")
    name, before = build_state(lam, functions)

    # Load: synchronous invocations in a thread while the queue is full.
    stop = threading.Event()

    def load():
        while not stop.is_set():
            try:
                invoke(lam, name, {}, Qualifier="live")
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
                pass  # the server is killed under it
    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    slow, long, short = queue_in_flight_and_waiting(first, lam, functions)
    old_prefix = first.instance_prefix
    first.kill()
    stop.set()
    loader.join(30)

    second = make_server(state_dir=state)
    # Instances of the killed server die with it (or the new one sweeps them).
    WarrenServer.assert_no_instances_left(old_prefix, deadline=30)
    lam2 = second.client()
    assert snapshot(lam2, name) == before
    assert before["latest"]["TracingConfig"] == {"Mode": "Active"} and before["code signing"]["CodeSigningConfigArn"]
    # The alias's provisioned concurrency is started again, and serves the alias.
    poll("provisioned concurrency on beta READY after the restart", lambda: lam2.get_provisioned_concurrency_config(
        FunctionName=name, Qualifier="beta")["Status"] == "READY")
    response, payload = invoke(lam2, name, {}, Qualifier="beta")
    assert (response["ExecutedVersion"], payload["env"]) == ("2", "p2")
    assert payload["initType"] == "provisioned-concurrency", payload
    assert {invoke(lam2, name, {}, Qualifier="live")[0]["ExecutedVersion"] for _ in range(30)} == {"1", "2"}
    assert_waiting_run_and_in_flight_stay_queued(second, slow, long, short)


def test_queued_events_survive_sigterm(make_server, tmp_path):
    state = tmp_path / "state"
    first = make_server(state_dir=state)
    lam = first.client()
    functions = Functions(lam, "term")
    slow, long, short = queue_in_flight_and_waiting(first, lam, functions)
    first.stop(check=True)

    second = make_server(state_dir=state)
    assert_waiting_run_and_in_flight_stay_queued(second, slow, long, short)


def test_sigterm_during_a_cold_start_leaves_nothing(make_server):
    """SIGTERM while an Event invocation is starting its instance: exit 0, no process, no cgroup left."""
    server = make_server()
    lam = server.client()
    name = Functions(lam, "cold").create()["FunctionName"]
    send_event(lam, name, {"action": "print", "text": "cold"})
    server.stop(check=True)


def test_throttled_events_wait_and_run_after_a_crash(make_server, tmp_path):
    """Events of a function whose reserved concurrency (1) is in use stay queued (throttled, retried with
    back-off, never run), survive a SIGKILL and all run after the restart."""
    state = tmp_path / "state"
    first = make_server(state_dir=state)
    lam = first.client()
    held = Functions(lam, "held").create(Timeout=120)["FunctionName"]
    lam.put_function_concurrency(FunctionName=held, ReservedConcurrentExecutions=1)

    def hold():
        try:  # Ends with the server's SIGKILL.
            first.client().invoke(FunctionName=held, Payload=json.dumps({"action": "sleep", "seconds": 100}))
        except Exception:
            pass
    threading.Thread(target=hold, daemon=True).start()
    poll("the holder to run", lambda: [i for i in first.instances()
                                       if i["FunctionName"] == held and i["State"] == "busy"] or None)
    markers = [f"held-{n}-{unique_name()}" for n in range(5)]
    for marker in markers:
        send_event(lam, held, {"action": "print", "text": marker})
    poll("the throttled events to be counted in the queue",
         lambda: metric(first, "warren_async_queue_depth") == len(markers))
    time.sleep(1)  # The queue's first attempts (and back-off retries) meet the held reservation.
    assert not [m for m in markers if m.encode() in first.logs(held)[0]]
    first.kill()

    second = make_server(state_dir=state)
    wait_for_markers(second, held, markers)
    poll("the queue to drain", lambda: metric(second, "warren_async_queue_depth") == 0)


def _hold_the_only_slot(server, lam, functions, seconds: float) -> tuple[str, threading.Thread, list]:
    """A function with a reservation of 1, held by a synchronous invoke that sleeps `seconds`:
    its name, the holder's thread, and the list the holder appends its end time to."""
    name = functions.create(Timeout=30)["FunctionName"]
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    ended = []

    def hold():
        server.client().invoke(FunctionName=name, Payload=json.dumps({"action": "sleep", "seconds": seconds}))
        ended.append(time.monotonic())
    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    poll("the holder to run", lambda: [i for i in server.instances()
                                       if i["FunctionName"] == name and i["State"] == "busy"] or None)
    return name, holder, ended


def test_a_throttled_event_runs_once_a_synchronous_invoke_frees_its_slot(server, lam, functions):
    """An event throttled while a synchronous invoke holds the function's only slot runs as that
    invoke ends, not at the end of its back-off (1, 2, 4 s: here about 2.5 s later)."""
    name, holder, ended = _hold_the_only_slot(server, lam, functions, 4.5)
    marker = f"freed-{unique_name()}"
    send_event(lam, name, {"action": "print", "text": marker})
    holder.join()
    wait_for_markers(server, name, [marker])
    waited = time.monotonic() - ended[0]
    assert waited < 1.5, f"the event ran {waited:.1f} s after the slot was freed"


def test_a_throttled_event_runs_once_its_reservation_is_raised(server, lam, functions):
    """An event throttled because its function's reservation is busy runs as soon as the reservation
    is raised, not at the end of its back-off (1, 2, 4 s …: here 4 s after the raise), nor once the
    invoke holding the slot ends (9 s)."""
    name, holder, _ = _hold_the_only_slot(server, lam, functions, 9)
    marker = f"raised-{unique_name()}"
    send_event(lam, name, {"action": "print", "text": marker})
    # Throttled at once, after 1 s and after 3 s: the next try would be 7 s in.
    time.sleep(3.5)
    assert marker.encode() not in server.logs(name)[0], "the event ran while the only slot was held"
    raised = time.monotonic()
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)
    wait_for_markers(server, name, [marker])
    waited = time.monotonic() - raised
    holder.join()
    assert waited < 2, f"the event ran {waited:.1f} s after the reservation was raised"


def test_reserved_concurrency_zero_sends_events_to_on_failure_at_once(server, lam, functions):
    """Reserved concurrency 0: an Event goes straight to the OnFailure destination, no retries, with
    condition ZeroReservedConcurrency and approximateInvokeCount 0 (as Lambda)."""
    sink = functions.create(zip_file=python_zip(source=RECORDER_HANDLER))["FunctionName"]
    name = functions.create()["FunctionName"]
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    lam.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnFailure": {"Destination": function_arn(sink)}})
    event = {"action": "print", "text": f"never runs {unique_name()}"}
    request_id = send_event(lam, name, event)
    [record] = poll("the ZeroReservedConcurrency record", lambda: [
        r for r in records(server.logs(sink)[0].decode()) if r.get("requestPayload") == event] or None,
        deadline=ASYNC_DEADLINE, interval=0.25)
    context = record["requestContext"]
    assert context["condition"] == "ZeroReservedConcurrency"
    assert context["requestId"] == request_id
    assert context["approximateInvokeCount"] == 0
    assert "responseContext" not in record and "responsePayload" not in record
    assert event["text"].encode() not in server.logs(name)[0]
    poll("the queue to drain", lambda: metric(server, "warren_async_queue_depth") == 0)


def frozen_instance_cgroups(prefix: str) -> list[str]:
    """Instance cgroups named `prefix…` that are frozen (v1 freezer.state or v2 cgroup.events)."""
    frozen = []
    for path in instance_cgroup_dirs(prefix):
        for name, mark in (("freezer.state", "FROZEN"), ("cgroup.events", "frozen 1")):
            try:
                with open(os.path.join(path, name)) as f:
                    if mark in f.read():
                        frozen.append(path)
            except OSError:
                pass
    return frozen


def watchdogs_of(pid: int) -> list[int]:
    """Pids of `warren watchdog --owner PID` processes."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv[1:4] == [b"watchdog", b"--owner", str(pid).encode()]:
            found.append(int(entry))
    return found


def server_with_a_frozen_instance(make_server) -> tuple[WarrenServer, str, int, int]:
    """A server whose one instance is frozen: the server, its instances' cgroup prefix, its pid
    and its watchdog's pid."""
    server = make_server()
    lam = server.client()
    name = Functions(lam, "crash").create()["FunctionName"]
    invoke(lam, name, {})
    prefix, pid = server.instance_prefix, server.pid
    deadline = time.monotonic() + 10
    while not frozen_instance_cgroups(prefix):
        assert time.monotonic() < deadline, f"no instance of {prefix}* froze: {instance_cgroup_dirs(prefix)}"
        time.sleep(0.05)
    watchdogs = watchdogs_of(pid)
    assert len(watchdogs) == 1
    return server, prefix, pid, watchdogs[0]


def test_a_killed_server_leaves_no_frozen_instance_behind(make_server):
    """A frozen task acts on no signal until thawed, so the SIGKILL a dying server's instances get
    would leave them frozen; the server's watchdog thaws, kills and removes them, with no new
    server started."""
    server, prefix, pid, _ = server_with_a_frozen_instance(make_server)
    server.kill()
    WarrenServer.assert_no_instances_left(prefix, deadline=10)
    deadline = time.monotonic() + 10
    while watchdogs_of(pid):
        assert time.monotonic() < deadline, "the watchdog did not exit"
        time.sleep(0.05)


def test_a_watchdog_killed_alone_is_replaced(make_server):
    """A server whose watchdog is killed starts another at once (saying so), and that one sweeps the
    frozen instances when the server is killed in its turn; the dead one is reaped."""
    server, prefix, pid, watchdog = server_with_a_frozen_instance(make_server)
    os.kill(watchdog, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while not [w for w in watchdogs_of(pid) if w != watchdog]:
        assert time.monotonic() < deadline, "no new watchdog: " + server.log_tail()
        time.sleep(0.05)
    assert f"the watchdog (pid {watchdog}) was killed by signal 9; starting another" in server.log_tail()
    assert not os.path.exists(f"/proc/{watchdog}"), "the killed watchdog was not reaped"
    server.kill()
    WarrenServer.assert_no_instances_left(prefix, deadline=10)


def test_a_sweep_from_another_memory_cgroup_removes_every_cgroup_of_the_dead_servers_instances(make_server):
    """On cgroup v1 a server's instances sit below its own cgroup in each hierarchy. A Warren process
    in another memory cgroup (as on hosts giving every process its own) that sweeps a dead server's
    frozen instances finds their memory cgroups through their processes and removes those too."""
    memory = "/sys/fs/cgroup/memory"
    if not os.path.isdir(memory):
        pytest.skip(f"no cgroup v1 memory hierarchy at {memory}")
    server, prefix, _, watchdog = server_with_a_frozen_instance(make_server)
    os.kill(server.pid, signal.SIGSTOP)  # so that it cannot start another watchdog
    os.kill(watchdog, signal.SIGKILL)
    server.kill()
    other = f"{memory}/warren-test-{os.getpid()}"
    os.mkdir(other)
    try:
        script = f'echo $$ > {other}/cgroup.procs && exec "$0" run -- /bin/true'
        run = subprocess.run(["sh", "-c", script, str(warren_bin())], capture_output=True, timeout=60)
        assert run.returncode == 0, run.stderr
        WarrenServer.assert_no_instances_left(prefix, deadline=1)
    finally:
        for path in (f"{other}/warren", other):
            if os.path.isdir(path):
                os.rmdir(path)


def test_a_run_after_a_server_and_its_watchdog_died_removes_their_frozen_instances(make_server):
    """With its watchdog killed too, nothing ends a dead server's frozen instances, and the range
    of uids they run as is free to lease again: the next Warren process (here `warren run`)
    removes them before it leases one, so no two sandboxes share a uid."""
    server, prefix, _, watchdog = server_with_a_frozen_instance(make_server)
    os.kill(server.pid, signal.SIGSTOP)  # so that it cannot start another watchdog
    os.kill(watchdog, signal.SIGKILL)
    server.kill()
    time.sleep(0.5)
    assert processes_in_instance_cgroups(prefix), "the frozen instance died without a sweep"
    run = subprocess.run([str(warren_bin()), "run", "--", "/bin/true"], capture_output=True, timeout=60)
    assert run.returncode == 0, run.stderr
    WarrenServer.assert_no_instances_left(prefix, deadline=1)
