import NIOCore

/// One instance's side of the Runtime API: the rendezvous between the supervisor and the runtime's HTTP calls.
///
/// The supervisor awaits ``waitForInit()`` and then calls ``invoke(_:)`` once per event; the
/// ``RuntimeAPIServer`` feeds the runtime's `/next`, `/response` and `/error` calls into the same
/// state machine. The state lives in a lock-guarded core rather than in actor storage so that the
/// event loop can drive it synchronously: that keeps the warm-invoke path free of `Task`s.
public actor RuntimeSession {
    /// Why a session whose runtime did not ask for its next event within the last invocation's
    /// timeout was closed (the next invocation, not delivered, runs elsewhere).
    public static let overstayReason = "the runtime did not ask for its next event within the function's timeout"

    /// The observable state of the runtime, for the supervisor and tests.
    public enum State: Sendable, Equatable {
        /// Spawned, no `GET /next` yet (also after `/runtime/init/error`: ``waitForInit()`` says why).
        case started
        /// Initialised, no invocation outstanding, and the runtime is parked in `/next`: safe to freeze.
        case idle
        /// Initialised and no invocation outstanding, but no `/next` is parked: the runtime is between
        /// its last post and its next `/next` (RIE's `ResponseSent`), or its connection dropped.
        case responseSent
        /// An invocation with this request id is outstanding (queued for `/next` or running),
        /// even if the runtime hasn't finished init yet.
        case busy(String)
        /// ``close(reason:)`` was called.
        case closed
    }

    let core = RuntimeSessionCore()

    /// Creates a session in the `started` state.
    public init() {}

    /// Waits for the runtime to finish initialising.
    ///
    /// Returns at once if that already happened; an init error is still reported after ``close(reason:)``.
    /// Cancelling the wait closes the session (the instance can't be trusted any more).
    /// - Returns: ``InitOutcome/ready`` on the first `GET /next`, or the posted init error.
    /// - Throws: ``RuntimeSessionError/closed(_:)`` if the session closes first.
    public nonisolated func waitForInit() async throws -> InitOutcome {
        try await core.waitForInit()
    }

    /// Hands `invocation` to the runtime (a parked `/next`, or the next one) and returns its outcome.
    ///
    /// Cancelling the calling task closes the session, because the runtime may still be working on
    /// the event and the instance must not be reused.
    /// - Parameter invocation: The event and its `/next` headers.
    /// - Returns: What the runtime posted.
    /// - Throws: ``RuntimeSessionError/busy(_:)`` if another invocation is outstanding;
    ///   ``RuntimeSessionError/closed(_:)`` if the session is or becomes closed (or init failed).
    public nonisolated(nonsending) func invoke(_ invocation: Invocation) async throws -> InvocationOutcome {
        try await core.invoke(invocation)
    }

    /// Hands `invocation` to the runtime and returns its outcome, unless `deadline` passes first.
    ///
    /// `loop` keeps the deadline with one timer per session that is re-armed only when it fires, so a
    /// warm invocation schedules and cancels nothing. When the deadline passes first the session
    /// closes, as by ``close(reason:)``, and the instance must not be reused.
    /// - Parameters:
    ///   - invocation: The event and its `/next` headers.
    ///   - deadline: When to give up on the runtime.
    ///   - loop: The event loop that keeps the deadline (the one serving this session is cheapest).
    /// - Returns: What the runtime posted.
    /// - Throws: ``RuntimeSessionError/timedOut`` when the deadline passed first; otherwise as ``invoke(_:)``.
    public nonisolated(nonsending) func invoke(
        _ invocation: Invocation, deadline: NIODeadline, on loop: any EventLoop
    ) async throws -> InvocationOutcome {
        try await core.invoke(invocation, deadline: deadline, loop: loop)
    }

    /// The runtime's current state, read without a hop to the session (the same as ``state``).
    public nonisolated var currentState: RuntimeSession.State {
        core.publicState
    }

    /// The request id and deadline of the invocation answered last: its timeout runs until the
    /// runtime asks for its next event. Read without a hop to the session.
    public nonisolated var lastAnswered: (requestId: String, deadline: NIODeadline)? {
        core.lastAnswered
    }

    /// Fails every waiter and makes parked and future `/next` calls answer `500` (the runtime must exit).
    ///
    /// Idempotent: only the first reason is kept.
    /// - Parameter reason: Why, e.g. "instance exited"; carried by ``RuntimeSessionError/closed(_:)``.
    public func close(reason: String) {
        core.close(reason: reason)
    }

    /// The runtime's current state.
    public var state: RuntimeSession.State {
        core.publicState
    }
}
