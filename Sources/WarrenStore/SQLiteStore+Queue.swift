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

    /// Due events one claim looks at, at most: a backlog of one function beyond it (every one
    /// passed over) holds up the others' events until it shrinks.
    static let claimScan = 4096

    public func claimDue(now: Date, limit: Int, lease: Duration, perFunction: Int,
                         running: [String: Int]) async throws -> [QueuedEvent] {
        let nowSeconds = now.timeIntervalSince1970
        let leaseUntil = nowSeconds + Double(lease.components.seconds)
            + Double(lease.components.attoseconds) / 1e18
        guard limit > 0 else { return [] }
        return try await pool.write { db in
            // Lapsed in-flight claims count as due: their claimer died, and
            // at-least-once means someone must run them again. Scanned in
            // pages of keys (no payloads), oldest first, so the events passed
            // over cost little and no statement is open while rows change; at
            // most the oldest `Self.claimScan` due events are looked at.
            var claimed: [QueuedEvent] = []
            var counts = running
            var caps: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT function, reserved FROM concurrency") {
                caps[row["function"]] = max(1, min(perFunction, row["reserved"] as Int))
            }
            var after: (at: Double, id: Int64)?
            var scanned = 0
            scan: while claimed.count < limit, scanned < Self.claimScan {
                let page = try Row.fetchAll(db, sql: """
                    SELECT id, function, nextAttemptAt FROM queuedEvent
                    WHERE ((state = ? AND nextAttemptAt <= ?) OR (state = ? AND leaseUntil <= ?))
                      AND (? OR nextAttemptAt > ? OR (nextAttemptAt = ? AND id > ?))
                    ORDER BY nextAttemptAt, id LIMIT 256
                    """, arguments: [QueuedEvent.State.queued.rawValue, nowSeconds,
                                     QueuedEvent.State.inFlight.rawValue, nowSeconds, after == nil,
                                     after?.at ?? 0, after?.at ?? 0, after?.id ?? 0])
                guard let last = page.last else { break }
                after = (last["nextAttemptAt"], last["id"])
                scanned += page.count
                for key in page {
                    let function: String = key["function"]
                    guard counts[function, default: 0] < caps[function] ?? perFunction else { continue }
                    counts[function, default: 0] += 1
                    let id: Int64 = key["id"]
                    guard let row = try Row.fetchOne(db, sql: "SELECT * FROM queuedEvent WHERE id = ?",
                                                     arguments: [id]) else { continue }
                    var event = try Self.event(from: row)
                    event.state = .inFlight
                    event.attempts += 1
                    event.leaseUntil = Date(timeIntervalSince1970: leaseUntil)
                    try db.execute(sql: "UPDATE queuedEvent SET state = ?, attempts = ?, leaseUntil = ? WHERE id = ?",
                                   arguments: [event.state.rawValue, event.attempts, leaseUntil, event.id])
                    claimed.append(event)
                    if claimed.count == limit { break scan }
                }
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

    @discardableResult
    public func wakeThrottled(now: Date) async throws -> Int {
        try await pool.write { db in
            try db.execute(sql: """
                UPDATE queuedEvent SET nextAttemptAt = ? WHERE state = ? AND throttles > 0 AND nextAttemptAt > ?
                """, arguments: [now.timeIntervalSince1970, QueuedEvent.State.queued.rawValue,
                                 now.timeIntervalSince1970])
            return db.changesCount
        }
    }

    /// How long a given-up event is remembered (for the failed-events gauge), without its payload.
    static let failedRetention: TimeInterval = 86_400

    public func fail(_ id: Int64) async throws {
        try await pool.write { db in
            // Lambda keeps nothing of an event it gave up on: the payload goes now, the row (a
            // hundred bytes) after a day, so a function that keeps failing cannot fill the disk.
            // (`nextAttemptAt` holds when it was given up.)
            let now = Date().timeIntervalSince1970
            try db.execute(sql: """
                UPDATE queuedEvent SET state = ?, leaseUntil = NULL, payload = ?, nextAttemptAt = ? WHERE id = ?
                """, arguments: [QueuedEvent.State.failed.rawValue, Data(), now, id])
            try Self.requireChanged(db, id)
            try db.execute(sql: "DELETE FROM queuedEvent WHERE state = ? AND nextAttemptAt < ?",
                           arguments: [QueuedEvent.State.failed.rawValue, now - Self.failedRetention])
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
