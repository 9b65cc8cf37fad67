"""Invoke: RequestResponse, function errors, LogType Tail, DryRun, Event,
payload limits, timeouts, crashes, warm reuse and both runtimes."""

import base64
import json
import re
from concurrent.futures import ThreadPoolExecutor

from conftest import Functions
from helpers import (bootstrap_zip, expect_error, function_arn, invoke, poll, python_zip, status_of,
                     unique_name)

SYNC_LIMIT = 6_291_456


def padded_event(total: int) -> bytes:
    """A JSON event {"action":"size","pad":"xx…"} of exactly `total` bytes."""
    skeleton = json.dumps({"action": "size", "pad": ""}, separators=(",", ":"))
    body = json.dumps({"action": "size", "pad": "x" * (total - len(skeleton))}, separators=(",", ":")).encode()
    assert len(body) == total
    return body


def test_request_response_echoes_the_event(lam, functions):
    name = functions.create(MemorySize=256)["FunctionName"]
    event = {"hello": "world", "n": [1, 2, 3], "nested": {"ok": True}, "unicode": "grüß 🐇"}
    response, payload = invoke(lam, name, event)
    assert status_of(response) == 200
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert response["ExecutedVersion"] == "$LATEST"
    assert payload["event"] == event
    assert payload["functionName"] == name
    assert payload["functionVersion"] == "$LATEST"
    assert payload["invokedFunctionArn"] == function_arn(name)
    assert payload["memoryLimitInMB"] == "256"
    assert payload["requestId"] == response["ResponseMetadata"]["RequestId"]
    assert payload["initType"] == "on-demand"

    # Other JSON values are events too; a handler returning None answers null.
    for value in ("just a string", 42, [1, "two"], None):
        _, payload = invoke(lam, name, Payload=json.dumps(value).encode())
        assert payload["event"] == value
    response = lam.invoke(FunctionName=name, Payload=b'{"action": "none"}')
    assert response["Payload"].read() == b"null"
    # No payload at all is an empty event.
    response = lam.invoke(FunctionName=name)
    assert response["StatusCode"] == 200 and "FunctionError" not in response


def test_warm_instance_is_reused(lam, functions):
    name = functions.create()["FunctionName"]
    # The handler counts its invocations in the instance's own /tmp.
    counts = [invoke(lam, name, {})[1]["count"] for _ in range(3)]
    assert counts == [1, 2, 3], counts


def test_warm_instance_is_reused_across_connections(server, functions):
    # Calls one at a time, each on a new connection (as separate `aws` commands make them),
    # land on the server's event loops in turn: all are served by the one warm instance.
    name = functions.create()["FunctionName"]
    counts = [invoke(server.client(), name, {})[1]["count"] for _ in range(4)]
    assert counts == [1, 2, 3, 4], counts


def test_handler_exception_is_unhandled_function_error(lam, functions):
    name = functions.create()["FunctionName"]
    response, payload = invoke(lam, name, {"action": "raise", "message": "it broke"})
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amz-function-error"] == "Unhandled"
    assert payload["errorType"] == "ValueError"
    assert payload["errorMessage"] == "it broke"
    assert isinstance(payload.get("stackTrace", []), list)
    # The instance survives a handled exception and answers the next event.
    response, payload = invoke(lam, name, {"after": "error"})
    assert "FunctionError" not in response and payload["event"] == {"after": "error"}


def test_log_type_tail(server, lam, functions):
    name = functions.create()["FunctionName"]
    response, payload = invoke(lam, name, {"action": "print", "text": "hello from the tail"}, LogType="Tail")
    request_id = response["ResponseMetadata"]["RequestId"]
    assert payload["requestId"] == request_id
    tail_bytes = base64.b64decode(response["LogResult"])
    assert len(tail_bytes) <= 4096
    tail = tail_bytes.decode()
    assert re.search(rf"^START RequestId: {request_id}", tail, re.M), tail
    assert "hello from the tail" in tail
    assert re.search(rf"^END RequestId: {request_id}", tail, re.M), tail
    report = re.search(rf"^REPORT RequestId: {request_id}\t(.*)$", tail, re.M)
    assert report, tail
    for field in ("Duration:", "Billed Duration:", "Memory Size: 128 MB", "Max Memory Used:"):
        assert field in report.group(1), report.group(1)
    assert tail.index("START") < tail.index("hello from the tail") < tail.index("END") < tail.index("REPORT")

    # Without Tail there is no LogResult; the function's log file has both invocations.
    response, _ = invoke(lam, name, {"action": "print", "text": "second line"})
    assert "LogResult" not in response
    second_id = response["ResponseMetadata"]["RequestId"]
    log = poll("both invocations in the log", lambda: (lambda text: text if f"REPORT RequestId: {second_id}" in text
                                                       else None)(server.logs(name)[0].decode()))
    assert "hello from the tail" in log and "second line" in log
    assert log.index(f"START RequestId: {request_id}") < log.index(f"START RequestId: {second_id}")
    # One INIT_START per execution environment, first, as Lambda writes it (never in a tail).
    init_start = re.findall(r"^INIT_START Runtime Version: python:3\.11\.([0-9a-f]{16})\t"
                            r"Runtime Version ARN: arn:aws:lambda:[a-z0-9-]+::runtime:([0-9a-f]{16})$", log, re.M)
    assert len(init_start) == 1 and init_start[0][0] == init_start[0][1], log
    assert log.startswith("INIT_START ") and "INIT_START" not in tail, log
    # The function's configuration names the same runtime version (not ListFunctions, as Lambda).
    arn = lam.get_function_configuration(FunctionName=name)["RuntimeVersionConfig"]["RuntimeVersionArn"]
    assert arn == f"arn:aws:lambda:{lam.meta.region_name}::runtime:{init_start[0][1]}", arn
    assert lam.get_function(FunctionName=name)["Configuration"]["RuntimeVersionConfig"]["RuntimeVersionArn"] == arn
    listed = [f for page in lam.get_paginator("list_functions").paginate() for f in page["Functions"]
              if f["FunctionName"] == name]
    assert listed and "RuntimeVersionConfig" not in listed[0], listed


def test_everything_printed_before_the_response_is_in_the_tail_before_end(lam, functions):
    """awslambdaric writes each print unbuffered, so 200 printed lines are in the log pipe before
    the response: all of them belong before END. Before, in about one fresh instance in five
    the reader had not taken the last of them by then (they followed END, missing from the tail)."""
    source = ('def handler(event, context):\n'
              '    for i in range(200):\n'
              '        print("line %05d %s" % (i, "x" * 50))\n'
              '    return "ok"\n')
    late = []
    for n in range(12):
        name = functions.create(zip_file=python_zip(source=source))["FunctionName"]
        response, _ = invoke(lam, name, {}, LogType="Tail")
        request_id = response["ResponseMetadata"]["RequestId"]
        tail = base64.b64decode(response["LogResult"]).decode()
        end = tail.find(f"\nEND RequestId: {request_id}\n")
        if not 0 <= tail.find("line 00199 ") < end:
            late.append(tail[-200:])
    assert not late, f"{len(late)} of 12 tails lack the last line before END: {late[:2]}"


def test_a_handler_that_cannot_load_shows_why_in_the_log_tail(lam, functions):
    """A module that fails to import: Lambda's Runtime.ImportModuleError from awslambdaric, and
    the init's output (what the module printed, the runtime's error line) leads the log tail."""
    source = 'print("loading the module")\nimport no_such_module\n\ndef handler(event, context):\n    return 1\n'
    name = functions.create(zip_file=python_zip(source=source))["FunctionName"]
    response, payload = invoke(lam, name, {}, LogType="Tail")
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.ImportModuleError", payload
    request_id = response["ResponseMetadata"]["RequestId"]
    tail = base64.b64decode(response["LogResult"]).decode()
    assert tail.startswith("loading the module\n"), tail
    assert "[ERROR] Runtime.ImportModuleError: Unable to import module 'lambda_function'" in tail, tail
    assert tail.index("No module named 'no_such_module'") < tail.index(f"START RequestId: {request_id}"), tail
    # Lambda's INIT_REPORT for the init that failed, between its output and START.
    assert re.search(rf"^INIT_REPORT Init Duration: \d+\.\d\d ms\tPhase: init\tStatus: error\t"
                     rf"Error Type: Runtime.ImportModuleError\nSTART RequestId: {request_id} ", tail, re.M), tail
    assert re.search(rf"^REPORT RequestId: {request_id}\tDuration: .*\tMax Memory Used: \d+ MB\t"
                     rf"Status: error\tError Type: Runtime.ImportModuleError\t$", tail, re.M), tail


def test_logs_route_pages_by_offset(server, lam, functions):
    name = functions.create()["FunctionName"]
    response, _ = invoke(lam, name, {"action": "print", "text": "first"})
    first_id = response["ResponseMetadata"]["RequestId"]
    whole, end = poll("the first invocation in the log", lambda: (lambda d: d if f"REPORT RequestId: {first_id}"
                                                                  .encode() in d[0] else None)(server.logs(name)))
    assert end == len(whole) and b"first" in whole
    invoke(lam, name, {"action": "print", "text": "second"})
    rest = poll("the second invocation in the log", lambda: (lambda d: d if b"REPORT" in d[0] else None)(
        server.logs(name, offset=end)))[0]
    assert b"second" in rest and b"first" not in rest
    missing = server.request("GET", f"/warren/v1/functions/{unique_name('nolog')}/logs?Offset=0")
    assert missing.status == 404 and missing.error_type == "ResourceNotFoundException", missing


def test_a_function_log_is_rotated_at_its_limit(make_server):
    """With --max-log 1, 2.5 MiB of output leaves a current file under 1 MiB plus one write, the
    MiB before it in `.log.1`, and the oldest lines nowhere; `warren logs` reads the current file,
    a follower whose offset is past its end without naming a file starts over on it, and a follower
    in a file that was rotated since reads the rest of it and then the new file: each line once."""
    server = make_server(extra_args=["--max-log", "1"])
    lam = server.client()
    name = Functions(lam, "chatty").create()["FunctionName"]

    def line(i: int) -> str:
        return f"line{i:02d} " + "x" * 100_000

    logs = server.state_dir / "logs"
    for i in range(5):
        invoke(lam, name, {"action": "print", "text": line(i)})
    poll("line04 in the log", lambda: b"line04" in (logs / f"{name}.log").read_bytes())
    _, offset, file = server.follow_logs(name)
    for i in range(5, 13):  # past 1 MiB: rotated once since the follower's read
        invoke(lam, name, {"action": "print", "text": line(i)})
    assert (logs / f"{name}.log.1").exists()
    poll("line12 in the log", lambda: b"line12" in (logs / f"{name}.log").read_bytes()
         + (logs / f"{name}.log.1").read_bytes())
    followed, _, after = server.follow_logs(name, offset, file)
    assert after != file, "the follower moved on to the new file"
    seen = [int(text[4:6]) for text in re.findall(rb"line\d\d", followed)]
    assert seen == list(range(5, 13)), seen
    for i in range(13, 25):
        invoke(lam, name, {"action": "print", "text": line(i)})
    current, rotated = logs / f"{name}.log", logs / f"{name}.log.1"
    limit, write = 1 << 20, 128 << 10
    poll("the last invocation in the log", lambda: b"line24" in current.read_bytes())
    assert rotated.exists() and limit <= rotated.stat().st_size <= limit + write
    assert current.stat().st_size < limit + write
    assert b"line23" in current.read_bytes() + rotated.read_bytes()
    assert b"line00" not in current.read_bytes() + rotated.read_bytes(), "the oldest lines are gone"
    data, end = server.logs(name)
    assert data == current.read_bytes() and end == len(data)
    assert server.logs(name, offset=10 << 20)[0] == data


def test_dry_run(lam, functions):
    name = functions.create()["FunctionName"]
    response = lam.invoke(FunctionName=name, InvocationType="DryRun", Payload=b'{"action": "print", "text": "no"}')
    assert response["StatusCode"] == 204
    assert response["Payload"].read() == b""
    expect_error("ResourceNotFoundException", 404, lam.invoke, FunctionName=unique_name("missing"),
                 InvocationType="DryRun")


def test_event_invocation_runs(server, lam, functions):
    name = functions.create()["FunctionName"]
    marker = f"event-marker-{unique_name()}"
    response = lam.invoke(FunctionName=name, InvocationType="Event",
                          Payload=json.dumps({"action": "print", "text": marker}).encode())
    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    request_id = response["ResponseMetadata"]["RequestId"]
    log = poll(f"{marker} in the log of {name}",
               lambda: (lambda text: text if f"REPORT RequestId: {request_id}" in text else None)(
                   server.logs(name)[0].decode()))
    assert marker in log
    assert f"START RequestId: {request_id}" in log


def test_payload_limits(lam, functions):
    name = functions.create(MemorySize=512)["FunctionName"]
    response = lam.invoke(FunctionName=name, Payload=padded_event(SYNC_LIMIT))
    assert "FunctionError" not in response, response["Payload"].read()
    assert json.loads(response["Payload"].read()) == {"size": SYNC_LIMIT}

    error = expect_error(("RequestEntityTooLargeException", "RequestTooLargeException"), 413, lam.invoke,
                         FunctionName=name, Payload=padded_event(SYNC_LIMIT + 1))
    assert "6291456" in error["Error"]["Message"]

    error = expect_error(("RequestEntityTooLargeException", "RequestTooLargeException"), 413, lam.invoke,
                         FunctionName=name, InvocationType="Event", Payload=padded_event(1_048_576 + 1))
    assert "Event" in error["Error"]["Message"]
    # The server is fine afterwards.
    _, payload = invoke(lam, name, {"after": "limits"})
    assert payload["event"] == {"after": "limits"}


def test_invalid_json_payload_is_400(lam, functions):
    name = functions.create()["FunctionName"]
    expect_error("InvalidRequestContentException", 400, lam.invoke, FunctionName=name, Payload=b"{not json")


def test_client_context_reaches_the_handler_and_is_checked(lam, functions):
    """X-Amz-Client-Context: base64 of a JSON object, at most 3,583 bytes of base64 (Lambda's limit is
    on the encoded text); the runtime client gets it decoded."""
    name = functions.create()["FunctionName"]
    context = base64.b64encode(json.dumps({"custom": {"tenant": "blue"}}).encode()).decode()
    _, payload = invoke(lam, name, {}, ClientContext=context)
    assert payload["clientCustom"] == {"tenant": "blue"}, payload
    expect_error("InvalidRequestContentException", 400, lam.invoke, FunctionName=name, ClientContext="not base64!")
    expect_error("InvalidRequestContentException", 400, lam.invoke, FunctionName=name,
                 ClientContext=base64.b64encode(b"[1, 2]").decode())

    def of_length(n: int) -> str:
        """Base64 of a JSON object, `n` characters long (n a multiple of 4)."""
        raw = json.dumps({"custom": {"pad": "x" * (n // 4 * 3 - 23)}}).encode()
        text = base64.b64encode(raw).decode()
        assert len(text) == n, len(text)
        return text
    _, payload = invoke(lam, name, {}, ClientContext=of_length(3580))
    assert len(payload["clientCustom"]["pad"]) == 3580 // 4 * 3 - 23
    expect_error("InvalidParameterValueException", 400, lam.invoke, FunctionName=name,
                 ClientContext=of_length(3584))


def test_timeout_is_sandbox_timedout(lam, functions):
    name = functions.create(Timeout=1)["FunctionName"]
    _, warm = invoke(lam, name, {})
    response, payload = invoke(lam, name, {"action": "sleep", "seconds": 30}, LogType="Tail")
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Sandbox.Timedout", payload
    assert "timed out" in payload.get("errorMessage", "").lower(), payload
    # Logged as Lambda does: its line before END, and the status in REPORT.
    log = base64.b64decode(response["LogResult"]).decode()
    assert "Task timed out after 1.00 seconds\nEND RequestId: " in log, log
    assert "\tStatus: timeout\t" in log.splitlines()[-1], log
    # The timed-out instance is gone: the next invocation gets a fresh one (its /tmp counter starts at 1).
    assert warm["count"] == 1
    _, fresh = invoke(lam, name, {})
    assert fresh["count"] == 1, fresh


def test_crash_is_runtime_exit_error(lam, functions):
    name = functions.create()["FunctionName"]
    response, payload = invoke(lam, name, {"action": "exit", "status": 3})
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.ExitError", payload
    _, fresh = invoke(lam, name, {"after": "crash"})
    assert fresh["event"] == {"after": "crash"} and fresh["count"] == 1


def test_parallel_invocations(lam, functions):
    name = functions.create()["FunctionName"]

    def call(n):
        response, payload = invoke(lam, name, {"n": n})
        assert "FunctionError" not in response, payload
        return payload

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(call, range(30)))
    assert sorted(r["event"]["n"] for r in results) == list(range(30))
    assert len({r["requestId"] for r in results}) == 30


def test_provided_al2023_shell_bootstrap(lam, functions):
    name = functions.provided()["FunctionName"]
    response, payload = invoke(lam, name, {"from": "sh"})
    assert "FunctionError" not in response, payload
    assert payload == {"echo": {"from": "sh"}, "runtime": "provided", "handler": "bootstrap.handler"}
    response, payload = invoke(lam, name, [1, 2])
    assert payload["echo"] == [1, 2]


#: A bash bootstrap that speaks the Runtime API with curl, the way AWS's custom runtime tutorial
#: does (bash and curl are in Lambda's provided.al2023 image), with bash-only syntax.
BASH_CURL_BOOTSTRAP = r"""#!/bin/bash
set -euo pipefail
api="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  headers=$(mktemp)
  event=$(curl -sS -D "$headers" "$api/invocation/next")
  id=$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$headers" | tr -d '[:space:]' | cut -d: -f2)
  words=( $BASH_VERSION )
  curl -sS -o /dev/null -X POST "$api/invocation/$id/response" \
    -d "{\"echo\": $event, \"bash\": \"${words[0]%%.*}\"}"
done
"""


def test_python_runtime_has_boto3(lam, functions):
    """Lambda's python runtime has the AWS SDK; most functions import it at the top."""
    source = "import boto3\n\ndef handler(event, context):\n    return boto3.__version__\n"
    name = functions.create(zip_file=python_zip(source=source))["FunctionName"]
    response, payload = invoke(lam, name, {})
    assert "FunctionError" not in response, payload
    assert payload.count(".") == 2, payload


def test_provided_al2023_bash_and_curl_bootstrap(lam, functions):
    name = functions.provided(zip_file=bootstrap_zip(BASH_CURL_BOOTSTRAP))["FunctionName"]
    for n in range(2):
        response, payload = invoke(lam, name, {"n": n})
        assert "FunctionError" not in response, payload
        assert payload == {"echo": {"n": n}, "bash": "5"}, payload


def test_provided_al2023_bootstrap_that_exits_is_an_error(lam, functions):
    name = functions.provided(zip_file=bootstrap_zip("#!/bin/sh\necho 'init went wrong' >&2\nexit 7\n"))[
        "FunctionName"]
    response, payload = invoke(lam, name, {})
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"].startswith("Runtime."), payload


JSON_LOGGING_SOURCE = '''import logging, os
logging.getLogger().info("init info")

def handler(event, context):
    logging.getLogger().info("an info line")
    logging.getLogger().warning("a warning line")
    print("a plain print")
    return {k: os.environ.get(k) for k in ("AWS_LAMBDA_LOG_FORMAT", "AWS_LAMBDA_LOG_LEVEL",
                                             "AWS_LAMBDA_LOG_GROUP_NAME")}
'''


def test_json_logging_config_is_applied(server, lam, functions):
    """LoggingConfig LogFormat JSON: the runtime is told (awslambdaric then logs JSON records at the
    application log level; print stays text, which Lambda counts as INFO and so leaves out at WARN),
    and Lambda's platform lines are JSON events, with no END. A custom log group is the runtime's
    AWS_LAMBDA_LOG_GROUP_NAME. SystemLogLevel WARN leaves the platform events (INFO's) out."""
    name = functions.create(zip_file=python_zip(source=JSON_LOGGING_SOURCE), LoggingConfig={
        "LogFormat": "JSON", "ApplicationLogLevel": "WARN", "LogGroup": "/custom/group"})["FunctionName"]
    response, payload = invoke(lam, name, {}, LogType="Tail")
    assert payload == {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "WARN",
                       "AWS_LAMBDA_LOG_GROUP_NAME": "/custom/group"}, payload
    request_id = response["ResponseMetadata"]["RequestId"]
    lines = base64.b64decode(response["LogResult"]).decode().splitlines()
    assert not any("info line" in line or "END" in line or "plain print" in line for line in lines), lines
    events = [json.loads(line) for line in lines if line.startswith("{")]
    assert [e.get("type", e.get("level")) for e in events] == ["platform.start", "WARNING", "platform.report"], lines
    start, warning, report = events
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", start["time"]), start
    assert start["record"] == {"requestId": request_id, "version": "$LATEST"}, start
    assert warning["message"] == "a warning line" and warning["requestId"] == request_id, warning
    assert report["record"]["requestId"] == request_id and report["record"]["status"] == "success", report
    metrics = report["record"]["metrics"]
    assert set(metrics) == {"durationMs", "billedDurationMs", "memorySizeMB", "maxMemoryUsedMB",
                            "initDurationMs"}, metrics
    assert metrics["memorySizeMB"] == 128 and metrics["billedDurationMs"] >= metrics["durationMs"] > 0, metrics
    # The file begins with platform.initStart, and the init's INFO record was left out.
    log = poll("the invocation in the log", lambda: (lambda text: text if request_id in text and "report" in text
                                                     else None)(server.logs(name)[0].decode()))
    init_start = json.loads(log.splitlines()[0])
    assert init_start["type"] == "platform.initStart", log
    assert init_start["record"]["initializationType"] == "on-demand" and init_start["record"]["phase"] == "init"
    assert init_start["record"]["functionName"] == name and init_start["record"]["functionVersion"] == "$LATEST"
    arn = lam.get_function_configuration(FunctionName=name)["RuntimeVersionConfig"]["RuntimeVersionArn"]
    assert init_start["record"]["runtimeVersionArn"] == arn, init_start
    assert "init info" not in log, log

    # SystemLogLevel WARN: no platform events; the runtime's own lines stay (the other members too).
    lam.update_function_configuration(FunctionName=name, LoggingConfig={"SystemLogLevel": "WARN"})
    response, payload = invoke(lam, name, {}, LogType="Tail")
    assert payload["AWS_LAMBDA_LOG_GROUP_NAME"] == "/custom/group" and payload["AWS_LAMBDA_LOG_LEVEL"] == "WARN"
    tail = base64.b64decode(response["LogResult"]).decode()
    assert "a warning line" in tail and "platform." not in tail, tail
    # At INFO, what the function prints is kept.
    lam.update_function_configuration(FunctionName=name, LoggingConfig={"ApplicationLogLevel": "INFO"})
    response, _ = invoke(lam, name, {}, LogType="Tail")
    tail = base64.b64decode(response["LogResult"]).decode()
    assert "a plain print" in tail and "an info line" in tail, tail


PARTIAL_AFTER_RESPONSE_BOOTSTRAP = r'''#!/bin/sh
api="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  wget -q -S -O /tmp/event "$api/invocation/next" 2>/tmp/headers || { sleep 0.1; continue; }
  id=$(sed -n 's/^ *[Ll]ambda-[Rr]untime-[Aa]ws-[Rr]equest-[Ii]d: *//p' /tmp/headers | tr -d '\r')
  echo '{}' >/tmp/response
  wget -q -O /dev/null --post-file /tmp/response "$api/invocation/$id/response"
  printf 'printed-after-the-response'
done
'''


def test_a_line_left_without_its_newline_reaches_the_log_when_the_instance_ends(server, lam, functions):
    """What a runtime printed last without a newline is written when its instance ends (an update
    retires it): it was held back for the rest of its line and lost with the instance."""
    name = functions.provided(zip_file=bootstrap_zip(PARTIAL_AFTER_RESPONSE_BOOTSTRAP))["FunctionName"]
    invoke(lam, name, {})
    lam.update_function_configuration(FunctionName=name, Timeout=5)
    poll("the last partial line in the log", lambda: "printed-after-the-response" in server.logs(name)[0].decode())


def test_an_init_error_without_a_type_is_runtime_unknown(lam, functions):
    """A runtime that reports its init error without Lambda-Runtime-Function-Error-Type: Lambda's
    Runtime.Unknown in INIT_REPORT, REPORT and the payload (it read Unhandled in the log)."""
    script = ('#!/bin/sh\nwget -q -O /dev/null --post-data "" '
              '"http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/init/error"\nexit 1\n')
    name = functions.provided(zip_file=bootstrap_zip(script))["FunctionName"]
    response, payload = invoke(lam, name, {}, LogType="Tail")
    assert response["FunctionError"] == "Unhandled" and payload["errorType"] == "Runtime.Unknown", payload
    tail = base64.b64decode(response["LogResult"]).decode()
    assert re.search(r"^INIT_REPORT Init Duration: [\d.]+ ms\tPhase: init\tStatus: error\t"
                     r"Error Type: Runtime.Unknown$", tail, re.M), tail
    assert re.search(r"^REPORT RequestId: .*\tStatus: error\tError Type: Runtime.Unknown\t$", tail, re.M), tail
