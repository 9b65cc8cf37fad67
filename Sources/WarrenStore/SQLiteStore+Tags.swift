import GRDB

extension SQLiteStore {
    public func tags(of function: String) async throws -> [String: String] {
        try await pool.read { db in
            _ = try self.requireFunction(db, function)
            return try Self.tags(db, function)
        }
    }

    public func tagFunction(_ function: String, tags: [String: String]) async throws {
        try await pool.write { db in
            _ = try self.requireFunction(db, function)
            try Self.setTags(db, function, tags)
        }
    }

    public func untagFunction(_ function: String, keys: [String]) async throws {
        try await pool.write { db in
            _ = try self.requireFunction(db, function)
            for key in keys {
                try db.execute(sql: "DELETE FROM tag WHERE function = ? AND key = ?", arguments: [function, key])
            }
        }
    }

    static func tags(_ db: Database, _ function: String) throws -> [String: String] {
        let rows = try Row.fetchAll(db, sql: "SELECT key, value FROM tag WHERE function = ?", arguments: [function])
        return Dictionary(rows.map { ($0["key"], $0["value"]) }, uniquingKeysWith: { $1 })
    }

    /// Adds or replaces `tags`, within the quota counted over old and new together.
    static func setTags(_ db: Database, _ function: String, _ tags: [String: String]) throws {
        guard !tags.isEmpty else { return }
        let kept = try Self.tags(db, function).keys.filter { tags[$0] == nil }.count
        guard kept + tags.count <= maxTags else {
            throw StoreError(.invalid, "Number of tags exceeds resource tag limit (\(maxTags)).")
        }
        for (key, value) in tags {
            try db.execute(
                sql: """
                    INSERT INTO tag (function, key, value) VALUES (?, ?, ?)
                    ON CONFLICT (function, key) DO UPDATE SET value = excluded.value
                    """,
                arguments: [function, key, value])
        }
    }
}
