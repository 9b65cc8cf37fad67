import CSeccomp
import Glibc
import WarrenPolicy

// Seccomp is compiled in the parent, once per policy, as crun and nsjail do:
// libseccomp allocates, so it cannot run between clone() and execve(). The
// child (warren-init, before it execs the payload) only hands the raw
// `struct sock_filter[]` to seccomp(SECCOMP_SET_MODE_FILTER).

/// A seccomp program ready to load: the raw `struct sock_filter` array libseccomp exported.
///
/// A value: compile once per policy, then share it between any number of spawns.
package struct CompiledFilter: Sendable, Equatable {
    /// The program, `instructionCount` records of 8 bytes (`struct sock_filter`, host byte order).
    package let bpf: [UInt8]
    /// True when some rule returns `SCMP_ACT_NOTIFY`: the loader must then pass
    /// `SECCOMP_FILTER_FLAG_NEW_LISTENER` and hand the listener fd to an agent.
    package let usesNotify: Bool
    /// `SECCOMP_FILTER_FLAG_*` bits the policy's `flags` ask for (seccomp(2)'s `flags` argument).
    package let loadFlags: UInt32
    /// The architectures the program accepts; system calls of any other are killed.
    package let architectures: [Architecture]
    /// Rules this libseccomp could not express, so those calls get the default action there.
    package let unenforced: [UnenforcedSyscall]

    /// Number of BPF instructions.
    package var instructionCount: Int { bpf.count / 8 }

    /// The kernel's limit on one program (BPF_MAXINSNS); warren-init's buffer has the same size.
    package static let maxInstructions = 4096
}

/// A system call a policy names that the compiled filter does not act on for one architecture,
/// because libseccomp 2.5.4 does not know it and its number there is unknown to Warren too.
package struct UnenforcedSyscall: Sendable, Hashable, CustomStringConvertible {
    /// The system call name.
    package let name: String
    /// The architecture whose part of the filter lacks the rule.
    package let architecture: Architecture

    package var description: String { "\(name) on \(architecture.rawValue)" }
}

/// Why a policy could not be turned into a BPF program.
package enum SeccompError: Error, CustomStringConvertible, Equatable {
    /// A libseccomp call failed; `call` names it and its object, e.g. `seccomp_rule_add(ptrace)`.
    case libseccomp(call: String, errno: Int32)
    /// A system call made while exporting the program failed.
    case system(call: String, errno: Int32)
    /// libseccomp 2.5.4 has no such architecture (LoongArch, m68k, SuperH).
    case unsupportedArchitecture(Architecture)
    /// The program is longer than the kernel accepts.
    case tooLong(instructions: Int)
    /// Two rules libseccomp would silently reduce to one.
    case conflictingRules(RuleConflict)

    package var description: String {
        switch self {
        case .libseccomp(let call, let errno), .system(let call, let errno):
            "\(call): \(Errno.name(errno))"
        case .unsupportedArchitecture(let arch):
            "\(arch.rawValue) is not supported by this libseccomp (2.5.4)"
        case .tooLong(let instructions):
            "the filter has \(instructions) BPF instructions, more than the kernel's "
                + "\(CompiledFilter.maxInstructions). Hint: merge rules that share an action into one \"names\" list"
        case .conflictingRules(let conflict):
            conflict.description
        }
    }
}

/// Compiles a `Policy` to a BPF program with libseccomp.
package enum SeccompCompiler {
    /// Resolves the policy for a process with no capabilities on this host and compiles it.
    ///
    /// Foreign architectures are killed (`SCMP_FLTATR_ACT_BADARCH` = KILL_PROCESS) and
    /// libseccomp does not set NO_NEW_PRIVS: the sandbox sets it itself, in order.
    /// - Parameters:
    ///   - policy: a validated policy.
    ///   - kernel: the kernel the filter is for (`minKernel`); this host's by default.
    ///   - native: the native architecture (`includes.arches`, `archMap`); this host's by default.
    ///   - capabilities: the process's capabilities; Warren's processes have none.
    /// - Throws: `SeccompError` naming the libseccomp call that failed.
    package static func compile(
        _ policy: Policy, kernel: KernelVersion = .current, native: Architecture = .native,
        capabilities: Set<String> = []
    ) throws -> CompiledFilter {
        let resolved = policy.resolve(native: native, capabilities: capabilities, kernel: kernel)
        if let conflict = resolved.conflicts.first { throw SeccompError.conflictingRules(conflict) }
        var builder = try FilterBuilder(resolved: resolved, native: native)
        defer { builder.release() }
        try builder.addRules()
        let bpf = try builder.export()
        guard bpf.count / 8 <= CompiledFilter.maxInstructions else { throw SeccompError.tooLong(instructions: bpf.count / 8) }
        // Only rules that apply here count: an excluded NOTIFY rule needs no listener.
        let usesNotify = resolved.rules.contains { $0.action == .notify }
        var flags = policy.flags.reduce(UInt32(0)) { $0 | $1.bit }
        if usesNotify { flags |= 1 << 3 }  // SECCOMP_FILTER_FLAG_NEW_LISTENER
        return CompiledFilter(
            bpf: bpf, usesNotify: usesNotify, loadFlags: flags,
            architectures: resolved.architectures, unenforced: builder.unenforced)
    }

    /// libseccomp's value for an action.
    static func actionValue(_ action: EffectiveAction) -> UInt32 {
        switch action {
        case .allow: SCMP_ACT_ALLOW
        case .errno(let value): 0x0005_0000 | UInt32(value)  // SCMP_ACT_ERRNO(x), a macro Swift cannot import
        case .killThread: SCMP_ACT_KILL_THREAD
        case .killProcess: SCMP_ACT_KILL_PROCESS
        case .trap: SCMP_ACT_TRAP
        case .log: SCMP_ACT_LOG
        case .trace(let value): 0x7FF0_0000 | UInt32(value)  // SCMP_ACT_TRACE(x)
        case .notify: SCMP_ACT_NOTIFY
        }
    }

    /// libseccomp's comparison operator.
    static func compareOp(_ op: CompareOp) -> scmp_compare {
        switch op {
        case .notEqual: SCMP_CMP_NE
        case .lessThan: SCMP_CMP_LT
        case .lessOrEqual: SCMP_CMP_LE
        case .equal: SCMP_CMP_EQ
        case .greaterOrEqual: SCMP_CMP_GE
        case .greaterThan: SCMP_CMP_GT
        case .maskedEqual: SCMP_CMP_MASKED_EQ
        }
    }

    /// libseccomp's token for an architecture, or nil when 2.5.4 lacks it.
    static func token(_ arch: Architecture) -> UInt32? {
        let name = arch.rawValue.dropFirst("SCMP_ARCH_".count).lowercased()
        let token = seccomp_arch_resolve_name(name)
        return token == 0 ? nil : token
    }
}
