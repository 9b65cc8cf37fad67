"""The API's connections are bounded: how many are open at once, and how long one may stay open with
no request in progress (so nobody can hold the server's file descriptors, signed or not)."""

import os
import socket
import time

from conftest import Functions
from helpers import invoke


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
