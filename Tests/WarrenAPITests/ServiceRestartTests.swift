import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import WarrenAPI
import WarrenSupervisor

extension LambdaAPI {
    @Suite("Restart, Warren's routes, auth and body limits")
    struct ServiceLevel {
        @Test("a new service over the same state directory sees everything, and invokes work")
        func restart() async throws {
            let state = FileManager.default.temporaryDirectory.appendingPathComponent("warren-api-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: state) }
            try await Fixture.withAPI(stateDirectory: state) { _, client in
                try await client.createEcho("kept", extra: ["Environment": ["Variables": ["WHO": "kept"]]])
                _ = try await client.call(.post, "/2015-03-31/functions/kept/versions")
                _ = try await client.call(.put, "/2015-03-31/functions/kept/configuration", json: ["Timeout": 6])
                _ = try await client.call(.post, "/2015-03-31/functions/kept/versions")
                _ = try await client.call(.delete, "/2015-03-31/functions/kept?Qualifier=1")
                _ = try await client.call(.post, "/2015-03-31/functions/kept/aliases",
                                          json: ["Name": "live", "FunctionVersion": "2"])
                _ = try await client.call(.put, "/2017-10-31/functions/kept/concurrency",
                                          json: ["ReservedConcurrentExecutions": 5])
                _ = try await client.call(.put, "/2019-09-25/functions/kept/event-invoke-config",
                                          json: ["MaximumRetryAttempts": 0])
                #expect(try await client.invoke("kept", "{}", qualifier: "live").status == .ok)
            }
            try await Fixture.withAPI(stateDirectory: state) { service, client in
                #expect(await service.supervisor.instances().isEmpty)
                let versions = try await client.call(.get, "/2015-03-31/functions/kept/versions")
                #expect(versions.strings("Versions", "Version") == ["$LATEST", "2"])
                let live = try await client.invoke("kept", #"{"env":"WHO"}"#, qualifier: "live")
                #expect(live.text == #"{"WHO":"kept"}"#)
                #expect(live.header("X-Amz-Executed-Version") == "2")
                #expect(try await client.call(.get, "/2019-09-30/functions/kept/concurrency")
                    .json["ReservedConcurrentExecutions"] as? Int == 5)
                #expect(service.supervisor.admission.reserved("kept") == 5)
                #expect(try await client.call(.get, "/2019-09-25/functions/kept/event-invoke-config")
                    .json["MaximumRetryAttempts"] as? Int == 0)
                // A new version gets the next number, never a reused one.
                let next = try await client.call(.put, "/2015-03-31/functions/kept/code", json: [
                    "ZipFile": Data(try Fixture.echoZip(marker: "3")).base64EncodedString(), "Publish": true,
                ])
                #expect(next.json["Version"] as? String == "3")
                #expect(try await client.invoke("kept", "{}", qualifier: "3").header("X-Amz-Executed-Version") == "3")
            }
        }

        @Test("GET /warren/v1/instances and /warren/v1/functions/{fn}/logs?Offset=N")
        func warrenRoutes() async throws {
            try await Fixture.withAPI { _, client in
                try await client.createEcho("seen")
                let invoked = try await client.invoke("seen", "{}")
                let requestId = try #require(invoked.header("x-amzn-RequestId"))
                let instances = try await client.call(.get, "/warren/v1/instances")
                let list = try #require(instances.json["Instances"] as? [[String: Any]])
                #expect(list.count == 1)
                #expect(list.first?["FunctionName"] as? String == "seen")
                #expect(list.first?["Version"] as? String == "$LATEST")
                #expect(list.first?["MemorySize"] as? Int == 128)
                #expect((list.first?["Pid"] as? Int ?? 0) > 0)

                let logs = try await client.call(.get, "/warren/v1/functions/seen/logs")
                #expect(logs.status == .ok)
                #expect(logs.text.contains("START RequestId: \(requestId) Version: $LATEST"))
                #expect(logs.text.contains("REPORT RequestId: \(requestId)"))
                let next = try #require(logs.header("X-Warren-Next-Offset").flatMap(Int.init))
                #expect(next == logs.body.count)
                let rest = try await client.call(.get, "/warren/v1/functions/seen/logs?Offset=\(next)")
                #expect(rest.body.isEmpty)
                #expect(rest.header("X-Warren-Next-Offset") == String(next))
                let tail = try await client.call(.get, "/warren/v1/functions/seen/logs?Offset=\(next - 5)")
                #expect(tail.body.count == 5)
                expectError(try await client.call(.get, "/warren/v1/functions/other/logs"), .notFound,
                            "ResourceNotFoundException")
                expectError(try await client.call(.get, "/warren/v1/functions/seen/logs?Offset=-1"), .badRequest,
                            "ValidationException")
                expectError(try await client.call(.get, "/2015-03-31/nothing-here"), .notFound,
                            "UnknownOperationException")
            }
        }

        static let key = AccessKey(accessKeyId: "AKIDWARRENTEST", secretAccessKey: "warren-test-secret")

        /// Headers for a request signed with ``key`` for host `localhost`.
        static func signed(_ method: String, _ path: String, body: [UInt8], extra: HTTPFields = [:]) -> HTTPFields {
            var fields = extra
            let auth = SigV4Signer(key: key).authorizationHeaders(
                method: method, path: path,
                headers: [("host", "localhost")] + extra.map { ($0.name.canonicalName, $0.value) }, body: body)
            for (name, value) in auth { if let name = HTTPField.Name(name) { fields[name] = value } }
            return fields
        }

        @Test("with SigV4: a code upload over 7 MB passes, Invoke over 6 MB is 413, unsigned is refused")
        func signedLimits() async throws {
            try await Fixture.withAPI(verifier: SigV4Verifier(keys: [Self.key])) { _, client in
                let zip = try Fixture.echoZip(padding: 6 << 20)
                let body = Array(try JSONSerialization.data(withJSONObject: Fixture.createBody("signed", zip: zip)))
                #expect(body.count > 8 << 20)
                let path = "/2015-03-31/functions"
                let created = try await client.call(.post, path, raw: body,
                                                    headers: Self.signed("POST", path, body: body))
                #expect(created.status == .created, "\(created.text)")
                #expect(created.json["CodeSize"] as? Int == zip.count)

                let invokePath = "/2015-03-31/functions/signed/invocations"
                let payload = Array(("\"" + String(repeating: "x", count: 6_291_456) + "\"").utf8)
                expectError(try await client.call(.post, invokePath, raw: payload,
                                                  headers: Self.signed("POST", invokePath, body: payload)),
                            .contentTooLarge, "RequestEntityTooLargeException",
                            "Request must be smaller than 6291456 bytes for the InvokeFunction operation")
                let small = Array(#"{"a":1}"#.utf8)
                let ran = try await client.call(.post, invokePath, raw: small,
                                                headers: Self.signed("POST", invokePath, body: small))
                #expect(ran.text == #"{"a":1}"#)
                expectError(try await client.call(.post, invokePath, raw: small), .forbidden,
                            "MissingAuthenticationTokenException")
            }
        }

        @Test("body limits per operation")
        func bodyLimits() {
            typealias Limit = LambdaBodyLimit<BasicRequestContext>
            #expect(Limit.limit(method: .post, path: "/2015-03-31/functions/f/invocations").0 == 6_291_456)
            #expect(Limit.limit(method: .post, path: "/2015-03-31/functions").0 == Limit.codeUploadLimit)
            #expect(Limit.limit(method: .put, path: "/2015-03-31/functions/f/code").0 == Limit.codeUploadLimit)
            #expect(Limit.limit(method: .put, path: "/2015-03-31/functions/f/configuration").0 == 6_291_456)
            // A 50 MB zip in base64, with room for the JSON around it.
            #expect(Limit.codeUploadLimit > (52_428_800 + 2) / 3 * 4 + 64 * 1024)
        }
    }
}
