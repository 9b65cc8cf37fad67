import Foundation
import Glibc
import Synchronization
import Testing
@testable import WarrenSandbox
@testable import WarrenSupervisor

/// A real supervisor on this machine, with the C echo runtime as a
/// provided.al2023 function's bootstrap.
enum SupervisorFixture {
    static let repo = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// A code directory whose `bootstrap` is the echo runtime (removed by the caller).
    static func echoCode() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("warren-code-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        chmod(dir, 0o755)
        let runtime = Bundle.module.url(forResource: "echo-runtime", withExtension: nil)!.path
        try FileManager.default.copyItem(atPath: runtime, toPath: dir + "/bootstrap")
        chmod(dir + "/bootstrap", 0o755)
        return dir
    }

    /// A supervisor with a small account, for limits that tests can reach.
    static func supervisor(
        accountLimit: Int = 20, unreservedMinimum: Int = 2, tweak: (inout Supervisor.Configuration) -> Void = { _ in }
    ) throws -> (Supervisor, String) {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("warren-state-\(UUID().uuidString)").path
        var config = Supervisor.Configuration(
            home: repo, stateDirectory: state,
            admission: Admission.Settings(accountLimit: accountLimit, unreservedMinimum: unreservedMinimum))
        config.preparedNamespaces = 2
        tweak(&config)
        return (try Supervisor(config), state)
    }

    static func function(_ name: String, code: String, handler: String = "echo", timeout: Double = 5,
                         memory: Int = 128, env: [String: String] = [:]) -> FunctionConfig {
        FunctionConfig(functionName: name, runtime: "provided.al2023", handler: handler, memorySize: memory,
                       timeout: timeout, environment: env, codeDirectory: code)
    }

    static func json(_ bytes: [UInt8]) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] ?? [:]
    }

    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    /// Whether the kernel says the instance's cgroup is frozen: v1
    /// `freezer.state` FROZEN, v2 `cgroup.events` "frozen 1".
    static func cgroupFrozen(_ name: String) -> Bool {
        guard let cgroup = try? CgroupProbe.detect().open(name: name) else { return false }
        for procs in cgroup.procsPaths {
            let dir = (procs as NSString).deletingLastPathComponent
            if let v1 = try? String(contentsOfFile: dir + "/freezer.state", encoding: .utf8) {
                return v1.hasPrefix("FROZEN")
            }
            if let v2 = try? String(contentsOfFile: dir + "/cgroup.events", encoding: .utf8) {
                return v2.contains("frozen 1")
            }
        }
        return false
    }

    /// Instance cgroups of `supervisor`.
    static func instanceCgroups(_ supervisor: Supervisor) -> [String] {
        instanceCgroups(prefix: supervisor.instancePrefix)
    }

    static func instanceCgroups(prefix: String) -> [String] {
        let backend = try! CgroupProbe.detect()
        return ((try? backend.existing()) ?? []).filter { $0.hasPrefix(prefix) }
    }

    /// Whether `task` ends within `seconds`, decided by a timer on a dispatch thread: a wedged
    /// actor or a job spinning on the cooperative pool can hold the threads that an async
    /// timeout would need.
    static func finishes(within seconds: Double, _ task: Task<Void, Never>) async -> Bool {
        let decided = Mutex(false)
        return await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let decide: @Sendable (Bool) -> Void = { ended in
                if decided.withLock({ first in defer { first = true }; return !first }) {
                    continuation.resume(returning: ended)
                }
            }
            Task { await task.value; decide(true) }
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { decide(false) }
        }
    }

    /// Runs `body` with a supervisor, shutting it down and removing its files after.
    static func with(
        accountLimit: Int = 20, unreservedMinimum: Int = 2, tweak: (inout Supervisor.Configuration) -> Void = { _ in },
        _ body: (Supervisor, String) async throws -> Void
    ) async throws {
        let (supervisor, state) = try supervisor(accountLimit: accountLimit, unreservedMinimum: unreservedMinimum, tweak: tweak)
        let code = try echoCode()
        do {
            try await body(supervisor, code)
        } catch {
            await supervisor.shutdown()
            try? FileManager.default.removeItem(atPath: code)
            try? FileManager.default.removeItem(atPath: state)
            throw error
        }
        await supervisor.shutdown()
        try? FileManager.default.removeItem(atPath: code)
        try? FileManager.default.removeItem(atPath: state)
    }
}
