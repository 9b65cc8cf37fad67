import Foundation
import GRDB

/// The single-host ``StateStore``: SQLite in WAL mode at `<stateDir>/warren.db`,
/// code under `<stateDir>/code/`.
///
/// WAL lets invocations read while a deploy writes; GRDB's pool serialises
/// writers, so every method is one transaction.
public final class SQLiteStore: StateStore {
    /// The state directory.
    public let directory: URL
    /// Code artifacts referenced by `codeSha256`.
    public let code: CodeStore
    /// Prefix of function ARNs in messages: `arn:aws:lambda:REGION:ACCOUNT:function:`.
    public let arnPrefix: String
    let pool: DatabasePool

    /// Opens (creating if needed) the store in `directory`, migrates the
    /// schema, then removes code no record refers to (left by a crash
    /// between writing code and committing the row that names it).
    /// - Parameters:
    ///   - directory: The state directory; created if missing.
    ///   - region: Region for ARNs in error messages.
    ///   - account: Account id for ARNs in error messages.
    /// - Throws: GRDB's `DatabaseError` if the database cannot be opened or migrated.
    public init(directory: URL, region: String = "us-east-1", account: String = "000000000000") throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.directory = directory
        arnPrefix = "arn:aws:lambda:\(region):\(account):function:"
        code = try CodeStore(directory: directory.appendingPathComponent("code"))
        var config = Configuration()
        config.foreignKeysEnabled = true
        // A writer waits for another (another process, or a checkpoint)
        // instead of failing at once with SQLITE_BUSY.
        config.busyMode = .timeout(10)
        pool = try DatabasePool(path: directory.appendingPathComponent("warren.db").path, configuration: config)
        try Schema.migrator.migrate(pool)
        try collectGarbage()
    }

    /// Closes the database; later calls throw.
    /// - Throws: If a statement is still running.
    public func close() throws {
        try pool.close()
    }

    /// Removes staging leftovers and code directories no function or version names.
    /// - Returns: The digests removed.
    @discardableResult
    public func collectGarbage() throws -> [String] {
        let referenced = try pool.read { db in
            let functions = try String.fetchAll(db, sql: "SELECT codeSha256 FROM function")
            let versions = try String.fetchAll(db, sql: "SELECT codeSha256 FROM version")
            return Set(functions + versions)
        }
        return try code.removeAll(except: referenced)
    }

    /// Names of the migrations applied, for diagnostics and tests.
    public func appliedMigrations() throws -> [String] {
        try pool.read { db in try Array(Schema.migrator.appliedIdentifiers(db)).sorted() }
    }

    /// The user tables, for diagnostics and tests.
    func tableNames() throws -> [String] {
        try pool.read { db in
            try String.fetchAll(db, sql: """
                SELECT name FROM sqlite_master WHERE type = 'table'
                AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'grdb_%' ORDER BY name
                """)
        }
    }

    func arn(_ name: String, _ qualifier: String? = nil) -> String {
        arnPrefix + name + (qualifier.map { ":\($0)" } ?? "")
    }

    /// The number a version qualifier names, as Lambda writes it: `1`, never `01` or `+1`. A
    /// qualifier in another form names no version (a lookup by string, as Lambda's, finds none).
    static func versionNumber(_ qualifier: String) -> Int? {
        guard let number = Int(qualifier), number >= 1, String(number) == qualifier else { return nil }
        return number
    }

    /// Fetches `$LATEST` or throws Lambda's not-found error.
    func requireFunction(_ db: Database, _ name: String) throws -> FunctionRecord {
        guard let function = try FunctionRecord.fetchOne(db, key: name) else {
            throw StoreError(.notFound, "Function not found: \(arn(name))")
        }
        return function
    }

    /// Refuses a record naming code that was never stored: the code must be
    /// durable before the row, or a crash would leave a function without code.
    func requireCode(_ sha256: String) throws {
        guard code.contains(sha256) else {
            throw StoreError(.invalid, "Code \(sha256) has not been uploaded.")
        }
    }
}
