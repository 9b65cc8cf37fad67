import Foundation
import HTTPTypes
import Testing
@testable import WarrenAPI

extension LambdaAPI {
    @Suite("Versions and aliases")
    struct VersionsAndAliases {
        @Test("PublishVersion: 201; unchanged answers the last version; CodeSha256 (400) and RevisionId (412)")
        func publish() async throws {
            try await Fixture.withAPI { _, client in
                let created = try await client.createEcho("pub")
                let sha = try #require(created.json["CodeSha256"] as? String)
                let first = try await client.call(.post, "/2015-03-31/functions/pub/versions",
                                                  json: ["CodeSha256": sha, "Description": "one"])
                #expect(first.status == .created, "\(first.text)")
                #expect(first.json["Version"] as? String == "1")
                #expect(first.json["FunctionArn"] as? String == Fixture.arnPrefix + "pub:1")
                #expect(first.json["Description"] as? String == "one")
                let again = try await client.call(.post, "/2015-03-31/functions/pub/versions")
                #expect(again.status == .created)
                #expect(again.json["Version"] as? String == "1")

                expectError(try await client.call(.post, "/2015-03-31/functions/pub/versions",
                                                  json: ["CodeSha256": "AAAA"]),
                            .badRequest, "InvalidParameterValueException",
                            "CodeSHA256 (AAAA) is different from current CodeSHA256 in $LATEST (\(sha)). Please try "
                                + "again with the CodeSHA256 in $LATEST.")
                expectError(try await client.call(.post, "/2015-03-31/functions/pub/versions",
                                                  json: ["RevisionId": "stale"]),
                            .preconditionFailed, "PreconditionFailedException")

                _ = try await client.call(.put, "/2015-03-31/functions/pub/configuration", json: ["Timeout": 7])
                let second = try await client.call(.post, "/2015-03-31/functions/pub/versions")
                #expect(second.json["Version"] as? String == "2")
                #expect(second.json["Timeout"] as? Int == 7)

                let versions = try await client.call(.get, "/2015-03-31/functions/pub/versions")
                #expect(versions.strings("Versions", "Version") == ["$LATEST", "1", "2"])
                var paged: [String] = []
                var marker: String?
                repeat {
                    let encoded = marker?.addingPercentEncoding(withAllowedCharacters: .alphanumerics)
                    let query = encoded.map { "&Marker=\($0)" } ?? ""
                    let page = try await client.call(.get, "/2015-03-31/functions/pub/versions?MaxItems=1\(query)")
                    paged += page.strings("Versions", "Version")
                    marker = page.json["NextMarker"] as? String
                    #expect(marker?.isEmpty != true)
                } while marker != nil && paged.count < 10
                #expect(paged == ["$LATEST", "1", "2"])

                let v1 = try await client.call(.get, "/2015-03-31/functions/pub/configuration?Qualifier=1")
                #expect(v1.json["Timeout"] as? Int == 5)
                #expect(try await client.call(.delete, "/2015-03-31/functions/pub?Qualifier=1").status == .noContent)
                expectError(try await client.call(.get, "/2015-03-31/functions/pub?Qualifier=1"), .notFound,
                            "ResourceNotFoundException", "Function not found: \(Fixture.arnPrefix)pub:1")
                expectError(try await client.call(.delete, "/2015-03-31/functions/pub?Qualifier=%24LATEST"),
                            .badRequest, "InvalidParameterValueException",
                            "$LATEST version cannot be deleted without deleting the function.")
            }
        }

        @Test("aliases: create, get, update (RevisionId), list, delete; 409 on duplicates and on a referenced version")
        func aliases() async throws {
            try await Fixture.withAPI { _, client in
                try await client.createEcho("al")
                _ = try await client.call(.post, "/2015-03-31/functions/al/versions")
                _ = try await client.call(.put, "/2015-03-31/functions/al/configuration", json: ["Timeout": 8])
                _ = try await client.call(.post, "/2015-03-31/functions/al/versions")
                let created = try await client.call(.post, "/2015-03-31/functions/al/aliases",
                                                    json: ["Name": "live", "FunctionVersion": "1", "Description": "d"])
                #expect(created.status == .created, "\(created.text)")
                #expect(created.json["AliasArn"] as? String == Fixture.arnPrefix + "al:live")
                #expect(created.json["RoutingConfig"] == nil)
                let revision = try #require(created.json["RevisionId"] as? String)
                expectError(try await client.call(.post, "/2015-03-31/functions/al/aliases",
                                                  json: ["Name": "live", "FunctionVersion": "1"]),
                            .conflict, "ResourceConflictException", "Alias already exists: \(Fixture.arnPrefix)al:live")

                let got = try await client.call(.get, "/2015-03-31/functions/al/aliases/live")
                #expect(got.json["FunctionVersion"] as? String == "1")
                #expect(try await client.invoke("al", "{}", qualifier: "live").header("X-Amz-Executed-Version") == "1")
                let viaAlias = try await client.call(.get, "/2015-03-31/functions/al/configuration?Qualifier=live")
                #expect(viaAlias.json["FunctionArn"] as? String == Fixture.arnPrefix + "al:live")
                #expect(viaAlias.json["Version"] as? String == "1")

                let moved = try await client.call(.put, "/2015-03-31/functions/al/aliases/live",
                                                  json: ["FunctionVersion": "2", "RevisionId": revision])
                #expect(moved.status == .ok, "\(moved.text)")
                #expect(moved.json["Description"] as? String == "d")
                #expect(try await client.invoke("al", "{}", qualifier: "live").header("X-Amz-Executed-Version") == "2")
                expectError(try await client.call(.put, "/2015-03-31/functions/al/aliases/live",
                                                  json: ["FunctionVersion": "1", "RevisionId": revision]),
                            .preconditionFailed, "PreconditionFailedException")
                expectError(try await client.call(.put, "/2015-03-31/functions/al/aliases/ghost", json: [:]),
                            .notFound, "ResourceNotFoundException", "Alias not found: \(Fixture.arnPrefix)al:ghost")
                expectError(try await client.call(.get, "/2015-03-31/functions/al/aliases/ghost"), .notFound,
                            "ResourceNotFoundException", "Cannot find alias arn: \(Fixture.arnPrefix)al:ghost")

                expectError(try await client.call(.delete, "/2015-03-31/functions/al?Qualifier=2"), .conflict,
                            "ResourceConflictException")
                _ = try await client.call(.post, "/2015-03-31/functions/al/aliases",
                                          json: ["Name": "old", "FunctionVersion": "1"])
                let all = try await client.call(.get, "/2015-03-31/functions/al/aliases")
                #expect(all.strings("Aliases", "Name") == ["live", "old"])
                let onOne = try await client.call(.get, "/2015-03-31/functions/al/aliases?FunctionVersion=1")
                #expect(onOne.strings("Aliases", "Name") == ["old"])
                #expect(try await client.call(.delete, "/2015-03-31/functions/al/aliases/old").status == .noContent)
                #expect(try await client.call(.delete, "/2015-03-31/functions/al/aliases/old").status == .noContent)
                expectError(try await client.invoke("al", "{}", qualifier: "old"), .notFound, "ResourceNotFoundException")
            }
        }

        @Test("routing weights: one extra published version, 0…1, not the primary, not with $LATEST")
        func weights() async throws {
            try await Fixture.withAPI { _, client in
                try await client.createEcho("w")
                _ = try await client.call(.post, "/2015-03-31/functions/w/versions")
                _ = try await client.call(.put, "/2015-03-31/functions/w/configuration", json: ["Timeout": 9])
                _ = try await client.call(.post, "/2015-03-31/functions/w/versions")
                func alias(_ version: String, _ weights: [String: Double]) async throws -> APIResponse {
                    try await client.call(.post, "/2015-03-31/functions/w/aliases", json: [
                        "Name": "split", "FunctionVersion": version,
                        "RoutingConfig": ["AdditionalVersionWeights": weights],
                    ])
                }
                expectError(try await alias("1", ["1": 0.5]), .badRequest, "InvalidParameterValueException",
                            "Invalid function version 1. Function version 1 is already included in routing configuration.")
                expectError(try await alias("$LATEST", ["1": 0.5]), .badRequest, "InvalidParameterValueException",
                            "$LATEST is not supported for an alias pointing to more than 1 version")
                expectError(try await alias("1", ["2": 1.5]), .badRequest, "ValidationException")
                expectError(try await alias("1", ["2": 0.1, "3": 0.1]), .badRequest, "ValidationException")
                expectError(try await alias("1", ["7": 0.5]), .notFound, "ResourceNotFoundException")
                expectError(try await client.call(.post, "/2015-03-31/functions/w/aliases",
                                                  json: ["Name": "123", "FunctionVersion": "1"]),
                            .badRequest, "ValidationException")

                let split = try await alias("1", ["2": 1.0])
                #expect(split.status == .created, "\(split.text)")
                #expect((split.json["RoutingConfig"] as? [String: Any])?["AdditionalVersionWeights"] as? [String: Double]
                    == ["2": 1.0])
                // All the weight on version 2: every invoke through the alias runs it.
                for _ in 0..<3 {
                    #expect(try await client.invoke("w", "{}", qualifier: "split").header("X-Amz-Executed-Version") == "2")
                }
                let cleared = try await client.call(.put, "/2015-03-31/functions/w/aliases/split",
                                                    json: ["RoutingConfig": ["AdditionalVersionWeights": [String: Double]()]])
                #expect(cleared.json["RoutingConfig"] == nil)
                #expect(try await client.invoke("w", "{}", qualifier: "split").header("X-Amz-Executed-Version") == "1")
            }
        }
    }
}
