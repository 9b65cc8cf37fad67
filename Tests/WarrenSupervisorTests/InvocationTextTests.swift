import Foundation
import Testing
@testable import WarrenSupervisor

/// The text made for every invocation, written into buffers in place: the request id, the
/// X-Ray trace header and the REPORT line, in the forms Lambda uses.
struct InvocationTextTests {
    static func matches(_ text: String, _ pattern: String) -> Bool {
        text.range(of: "^" + pattern + "$", options: .regularExpression) != nil
    }

    @Test func requestIdsAreVersion4UUIDsInLowercase() {
        for _ in 0..<200 {
            let id = Supervisor.invocationIds().requestId
            #expect(Self.matches(id, "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"), "\(id)")
            #expect(UUID(uuidString: id) != nil)
        }
        #expect(Supervisor.uuidString(0, 0) == "00000000-0000-4000-8000-000000000000")
        #expect(Supervisor.uuidString(.max, .max) == "ffffffff-ffff-4fff-bfff-ffffffffffff")
    }

    @Test func idsStayUniqueAcrossEntropyBlocks() {
        // 1,000 draws span 125 of the pool's 256-byte blocks: no word is served twice.
        var requestIds = Set<String>(), traces = Set<String>(), rolls = Set<Double>()
        for _ in 0..<1000 {
            let ids = Supervisor.invocationIds()
            requestIds.insert(ids.requestId)
            traces.insert(ids.traceId)
            #expect(ids.roll >= 0 && ids.roll < 1)
            rolls.insert(ids.roll)
        }
        #expect(requestIds.count == 1000 && traces.count == 1000 && rolls.count == 1000)
        var pool = EntropyPool()
        var words = Set<UInt64>()
        for _ in 0..<64 {
            let next = pool.next()
            words.formUnion([next.0, next.1, next.2, next.3])
        }
        #expect(words.count == 256, "eight blocks of 32 words, all different")
    }

    @Test func traceHeadersHaveXRaysForm() {
        let now = UInt32(truncatingIfNeeded: Int(Date().timeIntervalSince1970))
        var seen = Set<String>()
        for seed in 0..<200 as Range<UInt64> {
            let trace = Supervisor.traceId(seed: seed)
            #expect(Self.matches(trace, "Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0"), "\(trace)")
            let time = UInt32(trace.dropFirst(7).prefix(8), radix: 16) ?? 0
            #expect(time >= now && time <= now + 5, "the root's first part is the epoch second")
            seen.insert(trace)
        }
        #expect(seen.count == 200, "different seeds, different traces")
    }

    @Test func reportLineAsLambdaPrintsIt() {
        #expect(Instance.report("r-1", duration: 1.234, memory: 128, peakBytes: 35 << 20, initDuration: nil)
            == "REPORT RequestId: r-1\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\t"
            + "Max Memory Used: 35 MB\t")
        #expect(Instance.report("r-2", duration: 100, memory: 1769, peakBytes: nil, initDuration: 12.006)
            == "REPORT RequestId: r-2\tDuration: 100.00 ms\tBilled Duration: 100 ms\tMemory Size: 1769 MB\t"
            + "Max Memory Used: 0 MB\tInit Duration: 12.01 ms\t")
        // A part of a MB counts as one: 300 KiB is 1 MB, not 0.
        #expect(Instance.report("r-3", duration: 1, memory: 128, peakBytes: 300 << 10, initDuration: nil)
            .contains("\tMax Memory Used: 1 MB\t"))
        #expect(Instance.report("r-4", duration: 1, memory: 128, peakBytes: 35 << 20 + 1, initDuration: nil)
            .contains("\tMax Memory Used: 36 MB\t"))
        #expect(Instance.twoDecimals(0.05) == "0.05")
        #expect(Instance.twoDecimals(7) == "7.00")
        #expect(Instance.twoDecimals(-1) == "0.00")
    }

    /// Lambda's platform lines as text and, with `LogFormat` JSON, as its telemetry events: valid
    /// JSON whatever a runtime gave as its error type, no END, and none at all under the system
    /// log level WARN.
    @Test func platformLinesAsTextAndAsJSONEvents() throws {
        let text = PlatformLog(settings: LoggingSettings())
        #expect(text.start(requestId: "r-1", version: "$LATEST") == "START RequestId: r-1 Version: $LATEST")
        #expect(text.end(requestId: "r-1", duration: 1.5, memory: 128, peakBytes: 1 << 20, initDuration: nil,
                         status: .timeout)
            == "END RequestId: r-1\nREPORT RequestId: r-1\tDuration: 1.50 ms\tBilled Duration: 2 ms\t"
            + "Memory Size: 128 MB\tMax Memory Used: 1 MB\tStatus: timeout\t")
        #expect(text.end(requestId: "r-2", duration: nil, memory: 128, peakBytes: nil, initDuration: nil,
                         status: .error("Sandbox.Failure"))
            == "END RequestId: r-2\nREPORT RequestId: r-2\tStatus: error\tError Type: Sandbox.Failure\t")
        #expect(text.initReport(durationMs: 10.004, phase: "init", status: .error("Runtime.ExitError"),
                                provisioned: false)
            == "INIT_REPORT Init Duration: 10.00 ms\tPhase: init\tStatus: error\tError Type: Runtime.ExitError")

        let json = PlatformLog(settings: LoggingSettings(json: true))
        func object(_ line: String?) throws -> [String: Any] {
            let line = try #require(line)
            #expect(!line.contains("\n"), "one line: \(line)")
            return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
        }
        let hostile = "Bad\"Type\\\n\u{1}\u{7f}é"
        let initReport = try object(json.initReport(durationMs: 3.25, phase: "invoke", status: .error(hostile),
                                                    provisioned: false))
        #expect(initReport["type"] as? String == "platform.initReport")
        let record = try #require(initReport["record"] as? [String: Any])
        #expect(record["errorType"] as? String == hostile && record["status"] as? String == "error", "\(record)")
        #expect(record["phase"] as? String == "invoke" && record["initializationType"] as? String == "on-demand")
        #expect((record["metrics"] as? [String: Any])?["durationMs"] as? Double == 3.25, "\(record)")
        let report = try object(json.end(requestId: "r-3", duration: 2, memory: 256, peakBytes: 5 << 20,
                                         initDuration: 40, status: .success))
        #expect(report["type"] as? String == "platform.report")
        let metrics = try #require((report["record"] as? [String: Any])?["metrics"] as? [String: Any])
        #expect(metrics["memorySizeMB"] as? Int == 256 && metrics["maxMemoryUsedMB"] as? Int == 5, "\(metrics)")
        #expect(metrics["initDurationMs"] as? Double == 40 && metrics["billedDurationMs"] as? Int == 2, "\(metrics)")
        let start = try object(json.start(requestId: "r-3", version: "7"))
        #expect(start["record"] as? [String: String] == ["requestId": "r-3", "version": "7"], "\(start)")

        let quiet = PlatformLog(settings: LoggingSettings(json: true, systemLogLevel: "WARN"))
        #expect(quiet.start(requestId: "r", version: "1") == nil)
        #expect(quiet.end(requestId: "r", duration: 1, memory: 128, peakBytes: nil, initDuration: nil,
                          status: .timeout) == nil)
        #expect(quiet.initReport(durationMs: 1, phase: "init", status: .timeout, provisioned: false) == nil)
    }
}
