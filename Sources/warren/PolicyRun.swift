import ArgumentParser
import Foundation
import Glibc
import WarrenPolicy
import WarrenSandbox

/// The sandbox options `policy test` and `policy learn` share with `warren run`.
struct SandboxOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Root filesystem, mounted read-only (default: the built provided.al2023).", valueName: "DIR"))
    var rootfs: String?

    @Option(name: .long, help: ArgumentHelp("Bind SRC on the host to DST inside, read-only unless :rw. Repeatable.", valueName: "SRC:DST[:rw]"))
    var bind: [String] = []

    @Option(name: .long, help: ArgumentHelp("Memory limit in MiB.", valueName: "MB"))
    var memory: Int = 256

    @Option(name: .long, help: ArgumentHelp("Kill CMD after S seconds.", valueName: "S"))
    var timeout: Double = 60

    @Option(name: .long, help: ArgumentHelp("Set an environment variable inside. Repeatable.", valueName: "K=V"))
    var env: [String] = []

    func validate() throws {
        guard timeout > 0, timeout.isFinite else { throw ValidationError("--timeout must be a positive number") }
        guard memory > 0 else { throw ValidationError("--memory must be positive") }
        _ = try binds()
    }

    func binds() throws -> [BindMount] {
        try BindMount.parsing(options: bind)
    }
}

extension BindMount {
    /// The `--bind SRC:DST[:rw]` options of `run`, `policy test` and `policy learn`.
    static func parsing(options: [String]) throws -> [BindMount] {
        try options.map { spec in
            guard let mount = BindMount(parsing: spec) else {
                throw ValidationError("--bind wants SRC:DST[:rw] with an absolute DST other than /, /tmp, /proc, "
                    + "/dev or below them (the sandbox mounts its own there), got '\(spec)'")
            }
            return mount
        }
    }
}

/// One audited run: CMD in a sandbox whose filter notifies Warren instead of stopping calls.
struct AuditRun {
    var options: SandboxOptions
    var argv: [String]
    /// Where CMD's stdout goes: `.inherit`, or `.fd(2)` when warren's stdout carries a report.
    var stdout: Stdio
    /// The policy's `"warren": {"network": …}`.
    var network: NetworkMode = .loopback

    /// What came of it.
    struct Outcome {
        var exitCode: Int32
        var records: [AuditRecord]
        /// The signal (SIGINT, SIGTERM, SIGHUP, SIGQUIT) that stopped the run, which then killed CMD.
        var interrupted: Int32?
        /// How the calls reached Warren.
        var interception: AuditSession.Interception
    }

    /// Runs CMD under `filter`, answered by `session`.
    /// - Throws: policy, cgroup or spawn errors; a sandbox whose payload never handed over the listener.
    func run(filter: CompiledFilter, session: AuditSession) throws -> Outcome {
        // Signals go to a descriptor, as in `warren run`: an interrupted run kills CMD and cleans
        // up here. First, so that every thread started after (the tracer's) blocks them too.
        let signals = try SignalFD([SIGINT, SIGTERM, SIGHUP, SIGQUIT])
        let backend = try CgroupProbe.detect()
        Runner.sweep(backend)
        let cgroup = try backend.create(
            name: "\(Runner.cgroupPrefix)\(getpid())-\(UInt32.random(in: 0...UInt32.max))",
            limits: CgroupLimits(memoryBytes: UInt64(options.memory) << 20, pidsMax: 1024, cpus: nil))
        defer { try? cgroup.remove() }
        // A uid no other Warren process's sandbox has, held until the sandbox is gone.
        let uids = try UIDRange.lease()
        defer { withExtendedLifetime(uids) {} }
        let uid = uids.base
        let spec = SandboxSpec(
            argv: argv, environment: ["PATH=/usr/local/bin:/usr/bin:/bin:/opt/bin", "HOME=/tmp", "LANG=C.UTF-8"] + options.env,
            rootfs: options.rootfs ?? Defaults.rootfs("provided.al2023"), binds: try options.binds(), tmpSizeMB: 512,
            hostname: "warren", uid: uid, gid: uid, seccomp: filter, cgroup: cgroup,
            stdin: .inherit, stdout: stdout, stderr: .inherit, cwd: "/", network: network == .none ? .none : .loopback,
            notifySocket: session.childSocket)
        session.start()
        let process: SandboxProcess
        do {
            defer { session.spawned() }
            process = try SpawnThread.shared.spawn(spec)
        } catch {
            // The payload's own complaint (EPIPE) says less than the tracer's.
            if let failure = session.finish(graceMilliseconds: 100).failure { throw failure }
            throw error
        }
        var interrupted: Int32?
        switch Runner.awaitEnd(of: process, signals: signals, deadline: Date().addingTimeInterval(options.timeout)) {
        case .exited: break
        case .signal(let signal):
            interrupted = signal
            try process.kill()
        case .timedOut:
            PolicyText.warn("timed out after \(Runner.seconds(options.timeout)) s")
            try process.kill()
        }
        let ended = try process.wait()
        let (records, attached, _) = session.finish()
        guard attached else {
            throw ValidationError(session.interception == .tracer
                ? "the payload could not be traced" : "the payload never handed over its seccomp listener")
        }
        return Outcome(exitCode: interrupted.map { 128 + $0 } ?? ended?.exitCode ?? 125, records: records,
                       interrupted: interrupted, interception: session.interception)
    }
}
