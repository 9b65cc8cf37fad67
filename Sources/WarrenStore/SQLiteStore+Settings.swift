import Foundation
import GRDB

extension SQLiteStore {
    public func putFunctionConcurrency(_ function: String, reserved: Int) async throws {
        try await pool.write { db in
            _ = try self.requireFunction(db, function)
            try db.execute(sql: """
                INSERT INTO concurrency (function, reserved) VALUES (?, ?)
                ON CONFLICT(function) DO UPDATE SET reserved = excluded.reserved
                """, arguments: [function, reserved])
        }
    }

    public func getFunctionConcurrency(_ function: String) async throws -> Int? {
        try await pool.read { db in
            _ = try self.requireFunction(db, function)
            return try Int.fetchOne(db, sql: "SELECT reserved FROM concurrency WHERE function = ?",
                                    arguments: [function])
        }
    }

    public func deleteFunctionConcurrency(_ function: String) async throws {
        try await pool.write { db in
            _ = try self.requireFunction(db, function)
            try db.execute(sql: "DELETE FROM concurrency WHERE function = ?", arguments: [function])
        }
    }

    public func allFunctionConcurrency() async throws -> [String: Int] {
        try await pool.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT function, reserved FROM concurrency")
            return Dictionary(uniqueKeysWithValues: rows.map { ($0["function"], $0["reserved"]) })
        }
    }

    public func putProvisionedConcurrency(_ record: ProvisionedConcurrencyRecord) async throws {
        try await pool.write { db in
            try self.requirePublishedQualifier(db, record.function, record.qualifier)
            try record.save(db)
        }
    }

    public func getProvisionedConcurrency(_ function: String, qualifier: String) async throws
        -> ProvisionedConcurrencyRecord {
        try await pool.read { db in
            _ = try self.requireFunction(db, function)
            guard let record = try ProvisionedConcurrencyRecord.fetchOne(
                db, key: ["function": function, "qualifier": qualifier]) else {
                throw StoreError(.provisionedConfigNotFound,
                                 "No Provisioned Concurrency Config found for this function")
            }
            return record
        }
    }

    public func deleteProvisionedConcurrency(_ function: String, qualifier: String) async throws {
        try await pool.write { db in
            _ = try self.requireFunction(db, function)
            _ = try ProvisionedConcurrencyRecord.deleteOne(db, key: ["function": function, "qualifier": qualifier])
        }
    }

    public func listProvisionedConcurrency(_ function: String?) async throws -> [ProvisionedConcurrencyRecord] {
        try await pool.read { db in
            var request = ProvisionedConcurrencyRecord.order(Column("function"), Column("qualifier"))
            if let function {
                _ = try self.requireFunction(db, function)
                request = request.filter(Column("function") == function)
            }
            return try request.fetchAll(db)
        }
    }

    public func putEventInvokeConfig(_ record: EventInvokeConfigRecord) async throws {
        try await pool.write { db in
            try self.requireQualifier(db, record.function, record.qualifier)
            try record.save(db)
        }
    }

    public func getEventInvokeConfig(_ function: String, qualifier: String) async throws -> EventInvokeConfigRecord {
        try await pool.read { db in
            _ = try self.requireFunction(db, function)
            guard let record = try EventInvokeConfigRecord.fetchOne(
                db, key: ["function": function, "qualifier": qualifier]) else {
                throw StoreError(.notFound, "The function \(self.arn(function, qualifier)) doesn't have an "
                    + "EventInvokeConfig")
            }
            return record
        }
    }

    public func deleteEventInvokeConfig(_ function: String, qualifier: String) async throws {
        try await pool.write { db in
            _ = try self.requireFunction(db, function)
            _ = try EventInvokeConfigRecord.deleteOne(db, key: ["function": function, "qualifier": qualifier])
        }
    }

    public func listEventInvokeConfigs(_ function: String) async throws -> [EventInvokeConfigRecord] {
        try await pool.read { db in
            _ = try self.requireFunction(db, function)
            return try EventInvokeConfigRecord.filter(Column("function") == function)
                .order(Column("qualifier")).fetchAll(db)
        }
    }

    /// `$LATEST`, an existing version or an existing alias.
    private func requireQualifier(_ db: Database, _ function: String, _ qualifier: String) throws {
        _ = try requireFunction(db, function)
        if qualifier == "$LATEST" { return }
        try requirePublishedQualifier(db, function, qualifier)
    }

    /// An existing version or alias: provisioned concurrency needs something immutable.
    private func requirePublishedQualifier(_ db: Database, _ function: String, _ qualifier: String) throws {
        _ = try requireFunction(db, function)
        if qualifier == "$LATEST" {
            throw StoreError(.invalid, "Provisioned Concurrency Configs cannot be applied to unpublished "
                + "function versions.")
        }
        let exists = if let number = Self.versionNumber(qualifier) {
            try VersionRow.exists(db, key: ["function": function, "number": number])
        } else {
            try AliasRecord.exists(db, key: ["function": function, "name": qualifier])
        }
        if !exists { throw StoreError(.notFound, "Function not found: \(arn(function, qualifier))") }
    }
}
