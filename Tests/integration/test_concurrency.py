"""Reserved and provisioned concurrency, and GetAccountSettings."""

import os
import random
import threading
import time

import botocore.exceptions
import pytest

from conftest import wait_active
from helpers import ROLE, expect_error, function_arn, invoke, poll, python_zip, status_of, unique_name

UNRESERVED_MINIMUM = 100


def account(lam):
    settings = lam.get_account_settings()
    return settings["AccountLimit"], settings["AccountUsage"]


def test_account_settings_shape(lam, functions):
    limit, usage = account(lam)
    assert limit["TotalCodeSize"] == 80_530_636_800
    assert limit["CodeSizeUnzipped"] == 262_144_000
    assert limit["CodeSizeZipped"] == 52_428_800
    assert limit["ConcurrentExecutions"] == 1000  # the default account limit
    assert UNRESERVED_MINIMUM <= limit["UnreservedConcurrentExecutions"] <= limit["ConcurrentExecutions"]
    assert usage["FunctionCount"] >= 0 and usage["TotalCodeSize"] >= 0

    created = functions.create()
    _, after = account(lam)
    assert after["FunctionCount"] == usage["FunctionCount"] + 1
    assert after["TotalCodeSize"] >= usage["TotalCodeSize"] + created["CodeSize"]


def test_put_get_delete_function_concurrency(lam, functions):
    name = functions.create()["FunctionName"]
    before, _ = account(lam)
    got = lam.get_function_concurrency(FunctionName=name)
    assert "ReservedConcurrentExecutions" not in got

    put = lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=5)
    assert status_of(put) == 200
    assert put["ReservedConcurrentExecutions"] == 5
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 5
    assert lam.get_function(FunctionName=name)["Concurrency"] == {"ReservedConcurrentExecutions": 5}
    during, _ = account(lam)
    assert during["UnreservedConcurrentExecutions"] == before["UnreservedConcurrentExecutions"] - 5

    # A function still runs under its reservation.
    response, payload = invoke(lam, name, {"ok": 1})
    assert "FunctionError" not in response and payload["event"] == {"ok": 1}

    # Qualified names are refused: reserved concurrency is per function.
    lam.publish_version(FunctionName=name)
    expect_error("InvalidParameterValueException", 400, lam.put_function_concurrency,
                 FunctionName=f"{name}:1", ReservedConcurrentExecutions=2)

    assert status_of(lam.delete_function_concurrency(FunctionName=name)) == 204
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)
    after, _ = account(lam)
    assert after["UnreservedConcurrentExecutions"] == before["UnreservedConcurrentExecutions"]

    missing = unique_name("missing")
    expect_error("ResourceNotFoundException", 404, lam.put_function_concurrency, FunctionName=missing,
                 ReservedConcurrentExecutions=1)
    expect_error("ResourceNotFoundException", 404, lam.get_function_concurrency, FunctionName=missing)


def test_reserving_below_the_unreserved_minimum_is_refused(lam, functions):
    name = functions.create()["FunctionName"]
    limit, _ = account(lam)
    unreserved = limit["UnreservedConcurrentExecutions"]
    too_much = unreserved - UNRESERVED_MINIMUM + 1
    error = expect_error("InvalidParameterValueException", 400, lam.put_function_concurrency,
                         FunctionName=name, ReservedConcurrentExecutions=too_much)
    assert "UnreservedConcurrentExecution" in error["Error"]["Message"]
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)
    expect_error("InvalidParameterValueException", 400, lam.put_function_concurrency,
                 FunctionName=name, ReservedConcurrentExecutions=limit["ConcurrentExecutions"] + 1)

    # Exactly down to the minimum is allowed.
    exact = unreserved - UNRESERVED_MINIMUM
    try:
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=exact)
        assert account(lam)[0]["UnreservedConcurrentExecutions"] == UNRESERVED_MINIMUM
    finally:
        lam.delete_function_concurrency(FunctionName=name)


def test_reserved_zero_throttles(lam, functions):
    name = functions.create()["FunctionName"]
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    error = expect_error("TooManyRequestsException", 429, lam.invoke, FunctionName=name, Payload=b"{}")
    assert error["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded", error
    lam.delete_function_concurrency(FunctionName=name)
    response, payload = invoke(lam, name, {"after": "throttle"})
    assert payload["event"] == {"after": "throttle"}


def test_provisioned_concurrency_on_a_version(server, lam, functions):
    name = functions.create()["FunctionName"]
    assert lam.publish_version(FunctionName=name)["Version"] == "1"

    put = lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1",
                                                 ProvisionedConcurrentExecutions=1)
    assert status_of(put) == 202
    assert put["RequestedProvisionedConcurrentExecutions"] == 1
    assert put["Status"] == "IN_PROGRESS"
    assert put["AllocatedProvisionedConcurrentExecutions"] == 0

    def ready():
        config = lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
        assert config["Status"] != "FAILED", config
        return config if config["Status"] == "READY" else None
    config = poll("provisioned concurrency READY", ready)
    assert config["RequestedProvisionedConcurrentExecutions"] == 1
    assert config["AvailableProvisionedConcurrentExecutions"] == 1
    assert config["AllocatedProvisionedConcurrentExecutions"] == 1

    provisioned = [i for i in server.instances() if i["FunctionName"] == name and i["Provisioned"]]
    assert [i["Version"] for i in provisioned] == ["1"], server.instances()
    # READY means initialized: the instance has run its init and waits for work.
    assert provisioned[0]["State"] in ("idle", "busy"), f"READY reported, but the instance is {provisioned[0]}"

    listed = lam.list_provisioned_concurrency_configs(FunctionName=name)["ProvisionedConcurrencyConfigs"]
    assert [c["FunctionArn"] for c in listed] == [function_arn(name, "1")]
    assert listed[0]["Status"] == "READY"

    response, payload = invoke(lam, name, {}, Qualifier="1")
    assert response["ExecutedVersion"] == "1"
    assert payload["initType"] == "provisioned-concurrency", payload
    # $LATEST is on demand.
    _, payload = invoke(lam, name, {})
    assert payload["initType"] == "on-demand"

    assert status_of(lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="1")) == 204
    # Lambda's own error type for a configuration that is not there (the model lists it for Get).
    expect_error("ProvisionedConcurrencyConfigNotFoundException", 404,
                 lam.get_provisioned_concurrency_config, FunctionName=name, Qualifier="1")
    # Deleting it again is no error; on a function that is not there it is.
    assert status_of(lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="1")) == 204
    expect_error("ResourceNotFoundException", 404, lam.get_provisioned_concurrency_config,
                 FunctionName=unique_name("missing"), Qualifier="1")
    expect_error("ResourceNotFoundException", 404, lam.delete_provisioned_concurrency_config,
                 FunctionName=unique_name("missing"), Qualifier="1")
    assert lam.list_provisioned_concurrency_configs(FunctionName=name)["ProvisionedConcurrencyConfigs"] == []
    poll("the provisioned instance to go", lambda: not [
        i for i in server.instances() if i["FunctionName"] == name and i["Provisioned"]])


def test_provisioned_concurrency_through_an_alias(lam, functions):
    name = functions.create()["FunctionName"]
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    put = lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="live",
                                                 ProvisionedConcurrentExecutions=1)
    assert status_of(put) == 202
    poll("alias provisioned concurrency READY", lambda: lam.get_provisioned_concurrency_config(
        FunctionName=name, Qualifier="live")["Status"] == "READY")
    _, payload = invoke(lam, name, {}, Qualifier="live")
    assert payload["initType"] == "provisioned-concurrency"
    lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="live")


@pytest.mark.parametrize("qualifier", ["$LATEST", None])
def test_provisioned_concurrency_on_latest_is_refused(lam, lam_raw, functions, qualifier):
    name = functions.create()["FunctionName"]
    kwargs = {"FunctionName": name}
    if qualifier:
        kwargs["Qualifier"] = qualifier
    code = "InvalidParameterValueException" if qualifier else ("InvalidParameterValueException",
                                                                 "ValidationException")
    expect_error(code, 400, lam_raw.put_provisioned_concurrency_config, ProvisionedConcurrentExecutions=1, **kwargs)
    if qualifier:
        expect_error("InvalidParameterValueException", 400, lam.get_provisioned_concurrency_config, **kwargs)


def test_provisioned_concurrency_never_lands_on_latest_through_an_alias(lam, functions):
    name = functions.create()["FunctionName"]
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="latest", FunctionVersion="$LATEST")
    error = expect_error("InvalidParameterValueException", 400, lam.put_provisioned_concurrency_config,
                         FunctionName=name, Qualifier="latest", ProvisionedConcurrentExecutions=1)
    assert "unpublished function versions" in error["Error"]["Message"]
    lam.create_alias(FunctionName=name, Name="one", FunctionVersion="1")
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="one", ProvisionedConcurrentExecutions=1)
    expect_error("InvalidParameterValueException", 400, lam.update_alias, FunctionName=name, Name="one",
                 FunctionVersion="$LATEST")
    assert lam.get_alias(FunctionName=name, Name="one")["FunctionVersion"] == "1"
    lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="one")


def test_provisioned_concurrency_of_functions_without_a_reservation_is_not_reserved_twice(make_server):
    """Provisioned concurrency of a function without a reservation comes out of the unreserved pool
    (concurrency spec §2): GetAccountSettings counts it, and no reservation may take the pool below
    its minimum (2 for an account limit of 20) by ignoring it."""
    server = make_server(extra_args=["--account-limit", "20"])
    lam = server.client()
    provisioned, reserving = unique_name("pc"), unique_name("rc")
    for name in (provisioned, reserving):
        lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="lambda_function.handler",
                            Code={"ZipFile": python_zip()})
    lam.publish_version(FunctionName=provisioned)
    # It may take the pool down to its minimum, not below (18 of 20 would leave 2; 19, 1).
    error = expect_error("InvalidParameterValueException", 400, lam.put_provisioned_concurrency_config,
                         FunctionName=provisioned, Qualifier="1", ProvisionedConcurrentExecutions=19)
    assert "below its minimum value of [2]" in error["Error"]["Message"], error
    lam.put_provisioned_concurrency_config(FunctionName=provisioned, Qualifier="1", ProvisionedConcurrentExecutions=3)
    assert account(lam)[0]["UnreservedConcurrentExecutions"] == 17
    error = expect_error("InvalidParameterValueException", 400, lam.put_function_concurrency,
                         FunctionName=reserving, ReservedConcurrentExecutions=16)
    assert "below its minimum value of [2]" in error["Error"]["Message"], error
    lam.put_function_concurrency(FunctionName=reserving, ReservedConcurrentExecutions=15)
    assert account(lam)[0]["UnreservedConcurrentExecutions"] == 2
    # Once the function reserves, its provisioned concurrency comes out of its reservation instead.
    lam.put_function_concurrency(FunctionName=provisioned, ReservedConcurrentExecutions=3)
    assert account(lam)[0]["UnreservedConcurrentExecutions"] == 2


@pytest.mark.parametrize("change", ["delete the config", "move the alias"])
def test_a_provisioned_change_lets_the_invocation_in_flight_finish(server, lam, functions, change):
    name = functions.create(Timeout=20)["FunctionName"]
    for _ in range(2):
        lam.publish_version(FunctionName=name)
        lam.update_function_configuration(FunctionName=name, Description="next")
        wait_active(lam, name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=1)
    poll("provisioned concurrency READY", lambda: lam.get_provisioned_concurrency_config(
        FunctionName=name, Qualifier="live")["Status"] == "READY")
    answers = {}
    caller = threading.Thread(target=lambda: answers.update(slow=invoke(
        lam, name, {"action": "sleep", "seconds": 2}, Qualifier="live")))
    caller.start()
    time.sleep(0.7)
    if change == "delete the config":
        lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="live")
    else:
        lam.update_alias(FunctionName=name, Name="live", FunctionVersion="2")
    caller.join()
    response, payload = answers["slow"]
    assert "FunctionError" not in response, payload
    assert (response["ExecutedVersion"], payload["initType"]) == ("1", "provisioned-concurrency")
    if change == "move the alias":
        lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="live")
    poll("the provisioned instance to go", lambda: not [
        i for i in server.instances() if i["FunctionName"] == name and i["Provisioned"]])


def test_provisioned_concurrency_bad_values(lam, lam_raw, functions):
    name = functions.create()["FunctionName"]
    lam.publish_version(FunctionName=name)
    expect_error(("InvalidParameterValueException", "ValidationException"), 400,
                 lam_raw.put_provisioned_concurrency_config, FunctionName=name, Qualifier="1",
                 ProvisionedConcurrentExecutions=0)
    expect_error("ResourceNotFoundException", 404, lam.put_provisioned_concurrency_config, FunctionName=name,
                 Qualifier="7", ProvisionedConcurrentExecutions=1)
    # More than the function's reservation.
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    expect_error("InvalidParameterValueException", 400, lam.put_provisioned_concurrency_config,
                 FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=2)
    lam.delete_function_concurrency(FunctionName=name)


#: How long the concurrent-clients test keeps its clients busy ($WARREN_TEST_STRESS_SECONDS).
STRESS_SECONDS = float(os.environ.get("WARREN_TEST_STRESS_SECONDS", "20"))
#: Errors the mix below provokes on purpose (reserved 0 throttles; provisioned above a reservation).
EXPECTED_ERRORS = {"TooManyRequestsException", "InvalidParameterValueException"}


def test_concurrent_clients_never_wedge_the_server(make_server):
    """Four clients create, publish, reserve, provision, poll, invoke and delete functions at once for
    STRESS_SECONDS, so provisioned-concurrency passes overlap with each other and with the reclaimer's.
    Every call must be answered within 30 s with success or an expected error, and the server must then
    stop clean. (Overlapping passes once livelocked the supervisor: every later call went unanswered.)"""
    server = make_server()
    end = time.monotonic() + STRESS_SECONDS
    slow: list[str] = []
    unexpected: list[str] = []
    rounds = [0] * 4

    def call(what, fn, **kwargs):
        if slow or unexpected:  # one failure says it: the clients stop with their calls in flight
            return None
        started = time.monotonic()
        try:
            return fn(**kwargs)
        except botocore.exceptions.ClientError as error:
            if error.response["Error"]["Code"] not in EXPECTED_ERRORS:
                unexpected.append(f"{what}: {error}")
        except Exception as error:  # a read timeout is the wedge this test is about
            unexpected.append(f"{what}: {type(error).__name__}: {error}")
        finally:
            if time.monotonic() - started > 30:
                slow.append(f"{what} took {time.monotonic() - started:.0f} s")

    def client(n: int):
        lam = server.client(read_timeout=60)
        rng = random.Random(n)
        package = python_zip()
        while time.monotonic() < end and not unexpected and not slow:
            rounds[n] += 1
            name = unique_name(f"stress{n}")
            call("create", lam.create_function, FunctionName=name, Runtime="python3.11", Role=ROLE,
                 Handler="lambda_function.handler", Code={"ZipFile": package})
            call("publish", lam.publish_version, FunctionName=name)
            if rng.random() < 0.4:
                call("reserve", lam.put_function_concurrency, FunctionName=name,
                     ReservedConcurrentExecutions=rng.choice([0, 1, 3]))
            # Refused (InvalidParameterValue) when above a reservation of 0 or 1: then nothing to poll.
            provisioned = call("provision", lam.put_provisioned_concurrency_config, FunctionName=name,
                               Qualifier="1", ProvisionedConcurrentExecutions=rng.choice([1, 2])) is not None
            for _ in range(rng.randint(0, 4) if provisioned else 0):
                call("poll", lam.get_provisioned_concurrency_config, FunctionName=name, Qualifier="1")
                time.sleep(rng.random() * 0.2)
            for qualifier in rng.sample(["1", "$LATEST", "1"], rng.randint(0, 3)):
                call("invoke", lam.invoke, FunctionName=name, Qualifier=qualifier, Payload=b"{}")
            call("instances", server.instances)
            if provisioned and rng.random() < 0.5:
                call("unprovision", lam.delete_provisioned_concurrency_config, FunctionName=name, Qualifier="1")
            call("delete", lam.delete_function, FunctionName=name)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(len(rounds))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not slow and not unexpected, f"slow: {slow}; unexpected: {unexpected[:5]}"
    assert min(rounds) >= 1, rounds
    assert server.stop(check=True) == 0
