import Foundation
import Testing

@testable import WarrenStore

@Suite struct SettingsTests {
    @Test func reservedConcurrency() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        try await deploy(store, "f")
        try await deploy(store, "g")
        #expect(try await store.getFunctionConcurrency("f") == nil)
        try await store.putFunctionConcurrency("f", reserved: 10)
        try await store.putFunctionConcurrency("f", reserved: 7)
        try await store.putFunctionConcurrency("g", reserved: 0)
        #expect(try await store.getFunctionConcurrency("f") == 7)
        #expect(try await store.allFunctionConcurrency() == ["f": 7, "g": 0])
        try await store.deleteFunctionConcurrency("f")
        #expect(try await store.getFunctionConcurrency("f") == nil)
        #expect(await storeError { try await store.putFunctionConcurrency("x", reserved: 1) }?.code == .notFound)
    }

    @Test func provisionedConcurrency() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        try await deploy(store, "f")
        _ = try await store.publishVersion("f", description: nil, expectedCodeSha256: nil, expectedRevisionId: nil)
        _ = try await store.createAlias(AliasRecord(function: "f", name: "live", functionVersion: "1"))
        let latest = await storeError {
            try await store.putProvisionedConcurrency(.init(function: "f", qualifier: "$LATEST", requested: 1))
        }
        #expect(latest?.message
            == "Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
        #expect(await storeError {
            try await store.putProvisionedConcurrency(.init(function: "f", qualifier: "9", requested: 1))
        }?.code == .notFound)
        try await store.putProvisionedConcurrency(.init(function: "f", qualifier: "live", requested: 2))
        try await store.putProvisionedConcurrency(.init(function: "f", qualifier: "live", requested: 3))
        try await store.putProvisionedConcurrency(.init(function: "f", qualifier: "1", requested: 1))
        #expect(try await store.getProvisionedConcurrency("f", qualifier: "live").requested == 3)
        #expect(try await store.listProvisionedConcurrency("f").map(\.qualifier) == ["1", "live"])
        try await store.deleteProvisionedConcurrency("f", qualifier: "1")
        let none = await storeError { _ = try await store.getProvisionedConcurrency("f", qualifier: "1") }
        #expect(none?.message == "No Provisioned Concurrency Config found for this function")
        // Deleting the alias drops what was configured on it.
        try await store.deleteAlias("f", name: "live")
        #expect(try await store.listProvisionedConcurrency(nil).isEmpty)
    }

    @Test func eventInvokeConfig() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        try await deploy(store, "f")
        let config = EventInvokeConfigRecord(function: "f", qualifier: "$LATEST", maximumRetryAttempts: 0,
                                             maximumEventAgeInSeconds: 60,
                                             onFailure: "arn:aws:lambda:us-east-1:000000000000:function:dlq")
        try await store.putEventInvokeConfig(config)
        #expect(try await store.getEventInvokeConfig("f", qualifier: "$LATEST") == config)
        var replaced = config
        replaced.maximumRetryAttempts = 2
        replaced.onFailure = nil
        try await store.putEventInvokeConfig(replaced)
        #expect(try await store.listEventInvokeConfigs("f") == [replaced])
        #expect(await storeError {
            try await store.putEventInvokeConfig(.init(function: "f", qualifier: "nope", maximumRetryAttempts: 1))
        }?.code == .notFound)
        try await store.deleteEventInvokeConfig("f", qualifier: "$LATEST")
        #expect(await storeError { _ = try await store.getEventInvokeConfig("f", qualifier: "$LATEST") }?.code
            == .notFound)
    }
}
