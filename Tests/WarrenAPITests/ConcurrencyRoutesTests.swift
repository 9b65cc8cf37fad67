import Foundation
import HTTPTypes
import Testing
@testable import WarrenAPI

extension LambdaAPI {
    @Suite("Concurrency and account settings")
    struct Concurrency {
        @Test("reserved concurrency: put, get ({} when unset), delete; the unreserved minimum is kept")
        func reserved() async throws {
            // Account limit 20 with a minimum of 2 unreserved: at most 18 may be reserved.
            try await Fixture.withAPI(accountLimit: 20, unreservedMinimum: 2) { _, client in
                try await client.createEcho("r1")
                try await client.createEcho("r2")
                let empty = try await client.call(.get, "/2019-09-30/functions/r1/concurrency")
                #expect(empty.status == .ok)
                #expect(empty.text == "{}")
                let put = try await client.call(.put, "/2017-10-31/functions/r1/concurrency",
                                                json: ["ReservedConcurrentExecutions": 10])
                #expect(put.status == .ok)
                #expect(put.json["ReservedConcurrentExecutions"] as? Int == 10)
                #expect(try await client.call(.get, "/2019-09-30/functions/r1/concurrency")
                    .json["ReservedConcurrentExecutions"] as? Int == 10)
                let function = try await client.call(.get, "/2015-03-31/functions/r1")
                #expect((function.json["Concurrency"] as? [String: Any])?["ReservedConcurrentExecutions"] as? Int == 10)

                expectError(try await client.call(.put, "/2017-10-31/functions/r2/concurrency",
                                                  json: ["ReservedConcurrentExecutions": 9]),
                            .badRequest, "InvalidParameterValueException",
                            "Specified ReservedConcurrentExecutions for function decreases account's "
                                + "UnreservedConcurrentExecution below its minimum value of [2].")
                #expect(try await client.call(.put, "/2017-10-31/functions/r2/concurrency",
                                              json: ["ReservedConcurrentExecutions": 8]).status == .ok)
                let settings = try await client.call(.get, "/2016-08-19/account-settings")
                let limit = try #require(settings.json["AccountLimit"] as? [String: Any])
                #expect(limit["ConcurrentExecutions"] as? Int == 20)
                #expect(limit["UnreservedConcurrentExecutions"] as? Int == 2)
                #expect(limit["CodeSizeZipped"] as? Int == 52_428_800)
                #expect(limit["CodeSizeUnzipped"] as? Int == 262_144_000)
                #expect((settings.json["AccountUsage"] as? [String: Any])?["FunctionCount"] as? Int == 2)

                #expect(try await client.call(.delete, "/2017-10-31/functions/r1/concurrency").status == .noContent)
                #expect(try await client.call(.get, "/2019-09-30/functions/r1/concurrency").text == "{}")
                let after = try await client.call(.get, "/2016-08-19/account-settings")
                #expect((after.json["AccountLimit"] as? [String: Any])?["UnreservedConcurrentExecutions"] as? Int == 12)

                expectError(try await client.call(.put, "/2017-10-31/functions/r1:1/concurrency",
                                                  json: ["ReservedConcurrentExecutions": 1]),
                            .badRequest, "InvalidParameterValueException", LambdaError.functionOnly.message)
                expectError(try await client.call(.put, "/2017-10-31/functions/r1/concurrency",
                                                  json: ["ReservedConcurrentExecutions": -1]),
                            .badRequest, "ValidationException")
                expectError(try await client.call(.put, "/2017-10-31/functions/none/concurrency",
                                                  json: ["ReservedConcurrentExecutions": 1]),
                            .notFound, "ResourceNotFoundException")
            }
        }

        @Test("provisioned concurrency: 202 IN_PROGRESS, then READY once the instances are up; rules and 404s")
        func provisioned() async throws {
            try await Fixture.withAPI { service, client in
                try await client.createEcho("pc", extra: ["Publish": true])
                _ = try await client.call(.post, "/2015-03-31/functions/pc/aliases",
                                          json: ["Name": "live", "FunctionVersion": "1"])
                let path = "/2019-09-30/functions/pc/provisioned-concurrency"
                expectError(try await client.call(.put, "\(path)?Qualifier=%24LATEST",
                                                  json: ["ProvisionedConcurrentExecutions": 1]),
                            .badRequest, "InvalidParameterValueException",
                            "Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
                expectError(try await client.call(.get, "\(path)?Qualifier=live"), .notFound,
                            "ProvisionedConcurrencyConfigNotFoundException",
                            "No Provisioned Concurrency Config found for this function")
                expectError(try await client.call(.get, "\(path)?Qualifier=%24LATEST"), .badRequest,
                            "InvalidParameterValueException",
                            "The function resource provided must be an alias or a published version.")

                let put = try await client.call(.put, "\(path)?Qualifier=live",
                                                json: ["ProvisionedConcurrentExecutions": 2])
                #expect(put.status == .accepted, "\(put.text)")
                #expect(put.json["Status"] as? String == "IN_PROGRESS")
                #expect(put.json["RequestedProvisionedConcurrentExecutions"] as? Int == 2)
                #expect(put.json["AllocatedProvisionedConcurrentExecutions"] as? Int == 0)

                var status = ""
                for _ in 0..<1200 where status != "READY" {
                    status = try await client.call(.get, "\(path)?Qualifier=live").json["Status"] as? String ?? ""
                    if status != "READY" { try await Task.sleep(for: .milliseconds(50)) }
                }
                #expect(status == "READY")
                let ready = try await client.call(.get, "\(path)?Qualifier=live")
                #expect(ready.json["AvailableProvisionedConcurrentExecutions"] as? Int == 2)
                let provisioned = await service.supervisor.instances().filter(\.provisioned)
                #expect(provisioned.count == 2)
                #expect(try await client.invoke("pc", "{}", qualifier: "live").status == .ok)

                expectError(try await client.call(.put, "\(path)?Qualifier=1",
                                                  json: ["ProvisionedConcurrentExecutions": 1]),
                            .conflict, "ResourceConflictException",
                            "Version is pointed by a Provisioned Concurrency alias")
                let list = try await client.call(.get, "\(path)?List=ALL")
                let configs = try #require(list.json["ProvisionedConcurrencyConfigs"] as? [[String: Any]])
                #expect(configs.map { $0["FunctionArn"] as? String } == [Fixture.arnPrefix + "pc:live"])
                #expect(configs.first?["Status"] as? String == "READY")

                _ = try await client.call(.put, "/2017-10-31/functions/pc/concurrency",
                                          json: ["ReservedConcurrentExecutions": 3])
                expectError(try await client.call(.put, "/2017-10-31/functions/pc/concurrency",
                                                  json: ["ReservedConcurrentExecutions": 1]),
                            .badRequest, "InvalidParameterValueException",
                            " ReservedConcurrentExecutions  1 should not be lower than function's total provisioned "
                                + "concurrency [2].")
                expectError(try await client.call(.put, "\(path)?Qualifier=live",
                                                  json: ["ProvisionedConcurrentExecutions": 4]),
                            .badRequest, "InvalidParameterValueException",
                            "Requested Provisioned Concurrency should not be greater than the "
                                + "reservedConcurrentExecution for function")

                #expect(try await client.call(.delete, "\(path)?Qualifier=live").status == .noContent)
                expectError(try await client.call(.get, "\(path)?Qualifier=live"), .notFound,
                            "ProvisionedConcurrencyConfigNotFoundException")
                #expect(await service.supervisor.instances().filter(\.provisioned).isEmpty)
            }
        }

        @Test("provisioned instances start in the background: other management calls do not wait for them")
        func provisionedStartsDoNotHoldUpManagement() async throws {
            try await Fixture.withAPI { service, client in
                // Three instances of 300 ms init each, started one after another.
                try await client.createEcho("slow", extra: ["Publish": true, "Handler": "init-slow"])
                try await client.createEcho("other")
                let path = "/2019-09-30/functions/slow/provisioned-concurrency?Qualifier=1"
                let put = try await client.call(.put, path, json: ["ProvisionedConcurrentExecutions": 3])
                #expect(put.status == .accepted, "\(put.text)")
                // A mutation of another function completes while the instances are still starting.
                let reserve = try await client.call(.put, "/2017-10-31/functions/other/concurrency",
                                                    json: ["ReservedConcurrentExecutions": 2])
                #expect(reserve.status == .ok, "\(reserve.text)")
                #expect(try await client.call(.get, path).json["Status"] as? String == "IN_PROGRESS")
                var status = ""
                for _ in 0..<600 where status != "READY" {
                    try await Task.sleep(for: .milliseconds(50))
                    status = try await client.call(.get, path).json["Status"] as? String ?? ""
                }
                #expect(status == "READY")
                #expect(await service.supervisor.instances().filter(\.provisioned).count == 3)
            }
        }
    }

    @Suite("Event invoke config")
    struct EventInvokeConfig {
        @Test("put replaces, update merges, get, list, delete; the DestinationConfig shape; 400s and 404s")
        func lifecycle() async throws {
            try await Fixture.withAPI { _, client in
                try await client.createEcho("async", extra: ["Publish": true])
                let path = "/2019-09-25/functions/async/event-invoke-config"
                expectError(try await client.call(.get, path), .notFound, "ResourceNotFoundException")
                expectError(try await client.call(.put, path, json: [:]), .badRequest, "InvalidParameterValueException",
                            "You must specify at least one of error handling or destination setting.")
                expectError(try await client.call(.put, path, json: ["MaximumRetryAttempts": 3]), .badRequest,
                            "ValidationException")
                expectError(try await client.call(.put, path, json: ["MaximumEventAgeInSeconds": 59]), .badRequest,
                            "ValidationException")

                let put = try await client.call(.put, path, json: ["MaximumRetryAttempts": 1])
                #expect(put.status == .ok, "\(put.text)")
                #expect(put.json["FunctionArn"] as? String == Fixture.arnPrefix + "async:$LATEST")
                #expect(put.json["MaximumRetryAttempts"] as? Int == 1)
                #expect(put.json["LastModified"] is Double || put.json["LastModified"] is Int)
                let destinations = put.json["DestinationConfig"] as? [String: [String: String]]
                #expect(destinations == ["OnSuccess": [:], "OnFailure": [:]])

                let failure = Fixture.arnPrefix + "handler"
                let merged = try await client.call(.post, path, json: [
                    "MaximumEventAgeInSeconds": 120, "DestinationConfig": ["OnFailure": ["Destination": failure]],
                ])
                #expect(merged.json["MaximumRetryAttempts"] as? Int == 1)
                #expect(merged.json["MaximumEventAgeInSeconds"] as? Int == 120)
                #expect((merged.json["DestinationConfig"] as? [String: [String: String]])?["OnFailure"]
                    == ["Destination": failure])

                let replaced = try await client.call(.put, path, json: ["MaximumEventAgeInSeconds": 300])
                #expect(replaced.json["MaximumRetryAttempts"] == nil)
                #expect(try await client.call(.get, path).json["MaximumEventAgeInSeconds"] as? Int == 300)

                let version = try await client.call(.put, "\(path)?Qualifier=1", json: ["MaximumRetryAttempts": 0])
                #expect(version.json["FunctionArn"] as? String == Fixture.arnPrefix + "async:1")
                expectError(try await client.call(.put, "\(path)?Qualifier=9", json: ["MaximumRetryAttempts": 0]),
                            .notFound, "ResourceNotFoundException")
                let list = try await client.call(.get, "\(path)/list")
                let arns = list.strings("FunctionEventInvokeConfigs", "FunctionArn")
                #expect(arns == [Fixture.arnPrefix + "async:$LATEST", Fixture.arnPrefix + "async:1"])

                #expect(try await client.call(.delete, path).status == .noContent)
                expectError(try await client.call(.get, path), .notFound, "ResourceNotFoundException")
                expectError(try await client.call(.delete, path), .notFound, "ResourceNotFoundException")
                expectError(try await client.call(.post, path, json: ["MaximumRetryAttempts": 1]), .notFound,
                            "ResourceNotFoundException")
            }
        }
    }
}
