import CSeccomp
import Glibc
import WarrenPolicy

// Why two libseccomp contexts: libseccomp translates a rule's system call
// number to every architecture of a context through *its own* native table,
// so a call it does not know (mseal, statmount… after 2.5.4's table) can be
// added by number only to a context whose sole architecture is the host's;
// with x86 or x32 in the same context the add fails with EFAULT. The host
// architecture therefore gets its own context, the other architectures a
// second one, and seccomp_merge() joins them (same attributes, disjoint arches).

/// One policy's libseccomp contexts while they are being filled.
struct FilterBuilder {
    private let resolved: ResolvedPolicy
    private let hostArch: Architecture?
    private var hostContext: scmp_filter_ctx?
    private var foreignContext: scmp_filter_ctx?
    private var foreignArches: [Architecture] = []
    /// Calls that could not be expressed for some architecture.
    private(set) var unenforced: [UnenforcedSyscall] = []

    /// Creates the contexts for `resolved.architectures`.
    /// - Throws: `SeccompError` when libseccomp refuses the default action, an attribute or an architecture.
    init(resolved: ResolvedPolicy, native: Architecture) throws {
        self.resolved = resolved
        let hostToken = seccomp_arch_native()
        hostArch = Architecture.allCases.first { SeccompCompiler.token($0) == hostToken }
        for arch in resolved.architectures {
            guard SeccompCompiler.token(arch) != nil else { throw SeccompError.unsupportedArchitecture(arch) }
        }
        if let hostArch, resolved.architectures.contains(hostArch) {
            hostContext = try Self.context(resolved, arches: [hostArch], host: hostArch)
        }
        foreignArches = resolved.architectures.filter { $0 != hostArch }
        if !foreignArches.isEmpty {
            do {
                foreignContext = try Self.context(resolved, arches: foreignArches, host: hostArch)
            } catch {
                release()
                throw error
            }
        }
    }

    /// Frees whatever contexts are left; call exactly once.
    mutating func release() {
        if let hostContext { seccomp_release(hostContext) }
        if let foreignContext { seccomp_release(foreignContext) }
        hostContext = nil
        foreignContext = nil
    }

    /// Adds every resolved rule to every context.
    /// - Throws: `SeccompError.libseccomp` naming the system call whose rule libseccomp refused.
    mutating func addRules() throws {
        let defaultValue = SeccompCompiler.actionValue(resolved.defaultAction)
        for rule in resolved.rules {
            let action = SeccompCompiler.actionValue(rule.action)
            // libseccomp refuses (EACCES) a rule that repeats the default; runc skips it too.
            if action == defaultValue { continue }
            let conditions = rule.args.map {
                scmp_arg_cmp(arg: $0.index, op: SeccompCompiler.compareOp($0.op), datum_a: $0.value, datum_b: $0.valueTwo)
            }
            for name in rule.names {
                if let hostContext, let hostArch {
                    try addHostRule(hostContext, arch: hostArch, name: name, action: action, conditions: conditions)
                }
                if let foreignContext {
                    try addForeignRule(foreignContext, name: name, action: action, conditions: conditions)
                }
            }
        }
    }

    /// Merges the contexts and exports the program through a memfd (2.5.4 has no export to memory).
    /// - Throws: `SeccompError` for the failing merge, memfd or export call.
    mutating func export() throws -> [UInt8] {
        if let hostContext, let foreignContext {
            let rc = seccomp_merge(hostContext, foreignContext)
            guard rc == 0 else { throw SeccompError.libseccomp(call: "seccomp_merge", errno: -rc) }
            self.foreignContext = nil  // seccomp_merge released it
        }
        guard let context = hostContext ?? foreignContext else {
            throw SeccompError.libseccomp(call: "seccomp_init (no architecture)", errno: EINVAL)
        }
        let fd = try Memfd.create(name: "warren-seccomp")
        defer { close(fd) }
        let rc = seccomp_export_bpf(context, fd)
        guard rc == 0 else { throw SeccompError.libseccomp(call: "seccomp_export_bpf", errno: -rc) }
        return try Memfd.readAll(fd)
    }

    private mutating func addHostRule(
        _ context: scmp_filter_ctx, arch: Architecture, name: String, action: UInt32, conditions: [scmp_arg_cmp]
    ) throws {
        var number = seccomp_syscall_resolve_name_arch(SeccompCompiler.token(arch) ?? 0, name)
        if number == __NR_SCMP_ERROR {
            guard let unified = Self.unifiedNumber(name, on: arch) else {
                unenforced.append(UnenforcedSyscall(name: name, architecture: arch))
                return
            }
            number = unified
        } else if number < 0 {
            return  // a pseudo number: the call exists on other architectures only (chown32 on x86_64)
        }
        try Self.add(context, name: name, number: number, action: action, conditions: conditions)
    }

    private mutating func addForeignRule(
        _ context: scmp_filter_ctx, name: String, action: UInt32, conditions: [scmp_arg_cmp]
    ) throws {
        // A host number or pseudo number; libseccomp maps it to each architecture and
        // skips those without the call.
        let number = seccomp_syscall_resolve_name(name)
        guard number != __NR_SCMP_ERROR else {
            unenforced += foreignArches.map { UnenforcedSyscall(name: name, architecture: $0) }
            return
        }
        try Self.add(context, name: name, number: number, action: action, conditions: conditions)
    }

    private static func add(
        _ context: scmp_filter_ctx, name: String, number: Int32, action: UInt32, conditions: [scmp_arg_cmp]
    ) throws {
        let rc = conditions.withUnsafeBufferPointer {
            seccomp_rule_add_array(context, action, number, UInt32($0.count), $0.baseAddress)
        }
        guard rc == 0 else { throw SeccompError.libseccomp(call: "seccomp_rule_add(\(name))", errno: -rc) }
    }

    /// The number of a call newer than libseccomp's table: the unified number (5.1+), which
    /// every architecture but the MIPS ABIs (offset) and alpha/ia64 (not supported) shares.
    private static func unifiedNumber(_ name: String, on arch: Architecture) -> Int32? {
        guard let unified = LinuxSyscalls.unifiedNumbers[name] else { return nil }
        switch arch {
        case .mips, .mipsel: return unified + 4000
        case .mips64, .mipsel64: return unified + 5000
        case .mips64n32, .mipsel64n32: return unified + 6000
        default: return unified
        }
    }

    private static func context(
        _ resolved: ResolvedPolicy, arches: [Architecture], host: Architecture?
    ) throws -> scmp_filter_ctx {
        let defaultAction = SeccompCompiler.actionValue(resolved.defaultAction)
        guard let context = seccomp_init(defaultAction) else {
            throw SeccompError.libseccomp(call: "seccomp_init(\(resolved.defaultAction))", errno: EINVAL)
        }
        do {
            // Foreign architectures could otherwise be used to reach calls the policy denies.
            try attr(context, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS, "ACT_BADARCH")
            // The sandbox sets NO_NEW_PRIVS itself, at its own step; libseccomp must not.
            try attr(context, SCMP_FLTATR_CTL_NNP, 0, "CTL_NNP")
            // A binary tree over system call numbers instead of a linear scan of ~350 rules.
            try attr(context, SCMP_FLTATR_CTL_OPTIMIZE, 2, "CTL_OPTIMIZE")
            for arch in arches where arch != host {
                let rc = seccomp_arch_add(context, SeccompCompiler.token(arch) ?? 0)
                guard rc == 0 else { throw SeccompError.libseccomp(call: "seccomp_arch_add(\(arch.rawValue))", errno: -rc) }
            }
            if let host, !arches.contains(host) {
                let rc = seccomp_arch_remove(context, UInt32(SCMP_ARCH_NATIVE))
                guard rc == 0 else { throw SeccompError.libseccomp(call: "seccomp_arch_remove(native)", errno: -rc) }
            }
            return context
        } catch {
            seccomp_release(context)
            throw error
        }
    }

    private static func attr(
        _ context: scmp_filter_ctx, _ attribute: scmp_filter_attr, _ value: UInt32, _ name: String
    ) throws {
        let rc = seccomp_attr_set(context, attribute, value)
        guard rc == 0 else { throw SeccompError.libseccomp(call: "seccomp_attr_set(\(name))", errno: -rc) }
    }
}
