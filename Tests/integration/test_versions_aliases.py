"""PublishVersion, ListVersionsByFunction and the alias operations, and
invocation through an alias (X-Amz-Executed-Version)."""

from collections import Counter

import botocore.exceptions

from conftest import Functions, wait_active
from helpers import ROLE, code_sha256, expect_error, function_arn, invoke, python_zip, status_of


def set_marker(lam, name, marker):
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"MARKER": marker}})
    wait_active(lam, name)


def publish_markers(lam, functions, *markers):
    """A function with one published version per marker (version N has env MARKER = markers[N-1])."""
    name = functions.create()["FunctionName"]
    for number, marker in enumerate(markers, start=1):
        set_marker(lam, name, marker)
        assert lam.publish_version(FunctionName=name)["Version"] == str(number)
    return name


def test_publish_version(lam, functions):
    package = python_zip("published")
    name = functions.create(zip_file=package, Description="base")["FunctionName"]
    latest = lam.get_function_configuration(FunctionName=name)

    first = lam.publish_version(FunctionName=name, Description="first release")
    assert status_of(first) == 201
    assert first["Version"] == "1"
    assert first["FunctionArn"] == function_arn(name, "1")
    assert first["CodeSha256"] == code_sha256(package) == latest["CodeSha256"]
    assert first["Description"] == "first release"

    # Publishing gave $LATEST a new RevisionId, as Lambda does.
    revision = lam.get_function_configuration(FunctionName=name)["RevisionId"]
    assert revision != latest["RevisionId"]

    # Nothing changed since: the same version comes back, whatever Description is asked for, and
    # $LATEST keeps its RevisionId.
    again = lam.publish_version(FunctionName=name)
    assert status_of(again) == 201
    assert again["Version"] == "1"
    again = lam.publish_version(FunctionName=name, Description="another release")
    assert (again["Version"], again["Description"]) == ("1", "first release")
    assert lam.get_function_configuration(FunctionName=name)["RevisionId"] == revision
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]] == ["$LATEST", "1"]

    # A CodeSha256 that is not $LATEST's is refused and publishes nothing.
    lam.update_function_code(FunctionName=name, ZipFile=python_zip("second"))
    wait_active(lam, name)
    response = expect_error("InvalidParameterValueException", 400, lam.publish_version,
                            FunctionName=name, CodeSha256=code_sha256(package))
    assert "CodeSHA256" in response["Error"]["Message"]
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]] == ["$LATEST", "1"]

    # With the right one it publishes.
    current = lam.get_function_configuration(FunctionName=name)["CodeSha256"]
    second = lam.publish_version(FunctionName=name, CodeSha256=current)
    assert second["Version"] == "2"
    _, payload = invoke(lam, name, {}, Qualifier="1")
    assert (payload["marker"], payload["functionVersion"]) == ("published", "1")
    _, payload = invoke(lam, name, {}, Qualifier="2")
    assert (payload["marker"], payload["functionVersion"]) == ("second", "2")

    # A stale RevisionId is refused.
    set_marker(lam, name, "third")
    expect_error("PreconditionFailedException", 412, lam.publish_version, FunctionName=name,
                 RevisionId="00000000-0000-4000-8000-000000000000")


def test_create_with_publish_answers_version_1(lam, functions):
    name = functions.name()
    created = lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE,
                                  Handler="lambda_function.handler", Code={"ZipFile": python_zip()}, Publish=True)
    assert created["Version"] == "1"
    wait_active(lam, name)
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]] == ["$LATEST", "1"]


def test_versions_are_immutable_and_listed_in_order(lam, functions):
    name = publish_markers(lam, functions, "m1", "m2", "m3")
    set_marker(lam, name, "latest")
    listed = lam.list_versions_by_function(FunctionName=name)["Versions"]
    assert [v["Version"] for v in listed] == ["$LATEST", "1", "2", "3"]
    assert [v["FunctionArn"] for v in listed] == [function_arn(name, q) for q in ("$LATEST", "1", "2", "3")]
    assert [v["Environment"]["Variables"]["MARKER"] for v in listed] == ["latest", "m1", "m2", "m3"]

    pages, kwargs = [], {"FunctionName": name, "MaxItems": 1}
    while True:
        page = lam.list_versions_by_function(**kwargs)
        assert len(page["Versions"]) <= 1
        pages += [v["Version"] for v in page["Versions"]]
        if not page.get("NextMarker"):
            break
        kwargs["Marker"] = page["NextMarker"]
    assert pages == ["$LATEST", "1", "2", "3"]

    for qualifier, marker in (("1", "m1"), ("2", "m2"), ("3", "m3"), ("$LATEST", "latest")):
        response, payload = invoke(lam, name, {}, Qualifier=qualifier)
        assert (payload["env"], payload["functionVersion"], response["ExecutedVersion"]) == (
            marker, qualifier, qualifier)
        assert lam.get_function(FunctionName=name, Qualifier=qualifier)["Configuration"]["Version"] == qualifier


def test_alias_crud(lam, functions):
    name = publish_markers(lam, functions, "a1", "a2")
    created = lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1", Description="the live one")
    assert status_of(created) == 201
    assert created["AliasArn"] == function_arn(name, "live")
    assert (created["Name"], created["FunctionVersion"], created["Description"]) == ("live", "1", "the live one")
    assert created["RevisionId"]

    got = lam.get_alias(FunctionName=name, Name="live")
    assert (got["AliasArn"], got["FunctionVersion"], got["RevisionId"]) == (
        created["AliasArn"], "1", created["RevisionId"])
    expect_error("ResourceConflictException", 409, lam.create_alias, FunctionName=name, Name="live",
                 FunctionVersion="2")

    lam.create_alias(FunctionName=name, Name="beta", FunctionVersion="$LATEST")
    listed = lam.list_aliases(FunctionName=name)["Aliases"]
    assert sorted((a["Name"], a["FunctionVersion"]) for a in listed) == [("beta", "$LATEST"), ("live", "1")]
    only_1 = lam.list_aliases(FunctionName=name, FunctionVersion="1")["Aliases"]
    assert [a["Name"] for a in only_1] == ["live"]

    expect_error("PreconditionFailedException", 412, lam.update_alias, FunctionName=name, Name="live",
                 FunctionVersion="2", RevisionId="00000000-0000-4000-8000-000000000000")
    updated = lam.update_alias(FunctionName=name, Name="live", FunctionVersion="2",
                               RevisionId=created["RevisionId"])
    assert updated["FunctionVersion"] == "2"
    assert updated["RevisionId"] != created["RevisionId"]
    assert updated["Description"] == "the live one"
    _, payload = invoke(lam, name, {}, Qualifier="live")
    assert payload["env"] == "a2"

    # A NUL in a description is refused (SQLite's text would end there) and changes nothing.
    expect_error("ValidationException", 400, lam.update_alias, FunctionName=name, Name="live", Description="a\u0000b")
    assert lam.get_alias(FunctionName=name, Name="live")["Description"] == "the live one"
    expect_error("ValidationException", 400, lam.publish_version, FunctionName=name, Description="v\u0000")
    expect_error("ResourceNotFoundException", 404, lam.get_alias, FunctionName=name, Name="nope")
    expect_error("ResourceNotFoundException", 404, lam.update_alias, FunctionName=name, Name="nope",
                 FunctionVersion="1")
    expect_error("ResourceNotFoundException", 404, lam.create_alias, FunctionName=name, Name="ghost",
                 FunctionVersion="9")

    assert status_of(lam.delete_alias(FunctionName=name, Name="live")) == 204
    expect_error("ResourceNotFoundException", 404, lam.get_alias, FunctionName=name, Name="live")
    expect_error("ResourceNotFoundException", 404, lam.invoke, FunctionName=name, Qualifier="live", Payload=b"{}")
    # Deleting a missing alias is not an error (as Lambda).
    assert status_of(lam.delete_alias(FunctionName=name, Name="live")) == 204
    assert [a["Name"] for a in lam.list_aliases(FunctionName=name)["Aliases"]] == ["beta"]


def test_alias_routing_config_validation(lam, lam_raw, functions):
    name = publish_markers(lam, functions, "r1", "r2")
    for primary, weights, code in [
        ("1", {"1": 0.5}, "InvalidParameterValueException"),        # same as primary
        ("$LATEST", {"1": 0.5}, "InvalidParameterValueException"),  # $LATEST with routing
        ("1", {"$LATEST": 0.5}, ("InvalidParameterValueException", "ValidationException")),
        ("1", {"2": 1.5}, ("InvalidParameterValueException", "ValidationException")),
        ("1", {"2": -0.1}, ("InvalidParameterValueException", "ValidationException")),
    ]:
        expect_error(code, 400, lam_raw.create_alias, FunctionName=name, Name="weighted", FunctionVersion=primary,
                     RoutingConfig={"AdditionalVersionWeights": weights})
    expect_error("ResourceNotFoundException", 404, lam.get_alias, FunctionName=name, Name="weighted")

    created = lam.create_alias(FunctionName=name, Name="weighted", FunctionVersion="1",
                               RoutingConfig={"AdditionalVersionWeights": {"2": 0.25}})
    assert created["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.25}}
    assert lam.get_alias(FunctionName=name, Name="weighted")["RoutingConfig"] == {
        "AdditionalVersionWeights": {"2": 0.25}}
    expect_error("InvalidParameterValueException", 400, lam.update_alias, FunctionName=name, Name="weighted",
                 FunctionVersion="2")  # 2 is now both primary and routed
    cleared = lam.update_alias(FunctionName=name, Name="weighted", RoutingConfig={"AdditionalVersionWeights": {}})
    assert cleared.get("RoutingConfig", {}).get("AdditionalVersionWeights", {}) == {}


def test_invoke_through_alias_reports_executed_version(lam, functions):
    name = publish_markers(lam, functions, "x1", "x2")
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    response, payload = invoke(lam, name, {"n": 1}, Qualifier="live")
    assert response["ExecutedVersion"] == "1"
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amz-executed-version"] == "1"
    assert (payload["env"], payload["functionVersion"]) == ("x1", "1")
    assert payload["invokedFunctionArn"] == function_arn(name, "live")

    response, payload = invoke(lam, f"{name}:live", {"n": 2})
    assert response["ExecutedVersion"] == "1"
    response, payload = invoke(lam, function_arn(name, "live"), {"n": 3})
    assert response["ExecutedVersion"] == "1"
    expect_error("InvalidParameterValueException", 400, lam.invoke, FunctionName=f"{name}:live", Qualifier="1",
                 Payload=b"{}")

    # Weighted: 40 invocations at 50 % see both versions (all one way: p = 2 * 2^-40).
    lam.update_alias(FunctionName=name, Name="live", FunctionVersion="1",
                     RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    executed = Counter()
    for n in range(40):
        response, payload = invoke(lam, name, {"n": n}, Qualifier="live")
        assert response["ExecutedVersion"] in ("1", "2")
        assert payload["functionVersion"] == response["ExecutedVersion"]
        assert payload["env"] == {"1": "x1", "2": "x2"}[response["ExecutedVersion"]]
        executed[response["ExecutedVersion"]] += 1
    assert set(executed) == {"1", "2"}, executed

    # All the weight on 2 except what 1 keeps: weight 1.0 sends everything to 2.
    lam.update_alias(FunctionName=name, Name="live", FunctionVersion="1",
                     RoutingConfig={"AdditionalVersionWeights": {"2": 1.0}})
    for n in range(5):
        response, _ = invoke(lam, name, {"n": n}, Qualifier="live")
        assert response["ExecutedVersion"] == "2"


def test_alias_target_version_cannot_be_deleted(lam, functions):
    name = publish_markers(lam, functions, "d1")
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    try:
        lam.delete_function(FunctionName=name, Qualifier="1")
    except botocore.exceptions.ClientError as error:
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 409), error.response
    else:
        raise AssertionError("deleted version 1 while alias 'live' points to it")
    assert lam.get_function(FunctionName=name, Qualifier="1")["Configuration"]["Version"] == "1"
    _, payload = invoke(lam, name, {}, Qualifier="live")
    assert payload["env"] == "d1"


def test_a_version_is_named_only_as_lambda_writes_it(lam, functions):
    """`01` names no version (a lookup by the string Lambda wrote, `1`, finds none), for every operation
    alike: before, the store read it as 1 and the supervisor did not, so an alias to `01` was refused
    404 but kept, listed, never invokable, and after a restart kept the aliases after it from loading."""
    name = publish_markers(lam, functions, "one", "two")
    for qualifier in ("01", "001"):
        expect_error("ResourceNotFoundException", 404, lam.get_function_configuration,
                     FunctionName=name, Qualifier=qualifier)
        expect_error("ResourceNotFoundException", 404, lam.invoke, FunctionName=name, Qualifier=qualifier,
                     Payload=b"{}")
    expect_error("ResourceNotFoundException", 404, lam.create_alias, FunctionName=name, Name="zero",
                 FunctionVersion="01")
    expect_error("ResourceNotFoundException", 404, lam.get_alias, FunctionName=name, Name="zero")
    lam.create_alias(FunctionName=name, Name="one", FunctionVersion="1")
    expect_error("ResourceNotFoundException", 404, lam.update_alias, FunctionName=name, Name="one",
                 FunctionVersion="001")
    expect_error("ResourceNotFoundException", 404, lam.update_alias, FunctionName=name, Name="one",
                 RoutingConfig={"AdditionalVersionWeights": {"02": 0.5}})
    alias = lam.get_alias(FunctionName=name, Name="one")
    assert (alias["FunctionVersion"], alias.get("RoutingConfig")) == ("1", None)
    assert [a["Name"] for a in lam.list_aliases(FunctionName=name)["Aliases"]] == ["one"]
    assert invoke(lam, name, {}, Qualifier="one")[1]["env"] == "one"


def test_an_alias_the_supervisor_refuses_at_start_costs_only_itself(make_server, tmp_path):
    """A stored alias the supervisor cannot load (written before the fix above) is left out with a log
    line; the aliases sorted after it still load."""
    import sqlite3
    state = tmp_path / "state"
    first = make_server(state_dir=state)
    lam = first.client()
    name = Functions(lam, "poison").create()["FunctionName"]
    lam.publish_version(FunctionName=name)
    for alias in ("aa", "bb", "cc"):
        lam.create_alias(FunctionName=name, Name=alias, FunctionVersion="1")
    first.stop(check=True)
    with sqlite3.connect(state / "warren.db") as db:
        changed = db.execute("UPDATE alias SET functionVersion = '01' WHERE name = 'aa'").rowcount
    assert changed == 1

    second = make_server(state_dir=state)
    lam = second.client()
    for alias in ("bb", "cc"):
        assert invoke(lam, name, {}, Qualifier=alias)[0]["ExecutedVersion"] == "1"
    assert f"{name}:aa" in second.log_tail(), second.log_tail()
