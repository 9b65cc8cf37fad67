import Glibc
import WarrenPolicy

/// A function's `LoggingConfig` as its instances apply it.
public struct LoggingSettings: Sendable, Equatable {
    /// `LogFormat` `JSON`: Lambda's platform lines are JSON events, and the runtime is told to log JSON.
    public var json: Bool
    /// `ApplicationLogLevel` (JSON only; INFO when nil): the runtime's `AWS_LAMBDA_LOG_LEVEL`, and the
    /// level under which the function's output is left out of its log (``InstanceLog``).
    public var applicationLogLevel: String?
    /// `SystemLogLevel` (JSON only): `WARN` leaves out the platform events, which are `INFO`'s.
    public var systemLogLevel: String?
    /// `LogGroup`: the runtime's `AWS_LAMBDA_LOG_GROUP_NAME` (`/aws/lambda/<function>` when nil).
    public var logGroup: String?

    public init(json: Bool = false, applicationLogLevel: String? = nil, systemLogLevel: String? = nil,
                logGroup: String? = nil) {
        self.json = json
        self.applicationLogLevel = applicationLogLevel
        self.systemLogLevel = systemLogLevel
        self.logGroup = logGroup
    }
}

/// How an invocation or an init ended, for REPORT and INIT_REPORT.
enum RunStatus: Equatable {
    case success
    case timeout
    case error(String)

    init(_ failure: InvocationFailure) {
        self = failure.errorType == "Sandbox.Timedout" ? .timeout : .error(failure.errorType)
    }

    /// `Status: timeout` or `Status: error  Error Type: …`, TAB-separated; empty for a success.
    var text: String {
        switch self {
        case .success: return ""
        case .timeout: return "Status: timeout"
        case .error(let type): return "Status: error\tError Type: \(type)"
        }
    }
}

/// Lambda's platform lines in a function's log: `INIT_START`, `START`, `END`, `REPORT` and
/// `INIT_REPORT` as text, or with `LogFormat` JSON as Lambda's telemetry events
/// (`{"time":…,"type":"platform.start","record":{…}}`; JSON has no END). nil: no line (the
/// system log level `WARN` leaves the platform events out, all of them being `INFO`'s).
struct PlatformLog: Sendable {
    var settings: LoggingSettings

    private var quiet: Bool { settings.json && settings.systemLogLevel == "WARN" }

    func initStart(runtime: RuntimeInfo, region: String, function: String, version: String,
                   provisioned: Bool, memoryMB: Int) -> String? {
        guard !quiet else { return nil }
        guard settings.json else { return runtime.initStartLine(region: region) }
        return Self.event("platform.initStart", [
            ("initializationType", jsonQuoted(provisioned ? "provisioned-concurrency" : "on-demand")),
            ("phase", jsonQuoted("init")),
            ("runtimeVersion", jsonQuoted(runtime.versionName)),
            ("runtimeVersionArn", jsonQuoted(runtime.versionArn(region: region))),
            ("functionName", jsonQuoted(function)),
            ("functionVersion", jsonQuoted(version)),
            ("instanceMaxMemory", String(memoryMB << 20)),
        ])
    }

    func start(requestId: String, version: String) -> String? {
        guard !quiet else { return nil }
        guard settings.json else { return "START RequestId: \(requestId) Version: \(version)" }
        return Self.event("platform.start", [("requestId", jsonQuoted(requestId)), ("version", jsonQuoted(version))])
    }

    /// END and REPORT, one line each (REPORT alone in JSON). Without a `duration` (nothing ran:
    /// the sandbox could not be made), REPORT has the status alone.
    func end(requestId: String, duration: Double?, memory: Int, peakBytes: UInt64?, initDuration: Double?,
             status: RunStatus) -> String? {
        guard !quiet else { return nil }
        guard settings.json else {
            let statusText = status == .success ? "" : status.text + "\t"
            let end = "END RequestId: \(requestId)\n"
            guard let duration else { return end + "REPORT RequestId: \(requestId)\t\(statusText)" }
            return end + Instance.report(
                requestId, duration: duration, memory: memory, peakBytes: peakBytes, initDuration: initDuration,
                status: statusText)
        }
        guard let duration else {
            return Self.event("platform.report", [("requestId", jsonQuoted(requestId))] + Self.status(status))
        }
        var metrics = [
            ("durationMs", Instance.twoDecimals(duration)),
            ("billedDurationMs", String(Int(duration.rounded(.up)))),
            ("memorySizeMB", String(memory)),
            ("maxMemoryUsedMB", String(Instance.megabytes(peakBytes))),
        ]
        if let initDuration { metrics.append(("initDurationMs", Instance.twoDecimals(initDuration))) }
        return Self.event("platform.report", [("requestId", jsonQuoted(requestId)), ("metrics", Self.object(metrics))]
                          + Self.status(status))
    }

    /// INIT_REPORT of an init that failed: `phase` `init`, or `invoke` for one that ran on
    /// within its invocation.
    func initReport(durationMs: Double, phase: String, status: RunStatus, provisioned: Bool) -> String? {
        guard !quiet else { return nil }
        guard settings.json else {
            return "INIT_REPORT Init Duration: \(Instance.twoDecimals(durationMs)) ms\tPhase: \(phase)\t\(status.text)"
        }
        return Self.event("platform.initReport", [
            ("initializationType", jsonQuoted(provisioned ? "provisioned-concurrency" : "on-demand")),
            ("phase", jsonQuoted(phase)),
        ] + Self.status(status) + [("metrics", Self.object([("durationMs", Instance.twoDecimals(durationMs))]))])
    }

    private static func status(_ status: RunStatus) -> [(String, String)] {
        switch status {
        case .success: return [("status", jsonQuoted("success"))]
        case .timeout: return [("status", jsonQuoted("timeout"))]
        case .error(let type): return [("status", jsonQuoted("error")), ("errorType", jsonQuoted(type))]
        }
    }

    /// `{"time":"2026-11-28T10:43:58.123Z","type":…,"record":{…}}` (members in the given order).
    private static func event(_ type: String, _ record: [(String, String)]) -> String {
        object([("time", jsonQuoted(Instance.logTimestamp())), ("type", jsonQuoted(type)), ("record", object(record))])
    }

    /// A JSON object of members whose values are JSON already.
    private static func object(_ members: [(String, String)]) -> String {
        "{" + members.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }
}
