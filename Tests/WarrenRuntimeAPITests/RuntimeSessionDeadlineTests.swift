import NIOCore
import NIOPosix
import Testing

@testable import WarrenRuntimeAPI

/// `invoke(_:deadline:on:)`: one timer per session, armed at the earliest deadline it must check and
/// re-armed when it fires, so a warm invocation schedules nothing. These pin down what the caller sees.
@Suite(.timeLimit(.minutes(1)))
struct RuntimeSessionDeadlineTests {
    private let loop = MultiThreadedEventLoopGroup.singleton.next()

    // Deadlines the runtime must meet are seconds away, so that a loaded machine cannot turn an
    // answer into a timeout; deadlines nobody meets are short. No test depends on how fast a timer is.

    @Test func aRuntimeThatNeverAnswersTimesOutAndTheSessionCloses() async throws {
        try await withServer { h in
            let runtime = try await h.connect()
            let outcome = Task { try await h.session.invoke(invocation("slow"), deadline: .now() + .seconds(2), on: loop) }
            #expect(try await runtime.request("GET", nextPath).header("Lambda-Runtime-Aws-Request-Id") == "slow")
            await #expect(throws: RuntimeSessionError.timedOut) { try await outcome.value }
            #expect(await h.session.state == .closed)
            // The runtime may still be working; what it posts afterwards is refused and it must exit.
            #expect(try await runtime.request("POST", responsePath("slow")).status == 500)
            await #expect(throws: RuntimeSessionError.notDelivered(RuntimeSessionCore.timeoutReason)) {
                try await h.session.invoke(invocation("late"), deadline: .now() + .seconds(5), on: loop)
            }
        }
    }

    @Test func aTimerThatFiresWhileIdleLeavesTheSessionOpenAndTheNextDeadlineKept() async throws {
        try await withServer { h in
            let runtime = try await h.connect()
            let first = Task { try await h.session.invoke(invocation("one"), deadline: .now() + .seconds(1), on: loop) }
            _ = try await runtime.request("GET", nextPath)
            #expect(try await runtime.request("POST", responsePath("one"), body: Array("1".utf8)).status == 202)
            #expect(try await first.value == .response(body: Array("1".utf8), contentType: nil))
            // The runtime asks for its next event at once; the timer armed for the first deadline
            // fires while it waits: nothing happens.
            try await runtime.sendRequest("GET", nextPath)
            try await Task.sleep(for: .milliseconds(1500))
            #expect(await h.session.state == .idle)
            // A later invocation gets a timer of its own.
            let second = Task { try await h.session.invoke(invocation("two"), deadline: .now() + .milliseconds(200), on: loop) }
            _ = try await runtime.readResponse()
            await #expect(throws: RuntimeSessionError.timedOut) { try await second.value }
        }
    }

    /// The last invocation's timeout runs until its runtime asks for the next event: one that has
    /// not asked by then has the session closed when the next invocation comes, and that one, not
    /// delivered, fails as such (the supervisor runs it elsewhere).
    @Test func anInvocationQueuedPastTheLastDeadlineIsNotDelivered() async throws {
        try await withServer { h in
            let runtime = try await h.connect()
            let first = Task { try await h.session.invoke(invocation("one"), deadline: .now() + .seconds(1), on: loop) }
            _ = try await runtime.request("GET", nextPath)
            #expect(try await runtime.request("POST", responsePath("one"), body: Array("1".utf8)).status == 202)
            _ = try await first.value
            let second = Task { try await h.session.invoke(invocation("two"), deadline: .now() + .seconds(30), on: loop) }
            await #expect(throws: RuntimeSessionError.notDelivered(RuntimeSession.overstayReason)) {
                try await second.value
            }
            #expect(await h.session.state == .closed)
        }
    }

    @Test func aTimerThatFiresDuringALaterInvocationDoesNotEndIt() async throws {
        try await withServer { h in
            let runtime = try await h.connect()
            let first = Task { try await h.session.invoke(invocation("one"), deadline: .now() + .seconds(1), on: loop) }
            _ = try await runtime.request("GET", nextPath)
            #expect(try await runtime.request("POST", responsePath("one")).status == 202)
            _ = try await first.value
            // The pending timer (first deadline) fires during this invocation; the runtime answers
            // after that, long before this invocation's own deadline.
            let second = Task { try await h.session.invoke(invocation("two"), deadline: .now() + .seconds(30), on: loop) }
            _ = try await runtime.request("GET", nextPath)
            try await Task.sleep(for: .milliseconds(1500))
            #expect(await h.session.state == .busy("two"))
            #expect(try await runtime.request("POST", responsePath("two")).status == 202)
            #expect(try await second.value == .response(body: [], contentType: nil))
        }
    }

    @Test func aTimerThatFiresBeforeTheCurrentDeadlineReArmsForIt() async throws {
        try await withServer { h in
            let runtime = try await h.connect()
            let first = Task { try await h.session.invoke(invocation("one"), deadline: .now() + .seconds(1), on: loop) }
            _ = try await runtime.request("GET", nextPath)
            #expect(try await runtime.request("POST", responsePath("one")).status == 202)
            _ = try await first.value
            // No timer is armed for this later deadline: the pending one must re-arm when it fires,
            // or this invocation would outlive the suite's time limit.
            let second = Task { try await h.session.invoke(invocation("two"), deadline: .now() + .seconds(2), on: loop) }
            _ = try await runtime.request("GET", nextPath)
            await #expect(throws: RuntimeSessionError.timedOut) { try await second.value }
            #expect(await h.session.state == .closed)
        }
    }

    @Test func aDeadlineEarlierThanThePendingTimerIsKeptToo() async throws {
        try await withServer { h in
            let runtime = try await h.connect()
            // A first invocation leaves a timer pending for ten minutes from now...
            let first = Task { try await h.session.invoke(invocation("one"), deadline: .now() + .minutes(10), on: loop) }
            _ = try await runtime.request("GET", nextPath)
            #expect(try await runtime.request("POST", responsePath("one")).status == 202)
            _ = try await first.value
            // ...so this one must arm its own, or it would outlive the suite's time limit.
            let second = Task { try await h.session.invoke(invocation("two"), deadline: .now() + .milliseconds(200), on: loop) }
            _ = try await runtime.request("GET", nextPath)
            await #expect(throws: RuntimeSessionError.timedOut) { try await second.value }
        }
    }
}
