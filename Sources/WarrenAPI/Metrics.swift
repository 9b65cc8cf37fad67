import Foundation
import Prometheus
import Synchronization
import WarrenStore
import WarrenSupervisor

/// Warren's Prometheus metrics, served as text at `/metrics`.
///
/// Counters and histograms are recorded as invocations end; gauges
/// (concurrency, instances by state, the async queue) are read from the
/// supervisor and the store when scraped, so they are never stale.
public final class WarrenMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()

    /// Invocation durations: 1 ms … 15 min.
    static let durationBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5),
        .seconds(10), .seconds(30), .seconds(60), .seconds(300), .seconds(900),
    ]
    /// Init durations: 1 ms … 10 s (the init timeout).
    static let initBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(2.5), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        .seconds(2.5), .seconds(5), .seconds(10),
    ]
    /// The states an instance moves through; each is exported, zeros too.
    static let instanceStates = ["provisioning", "initializing", "idle", "busy"]

    /// The series every run of a function touches, looked up in the
    /// registry once per function rather than on every invocation.
    private struct FunctionSeries: Sendable {
        let invocations: Counter
        let duration: DurationHistogram
    }
    private let perFunction = Mutex<[String: FunctionSeries]>([:])
    /// The error types each function's `errors_total` is labelled with so far. A runtime names its
    /// own (any name, each a series of its own held for the server's life), so a function has at
    /// most ``maxErrorTypes``; the errors of any other type count as `other`.
    private let errorTypes = Mutex<[String: Set<String>]>([:])
    static let maxErrorTypes = 16

    public init() {}

    private func series(_ function: String) -> FunctionSeries {
        perFunction.withLock { cache in
            if let known = cache[function] { return known }
            let fn = [("function", function)]
            let made = FunctionSeries(
                invocations: registry.makeCounter(
                    descriptor: descriptor("invocations", "total", "Synchronous and asynchronous invocations run."),
                    labels: fn),
                duration: registry.makeDurationHistogram(
                    descriptor: descriptor("invocation_duration", "seconds", "Time from dispatch to the runtime's answer."),
                    labels: fn, buckets: Self.durationBuckets))
            cache[function] = made
            return made
        }
    }

    /// `type`, or `other` once `function` has ``maxErrorTypes`` types of its own.
    private func errorLabel(_ function: String, _ type: String) -> String {
        errorTypes.withLock { seen in
            if seen[function]?.contains(type) == true { return type }
            guard seen[function, default: []].count < Self.maxErrorTypes else { return "other" }
            seen[function, default: []].insert(type)
            return type
        }
    }

    private func descriptor(_ name: String, _ unit: String? = nil, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "warren", metricName: name, unitName: unit ?? "", helpText: help)
    }

    /// Records one invocation attempt: its result, or the error that refused
    /// it. Errors, throttles and cold starts are rarer and looked up as they come.
    public func record(function: String, result: InvokeResult?, error: SupervisorError?) {
        let fn = [("function", function)]
        if let error {
            if error.code == .tooManyRequests {
                registry.makeCounter(
                    descriptor: descriptor("throttles", "total", "Invocations refused by admission control."),
                    labels: fn + [("reason", error.reason ?? "")]
                ).increment()
            }
            return
        }
        guard let result, result.statusCode == 200 else { return }
        let series = series(function)
        series.invocations.increment()
        series.duration.record(.nanoseconds(Int64(result.durationMs * 1e6)))
        if let type = result.errorType {
            registry.makeCounter(descriptor: descriptor("errors", "total", "Invocations that ended in a function or runtime error."),
                                 labels: fn + [("type", errorLabel(function, type))]).increment()
        }
        if let initMs = result.initDurationMs {
            registry.makeCounter(descriptor: descriptor("cold_starts", "total", "Invocations that started a new instance."),
                                 labels: fn).increment()
            registry.makeDurationHistogram(
                descriptor: descriptor("init_duration", "seconds", "Time from spawn to the runtime's first /next."),
                labels: fn, buckets: Self.initBuckets
            ).record(.nanoseconds(Int64(initMs * 1e6)))
        }
    }

    /// The whole exposition: recorded series plus gauges read now.
    public func render(supervisor: Supervisor, store: any StateStore) async -> [UInt8] {
        registry.makeGauge(descriptor: descriptor("concurrent_executions", nil, "Invocations running now."))
            .set(Double(supervisor.admission.concurrentExecutions))
        var byState = Dictionary(uniqueKeysWithValues: Self.instanceStates.map { ($0, 0) })
        var frozen = 0
        for instance in await supervisor.instances() {
            byState[instance.state, default: 0] += 1
            if instance.frozen { frozen += 1 }
        }
        for (state, count) in byState {
            registry.makeGauge(descriptor: descriptor("instances", nil, "Live instances by state."),
                               labels: [("state", state)]).set(Double(count))
        }
        registry.makeGauge(descriptor: descriptor("instances_frozen", nil, "Idle instances frozen by the cgroup freezer."))
            .set(Double(frozen))
        if let stats = try? await store.queueStats() {
            registry.makeGauge(descriptor: descriptor("async_queue_depth", nil, "Event invocations queued or in flight."))
                .set(Double(stats.pending))
            let age = stats.oldestEnqueuedAt.map { max(0, Date().timeIntervalSince($0)) } ?? 0
            registry.makeGauge(descriptor: descriptor("async_queue_oldest_age", "seconds", "Age of the oldest pending event."))
                .set(age)
            registry.makeGauge(descriptor: descriptor("async_queue_failed", nil, "Events given up on in the last day."))
                .set(Double(stats.failed))
        }
        return registry.emitToBuffer()
    }
}
