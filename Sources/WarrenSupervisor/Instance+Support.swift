import Foundation
import Glibc
import NIOCore
import Synchronization
import WarrenRuntimeAPI
import WarrenSandbox

/// Why an invocation did not produce a response, with the Lambda error
/// type the caller sees.
enum InvocationFailure: Error, Sendable, Equatable {
    /// The function reported an error (`/error`, `/init/error`): its body verbatim.
    case function(errorType: String?, body: [UInt8])
    /// Warren's own: `Sandbox.Timedout`, `Runtime.ExitError`, `Runtime.OutOfMemory` …
    case platform(String, String)

    /// The payload a sync caller gets, with `X-Amz-Function-Error: Unhandled`.
    func payload(requestId: String) -> [UInt8] {
        switch self {
        case .function(let errorType, let body):
            if !body.isEmpty { return body }
            let type = errorType ?? "Runtime.Unknown"
            return Self.json(["errorType": type, "errorMessage": "RequestId: \(requestId) Error: \(type)"])
        case .platform(let type, let message):
            return Self.json(["errorType": type, "errorMessage": "RequestId: \(requestId) Error: \(message)"])
        }
    }

    var errorType: String {
        switch self {
        case .function(let type, _): return type ?? "Runtime.Unknown"
        case .platform(let type, _): return type
        }
    }

    static func json(_ object: [String: String]) -> [UInt8] {
        Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data())
    }
}

/// Why an instance did not start, and the end of what its runtime printed meanwhile.
struct StartFailure: Error {
    var failure: InvocationFailure
    var initOutput: [UInt8] = []
    /// How long the init ran and the most memory it used, when it ran at all.
    var initRun: FailedInit?

    static func platform(_ type: String, _ message: String) -> StartFailure {
        StartFailure(failure: .platform(type, message))
    }
}

/// An init that failed: how long it ran, the most memory it used, and whether it ran on past
/// Lambda's init phase into the invocation's (where Lambda runs an init again: its phase `invoke`).
struct FailedInit: Sendable {
    var durationMs: Double
    var peakBytes: UInt64?
    var inInvokePhase: Bool
}

/// One invocation as the instance ran it.
struct InvocationRecord: Sendable {
    var result: Result<InvocationOutcome, InvocationFailure>
    var durationMs: Double
    var initDurationMs: Double?
    /// The last 4 KB of the invocation's log.
    var logTail: [UInt8]
}

enum RaceOutcome<T: Sendable>: Sendable {
    case value(T)
    case timedOut
    /// The body threw: the session closed (the runtime exited or was killed).
    case failed
}

/// Runs `body` against a deadline kept by an event loop timer (cheap: no
/// extra task, no thread wake-up when the body wins). When the deadline
/// passes first, `onTimeout` runs; it must make `body` end (by closing the
/// session), and the outcome is `.timedOut`.
func race<T: Sendable>(
    seconds: Double, on loop: any EventLoop, onTimeout: @escaping @Sendable () async -> Void,
    _ body: @Sendable () async throws -> T
) async -> RaceOutcome<T> {
    let expired = Flag()
    let timer = loop.scheduleTask(in: .nanoseconds(Int64(max(0, seconds) * 1e9))) {
        expired.set()
        Task { await onTimeout() }
    }
    do {
        let value = try await body()
        timer.cancel()
        return expired.isSet ? .timedOut : .value(value)
    } catch {
        timer.cancel()
        return expired.isSet ? .timedOut : .failed
    }
}

/// A one-way flag shared with a timer callback.
final class Flag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}

extension Instance {
    func race<T: Sendable>(seconds: Double, _ body: @Sendable () async throws -> T) async -> RaceOutcome<T> {
        let session = session
        return await WarrenSupervisor.race(seconds: seconds, on: loop, onTimeout: { await session.close(reason: "timed out") }, body)
    }

    static func milliseconds(_ d: Duration) -> Double {
        Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
    }

    /// `Runtime.ExitError` / `Runtime.OutOfMemory`, worded as Lambda does.
    static func exitFailure(_ ended: Termination?) -> InvocationFailure {
        guard let ended else { return .platform("Runtime.ExitError", "Runtime exited without providing a reason") }
        if ended.oomKilled {
            return .platform("Runtime.OutOfMemory", "Runtime exited with error: signal: killed")
        }
        switch ended.status {
        case .exited(0): return .platform("Runtime.ExitError", "Runtime exited without providing a reason")
        case .exited(let code): return .platform("Runtime.ExitError", "Runtime exited with error: exit status \(code)")
        case .signaled(let sig):
            let name = sig == 9 ? "killed" : sig == 11 ? "segmentation fault" : sig == 6 ? "aborted" : "signal \(sig)"
            return .platform("Runtime.ExitError", "Runtime exited with error: signal: \(name)")
        }
    }

    /// The REPORT line: TAB-separated, ending with a TAB.
    static func report(_ requestId: String, duration: Double, memory: Int, peakBytes: UInt64?,
                       initDuration: Double?, status: String = "") -> String {
        // One string grown in place: each `+` of the pieces was an allocation of its own.
        var line = "REPORT RequestId: "
        line.reserveCapacity(192)
        line += requestId
        line += "\tDuration: "
        appendTwoDecimals(duration, to: &line)
        line += " ms\tBilled Duration: "
        line += String(Int(duration.rounded(.up)))
        line += " ms\tMemory Size: "
        line += String(memory)
        line += " MB\tMax Memory Used: "
        line += String(megabytes(peakBytes))
        line += " MB\t"
        if let initDuration {
            line += "Init Duration: "
            appendTwoDecimals(initDuration, to: &line)
            line += " ms\t"
        }
        line += status
        return line
    }

    /// Whole MB, a part counted as one: a small runtime (a C one, say) used some, not none.
    static func megabytes(_ bytes: UInt64?) -> UInt64 {
        ((bytes ?? 0) + (1 << 20) - 1) >> 20
    }

    /// `2026-11-28T10:43:58.123Z`, as Lambda stamps the lines it writes into a function's log.
    static func logTimestamp() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var seconds = spec.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + "\(pad(Int32(spec.tv_nsec / 1_000_000), 3))Z"
    }

    /// `12.34`: Foundation's String(format:) costs microseconds on Linux,
    /// and this runs on every invocation.
    static func twoDecimals(_ value: Double) -> String {
        var text = ""
        appendTwoDecimals(value, to: &text)
        return text
    }

    static func appendTwoDecimals(_ value: Double, to text: inout String) {
        let hundredths = Int((max(0, value) * 100).rounded())
        let fraction = hundredths % 100
        text += String(hundredths / 100)
        text += fraction < 10 ? ".0" : "."
        text += String(fraction)
    }
}

/// The cgroup's peak memory (`memory.max_usage_in_bytes` on v1, `memory.peak` on v2) through one
/// descriptor kept open for the instance's life. Every invocation's REPORT line needs it: opening
/// a cgroup file walks kernfs twice (exists, then open) and cost about 20 µs of each warm invoke
/// here, while a `pread` of the open file reads the live value in about a microsecond.
final class PeakMemoryFile {
    private var fd: Int32 = -1

    /// Not open: ``read()`` answers nil.
    init() {}

    init(_ cgroup: any Cgroup) {
        guard let path = Self.path(cgroup) else { return }
        fd = open(path, O_RDONLY | O_CLOEXEC)
    }

    deinit { close() }

    /// The file of the backends Warren has; nil for any other (the caller falls back).
    static func path(_ cgroup: any Cgroup) -> String? {
        if let v1 = cgroup as? CgroupV1 { return v1.directories["memory"].map { $0 + "/memory.max_usage_in_bytes" } }
        if let v2 = cgroup as? CgroupV2 { return v2.path + "/memory.peak" }
        return nil
    }

    /// The peak in bytes; nil when the file is not open or does not hold a number.
    func read() -> UInt64? {
        guard fd >= 0 else { return nil }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { buffer -> UInt64? in
            var count: Int
            repeat { count = pread(fd, buffer.baseAddress, buffer.count, 0) } while count < 0 && errno == EINTR
            guard count > 0 else { return nil }
            var value: UInt64 = 0
            var digits = 0
            for byte in buffer[0..<count] {
                if byte == UInt8(ascii: "\n") { break }
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte), digits < 20 else { return nil }
                let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
                guard !overflow1, !overflow2 else { return nil }
                value = sum
                digits += 1
            }
            return digits > 0 ? value : nil
        }
    }

    /// Closes the descriptor (before the cgroup is removed); idempotent.
    func close() {
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
    }
}
