import Foundation
import GRDB

extension SQLiteStore {
    public func publishVersion(_ name: String, description: String?, expectedCodeSha256: String?,
                               expectedRevisionId: String?) async throws -> VersionRecord {
        try await pool.write { db in
            let function = try self.requireFunction(db, name)
            try Self.checkPublishPreconditions(function, expectedCodeSha256, expectedRevisionId)
            let last = try VersionRow.filter(Column("function") == name)
                .order(Column("number").desc).fetchOne(db)
            // Lambda returns the last version when nothing changed since it was published, instead
            // of numbering a duplicate; a description given then is not applied.
            if let last, last.configuration.hasSameContent(as: function) {
                return last.record
            }
            let number = try Int.fetchOne(db, sql: "SELECT lastVersion FROM function WHERE name = ?",
                                          arguments: [name]) ?? 0
            var snapshot = function
            snapshot.revisionId = newRevisionId()
            snapshot.lastModified = lambdaTimestamp()
            let record = VersionRecord(function: name, version: String(number + 1), configuration: snapshot,
                                       description: description ?? function.description)
            try VersionRow(record, number: number + 1).insert(db)
            // As Lambda: publishing is a change of the function, so $LATEST gets a new RevisionId.
            try db.execute(sql: "UPDATE function SET lastVersion = ?, revisionId = ? WHERE name = ?",
                           arguments: [number + 1, newRevisionId(), name])
            return record
        }
    }

    private static func checkPublishPreconditions(_ function: FunctionRecord, _ expectedCodeSha256: String?,
                                                  _ expectedRevisionId: String?) throws {
        // Lambda's CodeSha256 is base64; accept hex too for Warren's own callers.
        if let expected = expectedCodeSha256, expected != function.codeSha256Base64,
           expected.lowercased() != function.codeSha256 {
            throw StoreError(.invalid, "CodeSHA256 (\(expected)) is different from current CodeSHA256 in $LATEST "
                + "(\(function.codeSha256Base64)). Please try again with the CodeSHA256 in $LATEST.")
        }
        if let expectedRevisionId, expectedRevisionId != function.revisionId {
            throw StoreError.revisionMismatch
        }
    }

    public func getVersion(_ name: String, version: String) async throws -> VersionRecord {
        try await pool.read { db in
            _ = try self.requireFunction(db, name)
            guard let number = Self.versionNumber(version),
                  let row = try VersionRow.fetchOne(db, key: ["function": name, "number": number]) else {
                throw StoreError(.notFound, "Function not found: \(self.arn(name, version))")
            }
            return row.record
        }
    }

    public func listVersions(_ name: String) async throws -> [VersionRecord] {
        try await pool.read { db in
            _ = try self.requireFunction(db, name)
            return try VersionRow.filter(Column("function") == name).order(Column("number"))
                .fetchAll(db).map(\.record)
        }
    }

    public func createAlias(_ alias: AliasRecord) async throws -> AliasRecord {
        try await pool.write { db in
            _ = try self.requireFunction(db, alias.function)
            if try AliasRecord.exists(db, key: ["function": alias.function, "name": alias.name]) {
                throw StoreError(.conflict, "Alias already exists: \(self.arn(alias.function, alias.name))")
            }
            try self.checkAliasTargets(db, alias)
            try alias.insert(db)
            return alias
        }
    }

    public func getAlias(_ function: String, name: String) async throws -> AliasRecord {
        try await pool.read { db in try self.requireAlias(db, function, name, missing: "Cannot find alias arn") }
    }

    public func updateAlias(_ alias: AliasRecord, expectedRevisionId: String?) async throws -> AliasRecord {
        try await pool.write { db in
            let current = try self.requireAlias(db, alias.function, alias.name, missing: "Alias not found")
            if let expectedRevisionId, expectedRevisionId != current.revisionId {
                throw StoreError.revisionMismatch
            }
            try self.checkAliasTargets(db, alias)
            var updated = alias
            updated.revisionId = newRevisionId()
            try updated.update(db)
            return updated
        }
    }

    public func deleteAlias(_ function: String, name: String) async throws {
        try await pool.write { db in
            _ = try self.requireFunction(db, function)
            if try AliasRecord.deleteOne(db, key: ["function": function, "name": name]) {
                try self.deleteSettings(db, function, name)
            }
        }
    }

    public func listAliases(_ function: String, functionVersion: String?) async throws -> [AliasRecord] {
        try await pool.read { db in
            _ = try self.requireFunction(db, function)
            let all = try AliasRecord.filter(Column("function") == function).order(Column("name")).fetchAll(db)
            guard let functionVersion else { return all }
            return all.filter {
                $0.functionVersion == functionVersion || $0.additionalVersionWeights[functionVersion] != nil
            }
        }
    }

    private func requireAlias(_ db: Database, _ function: String, _ name: String, missing: String) throws
        -> AliasRecord {
        _ = try requireFunction(db, function)
        guard let alias = try AliasRecord.fetchOne(db, key: ["function": function, "name": name]) else {
            throw StoreError(.notFound, "\(missing): \(arn(function, name))")
        }
        return alias
    }

    /// Every version an alias routes to must exist: an invoke through it
    /// would otherwise fail long after the mistake was made.
    private func checkAliasTargets(_ db: Database, _ alias: AliasRecord) throws {
        for version in [alias.functionVersion] + alias.additionalVersionWeights.keys.sorted() {
            if version == "$LATEST" { continue }
            guard let number = Self.versionNumber(version),
                  try VersionRow.exists(db, key: ["function": alias.function, "number": number]) else {
                throw StoreError(.notFound, "Function not found: \(arn(alias.function, version))")
            }
        }
    }
}
