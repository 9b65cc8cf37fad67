import CSeccomp
import Glibc
import WarrenPolicy

// Audit mode (`warren policy test`, `learn`) works by seccomp user
// notification: every action that would stop a call becomes SCMP_ACT_NOTIFY,
// so the kernel parks the call and asks the supervisor, which records it
// with its arguments and lets it run (audit) or applies the real action
// (enforce). The payload loads the filter with NEW_LISTENER and sends the
// listener out over `notifySocket`; that one sendmsg() must not itself be
// parked (nobody holds the listener yet), so a short BPF prefix allows
// sendmsg() on that one descriptor number before the policy's program runs.

/// A filter whose would-be denials are notified to a supervisor instead of enforced.
package enum AuditFilter {
    /// The descriptor number the payload sends the listener on: high, so that after exec
    /// (which closes it) the program's own descriptors are unlikely to reuse the number and
    /// have their sendmsg() slip past the audit.
    package static let notifyFD: Int32 = 1000

    /// The audit variant of `policy`: every action that stops a call (errno, kill, trap,
    /// trace) becomes NOTIFY; ALLOW and LOG stay. TSYNC is dropped (the kernel refuses it
    /// with NEW_LISTENER, and the payload has one thread when it loads the filter).
    package static func auditVariant(of policy: Policy) -> Policy {
        var copy = policy
        let stops = { (action: SeccompAction) in !action.effective(errnoRet: nil).mayRun || action == .notify }
        if stops(copy.defaultAction) {
            copy.defaultAction = .notify
            copy.defaultErrnoRet = nil
        }
        for i in copy.syscalls.indices where stops(copy.syscalls[i].action) {
            copy.syscalls[i].action = .notify
            copy.syscalls[i].errnoRet = nil
        }
        copy.flags.removeAll { $0 == .tsync }
        return copy
    }

    /// A policy that notifies every system call of the native architecture (`learn`).
    package static var everything: Policy {
        Policy(defaultAction: .notify, architectures: [.native])
    }

    /// Compiles `policy` (already an audit variant) for a notifying load, or, with `tracing`,
    /// with every NOTIFY as TRACE for a ptrace tracer (``AuditSession/Interception``).
    /// - Throws: `SeccompError` from the compiler, or `.tooLong` with the prefix.
    package static func compile(_ policy: Policy, tracing: Bool = false) throws -> CompiledFilter {
        if tracing {
            var traced = policy
            if traced.defaultAction == .notify { traced.defaultAction = .trace }
            for i in traced.syscalls.indices where traced.syscalls[i].action == .notify {
                traced.syscalls[i].action = .trace
            }
            // No listener to hand over, so no prefix: the program's own sendmsg() is traced too.
            return try SeccompCompiler.compile(traced)
        }
        let base = try SeccompCompiler.compile(policy)
        let bpf = try prefix() + base.bpf
        guard bpf.count / 8 <= CompiledFilter.maxInstructions else { throw SeccompError.tooLong(instructions: bpf.count / 8) }
        let newListener: UInt32 = 1 << 3  // SECCOMP_FILTER_FLAG_NEW_LISTENER
        // Once Warren has received a notification, only a fatal signal may interrupt the
        // parked call (5.19+). Without it a SIGCHLD arriving while fork() is parked makes
        // fork fail with EINTR (busybox sh: "can't fork"), a failure the real policy never causes.
        let waitKillable: UInt32 = 1 << 5  // SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
        return CompiledFilter(
            bpf: bpf, usesNotify: true, loadFlags: base.loadFlags | newListener | waitKillable,
            architectures: base.architectures, unenforced: base.unenforced)
    }

    /// `if arch == native && nr == sendmsg && arg0 == notifyFD { return ALLOW }`, falling
    /// through to the policy's program (which reloads what it needs: no state is shared).
    static func prefix() throws -> [UInt8] {
        let sendmsg = seccomp_syscall_resolve_name("sendmsg")
        guard sendmsg >= 0 else { throw SeccompError.libseccomp(call: "seccomp_syscall_resolve_name(sendmsg)", errno: ENOSYS) }
        let arch = seccomp_arch_native()  // libseccomp's tokens are the kernel's AUDIT_ARCH_* values
        let load: UInt16 = 0x20, jeq: UInt16 = 0x15, ret: UInt16 = 0x06  // BPF_LD|W|ABS, BPF_JMP|JEQ|K, BPF_RET|K
        // seccomp_data: nr at 0, arch at 4, args[0] at 16 (low word first on little-endian hosts).
        let program: [(UInt16, UInt8, UInt8, UInt32)] = [
            (load, 0, 0, 4), (jeq, 0, 7, arch),
            (load, 0, 0, 0), (jeq, 0, 5, UInt32(sendmsg)),
            (load, 0, 0, 16), (jeq, 0, 3, UInt32(notifyFD)),
            (load, 0, 0, 20), (jeq, 0, 1, 0),
            (ret, 0, 0, 0x7FFF_0000),  // SECCOMP_RET_ALLOW
        ]
        var bytes: [UInt8] = []
        for (code, jt, jf, k) in program {
            withUnsafeBytes(of: code.littleEndian) { bytes += $0 }
            bytes += [jt, jf]
            withUnsafeBytes(of: k.littleEndian) { bytes += $0 }
        }
        return bytes
    }
}
