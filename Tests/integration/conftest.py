"""Fixtures of the integration suite: one real `warren serve` per session
(plus private ones for tests that restart or kill a server), boto3 clients
and a factory that creates functions and deletes them afterwards.

The binary is $WARREN_BIN (default .build/debug/warren); the repository
root is the server's --home (rootfs/out/<runtime>, policies/).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import botocore.exceptions
import pytest

from helpers import POLL_DEADLINE, REPO, ROLE, WarrenServer, bootstrap_zip, poll, python_zip, unique_name

_servers: list[WarrenServer] = []

#: The whole session's budget in seconds ($WARREN_TEST_BUDGET): once spent, no further test starts
#: and the session ends with its report, instead of running into CI's own limit with nothing said.
SESSION_BUDGET = float(os.environ.get("WARREN_TEST_BUDGET", "2400"))
_session_start = time.monotonic()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The shared server. At the end it must stop on SIGTERM with exit 0, leaving no instance."""
    for runtime in ("python3.11", "provided.al2023"):
        assert (REPO / "rootfs" / "out" / runtime).is_dir(), f"rootfs/out/{runtime} is missing: run `make rootfs`"
    root = tmp_path_factory.mktemp("warren")
    instance = WarrenServer(state_dir=root / "state", workdir=root).start()
    _servers.append(instance)
    yield instance
    _servers.remove(instance)
    instance.stop(check=True)


@pytest.fixture
def make_server(tmp_path):
    """Starts private servers (`make_server(state_dir=None, extra_args=[], max_files=None)`); stops them at
    the end."""
    started: list[WarrenServer] = []

    def start(state_dir=None, extra_args=None, max_files=None) -> WarrenServer:
        instance = WarrenServer(state_dir=state_dir or tmp_path / "state", workdir=tmp_path / f"s{len(started)}",
                                extra_args=extra_args, max_files=max_files)
        instance.start()
        started.append(instance)
        _servers.append(instance)
        return instance

    yield start
    for instance in started:
        _servers.remove(instance)
        if instance.process.poll() is None:
            instance.stop(check=True)


@pytest.fixture(scope="session")
def lam(server):
    """boto3 Lambda client of the shared server (retries off)."""
    return server.client()


@pytest.fixture(scope="session")
def lam_raw(server):
    """Like `lam` but without botocore's client-side parameter validation, so the server sees bad input."""
    return server.client(validate=False)


def wait_active(lam, name: str, qualifier: str | None = None, deadline: float = POLL_DEADLINE) -> dict:
    """Polls GetFunctionConfiguration until State is Active and no update is in progress."""
    def probe():
        kwargs = {"FunctionName": name}
        if qualifier:
            kwargs["Qualifier"] = qualifier
        config = lam.get_function_configuration(**kwargs)
        assert config.get("State") != "Failed", f"function {name} failed: {config}"
        assert config.get("LastUpdateStatus") != "Failed", f"update of {name} failed: {config}"
        if config.get("State", "Active") == "Active" and config.get("LastUpdateStatus", "Successful") == "Successful":
            return config
        return None
    return poll(f"{name} to become Active", probe, deadline=deadline)


class Functions:
    """Creates functions with unique names and deletes them when the test ends."""

    def __init__(self, lam, prefix: str):
        self.lam = lam
        self.prefix = prefix
        self.names: list[str] = []

    def name(self) -> str:
        name = unique_name(self.prefix)
        self.names.append(name)
        return name

    def create(self, name: str | None = None, zip_file: bytes | None = None, runtime: str = "python3.11",
               handler: str = "lambda_function.handler", wait: bool = True, lam=None, **kwargs) -> dict:
        """CreateFunction (python3.11 echo handler unless told); waits until Active."""
        lam = lam or self.lam
        name = name or self.name()
        if name not in self.names:
            self.names.append(name)
        response = lam.create_function(
            FunctionName=name, Runtime=runtime, Role=ROLE, Handler=handler,
            Code={"ZipFile": zip_file if zip_file is not None else python_zip()}, **kwargs)
        if wait:
            wait_active(lam, name)
        return response

    def provided(self, name: str | None = None, zip_file: bytes | None = None, **kwargs) -> dict:
        return self.create(name=name, zip_file=zip_file or bootstrap_zip(), runtime="provided.al2023",
                           handler="bootstrap.handler", **kwargs)

    def cleanup(self):
        for name in self.names:
            try:
                self.lam.delete_function(FunctionName=name)
            except botocore.exceptions.ClientError as error:
                if error.response["Error"]["Code"] != "ResourceNotFoundException":
                    raise
            except botocore.exceptions.BotoCoreError:
                pass  # the server under test is gone; its own test reports that


@pytest.fixture
def functions(lam, request):
    factory = Functions(lam, request.node.name.replace("test_", "")[:24])
    yield factory
    factory.cleanup()


def pytest_runtest_setup(item):
    spent = time.monotonic() - _session_start
    if spent > SESSION_BUDGET:
        pytest.exit(f"the session's budget of {SESSION_BUDGET:.0f} s is spent ({spent:.0f} s): "
                    f"{item.nodeid} and the tests after it did not run", returncode=1)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failure, append the tail of every running server's output to the report; on a
    timeout (pytest-timeout), also where each of its threads waits, to tell a wedged server."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        timed_out = "Timeout" in str(report.longrepr)
        for instance in list(_servers):
            pid = instance.process.pid if instance.process else None
            report.sections.append((f"warren serve (pid {pid or '-'})", instance.log_tail()))
            if timed_out and pid and instance.process.poll() is None:
                report.sections.append((f"warren serve (pid {pid}) threads", thread_dump(pid)))


def thread_dump(pid: int) -> str:
    """Each thread's name, state and kernel wait channel; with gdb present, every thread's stack."""
    lines = []
    for task in sorted(Path(f"/proc/{pid}/task").glob("*"), key=lambda p: int(p.name)):
        try:
            name = (task / "comm").read_text().strip()
            state = (task / "stat").read_text().rsplit(")", 1)[1].split()[0]
            wchan = (task / "wchan").read_text().strip()
        except OSError:
            continue
        lines.append(f"{task.name:>8} {name:<24} {state} {wchan}")
    gdb = shutil.which("gdb")
    if gdb:
        try:
            stacks = subprocess.run([gdb, "-p", str(pid), "-batch", "-ex", "thread apply all bt 24"],
                                    capture_output=True, text=True, timeout=120).stdout
            demangle = shutil.which("swift-demangle")
            if demangle:
                stacks = subprocess.run([demangle, "--simplified"], input=stacks, capture_output=True,
                                        text=True, timeout=60).stdout
            lines += [line[:240] for line in stacks.splitlines() if line.startswith(("#", "Thread "))]
        except subprocess.TimeoutExpired:
            lines.append("gdb took over 120 s")
    return "\n".join(lines)
