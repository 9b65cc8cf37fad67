import NIOCore
import Synchronization

/// The Runtime API state machine behind ``RuntimeSession``, guarded by one `Mutex`.
///
/// The HTTP handler calls it synchronously from the event loop, so a warm invoke costs no `Task`
/// and no actor hop on the runtime side. Waiters (continuations, promises) are always completed
/// after the lock is released, because completing them can run arbitrary code.
///
/// ```
///  Started --/next--> Ready(idle) --invoke--> Ready(busy, pending) --/next--> Ready(busy, delivered)
///     |                  ^                                                          |
///     |                  +------------- /response or /error (ResponseSent) ---------+
///     +--/init/error--> InitFailed            any state --close()--> Closed
/// ```
///
/// Deadlines cost nothing per invocation in the steady state: one timer per session is armed at the
/// earliest deadline it must check, and when it fires it re-arms itself for the outstanding
/// invocation's deadline. Invocations of one function share a timeout, so a new invocation's
/// deadline is later than the armed one and no timer is scheduled or cancelled on the hot path.
final class RuntimeSessionCore: Sendable {
    /// The outstanding invocation and the supervisor task awaiting its outcome.
    struct Current {
        var invocation: Invocation
        /// Whether a `/next` has carried it to the runtime (only then may a `/response` complete it).
        var delivered: Bool
        var continuation: CheckedContinuation<InvocationOutcome, any Error>
        /// When the invocation times out (the session then closes); nil: never.
        var deadline: NIODeadline?
        /// Before it is delivered: the deadline of the invocation answered last, by which the
        /// runtime must ask for its next event (that invocation's timeout runs until it does).
        /// Passed undelivered, the session closes and this one fails as not delivered, to be run
        /// elsewhere; before, it waited on the runtime and timed out without having run.
        var deliverBy: NIODeadline?

        /// What the session's timer checks now.
        var due: NIODeadline? {
            guard !delivered, let deliverBy else { return deadline }
            return deadline.map { min($0, deliverBy) } ?? deliverBy
        }
    }

    enum Phase {
        case started, ready, initFailed
        case closed(String)
    }

    struct State {
        var phase: Phase = .started
        var current: Current?
        /// The last completed request id: a repeat post for it is a state error (403), not an unknown id (400).
        var lastCompletedId: String?
        /// The deadline of the last completed invocation: see ``Current/deliverBy``.
        var lastDeadline: NIODeadline?
        var parked: [(id: UInt64, promise: EventLoopPromise<Invocation>)] = []
        var nextParkedId: UInt64 = 0
        var initWaiters: [CheckedContinuation<InitOutcome, any Error>] = []
        var initOutcome: InitOutcome?
        /// The deadline the pending timer checks at, if one is pending.
        var timerDeadline: NIODeadline?
        /// The request id whose truncation timer is armed (``truncated(requestId:what:streamed:on:)``).
        var truncationArmed: String?
        /// The request id whose streamed answer was cut after bytes reached its caller: no later
        /// post completes it (the caller would get those bytes and then a whole other answer).
        var streamCut: String?

        /// Closes the state for `reason` (keeping what a later post or waiter is answered from) and
        /// returns it as it was, for its waiters to be failed.
        mutating func close(_ reason: String) -> State {
            let old = self
            self = State(phase: .closed(reason), lastCompletedId: lastCompletedId, lastDeadline: lastDeadline,
                         initOutcome: initOutcome)
            return old
        }
    }

    /// What a `GET /next` gets right now.
    enum NextResult {
        case deliver(Invocation)
        case parked(id: UInt64, promise: EventLoopPromise<Invocation>)
        case closed(String)
        case invalidTransition(from: String)
    }

    /// The answer to a `/response`, `/error` or `/init/error` post.
    enum Verdict: Equatable {
        case accepted
        case invalidRequestId
        case invalidTransition(from: String, to: String)
        case closed(String)
    }

    private let state = Mutex(State())

    // MARK: Runtime side (event loop)

    /// Delivers the pending invocation, or parks a promise made by `makePromise`.
    func next(makePromise: () -> EventLoopPromise<Invocation>) -> NextResult {
        let (result, ready) = state.withLock { s -> (NextResult, [CheckedContinuation<InitOutcome, any Error>]) in
            var ready: [CheckedContinuation<InitOutcome, any Error>] = []
            switch s.phase {
            case .closed(let reason): return (.closed(reason), [])
            case .initFailed: return (.invalidTransition(from: "InitErrorResponseSent"), [])
            case .started:
                s.phase = .ready
                s.initOutcome = .ready
                swap(&ready, &s.initWaiters)
            case .ready: break
            }
            if var current = s.current, !current.delivered {
                current.delivered = true
                s.current = current
                // A timer armed for `deliverBy` re-arms itself for the deadline when it fires.
                return (.deliver(current.invocation), ready)
            }
            let promise = makePromise()
            let id = s.nextParkedId
            s.nextParkedId &+= 1
            s.parked.append((id, promise))
            return (.parked(id: id, promise: promise), ready)
        }
        for waiter in ready { waiter.resume(returning: .ready) }
        return result
    }

    /// Removes a parked `/next` whose connection went away; returns its promise for the caller to fail.
    func cancelNext(id: UInt64) -> EventLoopPromise<Invocation>? {
        state.withLock { s in
            guard let index = s.parked.firstIndex(where: { $0.id == id }) else { return nil }
            return s.parked.remove(at: index).promise
        }
    }

    /// Puts back an invocation whose `/next` answer could not be written (the connection died).
    func undeliver(requestId: String) {
        let handOff = state.withLock { s -> (EventLoopPromise<Invocation>, Invocation)? in
            guard var current = s.current, current.delivered, current.invocation.requestId == requestId else {
                return nil
            }
            if !s.parked.isEmpty { return (s.parked.removeFirst().promise, current.invocation) }
            current.delivered = false
            s.current = current
            return nil
        }
        if let (promise, invocation) = handOff { promise.succeed(invocation) }
    }

    /// The stream of the delivered invocation `requestId`, if its caller takes a streamed response
    /// as it comes.
    func stream(for requestId: Substring) -> ResponseStream? {
        state.withLock { s in
            guard let current = s.current, current.delivered, current.invocation.requestId == requestId,
                s.streamCut.map({ $0 != requestId }) ?? true
            else { return nil }
            return current.invocation.stream
        }
    }

    /// Completes the delivered invocation `requestId` with `outcome`, after the RIE checks.
    func complete(requestId: Substring, to target: String, outcome: InvocationOutcome) -> Verdict {
        let (verdict, waiter) = state.withLock { s -> (Verdict, CheckedContinuation<InvocationOutcome, any Error>?) in
            if case .closed(let reason) = s.phase { return (.closed(reason), nil) }
            if let cut = s.streamCut, cut == requestId {
                return (.invalidTransition(from: "ResponseTruncated", to: target), nil)
            }
            if let current = s.current, current.delivered, current.invocation.requestId == requestId {
                s.current = nil
                s.lastCompletedId = current.invocation.requestId
                s.lastDeadline = current.deadline
                return (.accepted, current.continuation)
            }
            let running = s.current?.delivered ?? false
            if !running, let last = s.lastCompletedId, last == requestId {
                return (.invalidTransition(from: "ResponseSent", to: target), nil)
            }
            return (.invalidRequestId, nil)
        }
        waiter?.resume(returning: outcome)
        return verdict
    }

    /// Records `/runtime/init/error`; valid only before the first `/next`.
    func initError(errorType: String?, body: [UInt8]) -> Verdict {
        let (verdict, waiters) = state.withLock { s -> (Verdict, [CheckedContinuation<InitOutcome, any Error>]) in
            switch s.phase {
            case .closed(let reason): return (.closed(reason), [])
            case .initFailed: return (.invalidTransition(from: "InitErrorResponseSent", to: "InitErrorResponseSent"), [])
            case .ready:
                let from = s.current?.delivered == true ? "Running" : (s.lastCompletedId == nil ? "Ready" : "ResponseSent")
                return (.invalidTransition(from: from, to: "InitErrorResponseSent"), [])
            case .started:
                s.phase = .initFailed
                s.initOutcome = .initError(errorType: errorType, body: body)
                var waiters: [CheckedContinuation<InitOutcome, any Error>] = []
                swap(&waiters, &s.initWaiters)
                return (.accepted, waiters)
            }
        }
        for waiter in waiters { waiter.resume(returning: .initError(errorType: errorType, body: body)) }
        return verdict
    }

    // MARK: Supervisor side

    func waitForInit() async throws -> InitOutcome {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<InitOutcome, any Error>) in
                let result = state.withLock { s -> Result<InitOutcome, RuntimeSessionError>? in
                    // An init error outlives close(): the supervisor closes a dead instance, then asks why.
                    if case .initError = s.initOutcome, let outcome = s.initOutcome { return .success(outcome) }
                    if case .closed(let reason) = s.phase { return .failure(.closed(reason)) }
                    if let outcome = s.initOutcome { return .success(outcome) }
                    s.initWaiters.append(continuation)
                    return nil
                }
                if let result { continuation.resume(with: result) }
            }
        } onCancel: {
            close(reason: "waitForInit cancelled")
        }
    }

    /// Hands `invocation` to the runtime and awaits its outcome.
    ///
    /// With a `deadline`, `loop` keeps it: when it passes before the outcome, the session closes with
    /// the reason ``timeoutReason`` and this throws ``RuntimeSessionError/timedOut``.
    nonisolated(nonsending) func invoke(
        _ invocation: Invocation, deadline: NIODeadline? = nil, loop: (any EventLoop)? = nil
    ) async throws -> InvocationOutcome {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<InvocationOutcome, any Error>) in
                typealias Action = Result<(EventLoopPromise<Invocation>?, arm: NIODeadline?), RuntimeSessionError>
                let action = state.withLock { s -> Action in
                    switch s.phase {
                    // Closed already (its runtime exited while the instance looked idle): no runtime
                    // can take this one.
                    case .closed(let reason): return .failure(.notDelivered(reason))
                    case .initFailed: return .failure(.closed("the runtime reported an init error"))
                    case .started, .ready: break
                    }
                    if let busy = s.current { return .failure(.busy(busy.invocation.requestId)) }
                    let parked = s.parked.isEmpty ? nil : s.parked.removeFirst().promise
                    s.current = Current(
                        invocation: invocation, delivered: parked != nil, continuation: continuation,
                        deadline: loop == nil ? nil : deadline, deliverBy: loop == nil ? nil : s.lastDeadline)
                    // A pending timer at or before this deadline re-arms itself for it when it fires.
                    var arm: NIODeadline?
                    if let due = s.current?.due, s.timerDeadline.map({ $0 > due }) ?? true {
                        s.timerDeadline = due
                        arm = due
                    }
                    return .success((parked, arm))
                }
                switch action {
                case .failure(let error): continuation.resume(throwing: error)
                case .success(let (parked, arm)):
                    if let arm, let loop { armTimer(arm, on: loop) }
                    parked?.succeed(invocation)
                }
            }
        } onCancel: {
            // The runtime may still be running the event; the instance can't be reused.
            close(reason: "invocation cancelled")
        }
    }

    /// How long a runtime whose connection closed part way through its answer has to exit before
    /// the invocation fails as truncated: a runtime that crashes or is killed mid-post closes its
    /// socket as it dies, and its exit (`Runtime.ExitError`, `Runtime.OutOfMemory`) says more.
    static let truncationGrace = TimeAmount.seconds(1)

    /// Why a session whose runtime cut its answer short was closed.
    static let truncatedReason = "runtime response truncated"

    /// The runtime's connection closed part way through its post for `requestId`: unless the
    /// session closes first (the runtime exits), after ``truncationGrace`` the invocation fails
    /// with ``RuntimeSessionError/truncated(_:)`` and the session closes. A post again within the
    /// grace completes it instead, unless `streamed` (bytes of a streamed answer reached the caller).
    func truncated(requestId: Substring, what: String, streamed: Bool, on loop: any EventLoop) {
        let id = String(requestId)
        // Only the invocation the runtime holds, and once: a post for any other id, or a runtime
        // cutting posts short again and again, arms nothing more.
        let arm = state.withLock { s -> Bool in
            guard let current = s.current, current.delivered, current.invocation.requestId == id,
                s.truncationArmed != id
            else { return false }
            s.truncationArmed = id
            if streamed { s.streamCut = id }
            return true
        }
        guard arm else { return }
        loop.scheduleTask(in: Self.truncationGrace) { [self] in
            let taken = state.withLock { s -> State? in
                if case .closed = s.phase { return nil }
                guard let current = s.current, current.delivered, current.invocation.requestId == id else { return nil }
                return s.close(Self.truncatedReason)
            }
            if let taken { fail(taken, reason: Self.truncatedReason, current: .truncated(what)) }
        }
    }

    /// Why a session whose invocation outlived its deadline was closed.
    static let timeoutReason = "invocation timed out"

    static let overstayReason = RuntimeSession.overstayReason

    private func armTimer(_ deadline: NIODeadline, on loop: any EventLoop) {
        loop.scheduleTask(deadline: deadline) { [self] in deadlinePassed(deadline, loop: loop) }
    }

    /// The timer armed for `armed` fired (on `loop`): time out the outstanding invocation if its
    /// deadline has passed, or re-arm for it.
    private func deadlinePassed(_ armed: NIODeadline, loop: any EventLoop) {
        let now = NIODeadline.now()
        enum Action { case none, expire(State), arm(NIODeadline) }
        let action = state.withLock { s -> Action in
            if s.timerDeadline == armed { s.timerDeadline = nil }
            if case .closed = s.phase { return .none }
            guard let current = s.current, let deadline = current.due else { return .none }
            if deadline <= now {
                return .expire(s.close(current.delivered ? Self.timeoutReason : Self.overstayReason))
            }
            guard s.timerDeadline.map({ $0 > deadline }) ?? true else { return .none }
            s.timerDeadline = deadline
            return .arm(deadline)
        }
        switch action {
        case .none: break
        case .arm(let deadline): armTimer(deadline, on: loop)
        case .expire(let old):
            if let current = old.current, !current.delivered {
                fail(old, reason: Self.overstayReason, current: RuntimeSessionError.notDelivered(Self.overstayReason))
            } else {
                fail(old, reason: Self.timeoutReason, current: RuntimeSessionError.timedOut)
            }
        }
    }

    func close(reason: String) {
        let taken = state.withLock { s -> (State)? in
            if case .closed = s.phase { return nil }
            return s.close(reason)
        }
        guard let taken else { return }
        let undelivered = taken.current.map { !$0.delivered } ?? false
        fail(taken, reason: reason,
             current: undelivered ? RuntimeSessionError.notDelivered(reason) : RuntimeSessionError.closed(reason))
    }

    /// Fails every waiter of a state that was just closed; the outstanding invocation gets `current`.
    private func fail(_ taken: State, reason: String, current: RuntimeSessionError) {
        let error = RuntimeSessionError.closed(reason)
        for parked in taken.parked { parked.promise.fail(error) }
        for waiter in taken.initWaiters { waiter.resume(throwing: error) }
        taken.current?.continuation.resume(throwing: current)
    }

    var lastAnswered: (requestId: String, deadline: NIODeadline)? {
        state.withLock { s in
            guard let id = s.lastCompletedId, let deadline = s.lastDeadline else { return nil }
            return (id, deadline)
        }
    }

    var publicState: RuntimeSession.State {
        state.withLock { s in
            if case .closed = s.phase { return .closed }
            if let current = s.current { return .busy(current.invocation.requestId) }
            if case .ready = s.phase { return s.parked.isEmpty ? .responseSent : .idle }
            return .started
        }
    }
}
