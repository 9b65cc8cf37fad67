"""Put/Update/Get/Delete/List FunctionEventInvokeConfig."""

import datetime

from helpers import expect_error, function_arn, status_of, unique_name


def test_put_get_update_delete(lam, functions):
    name = functions.create()["FunctionName"]
    target = functions.create()["FunctionArn"]

    put = lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1,
                                               MaximumEventAgeInSeconds=120)
    assert status_of(put) == 200
    assert put["FunctionArn"] == function_arn(name, "$LATEST")
    assert (put["MaximumRetryAttempts"], put["MaximumEventAgeInSeconds"]) == (1, 120)
    assert isinstance(put["LastModified"], datetime.datetime)
    assert abs((put["LastModified"] - datetime.datetime.now(datetime.timezone.utc)).total_seconds()) < 600

    got = lam.get_function_event_invoke_config(FunctionName=name)
    assert (got["FunctionArn"], got["MaximumRetryAttempts"], got["MaximumEventAgeInSeconds"]) == (
        function_arn(name, "$LATEST"), 1, 120)
    assert got.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination") is None

    # Update merges: the retry settings stay.
    updated = lam.update_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnFailure": {"Destination": target}})
    assert status_of(updated) == 200
    assert (updated["MaximumRetryAttempts"], updated["MaximumEventAgeInSeconds"]) == (1, 120)
    assert updated["DestinationConfig"]["OnFailure"] == {"Destination": target}
    got = lam.get_function_event_invoke_config(FunctionName=name)
    assert got["DestinationConfig"]["OnFailure"] == {"Destination": target}
    assert got["MaximumRetryAttempts"] == 1

    # Put replaces: what is not given is gone.
    replaced = lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    assert replaced["MaximumRetryAttempts"] == 0
    assert "MaximumEventAgeInSeconds" not in replaced
    assert replaced.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination") is None
    got = lam.get_function_event_invoke_config(FunctionName=name)
    assert got["MaximumRetryAttempts"] == 0 and "MaximumEventAgeInSeconds" not in got

    assert status_of(lam.delete_function_event_invoke_config(FunctionName=name)) == 204
    expect_error("ResourceNotFoundException", 404, lam.get_function_event_invoke_config, FunctionName=name)


def test_put_with_nothing_is_400(lam, functions):
    name = functions.create()["FunctionName"]
    error = expect_error("InvalidParameterValueException", 400, lam.put_function_event_invoke_config,
                         FunctionName=name)
    assert "at least one" in error["Error"]["Message"]
    expect_error("ResourceNotFoundException", 404, lam.get_function_event_invoke_config, FunctionName=name)


def test_out_of_range_values_are_400(lam, lam_raw, functions):
    name = functions.create()["FunctionName"]
    for bad in ({"MaximumRetryAttempts": 3}, {"MaximumRetryAttempts": -1}, {"MaximumEventAgeInSeconds": 59},
                {"MaximumEventAgeInSeconds": 21601}):
        expect_error(("InvalidParameterValueException", "ValidationException"), 400,
                     lam_raw.put_function_event_invoke_config, FunctionName=name, **bad)
    expect_error("ResourceNotFoundException", 404, lam.get_function_event_invoke_config, FunctionName=name)


def test_per_qualifier_and_list(lam, functions):
    name = functions.create()["FunctionName"]
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=2)
    on_version = lam.put_function_event_invoke_config(FunctionName=name, Qualifier="1", MaximumRetryAttempts=1)
    assert on_version["FunctionArn"] == function_arn(name, "1")
    on_alias = lam.put_function_event_invoke_config(FunctionName=name, Qualifier="live", MaximumRetryAttempts=0)
    assert on_alias["FunctionArn"] == function_arn(name, "live")

    assert lam.get_function_event_invoke_config(FunctionName=name, Qualifier="1")["MaximumRetryAttempts"] == 1
    assert lam.get_function_event_invoke_config(FunctionName=name, Qualifier="live")["MaximumRetryAttempts"] == 0
    assert lam.get_function_event_invoke_config(FunctionName=name)["MaximumRetryAttempts"] == 2

    listed = lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]
    assert sorted((c["FunctionArn"], c["MaximumRetryAttempts"]) for c in listed) == sorted([
        (function_arn(name, "$LATEST"), 2), (function_arn(name, "1"), 1), (function_arn(name, "live"), 0)])

    lam.delete_function_event_invoke_config(FunctionName=name, Qualifier="1")
    listed = lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]
    assert sorted(c["FunctionArn"] for c in listed) == sorted([function_arn(name, "$LATEST"),
                                                                function_arn(name, "live")])
    expect_error("ResourceNotFoundException", 404, lam.put_function_event_invoke_config, FunctionName=name,
                 Qualifier="9", MaximumRetryAttempts=1)


def test_missing_function_is_404(lam):
    name = unique_name("missing")
    expect_error("ResourceNotFoundException", 404, lam.put_function_event_invoke_config, FunctionName=name,
                 MaximumRetryAttempts=1)
    expect_error("ResourceNotFoundException", 404, lam.get_function_event_invoke_config, FunctionName=name)
    expect_error("ResourceNotFoundException", 404, lam.delete_function_event_invoke_config, FunctionName=name)


def test_destinations_name_a_service_lambda_delivers_to(lam, functions):
    name = functions.create()["FunctionName"]
    queue = "arn:aws:sqs:us-east-1:123456789012:failures"
    bucket = "arn:aws:s3:::failures"
    for side, destination in [("OnFailure", "arn:aws:dynamodb:us-east-1:123456789012:table/t"),
                              ("OnFailure", "arn:aws:iam::123456789012:role/x"),
                              ("OnSuccess", bucket)]:
        error = expect_error("InvalidParameterValueException", 400, lam.put_function_event_invoke_config,
                             FunctionName=name, DestinationConfig={side: {"Destination": destination}})
        assert error["Error"]["Message"] == f"The destination ARN {destination} is invalid.", error
    error = expect_error("InvalidParameterValueException", 400, lam.put_function_event_invoke_config,
                         FunctionName=name, DestinationConfig={"OnFailure": {"Destination": function_arn(name)}})
    assert "destination for itself" in error["Error"]["Message"], error
    expect_error("ResourceNotFoundException", 404, lam.get_function_event_invoke_config, FunctionName=name)
    config = lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={
        "OnSuccess": {"Destination": queue}, "OnFailure": {"Destination": bucket}})
    assert config["DestinationConfig"] == {"OnSuccess": {"Destination": queue}, "OnFailure": {"Destination": bucket}}
