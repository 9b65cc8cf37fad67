"""CreateFunction, GetFunction, GetFunctionConfiguration, ListFunctions,
UpdateFunctionCode, UpdateFunctionConfiguration and DeleteFunction through boto3."""

import base64
import json
import re
import threading
import time
import urllib.error
import urllib.request

import pytest

from conftest import wait_active
from helpers import (ROLE, code_sha256, expect_error, function_arn, invoke, python_zip, status_of,
                     unique_name)

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
LAST_MODIFIED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")


def test_create_then_get_and_get_configuration(lam, functions):
    name = functions.name()
    package = python_zip("created")
    created = lam.create_function(
        FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="lambda_function.handler",
        Code={"ZipFile": package}, Description="made by the integration suite", Timeout=10, MemorySize=256,
        Environment={"Variables": {"ALPHA": "1", "BETA": "two"}})
    assert status_of(created) == 201
    assert created["FunctionName"] == name
    assert created["FunctionArn"] == function_arn(name)
    assert created["Runtime"] == "python3.11"
    assert created["Role"] == ROLE
    assert created["Handler"] == "lambda_function.handler"
    assert created["CodeSize"] == len(package)
    assert created["CodeSha256"] == code_sha256(package)
    assert created["Version"] == "$LATEST"
    assert created["Description"] == "made by the integration suite"
    assert (created["Timeout"], created["MemorySize"]) == (10, 256)
    assert created["Environment"]["Variables"] == {"ALPHA": "1", "BETA": "two"}
    assert created["PackageType"] == "Zip"
    assert created["Architectures"] == ["x86_64"]
    assert created["EphemeralStorage"] == {"Size": 512}
    assert created["State"] in ("Pending", "Active")
    assert UUID.match(created["RevisionId"]), created["RevisionId"]
    assert LAST_MODIFIED.match(created["LastModified"]), created["LastModified"]

    config = wait_active(lam, name)
    for key in ("FunctionName", "FunctionArn", "Runtime", "Role", "Handler", "CodeSize", "CodeSha256", "Version",
                "Description", "Timeout", "MemorySize", "Environment", "PackageType", "Architectures"):
        assert config[key] == created[key], key

    got = lam.get_function(FunctionName=name)
    assert status_of(got) == 200
    assert got["Configuration"]["FunctionArn"] == function_arn(name)
    assert got["Configuration"]["CodeSha256"] == code_sha256(package)
    assert got["Configuration"]["State"] == "Active"
    assert got["Code"]["RepositoryType"] == "S3"
    assert "Concurrency" not in got or got["Concurrency"] == {}

    # The name may also be given as a full ARN or `name:$LATEST`.
    assert lam.get_function_configuration(FunctionName=function_arn(name))["FunctionName"] == name
    assert lam.get_function_configuration(FunctionName=f"{name}:$LATEST")["Version"] == "$LATEST"


def test_get_function_code_location_downloads_the_package(server, lam, functions):
    """Code.Location is a presigned URL (10 minutes) that serves the package as uploaded, per version;
    without the signature, or with a tampered one, it is refused."""
    first, second = python_zip("first"), python_zip("second")
    name = functions.create(zip_file=first)["FunctionName"]
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.update_function_code(FunctionName=name, ZipFile=second)
    wait_active(lam, name)

    for qualifier, package in ((version, first), ("$LATEST", second)):
        location = lam.get_function(FunctionName=name, Qualifier=qualifier)["Code"]["Location"]
        assert "X-Amz-Signature=" in location and "X-Amz-Expires=600" in location, location
        with urllib.request.urlopen(location, timeout=30) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "application/zip"
            body = response.read()
        assert body == package
        assert code_sha256(body) == lam.get_function_configuration(
            FunctionName=name, Qualifier=qualifier)["CodeSha256"]

    location = lam.get_function(FunctionName=name)["Code"]["Location"]
    unsigned = location.split("?")[0]
    tampered = location[:-1] + ("0" if location[-1] != "0" else "1")
    for url in (unsigned, tampered):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url, timeout=30)
        assert refused.value.code == 403, url
    missing = server.request("GET", "/warren/v1/code/" + "0" * 64)
    assert (missing.status, missing.error_type) == (404, "ResourceNotFoundException"), missing


def test_create_defaults(lam, functions):
    name = functions.name()
    created = lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE,
                                  Handler="lambda_function.handler", Code={"ZipFile": python_zip()})
    assert (created["Timeout"], created["MemorySize"]) == (3, 128)
    assert created.get("Description", "") == ""
    assert "Environment" not in created, "no variables: Lambda leaves Environment out"
    assert created["EphemeralStorage"] == {"Size": 512}
    assert created["TracingConfig"] == {"Mode": "PassThrough"}
    wait_active(lam, name)


def test_list_functions_pages_with_max_items_and_marker(lam, functions):
    mine = {functions.create()["FunctionName"] for _ in range(3)}
    seen = []
    kwargs = {"MaxItems": 1}
    for _ in range(1000):
        page = lam.list_functions(**kwargs)
        assert len(page["Functions"]) <= 1, page["Functions"]
        seen += [f["FunctionName"] for f in page["Functions"]]
        for entry in page["Functions"]:
            assert entry["FunctionArn"] == function_arn(entry["FunctionName"]), "unqualified ARN in ListFunctions"
            assert entry["Version"] == "$LATEST"
        if not page.get("NextMarker"):
            break
        kwargs["Marker"] = page["NextMarker"]
    else:
        pytest.fail("ListFunctions never ended")
    assert len(seen) == len(set(seen)), f"a function was listed twice: {seen}"
    assert mine <= set(seen), f"missing from the pages: {mine - set(seen)}"

    everything = lam.list_functions()
    assert mine <= {f["FunctionName"] for f in everything["Functions"]}
    for entry in everything["Functions"]:
        assert "State" not in entry and "LastUpdateStatus" not in entry, entry


@pytest.mark.parametrize("max_items", [None, 2])
def test_list_functions_all_versions(lam, functions, max_items):
    """Pages hold versions, not functions: at most MaxItems (50 without it), each version once."""
    name = functions.create()["FunctionName"]
    for description in ("1", "2", "3"):
        lam.update_function_configuration(FunctionName=name, Description=description)
        wait_active(lam, name)
        lam.publish_version(FunctionName=name)
    every = []
    seen = []
    kwargs = {"FunctionVersion": "ALL"} | ({"MaxItems": max_items} if max_items else {})
    while True:
        page = lam.list_functions(**kwargs)
        assert len(page["Functions"]) <= (max_items or 50), len(page["Functions"])
        seen += [f["FunctionArn"] for f in page["Functions"]]
        every += [f for f in page["Functions"] if f["FunctionName"] == name]
        if not page.get("NextMarker"):
            break
        kwargs["Marker"] = page["NextMarker"]
    assert len(seen) == len(set(seen)), "a version was listed twice"
    assert sorted((f["Version"], f["FunctionArn"]) for f in every) == sorted(
        [("$LATEST", function_arn(name, "$LATEST"))] + [(v, function_arn(name, v)) for v in ("1", "2", "3")])
    latest_only = [f for f in lam.list_functions()["Functions"] if f["FunctionName"] == name]
    assert [f["Version"] for f in latest_only] == ["$LATEST"]


def test_update_function_code(lam, functions):
    name = functions.create(zip_file=python_zip("old"))["FunctionName"]
    before = lam.get_function_configuration(FunctionName=name)
    _, payload = invoke(lam, name, {})
    assert payload["marker"] == "old"

    package = python_zip("new")
    updated = lam.update_function_code(FunctionName=name, ZipFile=package)
    assert status_of(updated) == 200
    assert updated["CodeSha256"] == code_sha256(package)
    assert updated["CodeSize"] == len(package)
    assert updated["RevisionId"] != before["RevisionId"]
    assert updated["Version"] == "$LATEST"
    wait_active(lam, name)
    _, payload = invoke(lam, name, {})
    assert payload["marker"] == "new", "the old code still answers after UpdateFunctionCode"

    published = lam.update_function_code(FunctionName=name, ZipFile=python_zip("newer"), Publish=True)
    assert published["Version"] == "1"
    wait_active(lam, name)
    _, payload = invoke(lam, name, {}, Qualifier="1")
    assert payload["marker"] == "newer"


@pytest.mark.parametrize("change", ["configuration", "code"])
def test_an_update_lets_invocations_in_flight_finish_on_the_old_code(lam, functions, change):
    name = functions.create(zip_file=python_zip("old"), Timeout=20)["FunctionName"]
    invoke(lam, name, {})  # a warm instance, so the slow call below starts at once
    answers = {}

    def slow():
        answers["slow"] = invoke(lam, name, {"action": "sleep", "seconds": 2})

    caller = threading.Thread(target=slow)
    caller.start()
    time.sleep(0.7)
    if change == "configuration":
        lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"MARKER": "changed"}})
    else:
        lam.update_function_code(FunctionName=name, ZipFile=python_zip("new"))
    wait_active(lam, name)
    caller.join()
    response, payload = answers["slow"]
    assert "FunctionError" not in response, payload
    assert payload["marker"] == "old" and payload["env"] is None, "the invocation in flight was cut off or moved"
    _, payload = invoke(lam, name, {})
    if change == "configuration":
        assert payload["env"] == "changed"
    else:
        assert payload["marker"] == "new"


def test_update_function_configuration_replaces_environment(lam, functions):
    name = functions.create(Environment={"Variables": {"MARKER": "first", "OTHER": "x"}})["FunctionName"]
    _, payload = invoke(lam, name, {})
    assert payload["env"] == "first"
    before = lam.get_function_configuration(FunctionName=name)

    updated = lam.update_function_configuration(
        FunctionName=name, Environment={"Variables": {"MARKER": "second"}}, Timeout=7, MemorySize=192,
        Description="changed")
    assert status_of(updated) == 200
    assert updated["Environment"]["Variables"] == {"MARKER": "second"}
    assert (updated["Timeout"], updated["MemorySize"], updated["Description"]) == (7, 192, "changed")
    assert updated["RevisionId"] != before["RevisionId"]
    assert updated["CodeSha256"] == before["CodeSha256"]
    config = wait_active(lam, name)
    assert config["Environment"]["Variables"] == {"MARKER": "second"}
    response, payload = invoke(lam, name, {})
    assert payload["env"] == "second", "a warm instance with the old environment answered"
    assert payload["memoryLimitInMB"] == "192"


def test_revision_id_mismatch_is_412(lam, functions):
    name = functions.create()["FunctionName"]
    current = lam.get_function_configuration(FunctionName=name)
    stale = "00000000-0000-4000-8000-000000000000"
    expect_error("PreconditionFailedException", 412, lam.update_function_configuration,
                 FunctionName=name, Description="no", RevisionId=stale)
    expect_error("PreconditionFailedException", 412, lam.update_function_code,
                 FunctionName=name, ZipFile=python_zip("no"), RevisionId=stale)
    unchanged = lam.get_function_configuration(FunctionName=name)
    assert unchanged["RevisionId"] == current["RevisionId"]
    assert unchanged.get("Description", "") == ""

    updated = lam.update_function_configuration(FunctionName=name, Description="yes",
                                                RevisionId=current["RevisionId"])
    assert updated["Description"] == "yes"
    wait_active(lam, name)
    # The old RevisionId is stale now.
    expect_error("PreconditionFailedException", 412, lam.update_function_configuration,
                 FunctionName=name, Description="again", RevisionId=current["RevisionId"])


def test_duplicate_create_is_409(lam, functions):
    name = functions.create(zip_file=python_zip("first"))["FunctionName"]
    expect_error("ResourceConflictException", 409, lam.create_function,
                 FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="lambda_function.handler",
                 Code={"ZipFile": python_zip("second")})
    _, payload = invoke(lam, name, {})
    assert payload["marker"] == "first"


def test_missing_function_is_404(lam):
    name = unique_name("missing")
    for call, kwargs in [
        (lam.get_function, {}),
        (lam.get_function_configuration, {}),
        (lam.delete_function, {}),
        (lam.update_function_configuration, {"Description": "x"}),
        (lam.update_function_code, {"ZipFile": python_zip()}),
        (lam.invoke, {"Payload": b"{}"}),
        (lam.publish_version, {}),
        (lam.list_versions_by_function, {}),
    ]:
        response = expect_error("ResourceNotFoundException", 404, call, FunctionName=name, **kwargs)
        assert name in response["Error"]["Message"], response["Error"]


def test_an_arn_of_another_region_or_account_never_reaches_the_local_function(lam, functions):
    """Lambda answers a function of another region "not reachable in this region" (404) and one of an
    account that grants nothing AccessDenied (403); neither touches the function of that name here."""
    name = functions.create()["FunctionName"]
    elsewhere = [
        (f"arn:aws:lambda:eu-west-1:000000000000:function:{name}", "ResourceNotFoundException", 404,
         "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')"),
        (f"eu-west-1:000000000000:function:{name}", "ResourceNotFoundException", 404, "not reachable"),
        (f"arn:aws-cn:lambda:us-east-1:000000000000:function:{name}", "ResourceNotFoundException", 404,
         "partition 'aws-cn'"),
        (f"arn:aws:lambda:us-east-1:111111111111:function:{name}", "AccessDeniedException", 403,
         "account 111111111111"),
        (f"111111111111:function:{name}", "AccessDeniedException", 403, "account 111111111111"),
    ]
    for reference, code, status, message in elsewhere:
        for call, kwargs in [
            (lam.get_function, {}),
            (lam.invoke, {"Payload": b"{}"}),
            (lam.put_function_concurrency, {"ReservedConcurrentExecutions": 0}),
            (lam.delete_function, {}),
        ]:
            response = expect_error(code, status, call, FunctionName=reference, **kwargs)
            assert message in response["Error"]["Message"], (reference, response["Error"])
        if reference.startswith("arn:"):
            expect_error(code, status, lam.tag_resource, Resource=reference, Tags={"k": "v"})
    # Untouched: not deleted, no concurrency set, never invoked, no tags.
    local = lam.get_function(FunctionName=function_arn(name))
    assert "Concurrency" not in local and "Tags" not in local, local
    response, payload = invoke(lam, name, {})
    assert payload["count"] == 1, payload
    expect_error("AccessDeniedException", 403, lam.create_function, FunctionName=f"111111111111:function:{name}x",
                 Runtime="python3.11", Role=ROLE, Handler="index.handler", Code={"ZipFile": python_zip()})


def test_missing_version_is_404(lam, functions):
    name = functions.create()["FunctionName"]
    expect_error("ResourceNotFoundException", 404, lam.get_function, FunctionName=name, Qualifier="99")
    expect_error("ResourceNotFoundException", 404, lam.invoke, FunctionName=name, Qualifier="99", Payload=b"{}")
    expect_error("ResourceNotFoundException", 404, lam.get_function, FunctionName=name, Qualifier="nosuchalias")


@pytest.mark.parametrize("bad", [
    pytest.param({"Timeout": 901}, id="timeout-901"),
    pytest.param({"Timeout": 0}, id="timeout-0"),
    pytest.param({"MemorySize": 64}, id="memory-64"),
    pytest.param({"MemorySize": 10241}, id="memory-10241"),
    pytest.param({"Runtime": "cobol85"}, id="unknown-runtime"),
    pytest.param({"Role": "not-a-role"}, id="bad-role"),
    pytest.param({"Role": None}, id="no-role"),
    pytest.param({"Code": None}, id="no-code"),
    pytest.param({"FunctionName": "bad name!"}, id="bad-name"),
    pytest.param({"FunctionName": "x" * 65}, id="name-too-long"),
    pytest.param({"EphemeralStorage": {"Size": 100}}, id="ephemeral-100"),
    pytest.param({"Environment": {"Variables": {"BIG": "x" * 5000}}}, id="env-over-4kb"),
    pytest.param({"Handler": "a\u0000b.handler"}, id="nul-in-handler"),
    pytest.param({"Description": "x\u0000y"}, id="nul-in-description"),
    pytest.param({"Environment": {"Variables": {"AB": "x\u0000y"}}}, id="nul-in-environment-value"),
])
def test_bad_create_parameters_are_400(lam, lam_raw, bad):
    name = unique_name("bad")
    kwargs = {"FunctionName": name, "Runtime": "python3.11", "Role": ROLE, "Handler": "lambda_function.handler",
              "Code": {"ZipFile": python_zip()}}
    kwargs.update(bad)
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    expect_error(("InvalidParameterValueException", "ValidationException"), 400, lam_raw.create_function, **kwargs)
    # Nothing was created, under either name.
    for candidate in {name, kwargs["FunctionName"]}:
        if len(candidate) <= 64 and re.fullmatch(r"[a-zA-Z0-9-_]+", candidate):
            expect_error("ResourceNotFoundException", 404, lam.get_function, FunctionName=candidate)


def test_a_body_that_is_not_strict_json_is_400_and_changes_nothing(server, lam, functions):
    """Trailing commas, comments and a byte-order mark are not JSON (Foundation's decoder takes them);
    a number that does not fit its member is named as such, not as invalid JSON."""
    name = functions.create()["FunctionName"]
    before = lam.get_function_configuration(FunctionName=name)
    path = f"/2015-03-31/functions/{name}/configuration"
    for body, said in [(b'{"Timeout": 7,}', "line 1, column 15"), (b'{"Timeout": 7} // seven', "end of input"),
                       (b'\xef\xbb\xbf{"Timeout": 7}', "line 1, column 1"), (b'{"Timeout": 7.5}', "does not fit"),
                       (b'{"Description": "\\ud800"}', "unpaired surrogate")]:
        response = server.request("PUT", path, body=body)
        assert response.status == 400 and response.error_type == "InvalidRequestContentException", response
        assert said in response.json()["message"], (body, response.json())
    after = lam.get_function_configuration(FunctionName=name)
    assert (after["Timeout"], after["RevisionId"]) == (3, before["RevisionId"])


def test_settings_warren_does_not_apply_are_typed_and_checked(server, lam, functions):
    """TracingConfig, VpcConfig, SnapStart and the like are taken without effect (LoggingConfig is
    applied: test_invoke's JSON logging test), but a
    value of the wrong type or off the model's enumeration is refused as Lambda refuses it."""
    name = unique_name("unapplied")
    base = {"FunctionName": name, "Runtime": "python3.11", "Role": ROLE, "Handler": "lambda_function.handler",
            "Code": {"ZipFile": base64.b64encode(python_zip()).decode()}}
    for extra, error in [({"TracingConfig": 5}, "InvalidRequestContentException"),
                         ({"VpcConfig": {"SubnetIds": "subnet-1"}}, "InvalidRequestContentException"),
                         ({"KMSKeyArn": ["x"]}, "InvalidRequestContentException"),
                         ({"ImageConfig": {"Command": True}}, "InvalidRequestContentException"),
                         ({"TracingConfig": {"Mode": "Sometimes"}}, "ValidationException"),
                         ({"SnapStart": {"ApplyOn": "Always"}}, "ValidationException"),
                         ({"LoggingConfig": {"LogFormat": "XML"}}, "ValidationException"),
                         ({"VpcConfig": {"SecurityGroupIds": ["sg"] * 6}}, "ValidationException"),
                         ({"KMSKeyArn": "notanarn"}, "ValidationException"),
                         ({"DeadLetterConfig": {"TargetArn": "notanarn"}}, "ValidationException"),
                         ({"LoggingConfig": {"LogGroup": "bad group!"}}, "ValidationException"),
                         ({"FileSystemConfigs": [{"Arn": "x", "LocalMountPath": "/tmp/x"}]}, "ValidationException")]:
        response = server.request("POST", "/2015-03-31/functions", body=json.dumps({**base, **extra}).encode())
        assert response.status == 400 and response.error_type == error, (extra, response)
    expect_error("ResourceNotFoundException", 404, lam.get_function, FunctionName=name)
    created = functions.create(TracingConfig={"Mode": "Active"}, SnapStart={"ApplyOn": "None"},
                               VpcConfig={"SubnetIds": ["subnet-1"], "SecurityGroupIds": ["sg-1"]},
                               LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "INFO"})
    assert status_of(created) == 201
    updated = server.request("PUT", f"/2015-03-31/functions/{created['FunctionName']}/configuration",
                             body=b'{"TracingConfig": {"Mode": 1}}')
    assert updated.status == 400 and updated.error_type == "InvalidRequestContentException", updated


def test_settings_warren_does_not_apply_are_reported_back(lam, functions):
    """What a deployment tool sets it reads back, else Terraform plans the change again on every run:
    tracing, VPC, dead-letter queue, KMS key, SnapStart, logging and file systems are kept with the
    function and its versions and reported as Lambda reports them; an update replaces or clears
    only the members it names."""
    dlq = {"TargetArn": "arn:aws:sqs:us-east-1:000000000000:dlq"}
    efs = [{"Arn": "arn:aws:elasticfilesystem:us-east-1:000000000000:access-point/fsap-0123456789abcdef0",
            "LocalMountPath": "/mnt/efs"}]
    created = functions.create(
        TracingConfig={"Mode": "Active"}, VpcConfig={"SubnetIds": ["subnet-1"], "SecurityGroupIds": ["sg-1"]},
        DeadLetterConfig=dlq, KMSKeyArn="arn:aws:kms:us-east-1:000000000000:key/k",
        SnapStart={"ApplyOn": "PublishedVersions"}, LoggingConfig={"LogFormat": "JSON"}, FileSystemConfigs=efs)
    name = created["FunctionName"]
    listed = next(f for f in lam.list_functions()["Functions"] if f["FunctionName"] == name)
    for config in (created, lam.get_function_configuration(FunctionName=name),
                   lam.get_function(FunctionName=name)["Configuration"], listed):
        assert config["TracingConfig"] == {"Mode": "Active"}
        assert config["VpcConfig"] == {"SubnetIds": ["subnet-1"], "SecurityGroupIds": ["sg-1"],
                                       "Ipv6AllowedForDualStack": False}
        assert config["DeadLetterConfig"] == dlq and config["FileSystemConfigs"] == efs
        assert config["KMSKeyArn"] == "arn:aws:kms:us-east-1:000000000000:key/k"
        assert config["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
        assert config["LoggingConfig"] == {"LogFormat": "JSON", "ApplicationLogLevel": "INFO",
                                           "SystemLogLevel": "INFO", "LogGroup": f"/aws/lambda/{name}"}
    version = lam.publish_version(FunctionName=name)["Version"]

    updated = lam.update_function_configuration(
        FunctionName=name, TracingConfig={"Mode": "PassThrough"}, VpcConfig={"SubnetIds": [], "SecurityGroupIds": []},
        KMSKeyArn="", LoggingConfig={"LogFormat": "Text", "LogGroup": "custom"})
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    for config in (updated, lam.get_function_configuration(FunctionName=name)):
        assert config["TracingConfig"] == {"Mode": "PassThrough"}
        assert "VpcConfig" not in config and "KMSKeyArn" not in config, config
        assert config["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "custom"}
        assert config["DeadLetterConfig"] == dlq and config["FileSystemConfigs"] == efs
    # The settings changed: that is a new version's content.
    assert lam.publish_version(FunctionName=name)["Version"] != version
    published = lam.get_function_configuration(FunctionName=name, Qualifier=version)
    assert published["TracingConfig"] == {"Mode": "Active"} and published["VpcConfig"]["SubnetIds"] == ["subnet-1"]
    # As Lambda reports a version SnapStart applies to.
    assert published["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
    # A function created without them reports Lambda's defaults and nothing more.
    plain = functions.create()
    assert plain["TracingConfig"] == {"Mode": "PassThrough"} and plain["SnapStart"]["ApplyOn"] == "None"
    assert not {"VpcConfig", "DeadLetterConfig", "KMSKeyArn", "FileSystemConfigs"} & plain.keys(), plain


def test_code_signing_config_is_kept_and_reported(lam, lam_raw, functions):
    """Put/Get/DeleteFunctionCodeSigningConfig, and CreateFunction's CodeSigningConfigArn: kept and
    reported, not applied. Terraform reads it for every function it manages and stops with an
    error when it cannot (the route did not exist)."""
    csc = "arn:aws:lambda:us-east-1:000000000000:code-signing-config:csc-0123456789abcdefg"
    plain = functions.create()["FunctionName"]
    got = lam.get_function_code_signing_config(FunctionName=plain)
    assert (got["CodeSigningConfigArn"], got["FunctionName"]) == ("", plain)
    assert status_of(got) == 200

    put = lam.put_function_code_signing_config(FunctionName=plain, CodeSigningConfigArn=csc)
    assert (put["CodeSigningConfigArn"], put["FunctionName"]) == (csc, plain)
    assert lam.get_function_code_signing_config(FunctionName=plain)["CodeSigningConfigArn"] == csc
    assert status_of(lam.delete_function_code_signing_config(FunctionName=plain)) == 204
    assert lam.get_function_code_signing_config(FunctionName=plain)["CodeSigningConfigArn"] == ""

    created = functions.create(CodeSigningConfigArn=csc)["FunctionName"]
    assert lam.get_function_code_signing_config(FunctionName=created)["CodeSigningConfigArn"] == csc
    # Checked as the model types it; a function that is not there is Lambda's 404.
    expect_error("ValidationException", 400, lam_raw.put_function_code_signing_config,
                 FunctionName=plain, CodeSigningConfigArn="arn:aws:lambda:us-east-1:0:csc")
    for call in (lam.get_function_code_signing_config, lam.delete_function_code_signing_config):
        expect_error("ResourceNotFoundException", 404, call, FunctionName=unique_name("missing"))


def test_bad_update_parameters_are_400(lam, lam_raw, functions):
    name = functions.create()["FunctionName"]
    before = lam.get_function_configuration(FunctionName=name)
    for bad in ({"Timeout": 0}, {"Timeout": 901}, {"MemorySize": 127}, {"Runtime": "cobol85"},
                {"Handler": "lambda_function.handler\u0000junk"}, {"Description": "a\u0000"}):
        expect_error(("InvalidParameterValueException", "ValidationException"), 400,
                     lam_raw.update_function_configuration, FunctionName=name, **bad)
    after = lam.get_function_configuration(FunctionName=name)
    assert after["RevisionId"] == before["RevisionId"]
    assert (after["Timeout"], after["MemorySize"], after["Runtime"]) == (3, 128, "python3.11")


def test_delete_with_qualifier(lam, functions):
    name = functions.create(Environment={"Variables": {"MARKER": "one"}})["FunctionName"]
    assert lam.publish_version(FunctionName=name)["Version"] == "1"
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"MARKER": "two"}})
    wait_active(lam, name)
    assert lam.publish_version(FunctionName=name)["Version"] == "2"

    deleted = lam.delete_function(FunctionName=name, Qualifier="1")
    assert status_of(deleted) == 204
    expect_error("ResourceNotFoundException", 404, lam.get_function, FunctionName=name, Qualifier="1")
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]]
    assert versions == ["$LATEST", "2"]
    _, payload = invoke(lam, name, {}, Qualifier="2")
    assert payload["env"] == "two"

    expect_error("InvalidParameterValueException", 400, lam.delete_function, FunctionName=name,
                 Qualifier="$LATEST")
    assert lam.get_function(FunctionName=name)["Configuration"]["Version"] == "$LATEST"

    # Numbers are never reused.
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"MARKER": "three"}})
    wait_active(lam, name)
    assert lam.publish_version(FunctionName=name)["Version"] == "3"

    assert status_of(lam.delete_function(FunctionName=name)) == 204
    expect_error("ResourceNotFoundException", 404, lam.get_function, FunctionName=name)
    expect_error("ResourceNotFoundException", 404, lam.get_function, FunctionName=name, Qualifier="2")
    expect_error("ResourceNotFoundException", 404, lam.list_versions_by_function, FunctionName=name)
    expect_error("ResourceNotFoundException", 404, lam.invoke, FunctionName=name, Payload=b"{}")


def test_delete_alias_via_delete_function_is_refused(lam, functions):
    name = functions.create()["FunctionName"]
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    expect_error("InvalidParameterValueException", 400, lam.delete_function, FunctionName=name, Qualifier="live")
    assert lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "1"


def test_recreate_after_delete_starts_fresh(lam, functions):
    name = functions.create(zip_file=python_zip("first"))["FunctionName"]
    lam.publish_version(FunctionName=name)
    lam.delete_function(FunctionName=name)
    functions.create(name=name, zip_file=python_zip("second"))
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]]
    assert versions == ["$LATEST"]
    _, payload = invoke(lam, name, {})
    assert payload["marker"] == "second"


def test_logging_config_updates_merge_and_levels_are_json_only(lam, functions):
    """An update's LoggingConfig members replace the function's and the others stay, as Lambda
    merges them (one member alone switched the format back to Text and the log group to its
    default). Log levels go with JSON: given with Text they are Lambda's InvalidParameterValue,
    and setting Text drops them."""
    for logging in ({"ApplicationLogLevel": "DEBUG"}, {"LogFormat": "Text", "SystemLogLevel": "WARN"}):
        expect_error("InvalidParameterValueException", 400, functions.create, LoggingConfig=logging)
    name = functions.create(LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "ERROR",
                                           "LogGroup": "custom/g"})["FunctionName"]

    def logging_after(**given):
        lam.update_function_configuration(FunctionName=name, LoggingConfig=given)
        return lam.get_function_configuration(FunctionName=name)["LoggingConfig"]

    assert logging_after(SystemLogLevel="WARN") == {"LogFormat": "JSON", "ApplicationLogLevel": "ERROR",
                                                    "SystemLogLevel": "WARN", "LogGroup": "custom/g"}
    assert logging_after() == {"LogFormat": "JSON", "ApplicationLogLevel": "ERROR", "SystemLogLevel": "WARN",
                               "LogGroup": "custom/g"}
    assert logging_after(LogFormat="Text") == {"LogFormat": "Text", "LogGroup": "custom/g"}
    expect_error("InvalidParameterValueException", 400, lam.update_function_configuration, FunctionName=name,
                 LoggingConfig={"ApplicationLogLevel": "DEBUG"})
    assert logging_after(LogFormat="JSON", ApplicationLogLevel="DEBUG") == {
        "LogFormat": "JSON", "ApplicationLogLevel": "DEBUG", "SystemLogLevel": "INFO", "LogGroup": "custom/g"}
