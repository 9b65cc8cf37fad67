import Foundation
import GRDB

extension SQLiteStore {
    public func createFunction(_ function: FunctionRecord, tags: [String: String]) async throws -> FunctionRecord {
        try requireCode(function.codeSha256)
        return try await pool.write { db in
            if try FunctionRecord.exists(db, key: function.name) {
                throw StoreError(.conflict, "Function already exist: \(function.name)")
            }
            try function.insert(db)
            try Self.setTags(db, function.name, tags)
            return function
        }
    }

    public func getFunction(_ name: String) async throws -> FunctionRecord {
        try await pool.read { db in try self.requireFunction(db, name) }
    }

    public func listFunctions(marker: String?, maxItems: Int) async throws -> Page<FunctionRecord> {
        let limit = max(1, maxItems)
        return try await pool.read { db in
            // The marker is the last name of the previous page: stable while
            // functions come and go, unlike an offset.
            var request = FunctionRecord.order(Column("name"))
            if let marker { request = request.filter(Column("name") > marker) }
            let rows = try request.limit(limit + 1).fetchAll(db)
            let items = Array(rows.prefix(limit))
            return Page(items: items, nextMarker: rows.count > limit ? items.last?.name : nil)
        }
    }

    public func updateFunctionConfiguration(_ name: String, _ update: FunctionConfigurationUpdate,
                                            expectedRevisionId: String?) async throws -> FunctionRecord {
        try await modifyFunction(name, expectedRevisionId: expectedRevisionId) { function in
            if let value = update.runtime { function.runtime = value }
            if let value = update.handler { function.handler = value }
            if let value = update.role { function.role = value }
            if let value = update.memorySize { function.memorySize = value }
            if let value = update.timeout { function.timeout = value }
            if let value = update.ephemeralStorage { function.ephemeralStorage = value }
            if let value = update.environment { function.environment = value }
            if let value = update.description { function.description = value }
            if !update.reportedSettings.isEmpty {
                var settings = function.reportedSettings ?? [:]
                for (member, value) in update.reportedSettings { settings[member] = value }
                function.reportedSettings = settings.isEmpty ? nil : settings
            }
        }
    }

    public func updateFunctionCode(_ name: String, codeSha256: String, codeSize: Int,
                                   expectedRevisionId: String?) async throws -> FunctionRecord {
        try requireCode(codeSha256)
        return try await modifyFunction(name, expectedRevisionId: expectedRevisionId) { function in
            function.codeSha256 = codeSha256
            function.codeSize = codeSize
        }
    }

    /// Read-check-write of `$LATEST` in one transaction; every change,
    /// even a no-op, gets a new RevisionId as in Lambda.
    private func modifyFunction(_ name: String, expectedRevisionId: String?,
                                _ change: @escaping @Sendable (inout FunctionRecord) -> Void) async throws
        -> FunctionRecord {
        try await pool.write { db in
            var function = try self.requireFunction(db, name)
            if let expectedRevisionId, expectedRevisionId != function.revisionId {
                throw StoreError.revisionMismatch
            }
            change(&function)
            function.revisionId = newRevisionId()
            function.lastModified = lambdaTimestamp()
            try function.update(db)
            return function
        }
    }

    public func deleteFunction(_ name: String, qualifier: String?) async throws {
        try await pool.write { db in
            _ = try self.requireFunction(db, name)
            guard let qualifier else {
                // Foreign keys cascade to versions, aliases, settings and queued events.
                _ = try FunctionRecord.deleteOne(db, key: name)
                return
            }
            try self.deleteVersion(db, name, qualifier)
        }
    }

    private func deleteVersion(_ db: Database, _ name: String, _ qualifier: String) throws {
        if qualifier == "$LATEST" {
            throw StoreError(.invalid, "$LATEST version cannot be deleted without deleting the function.")
        }
        guard let number = Self.versionNumber(qualifier) else {
            if try AliasRecord.exists(db, key: ["function": name, "name": qualifier]) {
                throw StoreError(.invalid, "Deletion of aliases is not currently supported.")
            }
            throw StoreError(.notFound, "Function not found: \(arn(name, qualifier))")
        }
        guard try VersionRow.exists(db, key: ["function": name, "number": number]) else {
            throw StoreError(.notFound, "Function not found: \(arn(name, qualifier))")
        }
        let users = try AliasRecord.filter(Column("function") == name).fetchAll(db).filter {
            $0.functionVersion == qualifier || $0.additionalVersionWeights[qualifier] != nil
        }
        if !users.isEmpty {
            let names = users.map(\.name).sorted().joined(separator: ", ")
            throw StoreError(.conflict,
                             "Unable to delete version because the following aliases reference it: [\(names)]")
        }
        _ = try VersionRow.deleteOne(db, key: ["function": name, "number": number])
        try deleteSettings(db, name, qualifier)
    }

    /// Drops what was configured on a qualifier that no longer exists.
    func deleteSettings(_ db: Database, _ function: String, _ qualifier: String) throws {
        let key = ["function": function, "qualifier": qualifier]
        _ = try ProvisionedConcurrencyRecord.deleteOne(db, key: key)
        _ = try EventInvokeConfigRecord.deleteOne(db, key: key)
        _ = try PolicyRecord.deleteOne(db, key: key)
    }
}
