"""GET /metrics: the families DESIGN.md names, moved by real invocations."""

from helpers import expect_error, invoke, metric, poll


def sum_metric(server, name, labels):
    """The sum of every sample of `name` whose labels include `labels` (any error type, say)."""
    response = server.request("GET", "/metrics", sign=False)
    total = 0.0
    for line in response.body.decode().splitlines():
        key, _, value = line.rpartition(" ")
        if key.startswith(name + "{") and labels in key:
            total += float(value)
    return total


def test_metrics_count_invocations_errors_throttles_and_cold_starts(server, lam, functions):
    name = functions.create()["FunctionName"]
    fn = f'function="{name}"'

    invoke(lam, name, {"n": 1})                       # cold start
    invoke(lam, name, {"n": 2})                       # warm
    response, _ = invoke(lam, name, {"action": "raise", "message": "metric"})
    assert response.get("FunctionError") == "Unhandled"

    assert metric(server, "warren_invocations_total", fn) == 3
    assert sum_metric(server, "warren_errors_total", fn) == 1
    assert metric(server, "warren_cold_starts_total", fn) == 1
    assert metric(server, "warren_invocation_duration_seconds_count", fn) == 3
    assert metric(server, "warren_init_duration_seconds_count", fn) == 1
    assert metric(server, "warren_init_duration_seconds_sum", fn) > 0

    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    expect_error("TooManyRequestsException", 429, lam.invoke, FunctionName=name, Payload=b"{}")
    reason = 'reason="ReservedFunctionConcurrentInvocationLimitExceeded"'
    assert metric(server, "warren_throttles_total", f"{fn},{reason}") == 1
    assert metric(server, "warren_invocations_total", fn) == 3


def test_metrics_gauges_follow_instances_and_the_queue(server, lam, functions):
    name = functions.create()["FunctionName"]
    invoke(lam, name, {})
    # The instance is idle now (frozen a moment later); none is busy.
    assert metric(server, "warren_instances", 'state="idle"') >= 1
    assert metric(server, "warren_concurrent_executions") == 0
    poll("the idle instance frozen", lambda: (metric(server, "warren_instances_frozen") or 0) >= 1)
    assert metric(server, "warren_async_queue_depth") is not None
    assert metric(server, "warren_async_queue_oldest_age_seconds") is not None

    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"async": true}')
    poll("the event run and the queue empty again",
         lambda: metric(server, "warren_async_queue_depth") == 0
         and (metric(server, "warren_invocations_total", f'function="{name}"') or 0) >= 2)
