"""Raw response bodies checked against botocore's Lambda model.

botocore parses only the members it knows and ignores the rest, so a stray
or misspelt key passes boto3 unnoticed. Here every raw JSON body is walked
against the operation's output shape: every key must be a member (by its
wire name), required members present, values of the member's type, enum
values from the enum; status codes as Lambda's; every response carries
x-amzn-RequestId. Error bodies are checked against their error shape.
"""

import json

import botocore.exceptions
import botocore.session
import pytest

from conftest import wait_active
from helpers import ROLE, poll, python_zip, unique_name

MODEL = botocore.session.get_session().get_service_model("lambda")

#: Success status per operation (spec/invoke-and-control-api.md §3).
STATUS = {
    "CreateFunction": 201, "PublishVersion": 201, "CreateAlias": 201, "DeleteFunction": 204, "DeleteAlias": 204,
    "PutProvisionedConcurrencyConfig": 202, "DeleteProvisionedConcurrencyConfig": 204,
    "DeleteFunctionConcurrency": 204, "DeleteFunctionEventInvokeConfig": 204, "TagResource": 204,
    "UntagResource": 204, "DeleteFunctionCodeSigningConfig": 204, "AddPermission": 201, "RemovePermission": 204,
}

OPERATIONS = [
    "CreateFunction", "GetFunction", "GetFunctionConfiguration", "ListFunctions", "UpdateFunctionConfiguration",
    "UpdateFunctionCode", "PublishVersion", "ListVersionsByFunction", "CreateAlias", "GetAlias", "UpdateAlias",
    "ListAliases", "DeleteAlias", "PutFunctionConcurrency", "GetFunctionConcurrency", "DeleteFunctionConcurrency",
    "PutProvisionedConcurrencyConfig", "GetProvisionedConcurrencyConfig", "ListProvisionedConcurrencyConfigs",
    "DeleteProvisionedConcurrencyConfig", "PutFunctionEventInvokeConfig", "UpdateFunctionEventInvokeConfig",
    "GetFunctionEventInvokeConfig", "ListFunctionEventInvokeConfigs", "DeleteFunctionEventInvokeConfig",
    "GetAccountSettings", "Invoke", "InvokeWithResponseStream", "TagResource", "ListTags", "UntagResource",
    "DeleteFunction", "GetFunctionCodeSigningConfig", "PutFunctionCodeSigningConfig",
    "DeleteFunctionCodeSigningConfig", "AddPermission", "GetPolicy", "RemovePermission",
]


def problems_in(shape, value, path="$"):
    """Every way `value` (decoded JSON) departs from `shape`."""
    kind = shape.type_name
    found = []
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: expected an object for {shape.name}, got {type(value).__name__}"]
        members = {}
        for member_name, member in shape.members.items():
            if member.serialization.get("location"):
                continue  # header, status code: not in the body
            members[member.serialization.get("name", member_name)] = member
        for key, item in value.items():
            if key not in members:
                found.append(f"{path}.{key}: not a member of {shape.name} (members: {sorted(members)})")
            elif item is not None:
                found += problems_in(members[key], item, f"{path}.{key}")
        for required in getattr(shape, "required_members", []):
            wire = shape.members[required].serialization.get("name", required)
            if wire in members and wire not in value:
                found.append(f"{path}: required member {wire} of {shape.name} missing")
    elif kind == "list":
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {type(value).__name__}"]
        for index, item in enumerate(value):
            found += problems_in(shape.member, item, f"{path}[{index}]")
    elif kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: expected a map, got {type(value).__name__}"]
        for key, item in value.items():
            found += problems_in(shape.key, key, f"{path}<key {key}>")
            found += problems_in(shape.value, item, f"{path}.{key}")
    elif kind == "string":
        if not isinstance(value, str):
            found.append(f"{path}: expected a string, got {value!r}")
        elif shape.enum and value not in shape.enum:
            found.append(f"{path}: {value!r} is not one of {shape.name}'s values {shape.enum}")
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            found.append(f"{path}: expected an integer, got {value!r}")
    elif kind in ("double", "float"):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            found.append(f"{path}: expected a number, got {value!r}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            found.append(f"{path}: expected a boolean, got {value!r}")
    elif kind == "timestamp":
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            found.append(f"{path}: expected a timestamp, got {value!r}")
    elif kind == "blob":
        if not isinstance(value, str):
            found.append(f"{path}: expected base64 text, got {value!r}")
    return found


class Recorder:
    """Keeps the raw HTTP response of every call a client makes."""

    def __init__(self, client):
        self.calls = []
        client.meta.events.register("after-call.lambda", self._record)

    def _record(self, http_response, model, **_):
        # A streaming body (Invoke's payload) is left for the caller to read.
        streaming = model.has_streaming_output and http_response.status_code < 300
        self.calls.append({"operation": model.name, "status": http_response.status_code,
                           "headers": {k.lower(): v for k, v in http_response.headers.items()},
                           "body": None if streaming else http_response.content})


@pytest.fixture(scope="module")
def recorded(server):
    """Runs every main operation once (plus some failing calls) through a recording client."""
    lam = server.client()
    recorder = Recorder(lam)
    name = unique_name("shapes")
    sink = unique_name("shapes-sink")
    try:
        lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="lambda_function.handler",
                            Code={"ZipFile": python_zip("one")}, Environment={"Variables": {"KEY": "v"}},
                            Description="shape check", Tags={"team": "warren"},
                            # Kept and reported, not applied: their reported shapes are checked too.
                            TracingConfig={"Mode": "Active"}, KMSKeyArn="arn:aws:kms:us-east-1:000000000000:key/k",
                            VpcConfig={"SubnetIds": ["subnet-1"], "SecurityGroupIds": ["sg-1"]},
                            DeadLetterConfig={"TargetArn": "arn:aws:sqs:us-east-1:000000000000:dlq"},
                            SnapStart={"ApplyOn": "PublishedVersions"}, LoggingConfig={"LogFormat": "JSON"},
                            FileSystemConfigs=[{"Arn": "arn:aws:elasticfilesystem:us-east-1:000000000000:"
                                                       "access-point/fsap-0123456789abcdef0",
                                                "LocalMountPath": "/mnt/efs"}])
        wait_active(lam, name)
        lam.create_function(FunctionName=sink, Runtime="python3.11", Role=ROLE, Handler="lambda_function.handler",
                            Code={"ZipFile": python_zip()})
        wait_active(lam, sink)
        lam.get_function(FunctionName=name)
        lam.list_functions(MaxItems=1)
        lam.list_functions(FunctionVersion="ALL")
        lam.update_function_configuration(FunctionName=name, Timeout=5)
        wait_active(lam, name)
        lam.update_function_code(FunctionName=name, ZipFile=python_zip("two"))
        wait_active(lam, name)
        lam.publish_version(FunctionName=name)
        lam.list_versions_by_function(FunctionName=name)
        lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
        lam.get_alias(FunctionName=name, Name="live")
        lam.update_alias(FunctionName=name, Name="live", Description="still live")
        lam.list_aliases(FunctionName=name)
        lam.create_alias(FunctionName=name, Name="gone", FunctionVersion="1")
        lam.delete_alias(FunctionName=name, Name="gone")
        lam.get_function_concurrency(FunctionName=name)
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=3)
        lam.get_function_concurrency(FunctionName=name)
        lam.delete_function_concurrency(FunctionName=name)
        lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1)
        poll("provisioned READY", lambda: lam.get_provisioned_concurrency_config(
            FunctionName=name, Qualifier="1")["Status"] != "IN_PROGRESS")
        lam.list_provisioned_concurrency_configs(FunctionName=name)
        lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
        lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
        lam.update_function_event_invoke_config(
            FunctionName=name, DestinationConfig={"OnFailure": {"Destination": lam.get_function_configuration(
                FunctionName=sink)["FunctionArn"]}})
        lam.get_function_event_invoke_config(FunctionName=name)
        lam.list_function_event_invoke_configs(FunctionName=name)
        lam.delete_function_event_invoke_config(FunctionName=name)
        lam.get_account_settings()
        lam.get_function_code_signing_config(FunctionName=name)
        lam.put_function_code_signing_config(
            FunctionName=name,
            CodeSigningConfigArn="arn:aws:lambda:us-east-1:000000000000:code-signing-config:csc-0123456789abcdefg")
        lam.get_function_code_signing_config(FunctionName=name)
        lam.delete_function_code_signing_config(FunctionName=name)
        lam.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                           Principal="s3.amazonaws.com", SourceAccount="000000000000")
        lam.get_policy(FunctionName=name)
        lam.remove_permission(FunctionName=name, StatementId="s3")
        arn = lam.get_function_configuration(FunctionName=name)["FunctionArn"]
        lam.tag_resource(Resource=arn, Tags={"stage": "test"})
        lam.list_tags(Resource=arn)
        lam.untag_resource(Resource=arn, TagKeys=["stage"])
        lam.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")["Payload"].read()
        lam.invoke(FunctionName=name, Payload=b'{"action": "raise"}')["Payload"].read()
        list(lam.invoke_with_response_stream(FunctionName=name, Payload=b"{}")["EventStream"])
        # Failing calls, for the error shapes.
        for call, kwargs in [
            (lam.get_function, {"FunctionName": unique_name("missing")}),
            (lam.create_alias, {"FunctionName": name, "Name": "live", "FunctionVersion": "1"}),
            (lam.update_function_configuration, {"FunctionName": name, "RevisionId": "0" * 8 + "-0000-4000-8000-"
                                                 + "0" * 12}),
            (lam.delete_function, {"FunctionName": name, "Qualifier": "$LATEST"}),
            (lam.put_function_event_invoke_config, {"FunctionName": name}),
            (lam.tag_resource, {"Resource": arn + ":1", "Tags": {"k": "v"}}),
        ]:
            with pytest.raises(botocore.exceptions.ClientError):
                call(**kwargs)
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
        with pytest.raises(botocore.exceptions.ClientError):
            lam.invoke(FunctionName=name, Payload=b"{}")
        lam.delete_function(FunctionName=sink)
        lam.delete_function(FunctionName=name)
    finally:
        for leftover in (name, sink):
            try:
                server.client().delete_function(FunctionName=leftover)
            except botocore.exceptions.ClientError:
                pass
    return recorder.calls


@pytest.mark.parametrize("operation", OPERATIONS)
def test_success_body_matches_output_shape(recorded, operation):
    calls = [c for c in recorded if c["operation"] == operation and c["status"] < 300]
    assert calls, f"no successful {operation} call was recorded"
    op = MODEL.operation_model(operation)
    shape = op.output_shape
    for call in calls:
        assert call["status"] == STATUS.get(operation, 200), (operation, call["status"], call["body"][:300])
        assert call["headers"].get("x-amzn-requestid"), f"{operation} without x-amzn-RequestId"
        if shape is None or shape.serialization.get("payload"):
            if shape is None:
                assert call["body"] in (b"", b"{}"), (operation, call["body"][:300])
            continue
        body = json.loads(call["body"] or b"{}")
        problems = problems_in(shape, body)
        assert not problems, f"{operation}:\n  " + "\n  ".join(problems)


def test_invoke_headers(recorded):
    calls = [c for c in recorded if c["operation"] == "Invoke" and c["status"] == 200]
    assert len(calls) == 2
    tail, failed = calls
    assert tail["headers"]["x-amz-executed-version"] == "$LATEST"
    assert tail["headers"].get("x-amz-log-result")
    assert "x-amz-function-error" not in tail["headers"]
    assert failed["headers"]["x-amz-function-error"] == "Unhandled"


def test_error_bodies_match_error_shapes(recorded):
    errors = [c for c in recorded if c["status"] >= 400]
    assert {c["status"] for c in errors} >= {404, 409, 412, 400, 429}, [(c["operation"], c["status"]) for c in errors]
    for call in errors:
        code = call["headers"].get("x-amzn-errortype", "").split(":")[0]
        assert code, f"{call['operation']} {call['status']} without x-amzn-ErrorType"
        assert call["headers"].get("x-amzn-requestid"), f"{call['operation']} error without x-amzn-RequestId"
        body = json.loads(call["body"])
        assert body.get("message") or body.get("Message"), body
        shape = MODEL.shape_for(code) if code in MODEL.shape_names else None
        assert shape is not None, f"{code} is not an error Lambda's model knows"
        assert shape.metadata["error"]["httpStatusCode"] == call["status"], (code, call["status"])
        wire = {m.serialization.get("name", n).lower() for n, m in shape.members.items()
                if not m.serialization.get("location")}
        unknown = [k for k in body if k.lower() not in wire]
        assert not unknown, f"{code}: keys {unknown} are not members of the error shape ({sorted(wire)})"
        if "Type" in body:
            assert body["Type"] == ("User" if call["status"] < 500 else "Service"), body
    throttle = [c for c in errors if c["status"] == 429]
    assert json.loads(throttle[0]["body"])["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
