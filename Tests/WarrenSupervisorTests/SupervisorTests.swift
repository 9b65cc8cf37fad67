import Foundation
import Glibc
import Testing
@testable import WarrenSupervisor
import WarrenSandbox
import WarrenPolicy

/// Real instances on the real kernel: reuse, limits, failures, reclaim.
@Suite(.serialized)
struct SupervisorTests {
    typealias F = SupervisorFixture

    @Test func sequentialInvokesReuseOneWarmInstance() async throws {
        var prefix = ""
        try await F.with { supervisor, code in
            prefix = supervisor.instancePrefix
            try await supervisor.createFunction(F.function("counter", code: code))
            var pids = Set<Int32>()
            for n in 1...5 {
                let r = try await supervisor.invoke("counter", payload: Array(#"{"count":0}"#.utf8), logTail: true)
                let body = F.json(r.payload)
                pids.formUnion(await supervisor.instances().map(\.pid))
                #expect(body["count"] as? Int == n, "\(F.text(r.payload))")
                let tail = String(decoding: Data(base64Encoded: r.logTail ?? "") ?? Data(), as: UTF8.self)
                #expect(tail.contains("Init Duration") == (n == 1), "\(tail)")
                #expect(tail.contains("REPORT RequestId: \(r.requestId)\tDuration: "), "\(tail)")
                #expect(r.functionError == nil)
                #expect(r.executedVersion == "$LATEST")
            }
            #expect(pids.count == 1)
            #expect(await supervisor.instances().count == 1)
            // Instances run under SCHED_BATCH (their wake-ups never preempt the supervisor's loop).
            let schedBatch: Int32 = 3  // SCHED_BATCH, <linux/sched.h> (Glibc does not export it)
            for pid in pids { #expect(sched_getscheduler(pid) == schedBatch, "instance \(pid)") }
        }
        #expect(F.instanceCgroups(prefix: prefix).isEmpty, "shutdown left cgroups")
    }

    /// Two supervisors in one host (here one process, as two `warren serve` would be two) lease
    /// different uid ranges: their instances never run as the same uid.
    @Test func twoSupervisorsNeverShareAUid() async throws {
        func uid(of pid: Int32) throws -> UInt32? {
            let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
            let line = status.split(separator: "\n").first { $0.hasPrefix("Uid:") }
            return line.flatMap { $0.split(whereSeparator: \.isWhitespace).dropFirst().first }.flatMap { UInt32($0) }
        }
        try await F.with { one, code in
            try await F.with { two, _ in
                var uids: [UInt32] = []
                for supervisor in [one, two] {
                    try await supervisor.createFunction(F.function("who", code: code))
                    #expect(try await supervisor.invoke("who", payload: Array("{}".utf8)).functionError == nil)
                    let pid = try #require(await supervisor.instances().first?.pid)
                    uids.append(try #require(try uid(of: pid)))
                }
                #expect(uids[0] != uids[1])
                #expect(uids.allSatisfy { $0 >= UIDRange.first }, "\(uids)")
                #expect(uids[0] / UIDRange.size != uids[1] / UIDRange.size, "one range: \(uids)")
            }
        }
    }

    /// Instances need loopback for the Runtime API: a policy without any network is refused.
    @Test func aPolicyWithNetworkNoneIsRefused() throws {
        let text = try String(contentsOfFile: F.repo + "/policies/default.json", encoding: .utf8)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("none-\(UUID().uuidString).json").path
        try text.replacingOccurrences(of: #""network": "loopback""#, with: #""network": "none""#)
            .write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: PolicyError.self) { _ = try F.supervisor(tweak: { $0.policyPath = path }) }
    }

    @Test func theInstanceGetsLambdasEnvironment() async throws {
        try await F.with { supervisor, code in
            // PATH, LANG, LD_LIBRARY_PATH and TZ are the runtime's defaults, which a function's own
            // variables override, as on Lambda.
            let own = ["MY_VAR": "mine", "PATH": "/var/task/bin:/usr/bin:/bin", "TZ": "Asia/Tokyo"]
            try await supervisor.createFunction(F.function("envfn", code: code, memory: 256, env: own))
            func env(_ key: String) async throws -> String? {
                F.json(try await supervisor.invoke("envfn", payload: Array("{\"env\":\"\(key)\"}".utf8)).payload)[key] as? String
            }
            #expect(try await env("AWS_LAMBDA_FUNCTION_NAME") == "envfn")
            #expect(try await env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") == "256")
            #expect(try await env("AWS_LAMBDA_FUNCTION_VERSION") == "$LATEST")
            #expect(try await env("AWS_LAMBDA_RUNTIME_API") == "127.0.0.1:9001")
            #expect(try await env("_HANDLER") == "echo")
            #expect(try await env("LAMBDA_TASK_ROOT") == "/var/task")
            #expect(try await env("AWS_LAMBDA_INITIALIZATION_TYPE") == "on-demand")
            #expect(try await env("MY_VAR") == "mine")
            #expect(try await env("PATH") == "/var/task/bin:/usr/bin:/bin")
            #expect(try await env("TZ") == "Asia/Tokyo")
            #expect(try await env("LC_CTYPE") == "C.UTF-8")
            #expect(try await env("AWS_LAMBDA_LOG_GROUP_NAME") == "/aws/lambda/envfn")
        }
    }

    @Test func aBurstNeverRunsMoreInstancesThanReservedAndTheRestIsThrottled() async throws {
        try await F.with { supervisor, code in
            try await supervisor.createFunction(F.function("burst", code: code))
            try await supervisor.putFunctionConcurrency("burst", 2)
            let peak = PeakCounter()
            let watcher = Task { while !Task.isCancelled { peak.see(F.instanceCgroups(supervisor).count); try? await Task.sleep(for: .milliseconds(20)) } }
            let results = await withTaskGroup(of: Result<InvokeResult, SupervisorError>.self) { group in
                for _ in 0..<6 {
                    group.addTask {
                        do { return .success(try await supervisor.invoke("burst", payload: Array(#"{"sleep":1}"#.utf8))) }
                        catch let e as SupervisorError { return .failure(e) } catch { return .failure(SupervisorError(.serviceException, "\(error)")) }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            watcher.cancel()
            let ok = results.filter { if case .success(let r) = $0 { r.functionError == nil } else { false } }.count
            let throttled = results.compactMap { if case .failure(let e) = $0 { e } else { nil } }
            #expect(ok == 2)
            #expect(throttled.count == 4)
            #expect(throttled.allSatisfy { $0.code == .tooManyRequests && $0.reason == "ReservedFunctionConcurrentInvocationLimitExceeded" })
            #expect(peak.value <= 2 && peak.value >= 1, "instances seen at once: \(peak.value)")
        }
    }

    @Test func theAccountLimitAndTheUnreservedMinimumHold() async throws {
        try await F.with(accountLimit: 3, unreservedMinimum: 1) { supervisor, code in
            try await supervisor.createFunction(F.function("acct", code: code))
            try await supervisor.createFunction(F.function("other", code: code))
            await #expect(throws: SupervisorError.self) { try await supervisor.putFunctionConcurrency("other", 3) }
            let results = await withTaskGroup(of: SupervisorError?.self) { group in
                for _ in 0..<5 {
                    group.addTask {
                        do { _ = try await supervisor.invoke("acct", payload: Array(#"{"sleep":1}"#.utf8)); return nil }
                        catch { return error as? SupervisorError }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.filter { $0 == nil }.count == 3)
            #expect(results.compactMap { $0 }.allSatisfy { $0.reason == "ConcurrentInvocationLimitExceeded" })
        }
    }

    @Test func reservedZeroAlwaysThrottles() async throws {
        try await F.with { supervisor, code in
            try await supervisor.createFunction(F.function("zero", code: code))
            try await supervisor.putFunctionConcurrency("zero", 0)
            await #expect(throws: SupervisorError(.tooManyRequests, "Rate Exceeded.",
                                                  reason: "ReservedFunctionConcurrentInvocationLimitExceeded")) {
                _ = try await supervisor.invoke("zero", payload: Array("{}".utf8))
            }
        }
    }
}

final class PeakCounter: @unchecked Sendable {
    // SAFETY: every access holds `lock`.
    private let lock = NSLock()
    private var peak = 0
    func see(_ n: Int) { lock.lock(); peak = max(peak, n); lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return peak }
}

extension SupervisorTests {
    @Test func theMemoryBudgetEvictsIdleInstancesAndThrottlesWhenAllAreBusy() async throws {
        try await F.with(tweak: { $0.admission.memoryBudgetMB = 256 }) { supervisor, code in
            try await supervisor.createFunction(F.function("m1", code: code, memory: 256))
            try await supervisor.createFunction(F.function("m2", code: code, memory: 256))
            _ = try await supervisor.invoke("m1", payload: Array("{}".utf8))
            // m1's idle instance holds the whole budget: m2's cold start evicts it.
            _ = try await supervisor.invoke("m2", payload: Array("{}".utf8))
            #expect(await supervisor.instances().map(\.functionName) == ["m2"])
            #expect(supervisor.admission.memoryInUse == 256)
            // While m2 is busy, nothing can be evicted: a second invoke is throttled.
            let busy = Task { try await supervisor.invoke("m2", payload: Array(#"{"sleep":1}"#.utf8)) }
            try await Task.sleep(for: .milliseconds(300))
            await #expect(throws: SupervisorError(.tooManyRequests, "Rate Exceeded.", reason: "ConcurrentInvocationLimitExceeded")) {
                _ = try await supervisor.invoke("m1", payload: Array("{}".utf8))
            }
            _ = try await busy.value
        }
    }
}
