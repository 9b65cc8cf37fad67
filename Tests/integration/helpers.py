"""Helpers shared by the integration suite: the `warren serve` process,
in-memory function zips, SigV4-signed raw requests and polling.

Nothing here fakes Warren: every helper talks to a real `warren serve`.
"""

from __future__ import annotations

import base64
import ctypes
import hashlib
import http.client
import io
import json
import os
import re
import resource
import signal
import stat
import subprocess
import time
import urllib.parse
import uuid
import zipfile
from pathlib import Path

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
from botocore.config import Config

REPO = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "000000000000"
ACCESS_KEY = "AKIDWARRENLOCAL"
SECRET_KEY = "warren-local-secret"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/warren-test"

#: How long a server may take to print its listening line.
START_TIMEOUT = 60
#: How long a server may take to exit after SIGTERM.
STOP_TIMEOUT = 30
#: Default deadline for anything polled (function active, provisioned ready, a log line).
POLL_DEADLINE = 60
#: Deadline for asynchronous deliveries that include retries with back-off.
ASYNC_DEADLINE = float(os.environ.get("WARREN_TEST_ASYNC_DEADLINE", "300"))


def warren_bin() -> Path:
    """The binary under test: $WARREN_BIN or the checkout's debug build."""
    path = Path(os.environ.get("WARREN_BIN", REPO / ".build" / "debug" / "warren"))
    return path if path.is_absolute() else (REPO / path)


def function_arn(name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def unique_name(prefix: str = "t") -> str:
    """A function name no other test uses: `prefix-<12 hex>` (≤ 64 chars, Lambda's pattern)."""
    prefix = re.sub(r"[^a-zA-Z0-9-_]", "-", prefix)[:40]
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def poll(what: str, probe, deadline: float = POLL_DEADLINE, interval: float = 0.1):
    """Calls `probe()` until it returns something truthy; returns that.

    Fails with `what` and the last value seen when `deadline` seconds pass.
    """
    end = time.monotonic() + deadline
    last = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() >= end:
            raise AssertionError(f"timed out after {deadline:.0f} s waiting for {what}; last value: {last!r}")
        time.sleep(interval)


# ---------------------------------------------------------------- zips


def zip_bytes(files: dict[str, bytes | str], modes: dict[str, int] | None = None) -> bytes:
    """A zip of `files` (name → content) built in memory; `modes` sets Unix modes (e.g. 0o755)."""
    modes = modes or {}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = (stat.S_IFREG | modes.get(name, 0o644)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()


def code_sha256(data: bytes) -> str:
    """Lambda's CodeSha256: base64 of the SHA-256 of the zip."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


#: A python3.11 handler that does what the event asks ("action") and
#: otherwise echoes the event with facts from its context and instance.
PYTHON_HANDLER = r'''
import json
import os
import sys
import time

COUNTER = "/tmp/warren-invoke-count"
MARKER = "%(marker)s"


def handler(event, context):
    action = event.get("action") if isinstance(event, dict) else None
    if action == "raise":
        raise ValueError(event.get("message", "boom"))
    if action == "sleep":
        time.sleep(float(event["seconds"]))
    if action in ("print", "sleep") and "text" in event:
        print(event["text"], flush=True)
    if action == "none":
        return None
    if action == "size":
        return {"size": len(json.dumps(event, separators=(",", ":")))}
    if action == "exit":
        sys.stdout.flush()
        os._exit(int(event.get("status", 3)))
    count = 0
    try:
        with open(COUNTER) as f:
            count = int(f.read())
    except FileNotFoundError:
        pass
    count += 1
    with open(COUNTER, "w") as f:
        f.write(str(count))
    return {
        "event": event,
        "marker": MARKER,
        "env": os.environ.get("MARKER"),
        "count": count,
        "pid": os.getpid(),
        "functionName": context.function_name,
        "functionVersion": context.function_version,
        "invokedFunctionArn": context.invoked_function_arn,
        "memoryLimitInMB": str(context.memory_limit_in_mb),
        "requestId": context.aws_request_id,
        "initType": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"),
        "clientCustom": getattr(context.client_context, "custom", None),
    }
'''

#: A handler that prints every event it gets on one line (for destinations).
RECORDER_HANDLER = r'''
import json


def handler(event, context):
    print("WARREN-RECORD " + json.dumps(event, sort_keys=True), flush=True)
    return {"recorded": True}
'''


def python_zip(marker: str = "v0", source: str | None = None) -> bytes:
    """A python3.11 package: `lambda_function.py` with `def handler(event, context)`."""
    code = source if source is not None else PYTHON_HANDLER % {"marker": marker}
    return zip_bytes({"lambda_function.py": code})


#: A provided.al2023 bootstrap in busybox sh: it speaks the Runtime API with
#: busybox wget (-S prints the response headers, which carry the request id)
#: and answers {"echo": <event>, "runtime": "provided"}.
SHELL_BOOTSTRAP = r'''#!/bin/sh
api="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  wget -q -S -O /tmp/event "$api/invocation/next" 2>/tmp/headers || { sleep 0.1; continue; }
  id=$(sed -n 's/^ *[Ll]ambda-[Rr]untime-[Aa]ws-[Rr]equest-[Ii]d: *//p' /tmp/headers | tr -d '\r')
  printf '{"echo":%s,"runtime":"provided","handler":"%s"}' "$(cat /tmp/event)" "$_HANDLER" >/tmp/response
  wget -q -O /dev/null --header 'Content-Type: application/json' --post-file /tmp/response \
    "$api/invocation/$id/response"
done
'''


def bootstrap_zip(script: str = SHELL_BOOTSTRAP) -> bytes:
    """A provided.al2023 package: an executable `bootstrap` script."""
    return zip_bytes({"bootstrap": script}, modes={"bootstrap": 0o755})


# ---------------------------------------------------------------- clients


def lambda_client(endpoint: str, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY,
                  validate: bool = True, read_timeout: int = 300):
    """A boto3 Lambda client for `endpoint`: no retries, a generous read timeout."""
    return boto3.session.Session().client(
        "lambda",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(
            retries={"max_attempts": 0, "mode": "standard"},
            read_timeout=read_timeout,
            connect_timeout=10,
            parameter_validation=validate,
        ),
    )


class RawResponse:
    """Status, headers (lower-case names) and body of one HTTP exchange."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    @property
    def error_type(self) -> str | None:
        value = self.headers.get("x-amzn-errortype")
        return value.split(":")[0] if value else None

    def __repr__(self):
        return f"RawResponse({self.status}, {self.headers!r}, {self.body[:500]!r})"


def signed_headers(endpoint: str, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
                   access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY, service: str = "lambda",
                   region: str = REGION) -> dict[str, str]:
    """`headers` plus what botocore's SigV4 signer adds (Authorization, X-Amz-Date, …)."""
    request = botocore.awsrequest.AWSRequest(method=method, url=endpoint.rstrip("/") + path, data=body,
                                             headers=dict(headers or {}))
    credentials = botocore.credentials.Credentials(access_key, secret_key)
    botocore.auth.SigV4Auth(credentials, service, region).add_auth(request)
    return dict(request.headers.items())


def send(endpoint: str, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
         timeout: float = 120) -> RawResponse:
    """One HTTP/1.1 exchange, exactly as given (nothing signed or added)."""
    parsed = urllib.parse.urlsplit(endpoint)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        return RawResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        connection.close()


def raw_request(endpoint: str, method: str, path: str, body: bytes = b"",
                headers: dict[str, str] | None = None, sign: bool = True, tamper=None,
                timeout: float = 120, **signing) -> RawResponse:
    """Sends one request, SigV4-signed by botocore's signer unless `sign` is false.

    `tamper(headers, body) -> (headers, body)` may change the request after signing;
    `signing` goes to `signed_headers` (access_key, secret_key, service, region).
    """
    request_headers = signed_headers(endpoint, method, path, body, headers, **signing) if sign else dict(
        headers or {})
    if tamper:
        request_headers, body = tamper(request_headers, body)
    return send(endpoint, method, path, body, request_headers, timeout=timeout)


# ---------------------------------------------------------------- server


def _set_parent_death_signal():
    """In the child before exec: SIGTERM the server if the test process dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_PDEATHSIG = 1
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def processes_in_instance_cgroups(prefix: str) -> list[str]:
    """`pid: cgroup line` of every process whose cgroup path has a component starting with `prefix`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cgroup") as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        for line in lines:
            path = line.split(":", 2)[-1]
            if any(part.startswith(prefix) for part in path.split("/")):
                found.append(f"{entry}: {line}")
                break
    return found


def instance_cgroup_dirs(prefix: str) -> list[str]:
    """Cgroup directories anywhere under /sys/fs/cgroup whose name starts with `prefix`."""
    found = []
    for root, dirs, _ in os.walk("/sys/fs/cgroup"):
        for name in dirs:
            if name.startswith(prefix):
                found.append(os.path.join(root, name))
    return found


class WarrenServer:
    """One `warren serve` subprocess on a free loopback port.

    stdout and stderr go to files in `workdir` (shown when a test fails);
    `endpoint` is the URL from the `warren: listening on` line.
    """

    def __init__(self, state_dir: Path, workdir: Path, extra_args: list[str] | None = None,
                 max_files: int | None = None):
        self.state_dir = Path(state_dir)
        self.workdir = Path(workdir)
        self.extra_args = list(extra_args or [])
        #: RLIMIT_NOFILE (soft and hard) to start the server with, if not the caller's.
        self.max_files = max_files
        self.process: subprocess.Popen | None = None
        self.endpoint: str | None = None
        self.starts = 0
        self.stdout_path: Path | None = None
        self.stderr_path: Path | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def instance_prefix(self) -> str:
        """Instance cgroups of this server are named `i-<server pid>-…`."""
        return f"i-{self.pid}-"

    def start(self) -> "WarrenServer":
        binary = warren_bin()
        assert binary.exists(), (
            f"warren binary not found at {binary}; build it (swift build --product warren) "
            f"or set WARREN_BIN")
        self.starts += 1
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.stdout_path = self.workdir / f"serve-{self.starts}.stdout"
        self.stderr_path = self.workdir / f"serve-{self.starts}.stderr"
        command = [str(binary), "serve", "--listen", "127.0.0.1:0", "--state-dir", str(self.state_dir),
                   "--home", str(REPO), *self.extra_args]
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            def before_exec():
                _set_parent_death_signal()
                if self.max_files:
                    resource.setrlimit(resource.RLIMIT_NOFILE, (self.max_files, self.max_files))
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                            cwd=self.workdir, preexec_fn=before_exec)
        self.endpoint = None
        end = time.monotonic() + START_TIMEOUT
        pattern = re.compile(r"^warren: listening on (http://\S+)$", re.M)
        while time.monotonic() < end:
            match = pattern.search(self.stdout_path.read_text(errors="replace"))
            if match:
                self.endpoint = match.group(1)
                return self
            if self.process.poll() is not None:
                raise AssertionError(f"warren serve exited with {self.process.returncode} before listening:\n"
                                     + self.log_tail())
            time.sleep(0.05)
        self.process.kill()
        self.process.wait()
        raise AssertionError(f"warren serve printed no listening line within {START_TIMEOUT} s:\n" + self.log_tail())

    def client(self, **kwargs):
        return lambda_client(self.endpoint, **kwargs)

    def request(self, method: str, path: str, **kwargs) -> RawResponse:
        return raw_request(self.endpoint, method, path, **kwargs)

    def logs(self, function: str, offset: int = 0) -> tuple[bytes, int]:
        """The function's log from `offset` via GET /warren/v1/functions/{fn}/logs (all of it, paged)."""
        data, offset, _ = self.follow_logs(function, offset)
        return data, offset

    def follow_logs(self, function: str, offset: int = 0, file: str | None = None) -> tuple[bytes, int, str | None]:
        """What a follower at `offset` of the log file `file` (an X-Warren-Log-File) reads next, paged to the
        end, and its position after it."""
        data = b""
        while True:
            query = f"?Offset={offset}" + (f"&File={file}" if file else "")
            response = self.request("GET", f"/warren/v1/functions/{urllib.parse.quote(function, safe='')}/logs"
                                    + query)
            assert response.status == 200, f"logs of {function}: {response!r}"
            data += response.body
            offset = int(response.headers["x-warren-next-offset"])
            file = response.headers.get("x-warren-log-file", file)
            if not response.body:
                return data, offset, file

    def instances(self) -> list[dict]:
        response = self.request("GET", "/warren/v1/instances")
        assert response.status == 200, f"instances: {response!r}"
        return response.json()["Instances"]

    def log_tail(self, limit: int = 6000) -> str:
        parts = []
        for path in (self.stdout_path, self.stderr_path):
            if path and path.exists():
                text = path.read_text(errors="replace")
                parts.append(f"--- {path.name} (last {limit} chars) ---\n{text[-limit:]}")
        return "\n".join(parts)

    def stop(self, check: bool = True) -> int:
        """SIGTERM; the server must exit 0 within STOP_TIMEOUT and leave no instance process or cgroup."""
        assert self.process is not None
        prefix = self.instance_prefix
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                if check:
                    raise AssertionError(f"warren serve did not exit within {STOP_TIMEOUT} s of SIGTERM:\n"
                                         + self.log_tail())
        code = self.process.returncode
        if check:
            assert code == 0, f"warren serve exited with {code} after SIGTERM:\n" + self.log_tail()
            self.assert_no_instances_left(prefix)
        return code

    def kill(self) -> None:
        """SIGKILL, as a crash: no cleanup by the server itself."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    @staticmethod
    def assert_no_instances_left(prefix: str, deadline: float = 10) -> None:
        """No process runs in, and no cgroup remains of, instances named `prefix…`."""
        end = time.monotonic() + deadline
        while True:
            left = processes_in_instance_cgroups(prefix) + instance_cgroup_dirs(prefix)
            if not left:
                return
            if time.monotonic() >= end:
                raise AssertionError(f"instances of {prefix}* left behind: {left}")
            time.sleep(0.1)


# ---------------------------------------------------------------- log parsing


def log_blocks(log: str, request_id: str) -> list[str]:
    """Lines START … REPORT of each invocation with `request_id` (one per attempt)."""
    blocks = []
    current = None
    for line in log.splitlines():
        if line.startswith("START RequestId: ") and request_id in line:
            current = [line]
        elif current is not None:
            current.append(line)
            if line.startswith("REPORT RequestId: ") and request_id in line:
                blocks.append("\n".join(current))
                current = None
    return blocks


def records(log: str) -> list[dict]:
    """The events RECORDER_HANDLER printed."""
    out = []
    for line in log.splitlines():
        index = line.find("WARREN-RECORD ")
        if index >= 0:
            out.append(json.loads(line[index + len("WARREN-RECORD "):]))
    return out


# ---------------------------------------------------------------- errors


def expect_error(code: str | tuple[str, ...], status: int, call, **kwargs) -> dict:
    """Calls `call(**kwargs)`, which must fail with error `code` (or one of them) and HTTP `status`.

    Returns botocore's error response (Error.Code, Error.Message, modeled fields such as Reason).
    """
    import botocore.exceptions
    codes = (code,) if isinstance(code, str) else code
    try:
        result = call(**kwargs)
    except botocore.exceptions.ClientError as error:
        response = error.response
        got = (response["Error"].get("Code"), response["ResponseMetadata"]["HTTPStatusCode"])
        assert got[0] in codes and got[1] == status, (
            f"expected {codes} {status}, got {got}: {response.get('Error')}")
        assert response["Error"].get("Message"), f"error without a message: {response}"
        return response
    raise AssertionError(f"expected {codes} {status}; the call succeeded: {result!r}")


def status_of(response: dict) -> int:
    return response["ResponseMetadata"]["HTTPStatusCode"]


def invoke(lam, name: str, event=None, **kwargs) -> tuple[dict, object]:
    """Invoke (RequestResponse unless told); returns the response and its JSON-decoded payload."""
    if event is not None:
        kwargs["Payload"] = json.dumps(event).encode()
    response = lam.invoke(FunctionName=name, **kwargs)
    body = response["Payload"].read()
    return response, (json.loads(body) if body else None)


def metric(server: "WarrenServer", name: str, labels: str | None = None) -> float | None:
    """The value of one sample of GET /metrics (`name` or `name{labels}`), or None if absent."""
    response = server.request("GET", "/metrics", sign=False)
    assert response.status == 200, response
    wanted = f"{name}{{{labels}}}" if labels else name
    for line in response.body.decode().splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        if key == wanted:
            return float(value)
    return None
