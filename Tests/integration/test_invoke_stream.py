"""InvokeWithResponseStream, and runtimes that answer in Lambda's streaming response mode."""

import base64
import json
import time

from helpers import bootstrap_zip, expect_error, status_of

#: A provided.al2023 runtime that answers in streaming mode with busybox nc: three chunks; for
#: {"slow": true} one, two seconds' wait, another; for {"fail": true} one chunk, then the error
#: trailers; for {"big": true} 30 MiB of zero bytes in 1 MiB chunks.
STREAMING_BOOTSTRAP = r'''#!/bin/sh
api="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
host=${AWS_LAMBDA_RUNTIME_API%:*}
port=${AWS_LAMBDA_RUNTIME_API#*:}
error=$(printf '{"errorMessage":"broke","errorType":"Stream.Broken"}' | base64 | tr -d '\n')
while true; do
  wget -q -S -O /tmp/event "$api/invocation/next" 2>/tmp/headers || { sleep 0.1; continue; }
  id=$(sed -n 's/^ *[Ll]ambda-[Rr]untime-[Aa]ws-[Rr]equest-[Ii]d: *//p' /tmp/headers | tr -d '\r')
  {
    printf 'POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\nHost: %s\r\n' "$id" "$host"
    printf 'Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n'
    printf 'Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n'
    printf 'Content-Type: text/plain\r\nConnection: close\r\n\r\n'
    if grep -q '"slow"' /tmp/event; then
      printf '5\r\nfirst\r\n'; sleep 2; printf '6\r\nsecond\r\n0\r\n\r\n'
    elif grep -q '"big"' /tmp/event; then
      i=0; while [ $i -lt 30 ]; do printf '100000\r\n'; head -c 1048576 /dev/zero; printf '\r\n'; i=$((i+1)); done
      printf '0\r\n\r\n'
    elif grep -q '"fail"' /tmp/event; then
      printf '4\r\npart\r\n0\r\nLambda-Runtime-Function-Error-Type: Stream.Broken\r\n'
      printf 'Lambda-Runtime-Function-Error-Body: %s\r\n\r\n' "$error"
    else
      for part in 'one ' 'two ' 'three'; do printf '%x\r\n%s\r\n' "${#part}" "$part"; done
      printf '0\r\n\r\n'
    fi
  } | nc "$host" "$port" >/tmp/answer
done
'''


def streamed(response):
    """The PayloadChunk bytes and the InvokeComplete event of an InvokeWithResponseStream answer."""
    events = list(response["EventStream"])
    chunks = [e["PayloadChunk"]["Payload"] for e in events if "PayloadChunk" in e]
    complete = [e["InvokeComplete"] for e in events if "InvokeComplete" in e]
    assert len(complete) == 1 and "InvokeComplete" in events[-1], events
    return b"".join(chunks), complete[0]


def test_a_buffered_function_answers_as_one_stream(lam, functions):
    name = functions.create()["FunctionName"]
    response = lam.invoke_with_response_stream(FunctionName=name, Payload=b'{"a": 1}', LogType="Tail")
    assert status_of(response) == 200 and response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert response["ResponseStreamContentType"] == "application/vnd.amazon.eventstream"
    payload, complete = streamed(response)
    body = json.loads(payload)
    assert body["event"] == {"a": 1} and body["functionName"] == name
    assert "ErrorCode" not in complete
    assert "START RequestId: " + body["requestId"] in base64.b64decode(complete["LogResult"]).decode()

    lam.publish_version(FunctionName=name)
    response = lam.invoke_with_response_stream(FunctionName=name, Qualifier="1", Payload=b"{}")
    assert response["ExecutedVersion"] == "1"
    assert json.loads(streamed(response)[0])["functionVersion"] == "1"


def test_a_function_error_ends_the_stream_with_its_details(lam, functions):
    name = functions.create()["FunctionName"]
    response = lam.invoke_with_response_stream(FunctionName=name, Payload=b'{"action": "raise", "message": "no"}')
    payload, complete = streamed(response)
    assert payload == b""
    assert complete["ErrorCode"] == "Unhandled"
    details = json.loads(complete["ErrorDetails"])
    assert details["errorType"] == "ValueError" and details["errorMessage"] == "no"
    assert "LogResult" not in complete


def test_dry_run_and_the_invocation_types_it_refuses(lam, lam_raw, functions):
    name = functions.create()["FunctionName"]
    assert lam.invoke_with_response_stream(FunctionName=name, InvocationType="DryRun")["StatusCode"] == 204
    expect_error("ValidationException", 400, lam_raw.invoke_with_response_stream,
                 FunctionName=name, InvocationType="Event", Payload=b"{}")
    expect_error("ResourceNotFoundException", 404, lam.invoke_with_response_stream,
                 FunctionName=name + "-missing", Payload=b"{}")


def test_a_streaming_runtime_is_heard_by_both_invokes(lam, functions):
    name = functions.provided(zip_file=bootstrap_zip(STREAMING_BOOTSTRAP))["FunctionName"]
    payload, complete = streamed(lam.invoke_with_response_stream(FunctionName=name, Payload=b"{}"))
    assert payload == b"one two three" and "ErrorCode" not in complete
    plain = lam.invoke(FunctionName=name, Payload=b"{}")
    assert "FunctionError" not in plain
    assert plain["Payload"].read() == b"one two three"
    assert plain["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "text/plain"

    # Failing part way: a buffered caller gets the trailers' error, not the part sent before it;
    # a streaming caller has the part already, and the error ends the stream.
    failed = lam.invoke(FunctionName=name, Payload=b'{"fail": true}')
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read()) == {"errorMessage": "broke", "errorType": "Stream.Broken"}
    payload, complete = streamed(lam.invoke_with_response_stream(FunctionName=name, Payload=b'{"fail": true}'))
    assert payload == b"part" and complete["ErrorCode"] == "Unhandled"
    assert json.loads(complete["ErrorDetails"])["errorType"] == "Stream.Broken"


def test_chunks_reach_the_caller_as_the_runtime_sends_them(lam, functions):
    name = functions.provided(zip_file=bootstrap_zip(STREAMING_BOOTSTRAP))["FunctionName"]
    response = lam.invoke_with_response_stream(FunctionName=name, Payload=b'{"slow": true}', LogType="Tail")
    arrivals = []
    for event in response["EventStream"]:
        arrivals.append((time.monotonic(), event))
    chunks = [(at, e["PayloadChunk"]["Payload"]) for at, e in arrivals if "PayloadChunk" in e]
    assert b"".join(c for _, c in chunks) == b"firstsecond"
    assert chunks[0][1] == b"first"
    end, complete = arrivals[-1][0], arrivals[-1][1]["InvokeComplete"]
    assert "ErrorCode" not in complete and "REPORT RequestId" in base64.b64decode(complete["LogResult"]).decode()
    # The runtime waits two seconds between its chunks: the first came before that wait ended.
    assert end - chunks[0][0] > 1.0, [(round(at - arrivals[0][0], 3), e) for at, e in arrivals]


def test_a_stream_past_the_old_20_mib_cap_arrives_whole(lam, functions):
    # A timeout well past the time 30 MiB take here (about 1 s): the test is of size, not speed.
    name = functions.provided(zip_file=bootstrap_zip(STREAMING_BOOTSTRAP), Timeout=60)["FunctionName"]
    payload, complete = streamed(lam.invoke_with_response_stream(FunctionName=name, Payload=b'{"big": true}'))
    assert "ErrorCode" not in complete, complete
    assert len(payload) == 30 << 20 and payload.count(0) == len(payload)


def test_a_caller_that_leaves_releases_the_runtime(lam, functions):
    """With one instance allowed and a 60 s timeout, the next invoke is admitted only once the
    runtime has finished the stream the caller left: it is read and dropped, not held."""
    name = functions.provided(zip_file=bootstrap_zip(STREAMING_BOOTSTRAP), Timeout=60)["FunctionName"]
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    response = lam.invoke_with_response_stream(FunctionName=name, Payload=b'{"big": true}')
    events = response["EventStream"]
    first = next(iter(events))
    assert "PayloadChunk" in first
    events.close()
    left = time.monotonic()
    while True:
        try:
            answer = lam.invoke(FunctionName=name, Payload=b"{}")
            break
        except lam.exceptions.TooManyRequestsException:
            assert time.monotonic() - left < 45, "the runtime was still held by the caller that left"
            time.sleep(0.2)
    assert answer["Payload"].read() == b"one two three"
