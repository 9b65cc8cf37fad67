import Foundation
import Testing

@testable import WarrenStore

@Suite struct VersionAliasTests {
    private func publish(_ store: SQLiteStore, _ name: String = "f", description: String? = nil,
                         sha: String? = nil, revision: String? = nil) async throws -> VersionRecord {
        try await store.publishVersion(name, description: description, expectedCodeSha256: sha,
                                       expectedRevisionId: revision)
    }

    @Test func publishNumbersAndDeduplicates() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        let function = try await deploy(store, "f")
        let first = try await publish(store)
        #expect(first.version == "1" && first.codeSha256 == function.codeSha256)
        #expect(first.revisionId != function.revisionId)
        // Publishing changed $LATEST's RevisionId, as Lambda's does.
        let published = try await store.getFunction("f").revisionId
        #expect(published != function.revisionId && published != first.revisionId)
        // Unchanged since the last publish: Lambda answers the existing version, whatever
        // description comes with the request, and $LATEST stays as it is.
        #expect(try await publish(store) == first)
        #expect(try await publish(store, description: "other") == first)
        #expect(try await store.getFunction("f").revisionId == published)

        let code = try store.code.add(zip: try bootstrapZip("v2"))
        _ = try await store.updateFunctionCode("f", codeSha256: code.sha256, codeSize: code.size,
                                               expectedRevisionId: nil)
        let second = try await publish(store, description: "second")
        #expect(second.version == "2" && second.codeSha256 == code.sha256 && second.description == "second")
        // A description-only change does publish.
        _ = try await store.updateFunctionConfiguration("f", .init(description: "new"), expectedRevisionId: nil)
        #expect(try await publish(store).version == "3")
        #expect(try await store.listVersions("f").map(\.version) == ["1", "2", "3"])
        #expect(try await store.getVersion("f", version: "2") == second)

        // Numbers are never reused after a delete.
        try await store.deleteFunction("f", qualifier: "3")
        _ = try await store.updateFunctionConfiguration("f", .init(memorySize: 512), expectedRevisionId: nil)
        #expect(try await publish(store).version == "4")
    }

    @Test func publishPreconditions() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        let function = try await deploy(store, "f")
        let badSha = await storeError { _ = try await publish(store, sha: "AAAA") }
        #expect(badSha?.code == .invalid)
        #expect(badSha?.message == "CodeSHA256 (AAAA) is different from current CodeSHA256 in $LATEST "
            + "(\(function.codeSha256Base64)). Please try again with the CodeSHA256 in $LATEST.")
        let badRevision = await storeError { _ = try await publish(store, revision: "stale") }
        #expect(badRevision?.code == .preconditionFailed)
        let good = try await publish(store, sha: function.codeSha256Base64, revision: function.revisionId)
        #expect(good.version == "1")
        #expect(await storeError { _ = try await publish(store, "nope") }?.code == .notFound)
    }

    @Test func aliasCrudAndRevision() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        try await deploy(store, "f")
        _ = try await publish(store)
        _ = try await store.updateFunctionConfiguration("f", .init(timeout: 10), expectedRevisionId: nil)
        _ = try await publish(store)
        let alias = try await store.createAlias(AliasRecord(function: "f", name: "live", functionVersion: "1",
                                                            additionalVersionWeights: ["2": 0.25]))
        #expect(try await store.getAlias("f", name: "live") == alias)
        let again = await storeError { _ = try await store.createAlias(alias) }
        #expect(again?.code == .conflict)
        #expect(again?.message == "Alias already exists: arn:aws:lambda:us-east-1:000000000000:function:f:live")
        let dangling = AliasRecord(function: "f", name: "bad", functionVersion: "9")
        #expect(await storeError { _ = try await store.createAlias(dangling) }?.code == .notFound)

        var change = alias
        change.functionVersion = "2"
        change.additionalVersionWeights = [:]
        let updated = try await store.updateAlias(change, expectedRevisionId: alias.revisionId)
        #expect(updated.functionVersion == "2" && updated.revisionId != alias.revisionId)
        let stale = await storeError { _ = try await store.updateAlias(change, expectedRevisionId: alias.revisionId) }
        #expect(stale?.code == .preconditionFailed)
        var ghost = change
        ghost.name = "ghost"
        let missing = await storeError { _ = try await store.updateAlias(ghost, expectedRevisionId: nil) }
        #expect(missing?.message.hasPrefix("Alias not found: ") == true)

        _ = try await store.createAlias(AliasRecord(function: "f", name: "beta", functionVersion: "$LATEST"))
        #expect(try await store.listAliases("f", functionVersion: nil).map(\.name) == ["beta", "live"])
        #expect(try await store.listAliases("f", functionVersion: "2").map(\.name) == ["live"])
        try await store.deleteAlias("f", name: "beta")
        try await store.deleteAlias("f", name: "beta")  // Lambda answers 204 for a missing alias.
        let gone = await storeError { _ = try await store.getAlias("f", name: "beta") }
        #expect(gone?.message.hasPrefix("Cannot find alias arn: ") == true)
    }

    @Test func deleteVersionRules() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        try await deploy(store, "f")
        _ = try await publish(store)
        _ = try await store.updateFunctionConfiguration("f", .init(timeout: 5), expectedRevisionId: nil)
        _ = try await publish(store)
        _ = try await store.createAlias(AliasRecord(function: "f", name: "live", functionVersion: "1",
                                                    additionalVersionWeights: ["2": 0.1]))
        for version in ["1", "2"] {
            let used = await storeError { try await store.deleteFunction("f", qualifier: version) }
            #expect(used?.code == .conflict)
            #expect(used?.message.contains("[live]") == true)
        }
        let latest = await storeError { try await store.deleteFunction("f", qualifier: "$LATEST") }
        #expect(latest?.message == "$LATEST version cannot be deleted without deleting the function.")
        let alias = await storeError { try await store.deleteFunction("f", qualifier: "live") }
        #expect(alias?.message == "Deletion of aliases is not currently supported.")
        #expect(await storeError { try await store.deleteFunction("f", qualifier: "7") }?.code == .notFound)

        try await store.deleteAlias("f", name: "live")
        try await store.deleteFunction("f", qualifier: "1")
        #expect(try await store.listVersions("f").map(\.version) == ["2"])
    }

    @Test func deleteFunctionCascades() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        try await deploy(store, "f")
        _ = try await publish(store)
        _ = try await store.createAlias(AliasRecord(function: "f", name: "live", functionVersion: "1"))
        try await store.putFunctionConcurrency("f", reserved: 3)
        try await store.putProvisionedConcurrency(ProvisionedConcurrencyRecord(function: "f", qualifier: "1",
                                                                              requested: 1))
        try await store.putEventInvokeConfig(EventInvokeConfigRecord(function: "f", qualifier: "live",
                                                                     onFailure: "arn:dest"))
        _ = try await store.enqueue(requestId: "r", function: "f", qualifier: "$LATEST", payload: [], at: Date())
        try await store.deleteFunction("f", qualifier: nil)

        #expect(await storeError { _ = try await store.getFunction("f") }?.code == .notFound)
        try await deploy(store, "f")
        // Recreated under the same name: nothing of the old one comes back.
        #expect(try await store.listVersions("f").isEmpty)
        #expect(try await store.listAliases("f", functionVersion: nil).isEmpty)
        #expect(try await store.getFunctionConcurrency("f") == nil)
        #expect(try await store.listProvisionedConcurrency(nil).isEmpty)
        #expect(try await store.listEventInvokeConfigs("f").isEmpty)
        #expect(try await store.queueStats().pending == 0)
        #expect(try await publish(store).version == "1")
    }
}
