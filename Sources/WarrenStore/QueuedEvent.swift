import Foundation

/// An accepted `Event` invocation waiting in the durable queue.
///
/// Delivery is at-least-once: a claimed event carries a lease; if the
/// claimer dies before `complete`, `retry` or `fail`, the lease runs out and
/// the event is claimed again.
public struct QueuedEvent: Sendable, Equatable {
    /// Where an event is in its life.
    public enum State: String, Sendable, Codable {
        /// Waiting for `nextAttemptAt`.
        case queued
        /// Claimed; owned by a claimer until `leaseUntil`.
        case inFlight = "in_flight"
        /// Out of attempts or age; kept for inspection, never claimed again.
        case failed
    }

    /// Monotonic row id; also the queue order for equal due times.
    public var id: Int64
    /// The request id the 202 answer carried; the invocation reuses it.
    public var requestId: String
    public var function: String
    public var qualifier: String
    public var payload: [UInt8]
    /// Claims so far, counting the current one.
    public var attempts: Int
    /// Claims that ended throttled (``StateStore/retry(_:nextAttemptAt:throttled:)``):
    /// `attempts - throttles` is how often the function was invoked.
    public var throttles: Int
    public var enqueuedAt: Date
    public var nextAttemptAt: Date
    public var state: State
    /// While `inFlight`: when the claim lapses.
    public var leaseUntil: Date?

    public init(id: Int64, requestId: String, function: String, qualifier: String, payload: [UInt8],
                attempts: Int, enqueuedAt: Date, nextAttemptAt: Date, state: State, leaseUntil: Date?,
                throttles: Int = 0) {
        self.id = id
        self.requestId = requestId
        self.function = function
        self.qualifier = qualifier
        self.payload = payload
        self.attempts = attempts
        self.throttles = throttles
        self.enqueuedAt = enqueuedAt
        self.nextAttemptAt = nextAttemptAt
        self.state = state
        self.leaseUntil = leaseUntil
    }
}

/// Depth and age of the queue, for `/metrics`.
public struct QueueStats: Sendable, Equatable {
    /// Events queued or in flight.
    public var pending: Int
    public var failed: Int
    /// `enqueuedAt` of the oldest pending event.
    public var oldestEnqueuedAt: Date?

    public init(pending: Int, failed: Int, oldestEnqueuedAt: Date?) {
        self.pending = pending
        self.failed = failed
        self.oldestEnqueuedAt = oldestEnqueuedAt
    }
}
