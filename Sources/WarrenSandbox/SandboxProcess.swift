import CWarrenSandbox
import Glibc
import Synchronization

/// How a sandbox's payload ended.
package struct Termination: Sendable, Equatable, CustomStringConvertible {
    package enum Status: Sendable, Equatable {
        case exited(Int32)
        case signaled(Int32)
    }

    package var status: Status
    /// The cgroup's OOM killer killed a process of the instance.
    package var oomKilled: Bool
    /// Peak memory of the instance's cgroup, when the kernel reports it.
    package var peakMemoryBytes: UInt64?

    /// The shell's convention: the exit status, or 128 + signal.
    package var exitCode: Int32 {
        switch status {
        case .exited(let code): return code
        case .signaled(let signal): return 128 + signal
        }
    }

    package var description: String {
        switch status {
        case .exited(let code): return "exited with status \(code)" + (oomKilled ? " (out of memory)" : "")
        case .signaled(let signal): return "killed by signal \(signal)" + (oomKilled ? " (out of memory)" : "")
        }
    }
}

/// A running sandbox: pid 1 (warren-init) and the payload under it.
package final class SandboxProcess: Sendable {
    /// Pid of the sandbox's init in the caller's pid namespace.
    package let pid: Int32
    /// A pidfd of the init, -1 where the kernel has none.
    package let pidfd: Int32
    /// Parent ends of `.pipe` streams.
    package let stdin: Int32?
    package let stdout: Int32?
    package let stderr: Int32?
    package let cgroup: (any Cgroup)?
    /// When the sandbox's init was running (made on the spawning thread as the spawn returned): the
    /// start of the payload's init phase, whatever the caller does before it looks.
    package let started = ContinuousClock.now
    private let statusFD: Int32
    private let reaped = Mutex<Termination?>(nil)

    init(pid: Int32, pidfd: Int32, statusFD: Int32, stdin: Int32?, stdout: Int32?, stderr: Int32?,
         cgroup: (any Cgroup)?) {
        self.pid = pid
        self.pidfd = pidfd
        self.statusFD = statusFD
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.cgroup = cgroup
    }

    deinit {
        for fd in [pidfd, statusFD, stdin ?? -1, stdout ?? -1, stderr ?? -1] where fd >= 0 {
            close(fd)
        }
    }

    /// Sends `signal` to the init, which forwards SIGTERM, SIGINT, SIGHUP,
    /// SIGQUIT, SIGUSR1 and SIGUSR2 to the payload.
    package func signal(_ signal: Int32) {
        if pidfd >= 0 {
            _ = wrn_pidfd_signal(pidfd, signal)
        } else {
            _ = Glibc.kill(pid, signal)
        }
    }

    /// Kills every process of the instance: its whole cgroup when it has
    /// one, else its init (whose exit ends the pid namespace).
    package func kill() throws {
        if let cgroup {
            try cgroup.killAll()
        } else {
            signal(SIGKILL)
        }
    }

    /// True once the init has exited (the pidfd is readable).
    package func hasExited(timeoutMilliseconds: Int32 = 0) -> Bool {
        guard pidfd >= 0 else { return false }
        var p = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
        while true {
            let n = poll(&p, 1, timeoutMilliseconds)
            if n < 0 && errno == EINTR { continue }
            return n > 0
        }
    }

    /// Waits for the sandbox to end and reaps it.
    ///
    /// - Parameter timeoutMilliseconds: -1 to wait for ever.
    /// - Returns: nil when the timeout passed first.
    package func wait(timeoutMilliseconds: Int32 = -1) throws -> Termination? {
        if let done = reaped.withLock({ $0 }) { return done }
        if timeoutMilliseconds >= 0, !hasExited(timeoutMilliseconds: timeoutMilliseconds) { return nil }
        var raw: Int32 = 0
        try syscall("waitpid \(pid)") { waitpid(pid, &raw, 0) }
        let status = payloadStatus() ?? raw
        let ended: Termination.Status =
            (status & 0x7f) == 0 ? .exited((status >> 8) & 0xff) : .signaled(status & 0x7f)
        let oom = (try? cgroup?.oomKillCount()) ?? 0
        let peak = (try? cgroup?.peakMemoryBytes()) ?? nil
        let termination = Termination(status: ended, oomKilled: oom > 0, peakMemoryBytes: peak)
        reaped.withLock { $0 = termination }
        return termination
    }

    /// The payload's raw wait status as warren-init reported it; nil when
    /// init died before it could (killed with the whole instance).
    private func payloadStatus() -> Int32? {
        var record = wrn_status_record()
        let n = withUnsafeMutableBytes(of: &record) { read(statusFD, $0.baseAddress, $0.count) }
        guard n == MemoryLayout<wrn_status_record>.size, record.magic == WRN_STATUS_MAGIC else { return nil }
        return record.status
    }
}
