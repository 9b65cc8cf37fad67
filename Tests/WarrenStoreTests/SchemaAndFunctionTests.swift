import Foundation
import GRDB
import Testing

@testable import WarrenStore

@Suite struct SchemaAndFunctionTests {
    @Test func migrationsCreateTheSchema() throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        #expect(try store.appliedMigrations() == ["v1", "v2", "v3", "v4", "v5"])
        #expect(try store.tableNames() == ["alias", "concurrency", "eventInvokeConfig", "function", "policy",
                                           "provisioned", "queuedEvent", "tag", "version"])
        #expect(FileManager.default.fileExists(atPath: dir.url.appendingPathComponent("warren.db").path))
        // Reopening runs no migration twice.
        try store.close()
        #expect(try openStore(dir).appliedMigrations() == ["v1", "v2", "v3", "v4", "v5"])
    }

    /// A state directory of the release before tags opens with its functions and gains the table.
    @Test func aVersion2DatabaseUpgradesInPlace() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let old = try DatabaseQueue(path: dir.url.appendingPathComponent("warren.db").path)
        try Schema.migrator.migrate(old, upTo: "v2")
        try await old.write { db in try Self.insertV1Function(db, "f") }
        try old.close()
        let store = try openStore(dir)
        #expect(try store.appliedMigrations() == ["v1", "v2", "v3", "v4", "v5"])
        #expect(try await store.getFunction("f").handler == "bootstrap")
        #expect(try await store.tags(of: "f").isEmpty)
    }

    /// A function row as the first schema's columns hold it.
    private static func insertV1Function(_ db: Database, _ name: String) throws {
        try db.execute(sql: """
            INSERT INTO function (name, runtime, handler, role, memorySize, timeout, ephemeralStorage, environment,
                                  description, codeSha256, codeSize, revisionId, lastModified, state)
            VALUES (?, 'provided.al2023', 'bootstrap', '', 128, 3, 512, '{}', '', '00', 1, 'r', 't', 'Active')
            """, arguments: [name])
    }

    /// A state directory of the release before reported settings opens with its functions and versions, which
    /// report none.
    @Test func aVersion3DatabaseUpgradesInPlace() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let old = try DatabaseQueue(path: dir.url.appendingPathComponent("warren.db").path)
        try Schema.migrator.migrate(old, upTo: "v3")
        try await old.write { db in
            try Self.insertV1Function(db, "old")
            // A version's snapshot as the third schema's release wrote it: no reportedSettings key.
            let record = FunctionRecord(name: "old", runtime: "provided.al2023", handler: "bootstrap",
                                        codeSha256: "00", codeSize: 1)
            let snapshot = String(decoding: try JSONEncoder().encode(record), as: UTF8.self)
            #expect(!snapshot.contains("reportedSettings"))
            try db.execute(sql: "INSERT INTO version (function, number, configuration, description, codeSha256) "
                           + "VALUES ('old', 1, ?, '', '00')", arguments: [snapshot])
        }
        try old.close()
        let store = try openStore(dir)
        #expect(try store.appliedMigrations() == ["v1", "v2", "v3", "v4", "v5"])
        #expect(try await store.getFunction("old").reportedSettings == nil)
        #expect(try await store.getVersion("old", version: "1").configuration.reportedSettings == nil)
    }

    @Test func createGetAndConflict() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        let created = try await deploy(store, "hello")
        #expect(try await store.getFunction("hello") == created)
        #expect(created.codeSha256Base64.count == 44)
        #expect(created.lastModified.hasSuffix("+0000") && created.lastModified.count == 28)
        let duplicate = await storeError { _ = try await deploy(store, "hello") }
        #expect(duplicate?.code == .conflict)
        #expect(duplicate?.message == "Function already exist: hello")
        let missing = await storeError { _ = try await store.getFunction("nope") }
        #expect(missing?.code == .notFound)
        #expect(missing?.message == "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope")
        #expect(missing?.code.lambdaErrorType == "ResourceNotFoundException")
    }

    @Test func createRefusesCodeThatWasNeverStored() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        let record = FunctionRecord(name: "f", runtime: "provided.al2023", handler: "bootstrap",
                                    codeSha256: String(repeating: "a", count: 64), codeSize: 1)
        #expect(await storeError { _ = try await store.createFunction(record) }?.code == .invalid)
    }

    @Test func listFunctionsPaginatesByName() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        for name in ["e", "a", "d", "b", "c"] { try await deploy(store, name) }
        var names: [String] = []
        var marker: String?
        var pages = 0
        repeat {
            let page = try await store.listFunctions(marker: marker, maxItems: 2)
            names += page.items.map(\.name)
            marker = page.nextMarker
            pages += 1
        } while marker != nil
        #expect(names == ["a", "b", "c", "d", "e"])
        #expect(pages == 3)
        let all = try await store.listFunctions(marker: nil, maxItems: 50)
        #expect(all.items.count == 5 && all.nextMarker == nil)
    }

    @Test("reported settings: an update sets or clears each member it names, keeps the rest; a version keeps its own")
    func reportedSettings() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        try await deploy(store, "f")
        let set = FunctionConfigurationUpdate(reportedSettings: ["TracingConfig": #"{"Mode":"Active"}"#,
                                                                 "KMSKeyArn": #""arn:k""#])
        var updated = try await store.updateFunctionConfiguration("f", set, expectedRevisionId: nil)
        #expect(updated.reportedSettings == ["TracingConfig": #"{"Mode":"Active"}"#, "KMSKeyArn": #""arn:k""#])
        let version = try await store.publishVersion("f", description: nil, expectedCodeSha256: nil,
                                                     expectedRevisionId: nil)
        updated = try await store.updateFunctionConfiguration("f", .init(reportedSettings: ["KMSKeyArn": nil]),
                                                              expectedRevisionId: nil)
        #expect(updated.reportedSettings == ["TracingConfig": #"{"Mode":"Active"}"#])
        updated = try await store.updateFunctionConfiguration("f", .init(reportedSettings: ["TracingConfig": nil]),
                                                              expectedRevisionId: nil)
        #expect(updated.reportedSettings == nil)
        // What was published is the version's, and a change of the settings alone is content to publish.
        try store.close()
        let reopened = try openStore(dir)
        #expect(try await reopened.getFunction("f").reportedSettings == nil)
        let snapshot = try await reopened.getVersion("f", version: version.version).configuration
        #expect(snapshot.reportedSettings?["KMSKeyArn"] == #""arn:k""#)
        #expect(!version.configuration.hasSameContent(as: try await reopened.getFunction("f")))
    }

    @Test("policies: statements in order, kept across a reopen, gone with their qualifier and their function")
    func policies() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        try await deploy(store, "f")
        #expect(try await store.policy(of: "f", qualifier: nil) == nil)
        let one = PolicyStatement(sid: "a", json: #"{"Sid":"a"}"#)
        let two = PolicyStatement(sid: "b", json: #"{"Sid":"b"}"#)
        let first = try await store.addPolicyStatement("f", qualifier: nil, one, expectedRevisionId: nil)
        let second = try await store.addPolicyStatement("f", qualifier: nil, two, expectedRevisionId: first.revisionId)
        #expect(second.statements == [one, two] && second.revisionId != first.revisionId)
        #expect(await storeError { _ = try await store.addPolicyStatement("f", qualifier: nil, one,
                                                                          expectedRevisionId: nil) }?.code == .conflict)
        #expect(await storeError { _ = try await store.addPolicyStatement("f", qualifier: nil, PolicyStatement(
            sid: "c", json: "{}"), expectedRevisionId: first.revisionId) }?.code == .preconditionFailed)
        #expect(await storeError { _ = try await store.addPolicyStatement("f", qualifier: "7", one,
                                                                          expectedRevisionId: nil) }?.code == .notFound)
        let version = try await store.publishVersion("f", description: nil, expectedCodeSha256: nil,
                                                     expectedRevisionId: nil)
        _ = try await store.addPolicyStatement("f", qualifier: version.version, one, expectedRevisionId: nil)
        try store.close()

        let reopened = try openStore(dir)
        #expect(try await reopened.policy(of: "f", qualifier: nil)?.statements == [one, two])
        try await reopened.removePolicyStatement("f", qualifier: nil, sid: "a", expectedRevisionId: nil)
        let gone = await storeError {
            try await reopened.removePolicyStatement("f", qualifier: nil, sid: "a", expectedRevisionId: nil)
        }
        #expect(gone?.code == .notFound)
        try await reopened.removePolicyStatement("f", qualifier: nil, sid: "b", expectedRevisionId: nil)
        #expect(try await reopened.policy(of: "f", qualifier: nil) == nil)
        // A version's policy goes with the version; the rest with the function.
        try await reopened.deleteFunction("f", qualifier: version.version)
        #expect(try await reopened.pool.read { try PolicyRecord.fetchCount($0) } == 0)
        _ = try await reopened.addPolicyStatement("f", qualifier: nil, one, expectedRevisionId: nil)
        try await reopened.deleteFunction("f", qualifier: nil)
        #expect(try await reopened.pool.read { try PolicyRecord.fetchCount($0) } == 0)
    }

    @Test func updatesChangeRevisionAndCheckIt() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        let created = try await deploy(store, "f")
        let update = FunctionConfigurationUpdate(memorySize: 256, environment: ["A": "1"])
        let updated = try await store.updateFunctionConfiguration("f", update, expectedRevisionId: created.revisionId)
        #expect(updated.memorySize == 256 && updated.environment == ["A": "1"] && updated.handler == "bootstrap")
        #expect(updated.revisionId != created.revisionId)
        let stale = await storeError {
            _ = try await store.updateFunctionConfiguration("f", update, expectedRevisionId: created.revisionId)
        }
        #expect(stale?.code == .preconditionFailed)
        #expect(stale?.message.hasPrefix("The Revision Id provided does not match") == true)
        // A no-op update still yields a new RevisionId, as in Lambda.
        let noop = try await store.updateFunctionConfiguration("f", .init(), expectedRevisionId: nil)
        #expect(noop.revisionId != updated.revisionId)

        let code = try store.code.add(zip: try bootstrapZip("v2"))
        let recoded = try await store.updateFunctionCode("f", codeSha256: code.sha256, codeSize: code.size,
                                                         expectedRevisionId: noop.revisionId)
        #expect(recoded.codeSha256 == code.sha256 && recoded.memorySize == 256)
        let missing = await storeError {
            _ = try await store.updateFunctionCode("nope", codeSha256: code.sha256, codeSize: 1,
                                                   expectedRevisionId: nil)
        }
        #expect(missing?.code == .notFound)
    }

    @Test func reopenKeepsEverything() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        var store = try openStore(dir)
        try await deploy(store, "f")
        let version = try await store.publishVersion("f", description: nil, expectedCodeSha256: nil,
                                                     expectedRevisionId: nil)
        let function = try await store.getFunction("f")
        let alias = try await store.createAlias(AliasRecord(function: "f", name: "live", functionVersion: "1"))
        try await store.putFunctionConcurrency("f", reserved: 5)
        try await store.putProvisionedConcurrency(ProvisionedConcurrencyRecord(function: "f", qualifier: "live",
                                                                              requested: 2))
        try await store.putEventInvokeConfig(EventInvokeConfigRecord(function: "f", qualifier: "$LATEST",
                                                                     maximumRetryAttempts: 1))
        _ = try await store.enqueue(requestId: "r1", function: "f", qualifier: "$LATEST", payload: [1, 2],
                                    at: Date())
        try store.close()

        store = try openStore(dir)
        #expect(try await store.getFunction("f") == function)
        #expect(try await store.listVersions("f") == [version])
        #expect(try await store.getAlias("f", name: "live") == alias)
        #expect(try await store.getFunctionConcurrency("f") == 5)
        #expect(try await store.getProvisionedConcurrency("f", qualifier: "live").requested == 2)
        #expect(try await store.getEventInvokeConfig("f", qualifier: "$LATEST").maximumRetryAttempts == 1)
        #expect(try await store.queueStats().pending == 1)
        // The code the function names survived garbage collection on open.
        #expect(store.code.contains(function.codeSha256))
    }

    @Test func openCollectsUnreferencedCodeAndStaging() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        var store = try openStore(dir)
        let used = try await deploy(store, "f")
        // A crash after writing code but before the row: orphan artifact.
        let orphan = try store.code.add(zip: try bootstrapZip("orphan"))
        // A crash mid-extraction: staging directory; mid-write of a package: a staged zip.
        let staging = store.code.directory.appendingPathComponent(".tmp-crashed")
        try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(
            atPath: store.code.directory.appendingPathComponent(".tmp-crashed.zip").path, contents: Data([1])))
        // A crash after the package was kept but before its extraction: a zip without a directory.
        let lone = String(repeating: "ab", count: 32)
        #expect(FileManager.default.createFile(
            atPath: store.code.zipFile(for: lone).path, contents: Data([2])))
        try store.close()
        store = try openStore(dir)
        #expect(try codeEntries(store) == [used.codeSha256, used.codeSha256 + ".zip"])
        #expect(!store.code.contains(orphan.sha256))
        #expect(!FileManager.default.fileExists(atPath: store.code.zipFile(for: orphan.sha256).path))
    }

    @Test func concurrentWritersStayConsistent() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        try await deploy(store, "shared")
        let updated = try await withThrowingTaskGroup(of: Int.self) { group in
            for writer in 0..<2 {
                group.addTask {
                    var updated = 0
                    for index in 0..<25 {
                        try await deploy(store, "w\(writer)-\(index)")
                        let current = try await store.getFunction("shared")
                        // Optimistic concurrency: a lost race is a precondition failure, never a lost update.
                        let memory = 128 + writer * 25 + index
                        if (try? await store.updateFunctionConfiguration(
                            "shared", .init(memorySize: memory), expectedRevisionId: current.revisionId)) != nil {
                            updated += 1
                        }
                        _ = try await store.publishVersion("shared", description: "\(writer)-\(index)",
                                                           expectedCodeSha256: nil, expectedRevisionId: nil)
                    }
                    return updated
                }
            }
            return try await group.reduce(0, +)
        }
        let page = try await store.listFunctions(marker: nil, maxItems: 100)
        #expect(page.items.count == 51)
        // Numbered without gaps, each version a configuration of its own (an unchanged one is not
        // published again), and no more of them than configurations written.
        let versions = try await store.listVersions("shared")
        #expect(!versions.isEmpty && versions.count <= updated)
        #expect(versions.map(\.version) == (1...versions.count).map(String.init))
        #expect(Set(versions.map(\.configuration.memorySize)).count == versions.count)
    }
}
