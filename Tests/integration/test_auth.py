"""SigV4: unsigned, wrongly signed, expired, tampered and unknown-key
requests are refused with AWS's 403 codes, and have no effect."""

import base64
import datetime
import json
from unittest import mock

import botocore.auth
import botocore.compat

from helpers import (ACCESS_KEY, ROLE, SECRET_KEY, expect_error, invoke, lambda_client, poll, python_zip, send, signed_headers,
                     unique_name)


def create_body(name):
    return json.dumps({"FunctionName": name, "Runtime": "python3.11", "Role": ROLE,
                       "Handler": "lambda_function.handler",
                       "Code": {"ZipFile": base64.b64encode(python_zip()).decode()}}).encode()


def assert_not_created(lam, name):
    expect_error("ResourceNotFoundException", 404, lam.get_function, FunctionName=name)


def test_signed_raw_request_is_accepted(server):
    response = server.request("GET", "/2015-03-31/functions?MaxItems=1")
    assert response.status == 200, response
    assert "Functions" in response.json()
    assert response.headers.get("x-amzn-requestid")


def test_unsigned_request_is_403(server, lam):
    name = unique_name("unsigned")
    response = server.request("POST", "/2015-03-31/functions", body=create_body(name),
                              headers={"Content-Type": "application/json"}, sign=False)
    assert response.status == 403, response
    assert response.error_type == "MissingAuthenticationTokenException", response
    assert_not_created(lam, name)
    for path in ("/2015-03-31/functions", "/warren/v1/instances", "/2016-08-19/account-settings"):
        response = server.request("GET", path, sign=False)
        assert response.status == 403 and response.error_type == "MissingAuthenticationTokenException", response


def test_wrong_secret_is_403(server, lam):
    name = unique_name("wrongsecret")
    bad = lambda_client(server.endpoint, secret_key="not-the-secret")
    error = expect_error("InvalidSignatureException", 403, bad.create_function, FunctionName=name,
                         Runtime="python3.11", Role=ROLE, Handler="lambda_function.handler",
                         Code={"ZipFile": python_zip()})
    assert "signature" in error["Error"]["Message"].lower()
    assert_not_created(lam, name)
    expect_error("InvalidSignatureException", 403, bad.list_functions)


def test_wrong_secret_cannot_invoke(server, lam, functions):
    name = functions.create()["FunctionName"]
    invoke(lam, name, {"action": "print", "text": "legit"})
    before = poll("the legit invocation in the log", lambda: (lambda d: d if b"REPORT" in d else None)(
        server.logs(name)[0]))
    bad = lambda_client(server.endpoint, secret_key="not-the-secret")
    expect_error("InvalidSignatureException", 403, bad.invoke, FunctionName=name,
                 Payload=json.dumps({"action": "print", "text": "intruder"}).encode())
    expect_error("InvalidSignatureException", 403, bad.delete_function, FunctionName=name)
    invoke(lam, name, {"action": "print", "text": "legit again"})
    log = poll("the second legit invocation in the log",
               lambda: (lambda d: d if b"legit again" in d else None)(server.logs(name)[0]))
    assert log.startswith(before) and b"intruder" not in log
    assert lam.get_function(FunctionName=name)["Configuration"]["FunctionName"] == name


def test_unknown_access_key_is_403(server, lam):
    name = unique_name("unknownkey")
    stranger = lambda_client(server.endpoint, access_key="AKIDSOMEONEELSE", secret_key=SECRET_KEY)
    expect_error("UnrecognizedClientException", 403, stranger.create_function, FunctionName=name,
                 Runtime="python3.11", Role=ROLE, Handler="lambda_function.handler", Code={"ZipFile": python_zip()})
    assert_not_created(lam, name)


def test_expired_signature_is_403(server, lam):
    name = unique_name("expired")
    for skew in (datetime.timedelta(minutes=-10), datetime.timedelta(minutes=10), datetime.timedelta(days=-1)):
        moved = botocore.compat.get_current_datetime() + skew
        client = lambda_client(server.endpoint)
        with mock.patch.object(botocore.auth, "get_current_datetime", return_value=moved):
            error = expect_error("InvalidSignatureException", 403, client.create_function, FunctionName=name,
                                 Runtime="python3.11", Role=ROLE, Handler="lambda_function.handler",
                                 Code={"ZipFile": python_zip()})
        assert "Signature" in error["Error"]["Message"], error["Error"]
        assert_not_created(lam, name)
    # Within the window (one minute off) is fine.
    moved = botocore.compat.get_current_datetime() - datetime.timedelta(minutes=1)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=moved):
        assert lambda_client(server.endpoint).list_functions(MaxItems=1)["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_tampered_body_is_403(server, lam):
    name = unique_name("tampered")
    other = unique_name("swapped")

    def swap_name(headers, body):
        return headers, body.replace(name.encode(), other.encode())
    response = server.request("POST", "/2015-03-31/functions", body=create_body(name),
                              headers={"Content-Type": "application/json"}, tamper=swap_name)
    assert response.status == 403 and response.error_type == "InvalidSignatureException", response
    assert_not_created(lam, name)
    assert_not_created(lam, other)


def test_tampered_method_is_403(server, lam, functions):
    name = functions.create()["FunctionName"]
    path = f"/2015-03-31/functions/{name}"
    # Signed as GET, sent as DELETE: refused, and the function is still there.
    headers = signed_headers(server.endpoint, "GET", path)
    response = send(server.endpoint, "DELETE", path, headers=headers)
    assert response.status == 403 and response.error_type == "InvalidSignatureException", response
    assert lam.get_function(FunctionName=name)["Configuration"]["FunctionName"] == name


def test_another_region_in_scope_is_403(server, lam):
    # The server runs in us-east-1; a client configured for another region is refused, as AWS does.
    import boto3
    from botocore.config import Config
    other = boto3.session.Session().client(
        "lambda", endpoint_url=server.endpoint, region_name="eu-west-1", aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY, config=Config(retries={"max_attempts": 0, "mode": "standard"}))
    name = unique_name("region")
    error = expect_error("InvalidSignatureException", 403, other.create_function, FunctionName=name,
                         Runtime="python3.11", Role=ROLE, Handler="lambda_function.handler",
                         Code={"ZipFile": python_zip()})
    assert "region" in error["Error"]["Message"], error
    assert_not_created(lam, name)


def test_wrong_service_in_scope_is_403(server, lam):
    name = unique_name("scope")
    response = server.request("POST", "/2015-03-31/functions", body=create_body(name),
                              headers={"Content-Type": "application/json"}, service="s3")
    assert response.status == 403, response
    assert response.error_type == "InvalidSignatureException", response
    assert "service" in response.json().get("message", response.json().get("Message", "")), response
    assert_not_created(lam, name)


def test_metrics_need_no_auth(server, lam, functions):
    name = functions.create()["FunctionName"]
    invoke(lam, name, {})
    response = server.request("GET", "/metrics", sign=False)
    assert response.status == 200, response
    assert response.headers.get("content-type", "").startswith("text/plain"), response.headers
    text = response.body.decode()
    assert "# TYPE" in text
    assert any(line and not line.startswith("#") for line in text.splitlines())
