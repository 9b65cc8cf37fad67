import Foundation
import GRDB

/// The versioned schema. Migrations are append-only: a shipped one is never
/// edited, a change is a new `vN`, so any older `warren.db` upgrades in place.
enum Schema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1", migrate: v1)
        migrator.registerMigration("v2", migrate: v2)
        migrator.registerMigration("v3", migrate: v3)
        migrator.registerMigration("v4", migrate: v4)
        migrator.registerMigration("v5", migrate: v5)
        return migrator
    }

    /// The tables of the first release.
    private static func v1(_ db: Database) throws {
        try db.create(table: "function") { t in
            t.primaryKey("name", .text)
            t.column("runtime", .text).notNull()
            t.column("handler", .text).notNull()
            t.column("role", .text).notNull()
            t.column("memorySize", .integer).notNull()
            t.column("timeout", .double).notNull()
            t.column("ephemeralStorage", .integer).notNull()
            t.column("environment", .text).notNull()
            t.column("description", .text).notNull()
            t.column("codeSha256", .text).notNull()
            t.column("codeSize", .integer).notNull()
            t.column("revisionId", .text).notNull()
            t.column("lastModified", .text).notNull()
            t.column("state", .text).notNull()
            // Version numbers are never reused, even after a delete.
            t.column("lastVersion", .integer).notNull().defaults(to: 0)
        }
        try db.create(table: "version") { t in
            t.column("function", .text).notNull().references("function", onDelete: .cascade)
            t.column("number", .integer).notNull()
            t.column("configuration", .text).notNull()
            t.column("description", .text).notNull()
            t.column("codeSha256", .text).notNull()
            t.primaryKey(["function", "number"])
        }
        try db.create(table: "alias") { t in
            t.column("function", .text).notNull().references("function", onDelete: .cascade)
            t.column("name", .text).notNull()
            t.column("functionVersion", .text).notNull()
            t.column("additionalVersionWeights", .text).notNull()
            t.column("description", .text).notNull()
            t.column("revisionId", .text).notNull()
            t.primaryKey(["function", "name"])
        }
        try createSettingsTables(db)
        try createQueueTable(db)
    }

    /// Throttled claims of a queued event: they neither use up its retry
    /// attempts nor count as invocations, and they set its back-off.
    private static func v2(_ db: Database) throws {
        try db.alter(table: "queuedEvent") { t in
            t.add(column: "throttles", .integer).notNull().defaults(to: 0)
        }
    }

    /// Tags: the function's, not a version's (Lambda tags the function ARN only).
    private static func v3(_ db: Database) throws {
        try db.create(table: "tag") { t in
            t.column("function", .text).notNull().references("function", onDelete: .cascade)
            t.column("key", .text).notNull()
            t.column("value", .text).notNull()
            t.primaryKey(["function", "key"])
        }
    }

    /// Settings a function keeps and reports without Warren applying them (see
    /// ``FunctionRecord/reportedSettings``); NULL for none.
    private static func v4(_ db: Database) throws {
        try db.alter(table: "function") { t in
            t.add(column: "reportedSettings", .text)
        }
    }

    /// Resource-based policies (AddPermission), by function and qualifier (`""`: none).
    private static func v5(_ db: Database) throws {
        try db.create(table: "policy") { t in
            t.column("function", .text).notNull().references("function", onDelete: .cascade)
            t.column("qualifier", .text).notNull()
            t.column("statements", .text).notNull()
            t.column("revisionId", .text).notNull()
            t.primaryKey(["function", "qualifier"])
        }
    }

    private static func createSettingsTables(_ db: Database) throws {
        try db.create(table: "concurrency") { t in
            t.primaryKey("function", .text).references("function", onDelete: .cascade)
            t.column("reserved", .integer).notNull()
        }
        try db.create(table: "provisioned") { t in
            t.column("function", .text).notNull().references("function", onDelete: .cascade)
            t.column("qualifier", .text).notNull()
            t.column("requested", .integer).notNull()
            t.column("lastModified", .text).notNull()
            t.primaryKey(["function", "qualifier"])
        }
        try db.create(table: "eventInvokeConfig") { t in
            t.column("function", .text).notNull().references("function", onDelete: .cascade)
            t.column("qualifier", .text).notNull()
            t.column("maximumRetryAttempts", .integer)
            t.column("maximumEventAgeInSeconds", .integer)
            t.column("onFailure", .text)
            t.column("onSuccess", .text)
            t.column("lastModified", .double).notNull()
            t.primaryKey(["function", "qualifier"])
        }
    }

    private static func createQueueTable(_ db: Database) throws {
        try db.create(table: "queuedEvent") { t in
            t.autoIncrementedPrimaryKey("id")
            t.column("requestId", .text).notNull()
            // Events of a deleted function go with it, as Lambda drops them.
            t.column("function", .text).notNull().references("function", onDelete: .cascade)
            t.column("qualifier", .text).notNull()
            t.column("payload", .blob).notNull()
            t.column("attempts", .integer).notNull().defaults(to: 0)
            t.column("enqueuedAt", .double).notNull()
            t.column("nextAttemptAt", .double).notNull()
            t.column("state", .text).notNull()
            t.column("leaseUntil", .double)
        }
        // claimDue scans by state and due time.
        try db.create(index: "queuedEvent_due", on: "queuedEvent", columns: ["state", "nextAttemptAt"])
    }
}

// Codable records map one to one onto their tables; nested values
// (environment, weights, the version snapshot) are stored as JSON text.
extension FunctionRecord: FetchableRecord, PersistableRecord {
    public static var databaseTableName: String { "function" }
}

extension PolicyRecord: FetchableRecord, PersistableRecord {
    public static var databaseTableName: String { "policy" }
}

extension AliasRecord: FetchableRecord, PersistableRecord {
    public static var databaseTableName: String { "alias" }
}

extension ProvisionedConcurrencyRecord: FetchableRecord, PersistableRecord {
    public static var databaseTableName: String { "provisioned" }
}

extension EventInvokeConfigRecord: FetchableRecord, PersistableRecord {
    public static var databaseTableName: String { "eventInvokeConfig" }
}

/// The `version` row: the number is an integer so versions sort numerically.
struct VersionRow: Codable, FetchableRecord, PersistableRecord {
    static var databaseTableName: String { "version" }
    var function: String
    var number: Int
    var configuration: FunctionRecord
    var description: String
    var codeSha256: String

    init(_ record: VersionRecord, number: Int) {
        function = record.function
        self.number = number
        configuration = record.configuration
        description = record.description
        codeSha256 = record.codeSha256
    }

    var record: VersionRecord {
        VersionRecord(function: function, version: String(number), configuration: configuration,
                      description: description)
    }
}
