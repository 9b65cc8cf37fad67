import Foundation
import GRDB

extension SQLiteStore {
    public func enqueue(requestId: String, function: String, qualifier: String, payload: [UInt8],
                        at now: Date) async throws -> QueuedEvent {
        try await pool.write { db in
            _ = try self.requireFunction(db, function)
            try db.execute(sql: """
                INSERT INTO queuedEvent (requestId, function, qualifier, payload, attempts, enqueuedAt,
                                         nextAttemptAt, state)
                VALUES (?, ?, ?, ?, 0, ?, ?, ?)
                """, arguments: [requestId, function, qualifier, Data(payload), now.timeIntervalSince1970,
                                 now.timeIntervalSince1970, QueuedEvent.State.queued.rawValue])
            return QueuedEvent(id: db.lastInsertedRowID, requestId: requestId, function: function,
                               qualifier: qualifier, payload: payload, attempts: 0, enqueuedAt: now,
                               nextAttemptAt: now, state: .queued, leaseUntil: nil)
        }
    }

    public func claimDue(now: Date, limit: Int, lease: Duration) async throws -> [QueuedEvent] {
        let nowSeconds = now.timeIntervalSince1970
        let leaseUntil = nowSeconds + Double(lease.components.seconds)
            + Double(lease.components.attoseconds) / 1e18
        return try await pool.write { db in
            // Lapsed in-flight claims count as due: their claimer died, and
            // at-least-once means someone must run them again.
            let rows = try Row.fetchAll(db, sql: """
                SELECT * FROM queuedEvent
                WHERE (state = ? AND nextAttemptAt <= ?) OR (state = ? AND leaseUntil <= ?)
                ORDER BY nextAttemptAt, id LIMIT ?
                """, arguments: [QueuedEvent.State.queued.rawValue, nowSeconds,
                                 QueuedEvent.State.inFlight.rawValue, nowSeconds, max(0, limit)])
            var claimed: [QueuedEvent] = []
            for row in rows {
                var event = try Self.event(from: row)
                event.state = .inFlight
                event.attempts += 1
                event.leaseUntil = Date(timeIntervalSince1970: leaseUntil)
                try db.execute(sql: "UPDATE queuedEvent SET state = ?, attempts = ?, leaseUntil = ? WHERE id = ?",
                               arguments: [event.state.rawValue, event.attempts, leaseUntil, event.id])
                claimed.append(event)
            }
            return claimed
        }
    }

    @discardableResult
    public func releaseClaims(now: Date) async throws -> Int {
        try await pool.write { db in
            try db.execute(sql: "UPDATE queuedEvent SET state = ?, nextAttemptAt = ?, leaseUntil = NULL WHERE state = ?",
                           arguments: [QueuedEvent.State.queued.rawValue, now.timeIntervalSince1970,
                                       QueuedEvent.State.inFlight.rawValue])
            return db.changesCount
        }
    }

    public func complete(_ id: Int64) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM queuedEvent WHERE id = ?", arguments: [id])
            try Self.requireChanged(db, id)
        }
    }

    public func retry(_ id: Int64, nextAttemptAt: Date, throttled: Bool) async throws {
        try await pool.write { db in
            try db.execute(sql: """
                UPDATE queuedEvent SET state = ?, nextAttemptAt = ?, leaseUntil = NULL, throttles = throttles + ?
                WHERE id = ?
                """, arguments: [QueuedEvent.State.queued.rawValue, nextAttemptAt.timeIntervalSince1970,
                                 throttled ? 1 : 0, id])
            try Self.requireChanged(db, id)
        }
    }

    public func fail(_ id: Int64) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE queuedEvent SET state = ?, leaseUntil = NULL WHERE id = ?",
                           arguments: [QueuedEvent.State.failed.rawValue, id])
            try Self.requireChanged(db, id)
        }
    }

    public func queueStats() async throws -> QueueStats {
        try await pool.read { db in
            let row = try Row.fetchOne(db, sql: """
                SELECT SUM(state != ?) AS pending, SUM(state = ?) AS failed,
                       MIN(CASE WHEN state != ? THEN enqueuedAt END) AS oldest
                FROM queuedEvent
                """, arguments: StatementArguments(Array(repeating: QueuedEvent.State.failed.rawValue, count: 3)))
            let oldest: Double? = row?["oldest"]
            return QueueStats(pending: row?["pending"] ?? 0, failed: row?["failed"] ?? 0,
                              oldestEnqueuedAt: oldest.map(Date.init(timeIntervalSince1970:)))
        }
    }

    /// One queued event by id, for inspection.
    public func queuedEvent(_ id: Int64) async throws -> QueuedEvent? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM queuedEvent WHERE id = ?", arguments: [id]).map(Self.event)
        }
    }

    /// A finished or lost event (deleted with its function, completed twice
    /// after a lease lapsed) is reported, so the caller can log it.
    private static func requireChanged(_ db: Database, _ id: Int64) throws {
        if db.changesCount == 0 { throw StoreError(.notFound, "Queued event \(id) not found.") }
    }

    private static func event(from row: Row) throws -> QueuedEvent {
        let stateText: String = row["state"]
        guard let state = QueuedEvent.State(rawValue: stateText) else {
            throw StoreError(.invalid, "Queued event has unknown state \(stateText).")
        }
        let payload: Data = row["payload"]
        let lease: Double? = row["leaseUntil"]
        return QueuedEvent(id: row["id"], requestId: row["requestId"], function: row["function"],
                           qualifier: row["qualifier"], payload: [UInt8](payload), attempts: row["attempts"],
                           enqueuedAt: Date(timeIntervalSince1970: row["enqueuedAt"]),
                           nextAttemptAt: Date(timeIntervalSince1970: row["nextAttemptAt"]),
                           state: state, leaseUntil: lease.map(Date.init(timeIntervalSince1970:)),
                           throttles: row["throttles"])
    }
}
