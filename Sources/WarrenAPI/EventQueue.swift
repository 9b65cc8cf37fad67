import Foundation
import Synchronization
import WarrenStore
import WarrenSupervisor

/// Runs Lambda `Event` invocations from the durable queue of a ``StateStore``.
///
/// ```
///  Invoke (Event) ── enqueue ──▶ store ── claimDue ──▶ loop ──▶ one task per event (≤ concurrency,
///                                                                   ≤ perFunction of one function)
///        │                          ▲                                  │
///        └── wake() ──▶ loop        └──── complete / retry / fail ◀────┘
/// ```
///
/// Per event it follows Lambda's rules: the request id stays the same on
/// every attempt; a function error is retried `MaximumRetryAttempts` times
/// (default 2) after ``Timing/retryDelays``; a throttle or platform error is
/// retried with exponential back-off without using up attempts; an event older
/// than `MaximumEventAgeInSeconds` (default 21600) is given up. A given-up
/// event goes to its `OnFailure` Lambda destination as Lambda's invocation
/// record, or is dropped with a log line; either way it is kept as `failed`, without its
/// payload, for a day (the failed-events gauge).
///
/// Delivery is at-least-once: an event claimed by a process that stops or
/// dies stays leased and is claimed again once its lease lapses.
public final class EventQueue: Sendable {
    /// Runs one attempt of an event: `requestId` is the event's, on every attempt.
    public typealias Invoke = @Sendable (
        _ function: String, _ qualifier: String, _ payload: [UInt8], _ requestId: String
    ) async throws -> InvokeResult
    /// The `EventInvokeConfig` set on exactly this function and qualifier, if any.
    public typealias ConfigLookup = @Sendable (_ function: String, _ qualifier: String) async -> EventInvokeConfigRecord?

    /// Delays and periods; Lambda's values by default, shorter in tests.
    public struct Timing: Sendable {
        /// Wait before the 1st, 2nd … retry after a function error (Lambda: about 1 and 2 minutes).
        public var retryDelays: [Duration] = [.seconds(60), .seconds(120)]
        /// First wait after a throttle or platform error; it doubles per throttle.
        public var throttleBackoff: Duration = .seconds(1)
        /// Longest wait after a throttle or platform error.
        public var maxThrottleBackoff: Duration = .seconds(300)
        /// How often the store is asked for due events when nothing wakes the loop
        /// (events of other processes, leases that lapsed).
        public var pollInterval: Duration = .milliseconds(200)
        /// How long a claim holds; must exceed the longest function timeout.
        public var lease: Duration = .seconds(960)

        public init() {}
    }

    let store: any StateStore
    let invoke: Invoke
    let eventInvokeConfig: ConfigLookup
    let log: @Sendable (String) -> Void
    let concurrency: Int
    /// Events of one function run at once, at most: a function with a backlog of slow events
    /// leaves the other slots to the others' events.
    let perFunction: Int
    let timing: Timing
    /// `arn:aws:lambda:REGION:ACCOUNT:function:`, for `functionArn` in destination records.
    let arnPrefix: String
    private let state = Mutex(State())

    private struct State {
        var loop: Task<Void, Never>?
        /// Events claimed and not yet settled by this queue, in all and by function.
        var inFlight = 0
        var running: [String: Int] = [:]
        /// A wake() that found the loop busy; the loop looks again at once.
        var wakePending = false
        var waiter: CheckedContinuation<Void, Never>?
        /// The earliest retry this queue scheduled and has not yet claimed.
        var soonest: Date?
        /// Events may wait on a throttle's back-off (so a freed slot has events to wake).
        var throttledWaiting = false
        /// An invocation ended while events waited on a throttle's back-off: the loop wakes them.
        var slotFreed = false
    }

    /// An invocation ended (a synchronous one, or one of the queue's own), or the concurrency
    /// settings changed, so a slot may be free: events waiting on a throttle's back-off are tried
    /// now, rather than at the end of a back-off that doubled while the slot was busy. A lock and
    /// nothing else when none wait.
    public func slotsMayBeFree() {
        let wakeLoop = state.withLock { state in
            guard state.throttledWaiting, !state.slotFreed else { return false }
            state.slotFreed = true
            return true
        }
        if wakeLoop { wake() }
    }

    /// Notes that an event now waits on a throttle's back-off.
    func noteThrottled() { state.withLock { $0.throttledWaiting = true } }

    /// Whether events may wait on a throttle's back-off; cleared, as the caller wakes them all.
    func takeThrottledWaiting() -> Bool {
        state.withLock { state in
            defer { state.throttledWaiting = false }
            return state.throttledWaiting
        }
    }

    /// Creates a stopped queue; ``start()`` runs it.
    /// - Parameters:
    ///   - store: Where events are queued.
    ///   - invoke: Runs one attempt (the supervisor's synchronous invoke).
    ///   - eventInvokeConfig: Looks up the event's `EventInvokeConfig`.
    ///   - log: Receives one line per dropped event or failed bookkeeping.
    ///   - concurrency: Events run at once, at most.
    ///   - perFunction: Events of one function run at once, at most.
    ///   - timing: Retry delays, back-off, poll interval and lease.
    ///   - region: Region in destination records' ARNs.
    ///   - accountId: Account in destination records' ARNs.
    public init(store: any StateStore, invoke: @escaping Invoke, eventInvokeConfig: @escaping ConfigLookup,
                log: @escaping @Sendable (String) -> Void, concurrency: Int = 128, perFunction: Int = 8,
                timing: Timing = Timing(), region: String = "us-east-1", accountId: String = "000000000000") {
        self.store = store
        self.invoke = invoke
        self.eventInvokeConfig = eventInvokeConfig
        self.log = log
        self.concurrency = max(1, concurrency)
        self.perFunction = max(1, perFunction)
        self.timing = timing
        arnPrefix = "arn:aws:lambda:\(region):\(accountId):function:"
    }

    /// Starts the loop that claims and runs due events; a second call does nothing.
    public func start() {
        state.withLock { state in
            guard state.loop == nil else { return }
            state.loop = Task { await self.run() }
        }
    }

    /// Ends the loop. Events claimed but not yet invoked are handed back at
    /// once; invocations still running are abandoned, so their events stay
    /// leased and are run again (at least once) after the lease lapses.
    /// Returns when no task of this queue touches the store any more.
    public func stop() async {
        let loop = state.withLock { state in
            defer { state.loop = nil }
            return state.loop
        }
        loop?.cancel()
        await loop?.value
    }

    /// Makes the loop look for due events now; call it after an enqueue.
    public func wake() {
        let waiter = state.withLock { state in
            defer { state.waiter = nil }
            if state.waiter == nil { state.wakePending = true }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Depth and age of the queue, for `/metrics`.
    /// - Throws: The store's error.
    public func stats() async throws -> QueueStats {
        try await store.queueStats()
    }

    /// Claims as many due events as there is room for, runs each in its own
    /// task, and sleeps until woken, a scheduled retry is due, or the poll
    /// interval passes.
    private func run() async {
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                if state.withLock({ state in defer { state.slotFreed = false }; return state.slotFreed }) {
                    // Done by the loop, so that no task of this queue writes to the store after stop().
                    await wakeThrottled()
                }
                for event in await claim() {
                    group.addTask {
                        await self.attempt(event)
                        self.settled(event)
                    }
                }
                await sleep(upTo: nextWait())
            }
        }
    }

    private func claim() async -> [QueuedEvent] {
        let now = Date()
        let (room, running) = state.withLock { state in
            if let soonest = state.soonest, soonest <= now { state.soonest = nil }
            return (concurrency - state.inFlight, state.running)
        }
        guard room > 0 else { return [] }
        do {
            let events = try await store.claimDue(now: now, limit: room, lease: timing.lease,
                                                  perFunction: perFunction, running: running)
            state.withLock { state in
                state.inFlight += events.count
                for event in events { state.running[event.function, default: 0] += 1 }
            }
            return events
        } catch is CancellationError {
            return []
        } catch {
            log("warren: event queue: claiming due events failed: \(error)")
            return []
        }
    }

    private func settled(_ event: QueuedEvent) {
        state.withLock { state in
            state.inFlight -= 1
            state.running[event.function, default: 1] -= 1
            if state.running[event.function] == 0 { state.running[event.function] = nil }
        }
        wake()
    }

    /// Remembers a retry this queue scheduled, so the loop wakes for it.
    func scheduled(_ at: Date) {
        state.withLock { state in
            if state.soonest.map({ at < $0 }) ?? true { state.soonest = at }
        }
    }

    private func nextWait() -> Duration {
        let poll = timing.pollInterval
        guard let soonest = state.withLock({ $0.soonest }) else { return poll }
        let left = soonest.timeIntervalSinceNow
        return left <= 0 ? .zero : min(poll, .milliseconds(Int64((left * 1000).rounded(.up))))
    }

    private func sleep(upTo limit: Duration) async {
        guard limit > .zero else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: limit) }
            group.addTask { await self.nextWake() }
            await group.next()
            group.cancelAll()
        }
    }

    /// Returns at the next ``wake()`` (or at once if one came meanwhile), or when cancelled.
    private func nextWake() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state in
                    if state.wakePending {
                        state.wakePending = false
                        return true
                    }
                    // Checked under the lock the cancel handler takes, so a
                    // cancel either sees this waiter or is seen here.
                    if Task.isCancelled { return true }
                    state.waiter = waiter
                    return false
                }
                if now { waiter.resume() }
            }
        } onCancel: {
            state.withLock { state in
                defer { state.waiter = nil }
                return state.waiter
            }?.resume()
        }
    }
}
