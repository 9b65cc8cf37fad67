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

    @Test func tagsAreTheFunctionsKeptAcrossReopenAndGoWithIt() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        let artifact = try store.code.add(zip: try bootstrapZip())
        let record = FunctionRecord(name: "f", runtime: "provided.al2023", handler: "bootstrap",
                                    codeSha256: artifact.sha256, codeSize: artifact.size)
        _ = try await store.createFunction(record, tags: ["team": "warren"])
        try await store.tagFunction("f", tags: ["team": "platform", "stage": "test"])
        try await store.untagFunction("f", keys: ["stage", "absent"])
        #expect(try await openStore(dir).tags(of: "f") == ["team": "platform"])
        // The quota counts old and new keys together; a refused call changes nothing.
        let many = Dictionary(uniqueKeysWithValues: (0..<49).map { ("k\($0)", "v") })
        try await store.tagFunction("f", tags: many)
        let over = await storeError { try await store.tagFunction("f", tags: ["one": "more", "k0": "w"]) }
        #expect(over?.code == .invalid)
        #expect(try await store.tags(of: "f").count == 50)
        #expect(await storeError { _ = try await store.tags(of: "x") }?.code == .notFound)
        try await store.deleteFunction("f", qualifier: nil)
        try await deploy(store, "f")
        #expect(try await store.tags(of: "f").isEmpty)
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
