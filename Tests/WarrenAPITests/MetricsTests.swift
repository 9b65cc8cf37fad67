import Testing
@testable import WarrenAPI
import WarrenSupervisor

struct MetricsTests {
    /// A runtime names its own error types, and each label value is a series the registry keeps for
    /// the server's life: a runtime sending a new type per invocation grew Warren's memory without
    /// end. A function has at most 16 types; the rest count as `other`, and none is lost.
    @Test func aFunctionsErrorTypesAreBounded() {
        let metrics = WarrenMetrics()
        for i in 0..<200 {
            var result = InvokeResult(statusCode: 200, payload: [], functionError: "Unhandled", executedVersion: "1",
                                      requestId: "r-\(i)")
            result.errorType = "Runtime.Invented\(i % 100)"
            metrics.record(function: "noisy", result: result, error: nil)
        }
        let lines = metrics.registry.emitToString().split(separator: "\n").filter {
            $0.hasPrefix("warren_errors_total{") && $0.contains(#"function="noisy""#)
        }
        #expect(lines.count == WarrenMetrics.maxErrorTypes + 1, "\(lines)")
        #expect(lines.contains { $0.contains(#"type="other""#) && $0.hasSuffix(" 168") }, "\(lines)")
        #expect(lines.contains { $0.contains(#"type="Runtime.Invented0""#) && $0.hasSuffix(" 2") }, "\(lines)")
    }
}
