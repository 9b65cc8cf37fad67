import Foundation
import Testing

@testable import WarrenStore

@Suite struct QueueTests {
    @Test func enqueueClaimRetryComplete() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        try await deploy(store, "f")
        let t0 = Date(timeIntervalSince1970: 1_700_000_000)
        let first = try await store.enqueue(requestId: "r1", function: "f", qualifier: "$LATEST",
                                            payload: Array("{\"a\":1}".utf8), at: t0)
        let second = try await store.enqueue(requestId: "r2", function: "f", qualifier: "1", payload: [0, 255],
                                             at: t0.addingTimeInterval(1))
        #expect(try await store.claimDue(now: t0, limit: 10).map(\.requestId) == ["r1"])
        // Claimed events are not handed out twice while their lease holds.
        let claimed = try await store.claimDue(now: t0.addingTimeInterval(1), limit: 10, lease: .seconds(60))
        #expect(claimed.map(\.requestId) == ["r2"])
        #expect(claimed[0].payload == [0, 255] && claimed[0].attempts == 1 && claimed[0].state == .inFlight)

        try await store.retry(first.id, nextAttemptAt: t0.addingTimeInterval(30))
        #expect(try await store.claimDue(now: t0.addingTimeInterval(29), limit: 10).isEmpty)
        let again = try await store.claimDue(now: t0.addingTimeInterval(30), limit: 10)
        #expect(again.map(\.id) == [first.id] && again[0].attempts == 2)
        #expect(again[0].payload == Array("{\"a\":1}".utf8))

        try await store.complete(first.id)
        try await store.fail(second.id)
        #expect(try await store.queuedEvent(first.id) == nil)
        #expect(try await store.queuedEvent(second.id)?.state == .failed)
        #expect(try await store.queuedEvent(second.id)?.payload == [], "a given-up event keeps no payload")
        #expect(try await store.claimDue(now: t0.addingTimeInterval(100_000), limit: 10).isEmpty)
        #expect(try await store.queueStats() == QueueStats(pending: 0, failed: 1, oldestEnqueuedAt: nil))
        #expect(await storeError { try await store.complete(first.id) }?.code == .notFound)

        // A day on, the next event given up on takes the older one's row with it.
        try await store.pool.write { db in
            try db.execute(sql: "UPDATE queuedEvent SET nextAttemptAt = nextAttemptAt - 86401 WHERE id = ?",
                           arguments: [second.id])
        }
        let third = try await store.enqueue(requestId: "r3", function: "f", qualifier: "$LATEST", payload: [1],
                                            at: Date())
        try await store.fail(third.id)
        #expect(try await store.queuedEvent(second.id) == nil)
        #expect(try await store.queueStats() == QueueStats(pending: 0, failed: 1, oldestEnqueuedAt: nil))
    }

    @Test func releasedClaimsAreDueAtOnceAndKeepTheirAttempts() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        try await deploy(store, "f")
        let t0 = Date(timeIntervalSince1970: 1_700_000_000)
        let event = try await store.enqueue(requestId: "r1", function: "f", qualifier: "$LATEST", payload: [1], at: t0)
        _ = try await store.enqueue(requestId: "r2", function: "f", qualifier: "$LATEST", payload: [2],
                                    at: t0.addingTimeInterval(3600))
        #expect(try await store.claimDue(now: t0, limit: 10, lease: .seconds(960)).map(\.id) == [event.id])
        // A new process on the same store: the claim is an orphan.
        #expect(try await store.releaseClaims(now: t0.addingTimeInterval(1)) == 1)
        let again = try await store.claimDue(now: t0.addingTimeInterval(1), limit: 10)
        #expect(again.map(\.requestId) == ["r1"] && again[0].attempts == 2)
        #expect(try await store.releaseClaims(now: t0.addingTimeInterval(2)) == 1)
        #expect(try await store.releaseClaims(now: t0.addingTimeInterval(2)) == 0)
    }

    @Test func claimsRespectLimitAndOrder() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        try await deploy(store, "f")
        let t0 = Date(timeIntervalSince1970: 1_700_000_000)
        for index in 0..<5 {
            _ = try await store.enqueue(requestId: "r\(index)", function: "f", qualifier: "$LATEST", payload: [],
                                        at: t0.addingTimeInterval(Double(index)))
        }
        #expect(try await store.queueStats() == QueueStats(pending: 5, failed: 0, oldestEnqueuedAt: t0))
        #expect(try await store.claimDue(now: t0.addingTimeInterval(10), limit: 2).map(\.requestId) == ["r0", "r1"])
        #expect(try await store.claimDue(now: t0.addingTimeInterval(10), limit: 9).map(\.requestId)
            == ["r2", "r3", "r4"])
    }

    @Test func aClaimPassesOverTheEventsOfAFunctionAtItsLimit() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        try await deploy(store, "slow")
        try await deploy(store, "other")
        let t0 = Date(timeIntervalSince1970: 1_700_000_000)
        for index in 0..<4 {
            _ = try await store.enqueue(requestId: "s\(index)", function: "slow", qualifier: "$LATEST", payload: [],
                                        at: t0.addingTimeInterval(Double(index)))
        }
        _ = try await store.enqueue(requestId: "o0", function: "other", qualifier: "$LATEST", payload: [],
                                    at: t0.addingTimeInterval(10))
        let now = t0.addingTimeInterval(20)
        // "slow" already runs one: one more of it, then the older of the rest wait behind "other"'s.
        let claimed = try await store.claimDue(now: now, limit: 3, lease: .seconds(60), perFunction: 2,
                                               running: ["slow": 1])
        #expect(claimed.map(\.requestId) == ["s0", "o0"])
        #expect(try await store.claimDue(now: now, limit: 3, lease: .seconds(60), perFunction: 2,
                                         running: ["slow": 2]).isEmpty)
        #expect(try await store.claimDue(now: now, limit: 1).map(\.requestId) == ["s1"])

        // A reservation below the limit caps the claims too, so none is claimed only to be throttled;
        // a reservation of 0 still lets one through (its events fail at once, as Lambda's do).
        try await store.putFunctionConcurrency("slow", reserved: 0)
        #expect(try await store.claimDue(now: now, limit: 3, lease: .seconds(60), perFunction: 8,
                                         running: [:]).map(\.requestId) == ["s2"])
        try await store.putFunctionConcurrency("slow", reserved: 2)
        #expect(try await store.claimDue(now: now, limit: 3, lease: .seconds(60), perFunction: 8,
                                         running: ["slow": 1]).map(\.requestId) == ["s3"])
    }

    @Test func aThrottledRetryIsCountedApart() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        try await deploy(store, "f")
        let t0 = Date(timeIntervalSince1970: 1_700_000_000)
        let event = try await store.enqueue(requestId: "r1", function: "f", qualifier: "$LATEST", payload: [],
                                            at: t0)
        _ = try await store.claimDue(now: t0, limit: 1)
        try await store.retry(event.id, nextAttemptAt: t0.addingTimeInterval(1), throttled: true)
        _ = try await store.claimDue(now: t0.addingTimeInterval(1), limit: 1)
        try await store.retry(event.id, nextAttemptAt: t0.addingTimeInterval(2))
        let third = try await store.claimDue(now: t0.addingTimeInterval(2), limit: 1)
        #expect(third.first?.attempts == 3 && third.first?.throttles == 1)
        #expect(try await store.queuedEvent(event.id)?.throttles == 1)
    }

    @Test func aCrashedClaimerLosesItsEventsAfterTheLease() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        var store = try openStore(dir)
        try await deploy(store, "f")
        let t0 = Date(timeIntervalSince1970: 1_700_000_000)
        let event = try await store.enqueue(requestId: "r1", function: "f", qualifier: "$LATEST", payload: [7],
                                            at: t0)
        #expect(try await store.claimDue(now: t0, limit: 1, lease: .seconds(60)).map(\.id) == [event.id])
        // The supervisor dies holding the claim; a new one opens the store.
        try store.close()
        store = try openStore(dir)
        #expect(try await store.claimDue(now: t0.addingTimeInterval(59), limit: 1, lease: .seconds(60)).isEmpty)
        let back = try await store.claimDue(now: t0.addingTimeInterval(60), limit: 1, lease: .seconds(60))
        #expect(back.map(\.id) == [event.id])
        #expect(back.first?.attempts == 2 && back.first?.payload == [7])
    }
}
