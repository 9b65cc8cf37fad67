import Foundation
import Glibc
import Testing
@testable import WarrenSupervisor

/// The python3.11 runtime runs a plain `def handler(event, context)` with
/// the official awslambdaric, unmodified.
@Suite(.serialized)
struct PythonRuntimeTests {
    typealias F = SupervisorFixture

    static let handler = """
        count = 0

        def handler(event, context):
            global count
            count += 1
            if event.get("fail"):
                raise ValueError("bad input")
            return {"echo": event, "fn": context.function_name, "version": context.function_version,
                    "rid": context.aws_request_id, "arn": context.invoked_function_arn,
                    "mem": context.memory_limit_in_mb, "left": context.get_remaining_time_in_millis(),
                    "group": context.log_group_name, "count": count}
        """

    @Test func aPlainHandlerRunsUnderAwslambdaric() async throws {
        try await F.with { supervisor, _ in
            let code = FileManager.default.temporaryDirectory.appendingPathComponent("warren-py-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: code, withIntermediateDirectories: false)
            defer { try? FileManager.default.removeItem(atPath: code) }
            chmod(code, 0o755)
            try Self.handler.write(toFile: code + "/app.py", atomically: true, encoding: .utf8)
            chmod(code + "/app.py", 0o644)
            try await supervisor.createFunction(FunctionConfig(
                functionName: "py", runtime: "python3.11", handler: "app.handler", memorySize: 256, timeout: 10,
                codeDirectory: code))
            for n in 1...3 {
                let r = try await supervisor.invoke("py", payload: Array(#"{"hello":"world"}"#.utf8))
                let body = F.json(r.payload)
                #expect(r.functionError == nil, "\(F.text(r.payload))")
                #expect((body["echo"] as? [String: String]) == ["hello": "world"])
                #expect(body["fn"] as? String == "py")
                #expect(body["version"] as? String == "$LATEST")
                #expect(body["rid"] as? String == r.requestId)
                #expect(body["arn"] as? String == supervisor.arn("py", nil))
                #expect(body["mem"] as? String == "256" || body["mem"] as? Int == 256)
                #expect((body["left"] as? Int).map { $0 > 0 && $0 <= 10_000 } == true, "\(body["left"] ?? "nil")")
                #expect(body["group"] as? String == "/aws/lambda/py")
                #expect(body["count"] as? Int == n, "not the same warm instance")
            }
            let failed = try await supervisor.invoke("py", payload: Array(#"{"fail":true}"#.utf8))
            #expect(failed.functionError == "Unhandled")
            #expect(F.json(failed.payload)["errorType"] as? String == "ValueError", "\(F.text(failed.payload))")
            #expect(F.json(failed.payload)["errorMessage"] as? String == "bad input")
        }
    }
}
