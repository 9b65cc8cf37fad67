import Foundation
import Glibc
import Testing
@testable import WarrenSupervisor

/// Every way an instance can fail gives its Lambda error type, and the next
/// invoke succeeds on a fresh instance.
@Suite(.serialized)
struct InstanceFailureTests {
    typealias F = SupervisorFixture

    /// Invokes `event`, expects `errorType` in an Unhandled payload, then a
    /// plain invoke that succeeds on a fresh instance (its counter starts
    /// again, its host pid differs).
    /// `logged`: what the log tail must hold before END (Lambda's line for the failure; `{id}` stands
    /// for the request id), and `status`: what its REPORT line must end with.
    func expectFailure(_ supervisor: Supervisor, _ name: String, _ event: String, errorType: String,
                       message: String? = nil, logged: String? = nil, status: String? = nil) async throws {
        let first = F.json(try await supervisor.invoke(name, payload: Array(#"{"count":0}"#.utf8)).payload)["count"] as? Int
        #expect(first == 1)
        let before = await supervisor.instances().map(\.pid)
        let r = try await supervisor.invoke(name, payload: Array(event.utf8), logTail: true)
        let body = F.json(r.payload)
        #expect(r.functionError == "Unhandled", "\(F.text(r.payload))")
        #expect(body["errorType"] as? String == errorType, "\(F.text(r.payload))")
        if let message { #expect((body["errorMessage"] as? String)?.contains(message) == true, "\(F.text(r.payload))") }
        let tail = String(decoding: Data(base64Encoded: r.logTail ?? "") ?? Data(), as: UTF8.self)
        if let logged {
            let before = tail.components(separatedBy: "END RequestId: \(r.requestId)").first ?? ""
            #expect(before.contains(logged.replacingOccurrences(of: "{id}", with: r.requestId)), "\(tail)")
        }
        if let status {
            let report = tail.split(separator: "\n").last { $0.hasPrefix("REPORT RequestId: \(r.requestId)") }
            #expect(report?.hasSuffix(status) == true, "\(tail)")
        }
        let after = try await supervisor.invoke(name, payload: Array(#"{"count":0}"#.utf8))
        #expect(after.functionError == nil)
        #expect(F.json(after.payload)["count"] as? Int == 1, "the failed instance was reused")
        #expect(await supervisor.instances().map(\.pid) != before)
    }

    @Test func aTimeoutIsSandboxTimedout() async throws {
        try await F.with { supervisor, code in
            try await supervisor.createFunction(F.function("slow", code: code, timeout: 1))
            try await expectFailure(supervisor, "slow", #"{"sleep":5}"#, errorType: "Sandbox.Timedout",
                                    message: "Task timed out after 1.00 seconds",
                                    logged: "Z {id} Task timed out after 1.00 seconds\n",
                                    status: "\tStatus: timeout\t")
        }
    }

    @Test func aCrashIsRuntimeExitErrorWithTheStatus() async throws {
        try await F.with { supervisor, code in
            try await supervisor.createFunction(F.function("crash", code: code))
            try await expectFailure(supervisor, "crash", #"{"crash":3}"#, errorType: "Runtime.ExitError",
                                    message: "Runtime exited with error: exit status 3",
                                    logged: "RequestId: {id} Error: Runtime exited with error: exit status 3\n"
                                        + "Runtime.ExitError\n",
                                    status: "\tStatus: error\tError Type: Runtime.ExitError\t")
        }
    }

    /// A runtime that answers and then exits before its next `/next` has not taken the event given to
    /// it meanwhile: that event runs on a fresh instance instead of failing with `Runtime.ExitError`.
    @Test func anEventNoNextTookRunsElsewhereWhenTheRuntimeExits() async throws {
        try await F.with { supervisor, code in
            try await supervisor.createFunction(F.function("leaving", code: code))
            let answered = try await supervisor.invoke("leaving", payload: Array(#"{"exitAfter":300}"#.utf8))
            #expect(answered.functionError == nil, "\(F.text(answered.payload))")
            let next = try await supervisor.invoke("leaving", payload: Array(#"{"count":0}"#.utf8))
            #expect(next.functionError == nil, "\(F.text(next.payload))")
            #expect(F.json(next.payload)["count"] as? Int == 1, "it ran on a fresh instance")
        }
    }

    /// The same, with the configuration updated while the event waited for the exiting runtime: it runs
    /// on an instance of the new configuration (it was refused as a missing function).
    @Test func anUndeliveredEventAfterAnUpdateRunsOnTheNewConfiguration() async throws {
        try await F.with { supervisor, code in
            try await supervisor.createFunction(F.function("moving", code: code, env: ["MARK": "old"]))
            _ = try await supervisor.invoke("moving", payload: Array(#"{"exitAfter":600}"#.utf8))
            async let next = supervisor.invoke("moving", payload: Array(#"{"env":"MARK"}"#.utf8))
            try await Task.sleep(for: .milliseconds(200))
            try await supervisor.updateFunction(F.function("moving", code: code, env: ["MARK": "new"]))
            let r = try await next
            #expect(r.functionError == nil, "\(F.text(r.payload))")
            #expect(F.json(r.payload)["MARK"] as? String == "new")
        }
    }

    @Test func anOOMIsRuntimeOutOfMemory() async throws {
        try await F.with { supervisor, code in
            try await supervisor.createFunction(F.function("oom", code: code, memory: 128))
            try await expectFailure(supervisor, "oom", #"{"oom":1}"#, errorType: "Runtime.OutOfMemory",
                                    status: "\tStatus: error\tError Type: Runtime.OutOfMemory\t")
        }
    }

    /// A function's bootstrap that cannot be run is Lambda's `Runtime.InvalidEntrypoint`, in its
    /// words, not a failure of Warren's sandbox.
    @Test func aBootstrapThatCannotRunIsRuntimeInvalidEntrypoint() async throws {
        try await F.with { supervisor, code in
            let cases = [
                ("missing", nil, "Couldn't find valid bootstrap(s): [/var/task/bootstrap]"),
                ("noexec", ("#!/bin/sh\necho\n", 0o644), "fork/exec /var/task/bootstrap: permission denied"),
                ("nointerp", ("#!/bin/nowhere\n", 0o755), "fork/exec /var/task/bootstrap: no such file or directory"),
                ("garbage", ("not a program\n", 0o755), "fork/exec /var/task/bootstrap: exec format error"),
            ]
            for (name, bootstrap, message) in cases {
                let dir = code + "/" + name
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false,
                                                        attributes: [.posixPermissions: 0o755])
                if let (text, mode) = bootstrap {
                    #expect(FileManager.default.createFile(atPath: dir + "/bootstrap", contents: Data(text.utf8),
                                                           attributes: [.posixPermissions: mode]))
                }
                try await supervisor.createFunction(F.function(name, code: dir))
                let r = try await supervisor.invoke(name, payload: Array("{}".utf8))
                let body = F.json(r.payload)
                #expect(r.functionError == "Unhandled", "\(F.text(r.payload))")
                #expect(body["errorType"] as? String == "Runtime.InvalidEntrypoint", "\(name): \(F.text(r.payload))")
                #expect((body["errorMessage"] as? String)?.hasSuffix(" Error: " + message) == true,
                        "\(name): \(F.text(r.payload))")
            }
        }
    }

    @Test func aHandledErrorComesBackVerbatim() async throws {
        try await F.with { supervisor, code in
            try await supervisor.createFunction(F.function("err", code: code))
            let r = try await supervisor.invoke("err", payload: Array(#"{"error":1}"#.utf8))
            #expect(r.functionError == "Unhandled")
            #expect(F.text(r.payload) == #"{"errorMessage":"it failed","errorType":"TestError"}"#)
            // A handled error keeps the instance.
            #expect(try await supervisor.invoke("err", payload: Array(#"{"count":0}"#.utf8)).functionError == nil)
        }
    }

    /// What the runtime printed during a failed init leads the log tail, before START, as in the
    /// function's log: the traceback of a handler that cannot load is where its user looks.
    /// Lambda's INIT_REPORT line comes between them, with the init's phase (`init` unless it ran on
    /// within the invocation) and its status, which REPORT repeats.
    static func expectInitOutput(_ r: InvokeResult, _ printed: String, phase: String = "init") {
        let tail = String(decoding: Data(base64Encoded: r.logTail ?? "") ?? Data(), as: UTF8.self)
        let status = r.errorType == "Sandbox.Timedout"
            ? "Status: timeout" : "Status: error\tError Type: \(r.errorType ?? "")"
        let initReport = #/INIT_REPORT Init Duration: \d+\.\d\d ms\tPhase: (\w+)\t([^\n]*)\n/#
        let match = tail.firstMatch(of: initReport)
        #expect(match.map { String($0.1) } == phase && match.map { String($0.2) } == status, "\(tail)")
        #expect(tail.hasPrefix(printed + "\n" + (match.map { String($0.0) } ?? "INIT_REPORT")
                               + "START RequestId: \(r.requestId) "), "\(tail)")
        #expect(tail.hasSuffix("\t\(status)\t\n"), "\(tail)")
        // The init's time is the invocation's (REPORT's Duration, the metrics' duration).
        #expect(r.durationMs > 0, "\(r.durationMs)")
        // Lambda's fields for the init that failed.
        let report = tail.split(separator: "\n").last { $0.hasPrefix("REPORT RequestId: \(r.requestId)\tDuration: ") }
        #expect(report?.contains("\tMemory Size: 128 MB\tMax Memory Used: ") == true, "\(tail)")
    }

    /// What a handler printed before its response is in the log before END, and so in the tail,
    /// even when it is more than the log reader takes in one turn: 400 lines of 61 bytes from
    /// fresh instances (whose reader starts with small reads). Before, the last lines of about
    /// one in five such invocations came after END.
    @Test func everythingPrintedBeforeTheResponseComesBeforeEnd() async throws {
        try await F.with { supervisor, code in
            for n in 0..<8 {
                try await supervisor.createFunction(F.function("printer\(n)", code: code))
                let r = try await supervisor.invoke("printer\(n)", payload: Array(#"{"lines":2000}"#.utf8), logTail: true)
                let tail = String(decoding: Data(base64Encoded: r.logTail ?? "") ?? Data(), as: UTF8.self)
                let last = try #require(tail.range(of: "line 01999 "), "instance \(n): \(tail.suffix(300))")
                let end = try #require(tail.range(of: "\nEND RequestId: \(r.requestId)\n"), "\(tail.suffix(300))")
                #expect(last.upperBound < end.lowerBound, "instance \(n): \(tail.suffix(300))")
            }
        }
    }

    /// A runtime that answers and then goes on working without asking for its next event has the
    /// invocation's timeout for it, as on Lambda: past it the instance is reset, and the next
    /// invocation gets a fresh one. Before, it ran on unfrozen until the idle reclaim, and the
    /// next invocation given it timed out.
    @Test func aRuntimeThatNeverAsksForItsNextEventIsResetAtTheTimeout() async throws {
        try await F.with { supervisor, code in
            try await supervisor.createFunction(F.function("lingers", code: code, timeout: 1))
            let first = try await supervisor.invoke("lingers", payload: Array(#"{"spinAfter":1}"#.utf8))
            #expect(first.functionError == nil, "\(F.text(first.payload))")
            let pid = await supervisor.instances().first?.pid
            let start = ContinuousClock.now
            while await supervisor.instances().contains(where: { $0.pid == pid && $0.state != "dead" }),
                  ContinuousClock.now - start < .seconds(5) {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(await !supervisor.instances().contains { $0.pid == pid && $0.state != "dead" },
                    "the instance still ran 5 s after its 1 s timeout")
            let next = try await supervisor.invoke("lingers", payload: Array(#"{"count":0}"#.utf8))
            #expect(next.functionError == nil, "\(F.text(next.payload))")
            #expect(F.json(next.payload)["pid"] as? Int != nil)
        }
    }

    /// An invocation given to an instance whose runtime has answered but not yet asked for its
    /// next event waits for that ask only while the last invocation's timeout runs: past it the
    /// instance is reset and the invocation runs on another. Before, it waited there and timed
    /// out without having run.
    @Test func anInvocationWaitingOnARuntimeThatDoesNotAskRunsElsewhere() async throws {
        try await F.with { supervisor, code in
            try await supervisor.createFunction(F.function("late", code: code, timeout: 1))
            let first = try await supervisor.invoke("late", payload: Array(#"{"sleepAfter":3}"#.utf8))
            #expect(first.functionError == nil, "\(F.text(first.payload))")
            let started = ContinuousClock.now
            let next = try await supervisor.invoke("late", payload: Array(#"{"count":0}"#.utf8), logTail: true)
            #expect(next.functionError == nil, "\(F.text(next.payload))")
            #expect(F.json(next.payload)["count"] as? Int == 1, "\(F.text(next.payload))")
            #expect(ContinuousClock.now - started < .seconds(3), "it waited for the late runtime")
            let path = supervisor.fixedConfiguration.stateDirectory + "/logs/late.log"
            let log = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            #expect(log.contains("RequestId: \(first.requestId) Error: Runtime did not ask for its next event"),
                    "\(log)")
        }
    }

    @Test func initErrorsAndCrashesAreReported() async throws {
        var prefix = ""
        try await F.with { supervisor, code in
            prefix = supervisor.instancePrefix
            try await supervisor.createFunction(F.function("initerr", code: code, handler: "init-error"))
            let r = try await supervisor.invoke("initerr", payload: Array("{}".utf8), logTail: true)
            #expect(r.functionError == "Unhandled")
            #expect(F.json(r.payload)["errorType"] as? String == "InitError", "\(F.text(r.payload))")
            Self.expectInitOutput(r, "echo-runtime: init-error")
            try await supervisor.createFunction(F.function("initcrash", code: code, handler: "init-crash"))
            let c = try await supervisor.invoke("initcrash", payload: Array("{}".utf8), logTail: true)
            #expect(F.json(c.payload)["errorType"] as? String == "Runtime.ExitError", "\(F.text(c.payload))")
            #expect((F.json(c.payload)["errorMessage"] as? String)?.contains("exit status 2") == true)
            Self.expectInitOutput(c, "echo-runtime: init-crash")
            // A last line without its newline ends with one, in the tail and in the file, before START.
            try await supervisor.createFunction(F.function("initpartial", code: code, handler: "init-partial"))
            let p = try await supervisor.invoke("initpartial", payload: Array("{}".utf8), logTail: true)
            Self.expectInitOutput(p, "echo-runtime: init-partial\na line left without its newline")
            let path = supervisor.fixedConfiguration.stateDirectory + "/logs/initpartial.log"
            let file = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            #expect(file.contains("a line left without its newline\nINIT_REPORT Init Duration: "), "\(file)")
            #expect(file.contains("\nSTART RequestId: \(p.requestId)"), "\(file)")
        }
        #expect(F.instanceCgroups(prefix: prefix).isEmpty)
    }

    @Test func anInitThatNeverCompletesTimesOut() async throws {
        try await F.with(tweak: { $0.initTimeout = 1 }) { supervisor, code in
            try await supervisor.createFunction(F.function("hang", code: code, handler: "init-hang", timeout: 1))
            let r = try await supervisor.invoke("hang", payload: Array("{}".utf8), logTail: true)
            #expect(F.json(r.payload)["errorType"] as? String == "Sandbox.Timedout", "\(F.text(r.payload))")
            #expect((F.json(r.payload)["errorMessage"] as? String)?.hasSuffix("Init timed out after 1.00 seconds") == true)
            Self.expectInitOutput(r, "echo-runtime: init-hang")
        }
    }

    /// An init that outlasts the init phase (Lambda's 10 s, 0.1 s here) goes on within the
    /// function's timeout, as Lambda re-runs it within the first invocation: a 300 ms init
    /// succeeds, and its invocation has what is left of the timeout (the deadline the runtime
    /// gets is the timeout from the request, not from the end of init: 5,300 ms before). One that
    /// outlasts the function's timeout too is the task's timeout.
    @Test func anInitLongerThanTheInitPhaseRunsWithinTheFunctionsTimeout() async throws {
        try await F.with(tweak: { $0.initTimeout = 0.1 }) { supervisor, code in
            try await supervisor.createFunction(F.function("slow", code: code, handler: "init-slow", timeout: 5))
            let before = Date().timeIntervalSince1970 * 1000
            let r = try await supervisor.invoke("slow", payload: Array(#"{"deadline":1}"#.utf8), logTail: true)
            #expect(r.functionError == nil, "\(F.text(r.payload))")
            // The init is part of the invocation, as on Lambda: in Duration (about 300 ms, against about
            // 1 without it), no Init Duration. Init is timed from the spawn's return, which the runtime
            // may beat into its sleep by the few milliseconds the spawning thread waits to run again.
            let tail = String(decoding: Data(base64Encoded: r.logTail ?? "") ?? Data(), as: UTF8.self)
            #expect(!tail.contains("Init Duration") && r.durationMs >= 250, "\(tail)")
            let deadline = try #require(F.json(r.payload)["deadline"] as? Double, "\(F.text(r.payload))")
            #expect(deadline - before < 5_200, "the deadline is 5 s after the end of init, not of the request")
            try await supervisor.createFunction(F.function("hang", code: code, handler: "init-hang", timeout: 1))
            let h = try await supervisor.invoke("hang", payload: Array("{}".utf8), logTail: true)
            #expect(F.json(h.payload)["errorType"] as? String == "Sandbox.Timedout", "\(F.text(h.payload))")
            #expect((F.json(h.payload)["errorMessage"] as? String)?.hasSuffix("Task timed out after 1.00 seconds") == true)
            Self.expectInitOutput(h, "echo-runtime: init-hang", phase: "invoke")
        }
    }

    @Test func aRuntimeThatBreaksTheProtocolIsDestroyed() async throws {
        try await F.with { supervisor, code in
            try await supervisor.createFunction(F.function("breaker", code: code, timeout: 2))
            let r = try await supervisor.invoke("breaker", payload: Array(#"{"break":1}"#.utf8))
            #expect(r.functionError == "Unhandled", "\(F.text(r.payload))")
            #expect(try await supervisor.invoke("breaker", payload: Array(#"{"count":0}"#.utf8)).functionError == nil)
        }
    }

    /// A runtime whose connection ends part way through its response, and which lives on, fails the
    /// invocation at once as `Runtime.TruncatedResponse` (it waited out the function's timeout), and
    /// its instance is reset.
    @Test func aResponseCutShortIsRuntimeTruncatedResponse() async throws {
        try await F.with { supervisor, code in
            try await supervisor.createFunction(F.function("cut", code: code, timeout: 60))
            let began = ContinuousClock.now
            try await expectFailure(supervisor, "cut", #"{"truncate":0}"#, errorType: "Runtime.TruncatedResponse",
                                    message: "Runtime connection ended after 10 of 100 bytes of its response")
            #expect(ContinuousClock.now - began < .seconds(30), "the invocation waited for its timeout")
        }
    }

    /// A runtime that dies part way through its response says why by its exit, not as a truncation.
    @Test func aRuntimeDyingMidResponseIsRuntimeExitError() async throws {
        try await F.with { supervisor, code in
            try await supervisor.createFunction(F.function("dying", code: code, timeout: 60))
            try await expectFailure(supervisor, "dying", #"{"truncate":4}"#, errorType: "Runtime.ExitError",
                                    message: "Runtime exited with error: exit status 4")
        }
    }

    @Test func anOversizeResponseIsFunctionResponseSizeTooLarge() async throws {
        try await F.with { supervisor, code in
            try await supervisor.createFunction(F.function("big", code: code, memory: 256))
            let ok = try await supervisor.invoke("big", payload: Array(#"{"big":1000000}"#.utf8))
            #expect(ok.payload.count == 1_000_000)
            let r = try await supervisor.invoke("big", payload: Array(#"{"big":7000000}"#.utf8))
            #expect(F.json(r.payload)["errorType"] as? String == "Function.ResponseSizeTooLarge", "\(F.text(r.payload).prefix(200))")
        }
    }
}
