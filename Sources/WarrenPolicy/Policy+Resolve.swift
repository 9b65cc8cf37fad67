// Which rules apply to one process, decided exactly as Docker (moby
// `profiles/seccomp/seccomp_linux.go`, setupSeccomp) decides: excludes first,
// then includes, against the native architecture, the process's capabilities
// and the running kernel. Warren's processes hold no capabilities.

/// The rules of a policy that apply to one process on one host, with errnos filled in.
public struct ResolvedPolicy: Sendable, Equatable {
    /// What happens to a system call no rule matches.
    public let defaultAction: EffectiveAction
    /// The architectures the filter accepts, native first.
    public let architectures: [Architecture]
    /// The applicable rules, in file order.
    public let rules: [ResolvedRule]

    /// Rules naming `syscall`, in file order.
    public func rules(for syscall: String) -> [ResolvedRule] {
        rules.filter { $0.names.contains(syscall) }
    }

    /// True when some applicable rule lets `syscall` run, with or without argument conditions.
    public func mayRun(_ syscall: String) -> Bool {
        let matching = rules(for: syscall)
        if matching.isEmpty { return defaultAction.mayRun }
        // An argument-conditional rule falls through to the default when it does not match.
        return matching.contains { $0.action.mayRun } || (defaultAction.mayRun && matching.allSatisfy { !$0.args.isEmpty })
    }
}

/// One applicable rule.
public struct ResolvedRule: Sendable, Equatable {
    /// Index of the rule in the policy's `syscalls`, for messages.
    public let source: Int
    /// System call names.
    public let names: [String]
    /// The action, errno resolved.
    public let action: EffectiveAction
    /// Argument conditions; all must hold.
    public let args: [ArgCondition]
}

extension Policy {
    /// The architectures of the filter: `architectures` if set; otherwise the `archMap` entry of
    /// the native architecture with its sub-architectures (as Docker); otherwise only the native one.
    public func targetArchitectures(native: Architecture) -> [Architecture] {
        if !architectures.isEmpty { return unique(architectures) }
        guard let entry = archMap.first(where: { $0.architecture == native }) else { return [native] }
        return unique([native] + entry.subArchitectures)
    }

    /// The rules that apply to a process.
    ///
    /// - Parameters:
    ///   - native: the host's architecture; `includes.arches` / `excludes.arches` compare with it.
    ///   - capabilities: the process's capabilities (`CAP_*`); Warren's processes have none.
    ///   - kernel: the running kernel, for `minKernel`.
    public func resolve(native: Architecture, capabilities: Set<String> = [], kernel: KernelVersion) -> ResolvedPolicy {
        let archNames = Set(native.ruleNames)
        var rules: [ResolvedRule] = []
        for (index, rule) in syscalls.enumerated()
        where rule.applies(archNames: archNames, capabilities: capabilities, kernel: kernel) {
            rules.append(ResolvedRule(source: index, names: rule.names, action: rule.effectiveAction, args: rule.args))
        }
        return ResolvedPolicy(
            defaultAction: effectiveDefaultAction, architectures: targetArchitectures(native: native), rules: rules)
    }

    private func unique(_ list: [Architecture]) -> [Architecture] {
        var seen: Set<Architecture> = []
        return list.filter { seen.insert($0).inserted }
    }
}

extension SyscallRule {
    /// Docker's test: dropped if an exclude matches (arch, any cap held, kernel ≥ minKernel);
    /// kept only if every include holds (arch listed, all caps held, kernel ≥ minKernel).
    func applies(archNames: Set<String>, capabilities: Set<String>, kernel: KernelVersion) -> Bool {
        if excludes.arches.contains(where: archNames.contains) { return false }
        if excludes.caps.contains(where: capabilities.contains) { return false }
        if let minimum = excludes.minKernel, kernel >= minimum { return false }
        if !includes.arches.isEmpty, !includes.arches.contains(where: archNames.contains) { return false }
        if !includes.caps.allSatisfy(capabilities.contains) { return false }
        if let minimum = includes.minKernel, kernel < minimum { return false }
        return true
    }
}
