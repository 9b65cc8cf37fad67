import CSeccomp
import CWarrenSandbox
import Foundation
import Glibc
import Synchronization
import WarrenPolicy

// The supervisor half of audit mode. One thread per session, which traces the
// payload with ptrace or, where Warren cannot enforce through ptrace, answers a
// seccomp listener.
//
// Why ptrace: a call parked for a listener can be withdrawn by a signal until the
// supervisor has received it (WAIT_KILLABLE_RECV protects it only from then on),
// and the program then sees EINTR from a call the real filter never interrupts:
// a fork that fails, a close that closed nothing (a pipe keeps its writer, its
// reader waits forever). A tracee stopped at PTRACE_EVENT_SECCOMP is in a
// ptrace stop instead: a signal waits, the call runs when the tracer lets it
// go, as it would have without the filter. Enforcing through ptrace means
// skipping the call and setting its return register (`wrn_ptrace_skip_call`):
// done on x86_64; elsewhere `--enforce` keeps the listener.
//
// Listener:
//   payload (sandbox)                       AuditSession thread (warren)
//   seccomp(NEW_LISTENER) -> listener fd
//   sendmsg(notifyFD, SCM_RIGHTS) --------> recvmsg: the listener
//   execve ...  (close-on-exec drops both)
//   a call the policy would stop --------->  NOTIF_RECV {id, pid, nr, arch, args}
//     (parked in the kernel)                 record it; NOTIF_SEND:
//                                  <-------    audit: CONTINUE (the call runs)
//                                              enforce: the errno, or SIGKILL/SIGSYS
//   every filtered process gone  -------->  POLLHUP: done
//
// Tracer:
//   write(notifyFD, 1 byte)  ----------->  recvmsg: SCM_CREDENTIALS (its pid)
//                                           PTRACE_SEIZE (exit-kill, seccomp, fork, clone, exec)
//   read(notifyFD) <---------------------  write(1 byte)
//   seccomp(filter: RET_TRACE) ; execve
//   a call the policy would stop --------->  PTRACE_EVENT_SECCOMP: GET_SYSCALL_INFO, record,
//     (ptrace-stopped)            <-------    PTRACE_CONT
//   forks, threads: traced from birth;  signals: passed on;  group stops: PTRACE_LISTEN
//   every traced process gone  ---------->  done

/// One system call the filter sent to the supervisor, aggregated over the run.
package struct AuditRecord: Sendable, Equatable {
    /// The call's name (`x86:getpid` for another architecture).
    package let name: String
    /// How many times it was made.
    package var count: Int
    /// The arguments of the first call.
    package let firstArgs: [UInt64]
    /// The first arguments of every call OR-ed together: the flags `clone` was ever given.
    package var firstArgUnion: UInt64 = 0
    /// What the policy does to the first call; nil when the supervisor had no policy (learn).
    package let action: EffectiveAction?
}

/// Receives a sandbox's seccomp listener and answers every notification, recording each call.
package final class AuditSession: Sendable {
    /// How the calls reach the supervisor.
    package enum Interception: Sendable {
        /// Seccomp user notification: the filter NOTIFYs, the supervisor answers.
        case listener
        /// ptrace: the filter TRACEs, the supervisor is the payload's tracer.
        case tracer
    }

    /// The policy's verdicts; nil to record everything and let everything run (learn).
    private let policy: ResolvedPolicy?
    /// Apply the policy's action instead of letting the call run.
    private let enforce: Bool
    /// Calls answered so whatever the mode (`learn` answers clone3 ENOSYS, as the policy it
    /// prints will): recorded as made, then answered.
    private let answers: [String: EffectiveAction]
    /// `.tracer`, or `.listener` to enforce where the tracer cannot skip a call; compile the filter
    /// to match (`AuditFilter.compile(_:tracing:)`).
    package let interception: Interception

    /// Whether the tracer can apply an errno itself (skip the call, set its return register).
    package static var tracerEnforces: Bool {
        #if arch(x86_64)
            true
        #else
            false
        #endif
    }
    /// The supervisor's end of the socket the listener, or the payload's pid, arrives on.
    private let socket: Int32
    /// The sandbox's end, at `AuditFilter.notifyFD`, until `spawned()` closes the parent's copy.
    private let childEnd = Mutex<Int32>(-1)
    private let state = Mutex<State>(State())
    private let done = DispatchSemaphore(value: 0)

    private struct State {
        var records: [String: AuditRecord] = [:]
        var order: [String] = []
        var stop = false
        /// The listener arrived, or the payload was seized: calls reach the supervisor.
        var attached = false
        /// Why the tracer could not take the payload.
        var failure: SystemError?
    }

    /// Creates the socket pair; the sandbox end is `AuditFilter.notifyFD`.
    /// - Throws: `SystemError` when the socket or the descriptor number is unavailable.
    /// - Parameter interception: `nil` for the tracer where it can do what is asked; `.listener` to
    ///   use the fallback anyway (to compare the two).
    ///   - answers: Calls answered with an action even when not enforcing; needs an interception
    ///     that can apply it (the listener, or the tracer where ``tracerEnforces``).
    package init(
        policy: ResolvedPolicy?, enforce: Bool, interception: Interception? = nil,
        answers: [String: EffectiveAction] = [:]
    ) throws {
        self.policy = policy
        self.enforce = enforce
        self.answers = answers
        self.interception = interception ?? (enforce && !Self.tracerEnforces ? .listener : .tracer)
        if self.interception == .tracer, enforce, !Self.tracerEnforces {
            throw SystemError("enforcing through ptrace on this architecture", errno: ENOSYS)
        }
        var pair: [Int32] = [-1, -1]
        try syscall("socketpair") { Glibc.socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) }
        socket = pair[0]
        defer { close(pair[1]) }
        // The tracer learns the payload's pid from the kernel: its credentials, in our namespace.
        var on: Int32 = 1
        if self.interception == .tracer,
            setsockopt(pair[0], SOL_SOCKET, SO_PASSCRED, &on, socklen_t(MemoryLayout<Int32>.size)) < 0
        {
            let error = SystemError("setsockopt(SO_PASSCRED)", errno: errno)
            close(pair[0])
            throw error
        }
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

    /// Starts the thread that takes the listener and answers it, or seizes the payload and serves
    /// its stops.
    package func start() {
        let thread = Thread { [self] in
            switch interception {
            case .listener: serve()
            case .tracer: trace()
            }
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
    /// `attached` is false when no call could reach the supervisor; `failure` says why, when the
    /// tracer knows.
    package func finish(graceMilliseconds: Int = 2000)
        -> (records: [AuditRecord], attached: Bool, failure: SystemError?)
    {
        if done.wait(timeout: .now() + .milliseconds(graceMilliseconds)) == .timedOut {
            state.withLock { $0.stop = true }
            // The thread may sit in NOTIF_RECV for a notification a signal withdrew; what it
            // recorded so far is the answer, and the thread ends with the process.
            _ = done.wait(timeout: .now() + .milliseconds(500))
        }
        return state.withLock { s in (s.order.compactMap { s.records[$0] }, s.attached, s.failure) }
    }

    private func serve() {
        guard let listener = receiveListener() else { return }
        defer { close(listener) }
        state.withLock { $0.attached = true }
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
        // struct cmsghdr { size_t len; int level; int type; } then the fd.
        guard let control = receiveByte(flags: Int32(MSG_CMSG_CLOEXEC)), control[0] >= 20,
            Int32(truncatingIfNeeded: control[1]) == SOL_SOCKET,
            Int32(truncatingIfNeeded: control[1] >> 32) == 1 /* SCM_RIGHTS */
        else { return nil }
        return Int32(truncatingIfNeeded: control[2])
    }

    /// recvmsg() of one byte on the socket; the control data as 8-byte words (room for one
    /// cmsghdr and 16 bytes), nil on EOF.
    private func receiveByte(flags: Int32) -> [UInt64]? {
        var byte: UInt8 = 0
        var control = [UInt64](repeating: 0, count: 4)
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
                        return recvmsg(socket, &msg, flags)
                    }
                }
            }
            if n < 0, errno == EINTR { continue }
            return n > 0 ? control : nil
        }
    }

    /// Receives one notification, records it and answers it.
    private func answer(_ listener: Int32) {
        var request = seccomp_notif()
        guard ioctl(listener, UInt(0xC050_2100), &request) == 0 else { return }  // SECCOMP_IOCTL_NOTIF_RECV
        let args = withUnsafeBytes(of: request.data.args) { Array($0.bindMemory(to: UInt64.self)) }
        let action = record(request.data.nr, arch: request.data.arch, args: args)
        var response = seccomp_notif_resp()
        response.id = request.id
        response.flags = 1  // SECCOMP_USER_NOTIF_FLAG_CONTINUE
        if let action { apply(action, to: Int32(bitPattern: request.pid), response: &response) }
        _ = ioctl(listener, UInt(0xC018_2101), &response)  // SECCOMP_IOCTL_NOTIF_SEND; ENOENT if it died
    }

    /// Counts one call; returns what to answer it with: the policy's action when enforcing, an
    /// ``answers`` entry, else nil (it runs).
    private func record(_ number: Int32, arch: UInt32, args: [UInt64]) -> EffectiveAction? {
        let name = Self.name(number, arch: arch)
        let action = policy.map { Self.stoppingAction($0.evaluate(name, args: args)) } ?? nil
        state.withLock { s in
            if s.records[name] == nil {
                s.order.append(name)
                s.records[name] = AuditRecord(name: name, count: 0, firstArgs: args, action: action)
            }
            s.records[name]?.count += 1
            s.records[name]?.firstArgUnion |= args.first ?? 0
        }
        return enforce ? action : answers[name]
    }

    // MARK: Tracer

    /// ptrace(2) requests and options, from <linux/ptrace.h>.
    private enum Ptrace {
        static let cont = 7, seize = 0x4206, listen = 0x4208, getEventMessage = 0x4201, getSyscallInfo = 0x420E
        static let options: UInt = 0x02 | 0x04 | 0x08 | 0x10 | 0x80 | 1 << 20  // FORK VFORK CLONE EXEC SECCOMP EXITKILL
        static let eventFork: Int32 = 1, eventVfork: Int32 = 2, eventClone: Int32 = 3, eventSeccomp: Int32 = 7
        static let eventStop: Int32 = 128
        static let all: Int32 = 0x4000_0000  // __WALL: threads too
    }

    /// Seizes the payload once it says who it is, then serves its stops until every traced
    /// process is gone. Exit-kill: should warren die, so do they.
    private func trace() {
        func fail(_ operation: String) {
            let failure = SystemError(operation, errno: errno)
            state.withLock { $0.failure = failure }
            // EOF for the waiting payload: it fails before loading a filter nobody would serve.
            shutdown(socket, Int32(SHUT_RDWR))
        }
        var go: UInt8 = 0x47
        guard let pid = receivePid() else { return }
        guard wrn_ptrace(Ptrace.seize, pid, 0, Ptrace.options) == 0 else { return fail("PTRACE_SEIZE of the payload") }
        guard write(socket, &go, 1) == 1 else { return fail("write to the payload") }
        state.withLock { $0.attached = true }
        var tracees: Set<Int32> = [pid]
        while !tracees.isEmpty {
            var who: Int32 = 0, code: Int32 = 0
            if wrn_wait_peek(&who, &code) < 0 {
                if errno == EINTR { continue }
                return  // ECHILD: nothing left to wait for
            }
            if !tracees.contains(who) {
                // A ptrace stop of a child born before its parent's fork event was read; anything
                // else is warren-init's, whose exit is `SandboxProcess.wait`'s to collect: once it
                // has exited, the namespace and every tracee are gone.
                guard code == 4 /* CLD_TRAPPED */ else {
                    if code <= 3 { return }  // CLD_EXITED, CLD_KILLED, CLD_DUMPED
                    var info = siginfo_t()
                    _ = waitid(P_PID, id_t(who), &info, WSTOPPED)  // a stopped init: let the report go
                    continue
                }
                tracees.insert(who)
            }
            var status: Int32 = 0
            guard waitpid(who, &status, Ptrace.all) == who else { continue }
            if status & 0xFF != 0x7F {  // not a stop: it exited or was killed
                tracees.remove(who)
                continue
            }
            stopped(who, signal: (status >> 8) & 0xFF, event: status >> 16, tracees: &tracees)
        }
    }

    /// Serves one ptrace stop and lets the tracee go on (ESRCH: it was killed meanwhile).
    private func stopped(_ pid: Int32, signal: Int32, event: Int32, tracees: inout Set<Int32>) {
        switch event {
        case Ptrace.eventSeccomp:
            var info = [UInt64](repeating: 0, count: 12)  // struct ptrace_syscall_info, 88 bytes
            let size = info.withUnsafeMutableBytes { raw in
                wrn_ptrace(Ptrace.getSyscallInfo, pid, UInt(raw.count), UInt(bitPattern: raw.baseAddress))
            }
            // op (u8) SECCOMP = 3, arch at byte 4; seccomp.nr at 24, args at 32.
            if size >= 80, info[0] & 0xFF == 3 {
                let action = record(Int32(truncatingIfNeeded: info[3]), arch: UInt32(truncatingIfNeeded: info[0] >> 32),
                                    args: Array(info[4..<10]))
                if let action { apply(action, toTracee: pid) }
            }
            _ = wrn_ptrace(Ptrace.cont, pid, 0, 0)
        case Ptrace.eventFork, Ptrace.eventVfork, Ptrace.eventClone:
            var child: UInt = 0
            let got = withUnsafeMutablePointer(to: &child) {
                wrn_ptrace(Ptrace.getEventMessage, pid, 0, UInt(bitPattern: $0))
            }
            if got == 0 {
                tracees.insert(Int32(truncatingIfNeeded: child))
            }
            _ = wrn_ptrace(Ptrace.cont, pid, 0, 0)
        case Ptrace.eventStop:
            // SIGTRAP: a new tracee's first stop. A stop signal: a group stop, which LISTEN
            // keeps as a stop (SIGCONT still ends it) without holding the tracee in ptrace.
            if signal == SIGTRAP || wrn_ptrace(Ptrace.listen, pid, 0, 0) != 0 {
                _ = wrn_ptrace(Ptrace.cont, pid, 0, 0)
            }
        case 0:
            _ = wrn_ptrace(Ptrace.cont, pid, 0, UInt(signal))  // a signal on its way: deliver it
        default:
            _ = wrn_ptrace(Ptrace.cont, pid, 0, 0)  // exec
        }
    }

    /// The payload's one byte with its SCM_CREDENTIALS: its pid, nil on EOF.
    private func receivePid() -> Int32? {
        // struct cmsghdr, then struct ucred { pid, uid, gid }.
        guard let control = receiveByte(flags: 0), control[0] >= 28,
            Int32(truncatingIfNeeded: control[1]) == SOL_SOCKET,
            Int32(truncatingIfNeeded: control[1] >> 32) == 2 /* SCM_CREDENTIALS */
        else { return nil }
        let pid = Int32(truncatingIfNeeded: control[2])
        return pid > 0 ? pid : nil
    }

    /// Enforce mode, traced: what the kernel would have done, done from here before the tracee
    /// goes on (the call skipped with its errno; kills a SIGKILL, traps a SIGSYS, as below).
    private func apply(_ action: EffectiveAction, toTracee pid: Int32) {
        switch action {
        case .errno(let value): _ = wrn_ptrace_skip_call(pid, -Int(value))
        case .killThread, .killProcess:
            // Skipped as well: the kernel skips a call whose tracee has a fatal signal pending, but
            // the call must not run even if the kill were to fail.
            _ = wrn_ptrace_skip_call(pid, -Int(ENOSYS))
            kill(pid, SIGKILL)
        case .trap:
            _ = wrn_ptrace_skip_call(pid, -Int(ENOSYS))
            kill(pid, SIGSYS)
        case .trace: _ = wrn_ptrace_skip_call(pid, -Int(ENOSYS))  // no tracer, as under the real filter
        case .allow, .log, .notify: break
        }
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
