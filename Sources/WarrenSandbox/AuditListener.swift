import CSeccomp
import Foundation
import Glibc
import Synchronization
import WarrenPolicy

// The supervisor half of audit mode. One thread per session:
//
//   payload (sandbox)                       AuditSession thread (warren)
//   seccomp(NEW_LISTENER) -> listener fd
//   sendmsg(notifyFD, SCM_RIGHTS) --------> recvmsg: the listener
//   execve ...  (close-on-exec drops both)
//   a call the policy would stop --------->  NOTIF_RECV {id, pid, nr, arch, args}
//     (parked in the kernel)                 record it; NOTIF_SEND:
//                                  <-------    audit: CONTINUE (the call runs)
//                                              enforce: the errno, or SIGKILL/SIGSYS
//   every filtered process gone  -------->  POLLHUP: done

/// One system call the filter sent to the supervisor, aggregated over the run.
package struct AuditRecord: Sendable, Equatable {
    /// The call's name (`x86:getpid` for another architecture).
    package let name: String
    /// How many times it was made.
    package var count: Int
    /// The arguments of the first call.
    package let firstArgs: [UInt64]
    /// What the policy does to the first call; nil when the supervisor had no policy (learn).
    package let action: EffectiveAction?
}

/// Receives a sandbox's seccomp listener and answers every notification, recording each call.
package final class AuditSession: Sendable {
    /// The policy's verdicts; nil to record everything and let everything run (learn).
    private let policy: ResolvedPolicy?
    /// Apply the policy's action instead of letting the call run.
    private let enforce: Bool
    /// The supervisor's end of the socket the listener arrives on.
    private let socket: Int32
    /// The sandbox's end, at `AuditFilter.notifyFD`, until `spawned()` closes the parent's copy.
    private let childEnd = Mutex<Int32>(-1)
    private let state = Mutex<State>(State())
    private let done = DispatchSemaphore(value: 0)

    private struct State {
        var records: [String: AuditRecord] = [:]
        var order: [String] = []
        var stop = false
        var gotListener = false
    }

    /// Creates the socket pair; the sandbox end is `AuditFilter.notifyFD`.
    /// - Throws: `SystemError` when the socket or the descriptor number is unavailable.
    package init(policy: ResolvedPolicy?, enforce: Bool) throws {
        self.policy = policy
        self.enforce = enforce
        var pair: [Int32] = [-1, -1]
        try syscall("socketpair") { Glibc.socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) }
        socket = pair[0]
        defer { close(pair[1]) }
        guard fcntl(AuditFilter.notifyFD, F_GETFD) < 0 else {
            close(pair[0])
            throw SystemError("descriptor \(AuditFilter.notifyFD) for the seccomp listener socket", errno: EBUSY)
        }
        // dup2 then FD_CLOEXEC: Swift's Glibc hides dup3; nothing else forks in between that
        // would matter (the CLI spawns only through the sandbox, which closes what it does not pass).
        let fd = try syscall("dup2") { dup2(pair[1], AuditFilter.notifyFD) }
        childEnd.withLock { $0 = fd }
        try syscall("fcntl(FD_CLOEXEC)") { fcntl(fd, F_SETFD, FD_CLOEXEC) }
    }

    deinit {
        close(socket)
        spawned()
    }

    /// The descriptor to put in `SandboxSpec.notifySocket`.
    package var childSocket: Int32 { AuditFilter.notifyFD }

    /// Starts the thread that waits for the listener and answers it.
    package func start() {
        let thread = Thread { [self] in
            serve()
            done.signal()
        }
        thread.name = "warren-audit"
        thread.start()
    }

    /// Closes the parent's copy of the sandbox's end, so a payload that dies before sending
    /// the listener shows as EOF. Call once the spawn returned (or failed).
    package func spawned() {
        childEnd.withLock { fd in
            if fd >= 0 { close(fd) }
            fd = -1
        }
    }

    /// Waits for the filtered processes to be gone (up to `graceMilliseconds` after the
    /// sandbox ended) and returns the records, in order of first occurrence.
    package func finish(graceMilliseconds: Int = 2000) -> (records: [AuditRecord], listened: Bool) {
        if done.wait(timeout: .now() + .milliseconds(graceMilliseconds)) == .timedOut {
            state.withLock { $0.stop = true }
            // The thread may sit in NOTIF_RECV for a notification a signal withdrew; what it
            // recorded so far is the answer, and the thread ends with the process.
            _ = done.wait(timeout: .now() + .milliseconds(500))
        }
        return state.withLock { s in (s.order.compactMap { s.records[$0] }, s.gotListener) }
    }

    private func serve() {
        guard let listener = receiveListener() else { return }
        defer { close(listener) }
        state.withLock { $0.gotListener = true }
        var p = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        while !state.withLock({ $0.stop }) {
            p.revents = 0
            let n = poll(&p, 1, 100)
            if n < 0, errno == EINTR { continue }
            if n <= 0 { continue }
            if p.revents & Int16(POLLIN) != 0 { answer(listener) }
            if p.revents & Int16(POLLHUP | POLLERR) != 0, p.revents & Int16(POLLIN) == 0 { return }
        }
    }

    /// recvmsg() of one byte with an SCM_RIGHTS descriptor; nil on EOF.
    private func receiveListener() -> Int32? {
        var byte: UInt8 = 0
        var control = [UInt64](repeating: 0, count: 4)  // 32 bytes, 8-aligned: one cmsghdr + an int
        while true {
            let n = withUnsafeMutablePointer(to: &byte) { bytePtr in
                control.withUnsafeMutableBytes { controlPtr in
                    var iov = iovec(iov_base: bytePtr, iov_len: 1)
                    return withUnsafeMutablePointer(to: &iov) { iovPtr in
                        var msg = msghdr()
                        msg.msg_iov = iovPtr
                        msg.msg_iovlen = 1
                        msg.msg_control = controlPtr.baseAddress
                        msg.msg_controllen = controlPtr.count
                        return recvmsg(socket, &msg, Int32(MSG_CMSG_CLOEXEC))
                    }
                }
            }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return nil }
            // struct cmsghdr { size_t len; int level; int type; } then the fd.
            let level = Int32(truncatingIfNeeded: control[1]), type = Int32(truncatingIfNeeded: control[1] >> 32)
            guard control[0] >= 20, level == SOL_SOCKET, type == 1 /* SCM_RIGHTS */ else { return nil }
            return Int32(truncatingIfNeeded: control[2])
        }
    }

    /// Receives one notification, records it and answers it.
    private func answer(_ listener: Int32) {
        var request = seccomp_notif()
        guard ioctl(listener, UInt(0xC050_2100), &request) == 0 else { return }  // SECCOMP_IOCTL_NOTIF_RECV
        let args = withUnsafeBytes(of: request.data.args) { Array($0.bindMemory(to: UInt64.self)) }
        let name = Self.name(request.data.nr, arch: request.data.arch)
        let action = policy.map { Self.stoppingAction($0.evaluate(name, args: args)) } ?? nil
        state.withLock { s in
            if s.records[name] == nil {
                s.order.append(name)
                s.records[name] = AuditRecord(name: name, count: 0, firstArgs: args, action: action)
            }
            s.records[name]?.count += 1
        }
        var response = seccomp_notif_resp()
        response.id = request.id
        response.flags = 1  // SECCOMP_USER_NOTIF_FLAG_CONTINUE
        if enforce, let action { apply(action, to: Int32(bitPattern: request.pid), response: &response) }
        _ = ioctl(listener, UInt(0xC018_2101), &response)  // SECCOMP_IOCTL_NOTIF_SEND; ENOENT if it died
    }

    /// Enforce mode: what the kernel would have done, done from here.
    private func apply(_ action: EffectiveAction, to pid: Int32, response: inout seccomp_notif_resp) {
        response.flags = 0
        switch action {
        case .errno(let value): response.error = -Int32(value)
        case .killThread, .killProcess:
            // SIGKILL rather than SIGSYS: it cannot be caught, as a seccomp kill cannot.
            kill(pid, SIGKILL)
            response.error = -ENOSYS
        case .trap:
            kill(pid, SIGSYS)
            response.error = -ENOSYS
        case .trace: response.error = -ENOSYS  // no tracer, as under the real filter
        case .allow, .log, .notify: response.flags = 1
        }
    }

    /// The most restrictive action among those the model says match (kill first).
    static func stoppingAction(_ actions: Set<EffectiveAction>) -> EffectiveAction? {
        let rank = { (a: EffectiveAction) -> Int in
            switch a {
            case .killProcess: 0
            case .killThread: 1
            case .trap: 2
            case .errno: 3
            case .trace: 4
            case .notify: 5
            case .log: 6
            case .allow: 7
            }
        }
        return actions.min { rank($0) < rank($1) }
    }

    static func name(_ number: Int32, arch: UInt32) -> String {
        if arch == seccomp_arch_native() { return LibseccompCatalog.nativeName(number) }
        let label = Architecture.allCases.first { SeccompCompiler.token($0) == arch }
            .map { $0.rawValue.dropFirst("SCMP_ARCH_".count).lowercased() } ?? "arch\(arch)"
        guard let raw = seccomp_syscall_resolve_num_arch(arch, number) else { return "\(label):syscall_\(number)" }
        defer { free(raw) }
        return "\(label):\(String(cString: raw))"
    }
}
