import ArgumentParser
import Foundation
import CWarrenSandbox
import Glibc
import WarrenSandbox
import WarrenSupervisor

/// Cleans up after a `warren serve` that died without doing so itself (SIGKILL, a crash).
///
/// An idle instance is frozen (cgroup freezer). Its init gets SIGKILL when the supervisor dies
/// (`PR_SET_PDEATHSIG`), but under the v1 freezer a frozen task does not act on a signal until it
/// is thawed: without help the instance would stay, frozen, with its cgroups, until the next
/// `warren serve` swept them. So `serve` starts this process first: it holds the read end of a
/// pipe whose write end only the server holds (close-on-exec: no instance inherits it), waits for
/// end-of-file, which the kernel delivers when the server is gone however it went, waits until
/// the server has exited, and then sweeps as a starting server does: the instance cgroups of
/// servers that no longer run are thawed, their processes killed, the cgroups removed. After a
/// clean stop it finds nothing and exits.
///
/// If the watchdog itself ends while the server runs (killed alone), the server starts another at
/// once (at most one a second), and says so on stderr.
enum Watchdog {
    /// A running watchdog: its pid, a pidfd for it (-1 without pidfd support) and the write end of
    /// its pipe, which stays open, unread and unwritten, while it should run.
    private struct Running: Sendable {
        var pid: Int32
        var pidfd: Int32
        var pipe: Int32
    }

    /// Starts the watchdog of this process, and keeps one running for the rest of the process's
    /// life. A failure is reported and not fatal: the next start sweeps anyway.
    static func start() {
        guard let first = spawn() else { return }
        guard first.pidfd >= 0 else {
            let reason = String(cString: strerror(errno))
            StandardStreams.error("warren: watchdog: pidfd_open: \(reason); it is not restarted if it ends\n")
            return
        }
        Task.detached { await keep(first) }
    }

    /// Waits for each watchdog to end, reaps it, and starts the next at once: while none runs, a
    /// SIGKILL of the server would leave its frozen instances. Starts are a second apart at least,
    /// so one that cannot run is not restarted in a loop.
    private static func keep(_ first: Running) async {
        var running = first
        var started = ContinuousClock.now
        while true {
            await ExitWatcher.shared.exited(running.pidfd)
            var status: Int32 = 0
            let reaped = waitpid(running.pid, &status, 0) == running.pid
            close(running.pidfd)
            close(running.pipe)
            let how = !reaped ? "ended" : (status & 0x7F) == 0
                ? "exited with status \((status >> 8) & 0xFF)" : "was killed by signal \(status & 0x7F)"
            StandardStreams.error("warren: the watchdog (pid \(running.pid)) \(how); starting another\n")
            try? await Task.sleep(until: started + .seconds(1))
            started = .now
            guard let next = spawn() else { return }
            guard next.pidfd >= 0 else { return }
            running = next
        }
    }

    private static func spawn() -> Running? {
        var fds: [Int32] = [-1, -1]
        guard wrn_pipe_cloexec(&fds) == 0 else {
            warn("pipe2: \(String(cString: strerror(errno)))")
            return nil
        }
        defer { close(fds[0]) }
        let argv = ["warren", "watchdog", "--owner", String(getpid())]
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        var pid: Int32 = 0
        let rc = wrn_spawn_with_stdin("/proc/self/exe", &cArgs, fds[0], &pid)
        guard rc == 0 else {
            warn("posix_spawn: \(String(cString: strerror(rc)))")
            close(fds[1])
            return nil
        }
        return Running(pid: pid, pidfd: wrn_pidfd_open(pid), pipe: fds[1])
    }

    private static func warn(_ what: String) {
        let line = "warren: cannot start the watchdog (\(what)); if this server is killed, "
            + "its frozen instances stay until the next start\n"
        StandardStreams.error(line)
    }
}

/// `warren watchdog`: the process ``Watchdog/start()`` starts. Not for operators.
struct WatchdogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watchdog",
        abstract: "Sweep the instances of a warren serve that died (started by serve itself).",
        shouldDisplay: false
    )

    @Option(name: .long, help: "The pid of the warren serve to watch; its pipe is standard input.")
    var owner: Int32

    func run() throws {
        // Started through /proc/self/exe, its name would be "exe": let ps and pgrep show what it is.
        let comm = open("/proc/self/comm", O_WRONLY | O_CLOEXEC)
        if comm >= 0 {
            _ = StandardStreams.write(comm, Array("warren-watchdog".utf8))
            close(comm)
        }
        // Ctrl-C in a terminal signals the whole process group: the server stops cleanly and this
        // process must outlive it to see that.
        for sig in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE] { signal(sig, SIG_IGN) }
        var byte: UInt8 = 0
        while true {
            let n = read(0, &byte, 1)
            if n == 0 || (n < 0 && errno != EINTR) { break }
        }
        // End-of-file comes as the server's files are closed, a moment before it is a zombie.
        for _ in 0..<1_000 where CgroupSweep.isRunning(owner) { usleep(10_000) }
        guard let backend = try? CgroupProbe.detect() else { return }
        Supervisor.sweep(backend)
    }
}
