import Foundation
import HTTPTypes
import Testing
@testable import WarrenAPI

extension LambdaAPI {
    @Suite("Functions")
    struct Functions {
        @Test("create, get, get configuration, list, delete: Lambda's shapes and status codes")
        func lifecycle() async throws {
            try await Fixture.withAPI { _, client in
                let created = try await client.createEcho("fn-a", extra: ["MemorySize": 256, "Description": "first"])
                let config = created.json
                #expect(config["FunctionName"] as? String == "fn-a")
                #expect(config["FunctionArn"] as? String == Fixture.arnPrefix + "fn-a")
                #expect(config["Version"] as? String == "$LATEST")
                #expect(config["MemorySize"] as? Int == 256)
                #expect(config["Timeout"] as? Int == 5)
                #expect(config["State"] as? String == "Active")
                #expect(config["PackageType"] as? String == "Zip")
                #expect((config["CodeSha256"] as? String)?.count == 44)
                #expect(config["Environment"] == nil, "no variables: left out, as Lambda does")
                #expect((config["RevisionId"] as? String)?.count == 36)
                #expect(created.header("x-amzn-RequestId")?.count == 36)

                let got = try await client.call(.get, "/2015-03-31/functions/fn-a")
                #expect(got.status == .ok)
                let configuration = try #require(got.json["Configuration"] as? [String: Any])
                #expect(configuration["RevisionId"] as? String == config["RevisionId"] as? String)
                #expect((got.json["Code"] as? [String: Any])?["RepositoryType"] as? String == "S3")
                #expect(got.json["Concurrency"] == nil)

                let only = try await client.call(.get, "/2015-03-31/functions/fn-a/configuration")
                #expect(only.json["Description"] as? String == "first")

                try await client.createEcho("fn-b")
                let listed = try await client.call(.get, "/2015-03-31/functions")
                #expect(listed.strings("Functions", "FunctionName") == ["fn-a", "fn-b"])
                #expect((listed.json["Functions"] as? [[String: Any]])?.first?["State"] == nil)

                let deleted = try await client.call(.delete, "/2015-03-31/functions/fn-a")
                #expect(deleted.status == .noContent)
                expectError(try await client.call(.get, "/2015-03-31/functions/fn-a"), .notFound,
                            "ResourceNotFoundException", "Function not found: \(Fixture.arnPrefix)fn-a")
            }
        }

        @Test("ListFunctions pages with Marker/MaxItems; FunctionVersion=ALL adds versions with qualified ARNs")
        func listing() async throws {
            try await Fixture.withAPI { _, client in
                for name in ["p1", "p2", "p3"] { try await client.createEcho(name) }
                let first = try await client.call(.get, "/2015-03-31/functions?MaxItems=2")
                #expect((first.json["Functions"] as? [Any])?.count == 2)
                let marker = try #require(first.json["NextMarker"] as? String)
                let second = try await client.call(.get, "/2015-03-31/functions?MaxItems=2&Marker=\(marker)")
                #expect(second.strings("Functions", "FunctionName") == ["p3"])
                #expect(second.json["NextMarker"] == nil)

                _ = try await client.call(.post, "/2015-03-31/functions/p1/versions", json: [:])
                let all = try await client.call(.get, "/2015-03-31/functions?FunctionVersion=ALL")
                let arns = all.strings("Functions", "FunctionArn")
                #expect(arns.prefix(2) == [Fixture.arnPrefix + "p1:$LATEST", Fixture.arnPrefix + "p1:1"])
                #expect(arns.count == 4)
                expectError(try await client.call(.get, "/2015-03-31/functions?FunctionVersion=SOME"), .badRequest,
                            "ValidationException")
                expectError(try await client.call(.get, "/2015-03-31/functions?MaxItems=0"), .badRequest,
                            "ValidationException")
            }
        }

        @Test("{fn} may be a name, NAME:QUALIFIER, a partial or a full URL-encoded ARN; mismatches are 400")
        func functionNames() async throws {
            try await Fixture.withAPI { _, client in
                try await client.createEcho("named")
                for form in ["named", "000000000000%3Afunction%3Anamed",
                             "arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Anamed",
                             "named%3A%24LATEST"] {
                    let response = try await client.call(.get, "/2015-03-31/functions/\(form)/configuration")
                    #expect(response.status == .ok, "\(form): \(response.text)")
                    #expect(response.json["FunctionName"] as? String == "named")
                }
                #expect(try await client.call(.get, "/2015-03-31/functions/named/").status == .ok)
                expectError(try await client.call(.get, "/2015-03-31/functions/named%3A1?Qualifier=2"), .badRequest,
                            "InvalidParameterValueException",
                            "The derived qualifier from the function name does not match the specified qualifier.")
                let bad = try await client.call(.get, "/2015-03-31/functions/bad%20name")
                expectError(bad, .badRequest, "ValidationException")
                #expect(bad.message?.hasPrefix("1 validation error detected: Value 'bad name' at 'functionName'")
                    == true)
                expectError(try await client.call(.get, "/2015-03-31/functions/named?Qualifier=%24latest"), .notFound,
                            "ResourceNotFoundException")
                expectError(try await client.call(.get, "/2015-03-31/functions/\(String(repeating: "a", count: 65))"),
                            .notFound, "ResourceNotFoundException")
            }
        }

        @Test("create refuses a duplicate (409) and invalid members with Lambda's codes")
        func createValidation() async throws {
            try await Fixture.withAPI { _, client in
                try await client.createEcho("dup")
                let zip = try Fixture.echoZip()
                let duplicate = try await client.call(.post, "/2015-03-31/functions",
                                                      json: Fixture.createBody("dup", zip: zip))
                expectError(duplicate, .conflict, "ResourceConflictException", "Function already exist: dup")
                let cases: [([String: Any], String, String?)] = [
                    (["MemorySize": 64], "ValidationException",
                     "1 validation error detected: Value '64' at 'memorySize' failed to satisfy constraint: "
                         + "Member must have value greater than or equal to 128"),
                    (["Timeout": 901, "MemorySize": 20000], "ValidationException", nil),
                    (["Role": "not-a-role"], "ValidationException", nil),
                    (["Runtime": "cobol85"], "InvalidParameterValueException",
                     "The runtime parameter of cobol85 is not supported by Warren."),
                    (["Environment": ["Variables": ["AWS_REGION": "x"]]], "InvalidParameterValueException", nil),
                    (["Environment": ["Variables": ["BIG": String(repeating: "v", count: 5000)]]],
                     "InvalidParameterValueException", nil),
                    (["Code": ["S3Bucket": "b", "S3Key": "k"]], "InvalidParameterValueException", nil),
                    (["Environment": ["Variables": ["A": "one letter"]]], "ValidationException", nil),
                    (["Architectures": ["sparc"]], "ValidationException", nil),
                ]
                for (extra, type, message) in cases {
                    let response = try await client.call(.post, "/2015-03-31/functions",
                                                         json: Fixture.createBody("new-fn", zip: zip, extra: extra))
                    expectError(response, .badRequest, type, message)
                }
                var missingRole = Fixture.createBody("new-fn", zip: zip)
                missingRole["Role"] = nil
                expectError(try await client.call(.post, "/2015-03-31/functions", json: missingRole), .badRequest,
                            "ValidationException",
                            "1 validation error detected: Value null at 'role' failed to satisfy constraint: Member "
                                + "must not be null")
                let big = ["Environment": ["Variables": ["BIG": String(repeating: "v", count: 5000)]]]
                let env = try await client.call(.post, "/2015-03-31/functions",
                                                json: Fixture.createBody("new-fn", zip: zip, extra: big))
                #expect(env.message?.contains("exceeded the 4KB limit. String measured: {\"BIG\":") == true)
                expectError(try await client.call(.post, "/2015-03-31/functions", raw: Array("{not json".utf8)),
                            .badRequest, "InvalidRequestContentException")
                let notZip = Fixture.createBody("new-fn", zip: Array("plain text".utf8))
                expectError(try await client.call(.post, "/2015-03-31/functions", json: notZip), .badRequest,
                            "InvalidParameterValueException")
                expectError(try await client.call(.get, "/2015-03-31/functions/new-fn"), .notFound,
                            "ResourceNotFoundException")
            }
        }

        @Test("UpdateFunctionConfiguration replaces Environment, checks RevisionId (412), and the next invoke sees it")
        func updateConfiguration() async throws {
            try await Fixture.withAPI { _, client in
                let created = try await client.createEcho(
                    "cfg", extra: ["Environment": ["Variables": ["AA": "1", "BB": "2"]]])
                let revision = try #require(created.json["RevisionId"] as? String)
                #expect(try await client.invoke("cfg", #"{"env":"AA"}"#).text == #"{"AA":"1"}"#)
                let updated = try await client.call(.put, "/2015-03-31/functions/cfg/configuration", json: [
                    "Environment": ["Variables": ["AA": "changed"]], "RevisionId": revision, "MemorySize": 512,
                ])
                #expect(updated.status == .ok, "\(updated.text)")
                #expect(updated.json["MemorySize"] as? Int == 512)
                let variables = (updated.json["Environment"] as? [String: Any])?["Variables"] as? [String: String]
                #expect(variables == ["AA": "changed"])
                #expect(updated.json["RevisionId"] as? String != revision)
                #expect(try await client.invoke("cfg", #"{"env":"AA"}"#).text == #"{"AA":"changed"}"#)
                #expect(try await client.invoke("cfg", #"{"env":"BB"}"#).text == #"{"BB":""}"#)
                expectError(try await client.call(.put, "/2015-03-31/functions/cfg/configuration",
                                                  json: ["Description": "x", "RevisionId": revision]),
                            .preconditionFailed, "PreconditionFailedException",
                            "The Revision Id provided does not match the latest Revision Id. Call the "
                                + "GetFunction/GetAlias API to retrieve the latest Revision Id")
                expectError(try await client.call(.put, "/2015-03-31/functions/cfg:1/configuration", json: [:]),
                            .badRequest, "InvalidParameterValueException")
                expectError(try await client.call(.put, "/2015-03-31/functions/nope/configuration",
                                                  json: ["Timeout": 9]), .notFound, "ResourceNotFoundException")
            }
        }

        @Test("UpdateFunctionCode swaps the code, publishes on request, and honours RevisionId")
        func updateCode() async throws {
            try await Fixture.withAPI { _, client in
                let created = try await client.createEcho("code")
                let oldSha = try #require(created.json["CodeSha256"] as? String)
                let zip = try Fixture.echoZip(marker: "v2")
                let updated = try await client.call(.put, "/2015-03-31/functions/code/code",
                                                    json: ["ZipFile": Data(zip).base64EncodedString(), "Publish": true])
                #expect(updated.status == .ok, "\(updated.text)")
                #expect(updated.json["Version"] as? String == "1")
                #expect(updated.json["CodeSha256"] as? String != oldSha)
                #expect(updated.json["CodeSize"] as? Int == zip.count)
                #expect(try await client.invoke("code", #"{"k":1}"#, qualifier: "1").text == #"{"k":1}"#)
                expectError(try await client.call(.put, "/2015-03-31/functions/code/code", json: [
                    "ZipFile": Data(zip).base64EncodedString(), "RevisionId": "stale",
                ]), .preconditionFailed, "PreconditionFailedException")
                let dry = try await client.call(.put, "/2015-03-31/functions/code/code", json: [
                    "ZipFile": Data(try Fixture.echoZip(marker: "v3")).base64EncodedString(), "DryRun": true,
                ])
                #expect(dry.status == .ok)
                let after = try await client.call(.get, "/2015-03-31/functions/code/configuration")
                #expect(after.json["CodeSha256"] as? String == updated.json["CodeSha256"] as? String)
            }
        }
    }
}
