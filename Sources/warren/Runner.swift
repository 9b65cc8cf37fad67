import Foundation
import Glibc
import WarrenPolicy
import WarrenSandbox
import WarrenSupervisor

/// One `warren run`: policy, cgroup, spawn, wait with timeout and signals,
/// and the cleanup that leaves nothing behind.
struct Runner {
    var policyPath: String
    var rootfs: String
    var binds: [BindMount]
    var limits: CgroupLimits
    var tmpSizeMB: Int
    var timeout: Double?
    var environment: [String]
    var argv: [String]

    /// Prefix of the cgroups of `warren run`; the owner's pid follows, so
    /// that a later run can sweep those of a run that was SIGKILLed.
    static let cgroupPrefix = "run-"

    func run() throws -> Int32 {
        let policy = try PolicyFile.loadRunnable(path: policyPath)
        let filter = try SeccompCompiler.compile(policy)
        let backend = try CgroupProbe.detect()
        Self.sweep(backend)

        // Signals go to a signalfd, not to handlers: the interrupted run
        // then cleans up on this thread like any other end.
        let signals = try SignalFD([SIGINT, SIGTERM, SIGHUP, SIGQUIT])

        let name = "\(Self.cgroupPrefix)\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let cgroup = try backend.create(name: name, limits: limits)
        defer { try? cgroup.remove() }

        // A uid no other Warren process's sandbox has, held until the sandbox is gone.
        let uids = try UIDRange.lease()
        defer { withExtendedLifetime(uids) {} }
        let uid = uids.base
        let spec = SandboxSpec(
            argv: argv, environment: environment, rootfs: rootfs, binds: binds, tmpSizeMB: tmpSizeMB,
            hostname: "warren", uid: uid, gid: uid, seccomp: filter, cgroup: cgroup,
            stdin: .inherit, stdout: .inherit, stderr: .inherit, cwd: "/",
            network: policy.warren.network == .none ? .none : .loopback)
        let process: SandboxProcess
        do {
            process = try Sandbox.spawn(spec)
        } catch SpawnError.childSetup(.exec, let errno, let subject) {
            let error = SpawnError.childSetup(step: .exec, errno: errno, subject: subject)
            StandardStreams.error("warren: \(error)\n")
            return errno == ENOENT ? 127 : 126
        }
        return try supervise(process, signals: signals)
    }

    private func supervise(_ process: SandboxProcess, signals: SignalFD) throws -> Int32 {
        switch Self.awaitEnd(of: process, signals: signals, deadline: timeout.map { Date().addingTimeInterval($0) }) {
        case .exited: break
        case .signal(let signal):
            try process.kill()
            _ = try process.wait()
            return 128 + signal
        case .timedOut:
            try process.kill()
            let ended = try process.wait()
            report("timed out after \(Self.seconds(timeout ?? 0)) s")
            return ended?.exitCode ?? 137
        }
        guard let ended = try process.wait() else { return 125 }
        if ended.oomKilled {
            report("out of memory (limit \((limits.memoryBytes ?? 0) >> 20) MB)")
        }
        return ended.exitCode
    }

    /// How waiting for a sandbox ended.
    enum End { case exited, signal(Int32), timedOut }

    /// Waits until `process` exits, one of `signals` arrives, or `deadline` (nil: none) passes;
    /// the process is left as it is (the caller kills it, and reaps it).
    static func awaitEnd(of process: SandboxProcess, signals: SignalFD, deadline: Date?) -> End {
        var fds = [pollfd(fd: process.pidfd, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: signals.fd, events: Int16(POLLIN), revents: 0)]
        while true {
            let wait = deadline.map { Int32(max(0, min($0.timeIntervalSinceNow * 1000, 3_600_000)).rounded(.up)) } ?? -1
            let n = poll(&fds, 2, wait)
            if n < 0 && errno == EINTR { continue }
            if fds[0].revents != 0 { return .exited }
            if fds[1].revents != 0, let signal = signals.next() { return .signal(signal) }
            if n == 0, let deadline, deadline.timeIntervalSinceNow <= 0 { return .timedOut }
        }
    }

    private func report(_ message: String) {
        StandardStreams.error("warren: \(message)\n")
    }

    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }

    /// Removes the cgroups of earlier runs whose warren process is gone (SIGKILLed before it
    /// could clean up), and the instances of servers that are gone: a frozen instance outlives a
    /// SIGKILLed server whose watchdog died too, and must not keep a uid of the range that server
    /// leased (``UIDRange``) while this process leases it.
    static func sweep(_ backend: any CgroupBackend) {
        CgroupSweep.removeOrphans(backend, prefix: cgroupPrefix)
        Supervisor.sweep(backend)
    }
}
