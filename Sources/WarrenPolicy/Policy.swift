// The OCI / Docker seccomp profile, as plain values. Field names follow the
// JSON keys exactly so a reader of a profile recognises them here.

/// A seccomp profile in the OCI / Docker format, plus Warren's own `warren` key.
///
/// Build one with ``Policy/parse(_:file:)``, which validates everything;
/// ``Policy/resolve(native:capabilities:kernel:)`` then picks the rules that
/// apply to one process, as Docker does.
public struct Policy: Sendable, Equatable {
    /// What happens to a system call no rule matches.
    public var defaultAction: SeccompAction
    /// The errno (for `SCMP_ACT_ERRNO`) or trace message (`SCMP_ACT_TRACE`) of the default action.
    public var defaultErrnoRet: UInt32?
    /// Architectures the filter accepts; any other is killed.
    public var architectures: [Architecture]
    /// Native architecture → the sub-architectures accepted with it (used when `architectures` is empty).
    public var archMap: [ArchMapEntry]
    /// `SECCOMP_FILTER_FLAG_*` flags to load the filter with.
    public var flags: [FilterFlag]
    /// Unix socket of a seccomp agent for `SCMP_ACT_NOTIFY` (OCI); recorded, not used yet.
    public var listenerPath: String?
    /// Opaque data for the seccomp agent (OCI).
    public var listenerMetadata: String?
    /// The rules, in file order.
    public var syscalls: [SyscallRule]
    /// Warren's settings outside seccomp.
    public var warren: WarrenSettings

    /// Creates a policy; prefer ``Policy/parse(_:file:)``, which validates.
    public init(
        defaultAction: SeccompAction, defaultErrnoRet: UInt32? = nil, architectures: [Architecture] = [],
        archMap: [ArchMapEntry] = [], flags: [FilterFlag] = [], listenerPath: String? = nil,
        listenerMetadata: String? = nil, syscalls: [SyscallRule] = [], warren: WarrenSettings = WarrenSettings()
    ) {
        self.defaultAction = defaultAction
        self.defaultErrnoRet = defaultErrnoRet
        self.architectures = architectures
        self.archMap = archMap
        self.flags = flags
        self.listenerPath = listenerPath
        self.listenerMetadata = listenerMetadata
        self.syscalls = syscalls
        self.warren = warren
    }

    /// The default action with its errno filled in (EPERM when absent, as runc does).
    public var effectiveDefaultAction: EffectiveAction {
        defaultAction.effective(errnoRet: defaultErrnoRet)
    }

    /// Whether any rule, or the default, hands system calls to a user-space listener.
    public var usesNotify: Bool {
        defaultAction == .notify || syscalls.contains { $0.action == .notify }
    }
}

/// One entry of `syscalls[]`: names, an action and optional argument conditions.
public struct SyscallRule: Sendable, Equatable {
    /// System call names (`names`, plus the legacy single `name`).
    public var names: [String]
    /// What happens when the rule matches.
    public var action: SeccompAction
    /// errno for `SCMP_ACT_ERRNO` (default EPERM) or the message for `SCMP_ACT_TRACE`.
    public var errnoRet: UInt32?
    /// Conditions on arguments; all must hold.
    public var args: [ArgCondition]
    /// Free text; Warren's own policies explain each group here, since JSON has no comments.
    public var comment: String?
    /// The rule applies only when all of these hold.
    public var includes: RuleFilter
    /// The rule is dropped when any of these holds.
    public var excludes: RuleFilter

    /// Creates a rule.
    public init(
        names: [String], action: SeccompAction, errnoRet: UInt32? = nil, args: [ArgCondition] = [],
        comment: String? = nil, includes: RuleFilter = RuleFilter(), excludes: RuleFilter = RuleFilter()
    ) {
        self.names = names
        self.action = action
        self.errnoRet = errnoRet
        self.args = args
        self.comment = comment
        self.includes = includes
        self.excludes = excludes
    }

    /// The action with its errno filled in.
    public var effectiveAction: EffectiveAction { action.effective(errnoRet: errnoRet) }
}

/// A comparison of one system call argument (`args[]`).
public struct ArgCondition: Sendable, Hashable {
    /// Argument number, 0...5.
    public var index: UInt32
    /// The operand; for `SCMP_CMP_MASKED_EQ`, the mask.
    public var value: UInt64
    /// For `SCMP_CMP_MASKED_EQ`, the value the masked argument must equal; otherwise unused.
    public var valueTwo: UInt64
    /// The comparison.
    public var op: CompareOp

    /// Creates a condition.
    public init(index: UInt32, value: UInt64, valueTwo: UInt64 = 0, op: CompareOp) {
        self.index = index
        self.value = value
        self.valueTwo = valueTwo
        self.op = op
    }
}

/// `includes` / `excludes` of a rule (Docker's extension to the OCI format).
public struct RuleFilter: Sendable, Equatable {
    /// Capability names (`CAP_SYS_ADMIN`).
    public var caps: [String]
    /// Architecture names as Docker spells them (Go's: `amd64`, `arm64`, `x32`…).
    public var arches: [String]
    /// A kernel version, `"4.8"`.
    public var minKernel: KernelVersion?

    /// Creates a filter; all empty means "no condition".
    public init(caps: [String] = [], arches: [String] = [], minKernel: KernelVersion? = nil) {
        self.caps = caps
        self.arches = arches
        self.minKernel = minKernel
    }

    /// True when the filter sets no condition at all.
    public var isEmpty: Bool { caps.isEmpty && arches.isEmpty && minKernel == nil }
}

/// One `archMap` entry.
public struct ArchMapEntry: Sendable, Equatable {
    /// The native architecture this entry is for.
    public var architecture: Architecture
    /// Architectures whose system calls are accepted too (x86 and x32 on x86_64).
    public var subArchitectures: [Architecture]

    /// Creates an entry.
    public init(architecture: Architecture, subArchitectures: [Architecture] = []) {
        self.architecture = architecture
        self.subArchitectures = subArchitectures
    }
}

/// Warren's top-level `"warren"` object: confinement that seccomp does not express.
public struct WarrenSettings: Sendable, Equatable {
    /// Which network an instance sees.
    public var network: NetworkMode

    /// Creates settings; the default is loopback only.
    public init(network: NetworkMode = .loopback) {
        self.network = network
    }
}

/// The network of an instance's namespace.
public enum NetworkMode: String, Sendable, CaseIterable {
    /// No interface at all, not even `lo`.
    case none
    /// `lo` up (the Runtime API listens there), nothing else.
    case loopback
}

/// A kernel version `major.minor`, as `minKernel` spells it.
public struct KernelVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The major version (6 in 6.18).
    public var major: Int
    /// The minor version (18 in 6.18).
    public var minor: Int

    /// Creates a version.
    public init(_ major: Int, _ minor: Int) {
        self.major = major
        self.minor = minor
    }

    /// Parses `"4.8"` exactly (digits, one dot, digits; not `0.0`), as Docker's loader does.
    public init?(parsing text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              let major = Int(parts[0]), let minor = Int(parts[1]), major > 0 || minor > 0
        else { return nil }
        self.init(major, minor)
    }

    /// Parses a `uname -r` release such as `6.18.44-fc-v595`; nil when it does not start with `N.N`.
    public init?(release: String) {
        let parts = release.split(whereSeparator: { !$0.isNumber }).prefix(2)
        guard parts.count == 2, let major = Int(parts[0]), let minor = Int(parts[1]) else { return nil }
        self.init(major, minor)
    }

    public static func < (lhs: KernelVersion, rhs: KernelVersion) -> Bool {
        (lhs.major, lhs.minor) < (rhs.major, rhs.minor)
    }

    public var description: String { "\(major).\(minor)" }
}
