"""The API's connections are bounded: how many are open at once, and how long one may stay open with
no request in progress (so nobody can hold the server's file descriptors, signed or not)."""

import base64
import json
import os
import re
import select
import socket
import threading
import time

import botocore.exceptions

from conftest import Functions
from helpers import invoke, python_zip, signed_headers, zip_bytes


def _fds(server) -> int:
    return len(os.listdir(f"/proc/{server.process.pid}/fd"))


def _address(server) -> tuple[str, int]:
    host, port = server.endpoint.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def _closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closes `sock` (it sends nothing first), or None."""
    sock.settimeout(seconds)
    start = time.monotonic()
    try:
        return time.monotonic() - start if sock.recv(1) == b"" else None
    except (socket.timeout, ConnectionResetError):
        return None


def test_connections_over_the_limit_get_429_and_idle_ones_are_closed(make_server):
    server = make_server(extra_args=["--max-connections", "4", "--idle-timeout", "2"])
    before = _fds(server)
    held = [socket.create_connection(_address(server)) for _ in range(4)]
    try:
        time.sleep(0.3)
        over = socket.create_connection(_address(server))
        over.settimeout(5)
        answer = b""
        while chunk := over.recv(4096):
            answer += chunk
        over.close()
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 429"), answer
        assert b"x-amzn-ErrorType: TooManyRequestsException" in head, answer
        assert b'"Reason":"CallerRateLimitExceeded"' in body, answer
        # A signed request while four are held is refused as well, with the error boto3 retries on.
        response = server.request("GET", "/2015-03-31/functions")
        assert response.status == 429 and response.error_type == "TooManyRequestsException", response

        # Idle connections (nothing sent) and a header sent in part are closed after the idle timeout.
        held[0].sendall(b"GET /2015-03-31/functions HTTP/1.1\r\nHost: x\r\n")
        for sock in held:
            waited = _closed_within(sock, 10)
            assert waited is not None and waited < 6, f"not closed by the server ({waited})"
    finally:
        for sock in held:
            sock.close()
    # Each closed connection was counted out: requests are served again, and no descriptor is left.
    assert server.request("GET", "/2015-03-31/functions").status == 200
    time.sleep(0.5)
    assert _fds(server) <= before + 1, (before, _fds(server))


def test_an_invoke_outlives_the_idle_timeout_and_a_client_reconnects(make_server):
    server = make_server(extra_args=["--idle-timeout", "1"])
    lam = server.client()
    name = Functions(lam, "patient").create(Timeout=10)["FunctionName"]
    # The request is read whole, then the function takes three times the idle timeout to answer.
    response, payload = invoke(lam, name, {"action": "sleep", "seconds": 3})
    assert response["StatusCode"] == 200 and "FunctionError" not in response, payload
    # The kept-alive connection is closed while idle; the next call opens another.
    time.sleep(2.5)
    response, payload = invoke(lam, name, {"n": 2})
    assert response["StatusCode"] == 200 and payload["event"] == {"n": 2} and payload["count"] == 2, payload


def _head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1"] + [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _answer(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_a_trickled_body_holds_the_connection_only_when_signed_and_steady(make_server):
    """A byte now and then resets the idle time, so past it a body still arriving goes on only for a
    request whose head passes the signature check (an unsigned one gets its 403 and is closed), and
    only while it arrives at 1 KiB a second at least (slower, a 408 and the close)."""
    server = make_server(extra_args=["--idle-timeout", "2"])
    name = Functions(server.client(), "trickled").create()["FunctionName"]
    host = server.endpoint.removeprefix("http://")
    config = f"/2015-03-31/functions/{name}/configuration"
    invocations = f"/2015-03-31/functions/{name}/invocations"
    small = b'{"Description": "' + b"d" * 200 + b'"}'
    large = json.dumps({"fill": "x" * 40_000}).encode()

    def opened(method: str, path: str, body: bytes, signed: bool) -> socket.socket:
        sock = socket.create_connection(_address(server))
        headers = signed_headers(server.endpoint, method, path, body, {"Content-Type": "application/json"}) \
            if signed else {}
        sock.sendall(_head(method, path, {**headers, "Host": host, "Content-Length": str(len(body))}))
        return sock

    # Each entry: the socket, its body, how many bytes it sends every 0.5 s (2 or 2,048 a second).
    unsigned = (opened("PUT", config, small, signed=False), small, 1)
    slow = (opened("PUT", config, small, signed=True), small, 1)
    steady = (opened("POST", invocations, large, signed=True), large, 1024)
    # An unsigned path in absolute form is judged as the router sees it (/metrics): not refused.
    metrics = (opened("GET", f"http://{host}/metrics", large, signed=False), large, 1024)
    trickles = [unsigned, slow, steady, metrics]
    sent = {id(t): 0 for t in trickles}
    answered: set[int] = set()
    start = time.monotonic()
    # Past five idle periods: the 408 comes at the second check that finds the body arriving (the
    # first starts the measure), about three periods in.
    while time.monotonic() - start < 10:
        for trickle in trickles:
            sock, body, step = trickle
            # Until one is answered (sending on after its close would only draw a reset).
            if id(trickle) in answered or select.select([sock], [], [], 0)[0]:
                answered.add(id(trickle))
                continue
            sock.sendall(body[sent[id(trickle)]:sent[id(trickle)] + step])
            sent[id(trickle)] += step
        time.sleep(0.5)
    assert answered == {id(unsigned), id(slow)}, "not answered while trickling: " + str(
        [name for name, t in [("unsigned", unsigned), ("slow", slow), ("steady", steady), ("metrics", metrics)]
         if (id(t) in answered) != (t in (unsigned, slow))])
    for sock, _, _ in (unsigned, slow):
        sock.settimeout(5)
    refused = _answer(unsigned[0])
    assert refused.startswith(b"HTTP/1.1 403"), refused
    assert b"MissingAuthenticationTokenException" in refused, refused
    timed_out = _answer(slow[0])
    assert timed_out.startswith(b"HTTP/1.1 408"), timed_out
    assert b"RequestTimeoutException" in timed_out and b"arrived too slowly" in timed_out, timed_out
    assert server.client().get_function_configuration(FunctionName=name).get("Description", "") == ""
    steady[0].sendall(large[sent[id(steady)]:])
    steady[0].settimeout(10)
    answer = steady[0].recv(65536)
    assert answer.startswith(b"HTTP/1.1 200"), answer
    metrics[0].sendall(large[sent[id(metrics)]:])
    metrics[0].settimeout(10)
    assert metrics[0].recv(65536).startswith(b"HTTP/1.1 200")
    for sock, _, _ in trickles:
        sock.close()


def test_a_slow_reader_gets_a_large_answer_whole(make_server):
    """The idle time of a connection whose answer is still being written starts when it is written."""
    server = make_server(extra_args=["--idle-timeout", "1"])
    name = Functions(server.client(), "bulky").create(MemorySize=512)["FunctionName"]
    path = f"/2015-03-31/functions/{name}/invocations"
    event = json.dumps({"fill": "x" * (5 << 20)}).encode()
    headers = signed_headers(server.endpoint, "POST", path, event)
    sock = socket.create_connection(_address(server))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)  # most of the answer waits in the server
    sock.sendall(_head("POST", path, {**headers, "Host": server.endpoint.removeprefix("http://"),
                                      "Content-Length": str(len(event))}) + event)
    time.sleep(4)  # the answer is ready within a second or two; then idle periods without reading
    sock.settimeout(10)
    data = _answer(sock)
    head, _, payload = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))
    assert len(payload) == length and json.loads(payload)["event"]["fill"] == "x" * (5 << 20), (len(payload), length)
    sock.close()


#: A handler that opens `count` more connections to its own Runtime API, holds them 0.5 s, and says how
#: many the server left open (the runtime's own connection is not among them).
HOARDER = r'''
import os
import socket
import time

HELD = []


def handler(event, context):
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
    for _ in range(event["count"]):
        HELD.append(socket.create_connection((host, int(port))))
    time.sleep(0.5)
    open_ = 0
    for sock in HELD:
        sock.setblocking(False)
        try:
            open_ += sock.recv(1) != b""
        except BlockingIOError:
            open_ += 1
        except OSError:
            pass
    time.sleep(event.get("hold", 0))
    return {"open": open_}
'''


def test_instances_are_bounded_by_the_servers_file_descriptors(make_server):
    """A runtime holds at most 4 Runtime API connections, and `warren serve` runs no more instances than
    its descriptor limit holds (16 each, beside a quarter of the limit for API connections and a
    reserve): past that an invoke is throttled (429) and the server goes on. (A function holding 32
    connections per instance once took every descriptor: the server crashed or stopped accepting.)"""
    server = make_server(max_files=160)  # 40 API connections, 20 in reserve: 6 instances
    assert "allows 6 instances at once beside 40 API connections" in server.log_tail(), server.log_tail()
    lam = server.client()
    functions = Functions(lam, "hoard")
    name = functions.create(zip_file=python_zip(source=HOARDER), Timeout=30)["FunctionName"]
    _, payload = invoke(lam, name, {"count": 20})
    assert payload == {"open": 3}, "beyond 4 connections (the runtime's own and 3) the server closes them"

    answers = []

    def hold():
        try:
            answers.append(invoke(lam, name, {"count": 3, "hold": 4})[1])
        except botocore.exceptions.ClientError as error:
            answers.append(error.response)
    callers = [threading.Thread(target=hold) for _ in range(8)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    ran = [a for a in answers if a.get("open") == 3]
    throttled = [a for a in answers if a.get("Error", {}).get("Code") == "TooManyRequestsException"]
    assert (len(ran), len(throttled)) == (6, 2), answers
    assert all(a["Reason"] == "ConcurrentInvocationLimitExceeded" for a in throttled), throttled
    assert _fds(server) < 160 - 20
    response, payload = invoke(lam, name, {"count": 0})
    assert "FunctionError" not in response and "open" in payload, "the server goes on once they are done"


def test_large_code_uploads_take_turns(make_server):
    """At most four code uploads over 1 MB are read and unpacked at once (each takes about three
    times its size in memory meanwhile); a fifth waits, unread, and goes on when one ends."""
    server = make_server()
    lam = server.client()
    name = Functions(lam, "uploaded").create()["FunctionName"]
    path = f"/2015-03-31/functions/{name}/code"
    host = server.endpoint.removeprefix("http://")
    body = json.dumps({"ZipFile": base64.b64encode(os.urandom(2 << 20)).decode()}).encode()
    package = zip_bytes({"lambda_function.py": "def handler(event, context):\n    return {'marker': 'fifth'}\n",
                         "blob.bin": os.urandom(1 << 20)})  # over 1 MB however it is compressed
    held = []
    try:
        for _ in range(4):  # each sends its head and part of its body, then stops
            sock = socket.create_connection(_address(server))
            headers = signed_headers(server.endpoint, "PUT", path, body, {"Content-Type": "application/json"})
            sock.sendall(_head("PUT", path, {**headers, "Host": host, "Content-Length": str(len(body))})
                         + body[:65536])
            held.append(sock)
        time.sleep(0.5)
        done: list = []
        fifth = threading.Thread(
            target=lambda: done.append(lam.update_function_code(FunctionName=name, ZipFile=package)))
        fifth.start()
        fifth.join(2)
        assert fifth.is_alive() and not done, "a fifth large upload was taken while four were being read"
        held.pop().close()  # one ends (its body never will): the fifth goes on
        fifth.join(30)
        assert done and done[0]["CodeSha256"], done
    finally:
        for sock in held:
            sock.close()


def test_a_request_whose_body_never_comes_does_not_hold_up_a_stop(make_server):
    """SIGTERM answers what was read whole; a connection whose request body is still to come is
    closed at once (it held the stop until the idle timeout, 60 s)."""
    server = make_server()
    name = Functions(server.client(), "stopping").create()["FunctionName"]
    path = f"/2015-03-31/functions/{name}/configuration"
    body = b'{"Description": "' + b"d" * 200 + b'"}'
    headers = signed_headers(server.endpoint, "PUT", path, body, {"Content-Type": "application/json"})
    sock = socket.create_connection(_address(server))
    try:
        sock.sendall(_head("PUT", path, {**headers, "Host": server.endpoint.removeprefix("http://"),
                                         "Content-Length": str(len(body))}) + body[:10])
        time.sleep(0.5)
        assert server.stop() == 0  # within its STOP_TIMEOUT
        sock.settimeout(5)
        assert _answer(sock) == b"", "the unfinished request was answered"
    finally:
        sock.close()


def _exchange(server, request: bytes, body: bytes | None = None, seconds: float = 5) -> tuple[bytes, bool]:
    """Sends `request`; with `body`, sends it once a `100 Continue` came. Returns what the server
    sent within `seconds` and whether it closed the connection."""
    with socket.create_connection(_address(server)) as sock:
        sock.settimeout(seconds)
        sock.sendall(request)
        data = b""
        if body is not None:
            while b"\r\n\r\n" not in data:
                data += sock.recv(4096)
            assert data.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), data
            sock.sendall(body)
        try:
            while chunk := sock.recv(65536):
                data += chunk
            return data, True
        except socket.timeout:
            return data, False


def _signed(server, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> dict:
    signed = signed_headers(server.endpoint, method, path, body, headers)
    return {**signed, "Host": server.endpoint.removeprefix("http://"), "Content-Length": str(len(body))}


def test_http_edges_answered_as_the_rfcs_ask(server, lam, functions):
    """HTTP/1.0 without keep-alive and `Connection: Close` end the connection after the answer;
    `Expect: 100-continue` gets its interim answer before the body (curl would wait a second); a
    transfer coding other than chunked is refused with 501 rather than passed on still coded."""
    path = "/2015-03-31/functions/"
    for version, connection in (("1.0", None), ("1.1", "Close"), ("1.1", "keep-alive, close")):
        headers = _signed(server, "GET", path)
        if connection:
            headers["Connection"] = connection
        request = _head("GET", path, headers).replace(b"HTTP/1.1", f"HTTP/{version}".encode(), 1)
        answer, closed = _exchange(server, request)
        assert answer.startswith(b"HTTP/1.1 200 OK"), answer
        assert closed, f"HTTP/{version} Connection: {connection}: the connection stayed open"
    # HTTP/1.0 asking for keep-alive keeps it, and the answer says so (`ab -k` reuses a
    # connection only then): a second request on it is answered.
    with socket.create_connection(_address(server)) as sock:
        sock.settimeout(5)
        for _ in range(2):
            request = _head("GET", path, {**_signed(server, "GET", path), "Connection": "keep-alive"})
            sock.sendall(request.replace(b"HTTP/1.1", b"HTTP/1.0", 1))
            head, body = _framed_answer(sock)
            assert head.startswith(b"HTTP/1.1 200 OK") and b"\r\nconnection: keep-alive" in head.lower(), head
            assert "Functions" in json.loads(body)

    name = functions.create()["FunctionName"]
    invoke_path = f"/2015-03-31/functions/{name}/invocations"
    event = b'{"expect": "continue"}'
    headers = _signed(server, "POST", invoke_path, event, {"Expect": "100-continue", "Connection": "close"})
    start = time.monotonic()
    answer, _ = _exchange(server, _head("POST", invoke_path, headers), body=event)
    assert time.monotonic() - start < 1, "the 100 Continue came late"
    head, _, body = answer.removeprefix(b"HTTP/1.1 100 Continue\r\n\r\n").partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK"), answer
    assert json.loads(body)["event"] == {"expect": "continue"}, answer
    # `Connection: Close` spelt otherwise does not lose the 100 Continue.
    headers = _signed(server, "POST", invoke_path, event, {"Expect": "100-continue", "Connection": "Close"})
    answer, closed = _exchange(server, _head("POST", invoke_path, headers), body=event)
    assert answer.removeprefix(b"HTTP/1.1 100 Continue\r\n\r\n").startswith(b"HTTP/1.1 200 OK") and closed, answer
    # A head that fails the signature check gets its 403 instead of a 100, and the connection ends.
    headers = _signed(server, "POST", invoke_path, event, {"Expect": "100-continue"})
    headers["Authorization"] = headers["Authorization"].replace("Credential=", "Credential=AKIDUNKNOWN", 1)
    answer, closed = _exchange(server, _head("POST", invoke_path, headers), seconds=2)
    assert answer.startswith(b"HTTP/1.1 403") and b"100 Continue" not in answer and closed, answer
    # A body over its operation's limit gets its 413 without a 100 Continue.
    headers = _signed(server, "POST", invoke_path, b"", {"Expect": "100-continue"})
    headers["Content-Length"] = str(7 * 1024 * 1024)
    answer, _ = _exchange(server, _head("POST", invoke_path, headers), seconds=1)
    assert answer.startswith(b"HTTP/1.1 413"), answer
    # An Event invoke's limit is the queue's, 1 MiB.
    headers = _signed(server, "POST", invoke_path, b"", {"Expect": "100-continue", "X-Amz-Invocation-Type": "Event"})
    headers["Content-Length"] = str(2 * 1024 * 1024)
    answer, _ = _exchange(server, _head("POST", invoke_path, headers), seconds=1)
    assert not answer.startswith(b"HTTP/1.1 100"), answer

    headers = _signed(server, "POST", invoke_path, b"{}")
    del headers["Content-Length"]
    headers["Transfer-Encoding"] = "gzip, chunked"
    answer, closed = _exchange(server, _head("POST", invoke_path, headers) + b"2\r\n{}\r\n0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 501"), answer
    assert b"Transfer-Encoding gzip, chunked is not supported" in answer and closed, answer
    assert lam.get_function(FunctionName=name)["Configuration"]["FunctionName"] == name


def test_a_stop_ends_invocations_still_running_after_the_grace(make_server):
    """SIGTERM gives invocations still running --shutdown-grace seconds, then destroys their
    instances: the caller gets its answer (Sandbox.Failure) and the server exits. Before, a stop
    waited out the invocation's whole timeout (up to 15 minutes)."""
    server = make_server(extra_args=["--shutdown-grace", "1"])
    lam = server.client()
    name = Functions(lam, "graced").create(Timeout=120)["FunctionName"]
    answers = []

    def call():
        answers.append(invoke(server.client(), name, {"action": "sleep", "seconds": 100}))
    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    deadline = time.monotonic() + 30
    while not [i for i in server.instances() if i["FunctionName"] == name and i["State"] == "busy"]:
        assert time.monotonic() < deadline, "the invocation never started"
        time.sleep(0.05)
    start = time.monotonic()
    assert server.stop() == 0  # within its STOP_TIMEOUT, nothing left
    stopped = time.monotonic() - start
    caller.join(10)
    assert answers, "the caller got no answer"
    response, payload = answers[0]
    assert response["FunctionError"] == "Unhandled" and payload["errorType"] == "Sandbox.Failure", payload
    assert stopped < 20, f"the stop took {stopped:.1f} s"
    assert "ending the invocations still running" in server.log_tail()


def _framed_answer(sock: socket.socket) -> tuple[bytes, bytes]:
    """One answer with a Content-Length, read whole: its head and its body."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", head).group(1))
    while len(body) < length:
        body += sock.recv(65536)
    return head, body


def test_a_response_stream_to_an_http10_client_ends_with_the_connection(server, functions):
    """HTTP/1.0 has no chunked coding: an `InvokeWithResponseStream` answer (no length) to such a
    client is sent as is and ended by closing the connection (RFC 9112), even when it asked for
    keep-alive; it was chunked, which an HTTP/1.0 client reads as part of the body."""
    name = functions.create()["FunctionName"]
    path = f"/2021-11-15/functions/{name}/response-streaming-invocations"
    event = b'{"http": "1.0"}'
    for connection in (None, "keep-alive"):
        headers = _signed(server, "POST", path, event)
        if connection:
            headers["Connection"] = connection
        request = _head("POST", path, headers).replace(b"HTTP/1.1", b"HTTP/1.0", 1) + event
        answer, closed = _exchange(server, request)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.0 200 OK"), answer
        assert b"transfer-encoding" not in head.lower() and b"\r\nconnection: close" in head.lower(), head
        assert b'"http": "1.0"' in body and not body.startswith(b"0\r\n") and closed, answer
