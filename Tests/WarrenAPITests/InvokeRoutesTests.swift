import Foundation
import HTTPTypes
import HummingbirdTesting
import Synchronization
import Testing
@testable import WarrenAPI
import WarrenStore
import WarrenSupervisor

extension LambdaAPI {
    @Suite("Invoke")
    struct Invoke {
        /// Runs `body` against the router alone, or (`fastPath`) against a live server with the
        /// Invoke fast path in front of the router, which must then have answered some Invokes.
        static func withAPI(fastPath: Bool,
                            _ body: @Sendable (LambdaService, any TestClientProtocol) async throws -> Void)
            async throws {
            let counter = InvokeFastPath.Counter()
            try await Fixture.withAPI(fastPath: fastPath ? counter : nil, body)
            if fastPath { #expect(counter.value > 0, "no Invoke took the fast path") }
        }

        @Test("RequestResponse: 200 with the function's answer, X-Amz-Executed-Version, the request id, metrics",
              arguments: [false, true])
        func sync(fastPath: Bool) async throws {
            try await Self.withAPI(fastPath: fastPath) { service, client in
                let metrics = Mutex<[InvocationMetric]>([])
                service.onInvoke = { metric in metrics.withLock { $0.append(metric) } }
                try await client.createEcho("echo")
                let response = try await client.invoke("echo", #"{"hello":"warren"}"#)
                #expect(response.status == .ok)
                #expect(response.text == #"{"hello":"warren"}"#)
                #expect(response.header("X-Amz-Executed-Version") == "$LATEST")
                #expect(response.header("X-Amz-Function-Error") == nil)
                #expect(response.header("X-Amz-Log-Result") == nil)
                #expect(response.header("x-amzn-RequestId")?.count == 36)
                let empty = try await client.invoke("echo", "")
                #expect(empty.text == "{}")
                let recorded = metrics.withLock { $0 }
                #expect(recorded.count == 2)
                #expect(recorded.first?.function == "echo")
                #expect(recorded.first?.result?.requestId == response.header("x-amzn-RequestId"))
                #expect(recorded.allSatisfy { $0.error == nil && $0.seconds > 0 })
            }
        }

        @Test("a failing function still answers 200, with X-Amz-Function-Error: Unhandled and its error",
              arguments: [false, true])
        func functionError(fastPath: Bool) async throws {
            try await Self.withAPI(fastPath: fastPath) { _, client in
                try await client.createEcho("fails")
                let response = try await client.invoke("fails", #"{"error":1}"#)
                #expect(response.status == .ok)
                #expect(response.header("X-Amz-Function-Error") == "Unhandled")
                #expect(response.json["errorMessage"] as? String == "it failed")
            }
        }

        @Test("X-Amz-Log-Type: Tail answers X-Amz-Log-Result, base64 of this invocation's log",
              arguments: [false, true])
        func tail(fastPath: Bool) async throws {
            try await Self.withAPI(fastPath: fastPath) { _, client in
                try await client.createEcho("logs")
                let response = try await client.invoke("logs", #"{"log":1}"#, headers: [.amzLogType: "Tail"])
                let tail = try #require(response.header("X-Amz-Log-Result"))
                let text = String(decoding: try #require(Data(base64Encoded: tail)), as: UTF8.self)
                // The function's own output travels a pipe and may land after the tail was cut;
                // Warren's START and REPORT lines of this request are always in it.
                let requestId = try #require(response.header("x-amzn-RequestId"))
                #expect(text.hasPrefix("START RequestId: \(requestId) Version: $LATEST"))
                #expect(text.contains("REPORT RequestId: \(requestId)"))
                expectError(try await client.invoke("logs", "{}", headers: [.amzLogType: "Everything"]), .badRequest,
                            "ValidationException")
            }
        }

        @Test("Qualifier selects $LATEST, a version or an alias; the ARN's qualifier must agree",
              arguments: [false, true])
        func qualifiers(fastPath: Bool) async throws {
            try await Self.withAPI(fastPath: fastPath) { _, client in
                try await client.createEcho("q", extra: ["Publish": true])
                _ = try await client.call(.post, "/2015-03-31/functions/q/aliases",
                                          json: ["Name": "prod", "FunctionVersion": "1"])
                let env = #"{"env":"AWS_LAMBDA_FUNCTION_VERSION"}"#
                #expect(try await client.invoke("q", env, qualifier: "1").text == #"{"AWS_LAMBDA_FUNCTION_VERSION":"1"}"#)
                #expect(try await client.invoke("q:prod", env).header("X-Amz-Executed-Version") == "1")
                #expect(try await client.invoke("q", env, qualifier: "$LATEST").header("X-Amz-Executed-Version")
                    == "$LATEST")
                expectError(try await client.invoke("q:prod", env, qualifier: "1"), .badRequest,
                            "InvalidParameterValueException")
                expectError(try await client.invoke("q", env, qualifier: "9"), .notFound, "ResourceNotFoundException",
                            "Function not found: \(Fixture.arnPrefix)q:9")
                expectError(try await client.invoke("missing", env), .notFound, "ResourceNotFoundException",
                            "Function not found: \(Fixture.arnPrefix)missing")
            }
        }

        @Test("Event: 202 with the queued event's request id, the queue worker woken; DryRun: 204",
              arguments: [false, true])
        func eventAndDryRun(fastPath: Bool) async throws {
            try await Self.withAPI(fastPath: fastPath) { service, client in
                let wakes = Mutex(0)
                service.onEnqueue = { wakes.withLock { $0 += 1 } }
                try await client.createEcho("ev")
                let queued = try await client.invoke("ev", #"{"a":1}"#, headers: [.amzInvocationType: "Event"])
                #expect(queued.status == .accepted)
                #expect(queued.body.isEmpty)
                let requestId = try #require(queued.header("x-amzn-RequestId"))
                #expect(wakes.withLock { $0 } == 1)
                let events = try await service.store.claimDue(now: Date(), limit: 10)
                #expect(events.map(\.requestId) == [requestId])
                #expect(events.first?.payload == Array(#"{"a":1}"#.utf8))
                #expect(events.first?.qualifier == "$LATEST")

                let dry = try await client.invoke("ev", "{}", headers: [.amzInvocationType: "DryRun"])
                #expect(dry.status == .noContent)
                expectError(try await client.invoke("nope", "{}", headers: [.amzInvocationType: "Event"]), .notFound,
                            "ResourceNotFoundException")
                expectError(try await client.invoke("ev", "{}", headers: [.amzInvocationType: "Later"]), .badRequest,
                            "ValidationException")
            }
        }

        @Test("payload limits: 6 MB sync and 1 MB Event answer 413 with Lambda's messages; non-JSON is 400",
              arguments: [false, true])
        func limits(fastPath: Bool) async throws {
            try await Self.withAPI(fastPath: fastPath) { _, client in
                try await client.createEcho("big")
                let tooBig = "\"" + String(repeating: "x", count: 6_291_456) + "\""
                expectError(try await client.invoke("big", tooBig), .contentTooLarge, "RequestEntityTooLargeException",
                            "Request must be smaller than 6291456 bytes for the InvokeFunction operation")
                let event = "\"" + String(repeating: "x", count: 1_048_576) + "\""
                expectError(try await client.invoke("big", event, headers: [.amzInvocationType: "Event"]),
                            .contentTooLarge, "RequestEntityTooLargeException",
                            "1048578 byte payload is too large for the Event invocation type (limit 1048576 bytes)")
                // The echo runtime reads events of up to 1 MB.
                let fits = "\"" + String(repeating: "y", count: 900_000) + "\""
                #expect(try await client.invoke("big", fits).body.count == fits.utf8.count)
                let notJSON = try await client.invoke("big", "not json")
                expectError(notJSON, .badRequest, "InvalidRequestContentException")
                #expect(notJSON.message?.hasPrefix(
                    "Could not parse request body into json: Could not parse payload into json") == true)
            }
        }

        @Test("throttled: 429 TooManyRequestsException with Reason and Retry-After",
              arguments: [false, true])
        func throttle(fastPath: Bool) async throws {
            try await Self.withAPI(fastPath: fastPath) { _, client in
                try await client.createEcho("zero")
                let put = try await client.call(.put, "/2017-10-31/functions/zero/concurrency",
                                                json: ["ReservedConcurrentExecutions": 0])
                #expect(put.status == .ok)
                let throttled = try await client.invoke("zero", "{}")
                expectError(throttled, .tooManyRequests, "TooManyRequestsException", "Rate Exceeded.")
                #expect(throttled.json["Reason"] as? String == "ReservedFunctionConcurrentInvocationLimitExceeded")
                #expect(throttled.json["Type"] as? String == "User")
                #expect(throttled.header("Retry-After") != nil)
            }
        }
    }
}
