// The closed vocabularies of the profile format. Raw values are the exact
// JSON spellings, so an unknown spelling is simply a failed init.

/// A rule's or the default's `action`.
public enum SeccompAction: String, Sendable, CaseIterable {
    /// Run the call.
    case allow = "SCMP_ACT_ALLOW"
    /// Fail the call with `errnoRet` (EPERM when absent).
    case errno = "SCMP_ACT_ERRNO"
    /// The legacy spelling of ``killThread``; kept apart so the source spelling survives.
    case kill = "SCMP_ACT_KILL"
    /// Kill the calling thread.
    case killThread = "SCMP_ACT_KILL_THREAD"
    /// Kill the whole process.
    case killProcess = "SCMP_ACT_KILL_PROCESS"
    /// Send SIGSYS.
    case trap = "SCMP_ACT_TRAP"
    /// Run the call and log it.
    case log = "SCMP_ACT_LOG"
    /// Stop for a ptrace tracer (ENOSYS without one), with `errnoRet` as the message.
    case trace = "SCMP_ACT_TRACE"
    /// Ask the user-space listener what to do.
    case notify = "SCMP_ACT_NOTIFY"

    /// The OCI spec gives `errnoRet` a meaning only for these two actions.
    public var acceptsErrnoRet: Bool { self == .errno || self == .trace }

    /// The action with its return value; EPERM when `errnoRet` is absent, as runc and Docker do.
    public func effective(errnoRet: UInt32?) -> EffectiveAction {
        // Both values were range-checked on parse; clamp anyway for hand-built policies.
        let value = UInt16(clamping: errnoRet ?? EffectiveAction.eperm)
        switch self {
        case .allow: return .allow
        case .errno: return .errno(value)
        case .kill, .killThread: return .killThread
        case .killProcess: return .killProcess
        case .trap: return .trap
        case .log: return .log
        case .trace: return .trace(value)
        case .notify: return .notify
        }
    }
}

/// What the kernel does, with the errno or trace message resolved.
public enum EffectiveAction: Sendable, Hashable, CustomStringConvertible {
    /// Run the call.
    case allow
    /// Fail the call with this errno.
    case errno(UInt16)
    /// Kill the calling thread.
    case killThread
    /// Kill the process.
    case killProcess
    /// Send SIGSYS.
    case trap
    /// Run and log.
    case log
    /// Stop for a tracer with this message.
    case trace(UInt16)
    /// Ask the listener.
    case notify

    /// errno 1; the value of an `SCMP_ACT_ERRNO` without `errnoRet`.
    public static let eperm: UInt32 = 1

    /// True when the call runs (possibly logged or reviewed by a tracer or listener).
    public var mayRun: Bool {
        switch self {
        case .allow, .log, .trace, .notify: true
        case .errno, .killThread, .killProcess, .trap: false
        }
    }

    public var description: String {
        switch self {
        case .allow: "ALLOW"
        case .errno(let value): "ERRNO(\(value))"
        case .killThread: "KILL_THREAD"
        case .killProcess: "KILL_PROCESS"
        case .trap: "TRAP"
        case .log: "LOG"
        case .trace(let value): "TRACE(\(value))"
        case .notify: "NOTIFY"
        }
    }
}

/// An argument comparison (`op`).
public enum CompareOp: String, Sendable, CaseIterable {
    /// `arg != value`.
    case notEqual = "SCMP_CMP_NE"
    /// `arg < value`.
    case lessThan = "SCMP_CMP_LT"
    /// `arg <= value`.
    case lessOrEqual = "SCMP_CMP_LE"
    /// `arg == value`.
    case equal = "SCMP_CMP_EQ"
    /// `arg >= value`.
    case greaterOrEqual = "SCMP_CMP_GE"
    /// `arg > value`.
    case greaterThan = "SCMP_CMP_GT"
    /// `(arg & value) == valueTwo`.
    case maskedEqual = "SCMP_CMP_MASKED_EQ"
}

/// A seccomp architecture token as the OCI spec spells it; each case is named after its token.
public enum Architecture: String, Sendable, CaseIterable {
    case x86 = "SCMP_ARCH_X86"
    case x86_64 = "SCMP_ARCH_X86_64"
    case x32 = "SCMP_ARCH_X32"
    case arm = "SCMP_ARCH_ARM"
    case aarch64 = "SCMP_ARCH_AARCH64"
    case mips = "SCMP_ARCH_MIPS"
    case mips64 = "SCMP_ARCH_MIPS64"
    case mips64n32 = "SCMP_ARCH_MIPS64N32"
    case mipsel = "SCMP_ARCH_MIPSEL"
    case mipsel64 = "SCMP_ARCH_MIPSEL64"
    case mipsel64n32 = "SCMP_ARCH_MIPSEL64N32"
    case ppc = "SCMP_ARCH_PPC"
    case ppc64 = "SCMP_ARCH_PPC64"
    case ppc64le = "SCMP_ARCH_PPC64LE"
    case s390 = "SCMP_ARCH_S390"
    case s390x = "SCMP_ARCH_S390X"
    case parisc = "SCMP_ARCH_PARISC"
    case parisc64 = "SCMP_ARCH_PARISC64"
    case riscv64 = "SCMP_ARCH_RISCV64"
    case loongarch64 = "SCMP_ARCH_LOONGARCH64"
    case m68k = "SCMP_ARCH_M68K"
    case sh = "SCMP_ARCH_SH"
    case sheb = "SCMP_ARCH_SHEB"

    /// The names `includes.arches` / `excludes.arches` use for this architecture when it is
    /// native. Docker compares them with Go's `runtime.GOARCH`; its own profile says `x86`
    /// where Go says `386`, so both are accepted.
    public var ruleNames: [String] {
        switch self {
        case .x86: ["386", "x86"]
        case .x86_64: ["amd64"]
        case .x32: ["x32"]
        case .arm: ["arm"]
        case .aarch64: ["arm64"]
        case .mips: ["mips"]
        case .mipsel: ["mipsle"]
        case .mips64: ["mips64"]
        case .mipsel64: ["mips64le", "mipsel64"]
        case .mips64n32: ["mips64n32"]
        case .mipsel64n32: ["mipsel64n32", "mips3l64n32"]
        case .ppc: ["ppc"]
        case .ppc64: ["ppc64"]
        case .ppc64le: ["ppc64le"]
        case .s390: ["s390"]
        case .s390x: ["s390x"]
        case .parisc: ["parisc"]
        case .parisc64: ["parisc64"]
        case .riscv64: ["riscv64"]
        case .loongarch64: ["loong64", "loongarch64"]
        case .m68k: ["m68k"]
        case .sh: ["sh"]
        case .sheb: ["sheb"]
        }
    }

    /// Every name a rule may use in `arches`.
    public static let knownRuleNames: Set<String> = Set(allCases.flatMap(\.ruleNames))
}

/// A `flags` entry: `SECCOMP_FILTER_FLAG_*`, passed to seccomp(2) when the filter is loaded.
public enum FilterFlag: String, Sendable, CaseIterable {
    /// Apply the filter to every thread of the process.
    case tsync = "SECCOMP_FILTER_FLAG_TSYNC"
    /// Log every action but ALLOW.
    case log = "SECCOMP_FILTER_FLAG_LOG"
    /// Keep speculative store bypass mitigation off.
    case specAllow = "SECCOMP_FILTER_FLAG_SPEC_ALLOW"
    /// Let a notified task be killed only by fatal signals while the listener answers.
    case waitKillableRecv = "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"

    /// The kernel's bit for this flag (`linux/seccomp.h`).
    public var bit: UInt32 {
        switch self {
        case .tsync: 1 << 0
        case .log: 1 << 1
        case .specAllow: 1 << 2
        case .waitKillableRecv: 1 << 5
        }
    }
}

/// Capability names a rule's `caps` may use (`linux/capability.h`, up to CAP_CHECKPOINT_RESTORE).
public enum Capabilities {
    /// All 41 names.
    public static let known: Set<String> = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
        "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
        "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
        "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ]
}

/// The table of Linux system call names (see `LinuxSyscalls+Table.swift`).
package enum LinuxSyscalls {
    /// True when some architecture has a system call of this name.
    package static func isKnown(_ name: String) -> Bool { names.contains(name) }
}
