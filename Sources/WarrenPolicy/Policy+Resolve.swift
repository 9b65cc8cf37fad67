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

    /// True when `syscall` may run for some arguments: a rule lets it run, or it can fall
    /// through to a default that does (no rule, or only argument-conditional ones).
    public func mayRun(_ syscall: String) -> Bool {
        let matching = rules(for: syscall)
        if matching.contains(where: { $0.action.mayRun }) { return true }
        return defaultAction.mayRun && matching.allSatisfy { !$0.args.isEmpty }
    }

    /// The actions of the rules that match one call, or the default when none does.
    ///
    /// A model of the filter for messages and tests, not a replacement for it: when rules
    /// with different actions match, the result lists them all.
    /// - Parameters:
    ///   - syscall: the system call name.
    ///   - args: its arguments; missing ones are 0.
    public func evaluate(_ syscall: String, args: [UInt64] = []) -> Set<EffectiveAction> {
        let padded = args + Array(repeating: 0, count: max(0, 6 - args.count))
        let actions = rules(for: syscall).filter { rule in rule.args.allSatisfy { $0.matches(padded) } }.map(\.action)
        return actions.isEmpty ? [defaultAction] : Set(actions)
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
            // A name listed again in one rule adds nothing (check warns about it): kept once, so a
            // name repeated 100,000 times costs no more than once here and in what follows.
            var seen: Set<String> = []
            let names = rule.names.filter { seen.insert($0).inserted }
            rules.append(ResolvedRule(source: index, names: names, action: rule.effectiveAction, args: rule.args))
        }
        return ResolvedPolicy(
            defaultAction: effectiveDefaultAction, architectures: targetArchitectures(native: native), rules: rules)
    }

    private func unique(_ list: [Architecture]) -> [Architecture] {
        var seen: Set<Architecture> = []
        return list.filter { seen.insert($0).inserted }
    }
}

extension ArgCondition {
    /// Whether the condition holds for these arguments (64-bit unsigned comparisons, as
    /// libseccomp generates them on 64-bit architectures).
    public func matches(_ args: [UInt64]) -> Bool {
        let arg = Int(index) < args.count ? args[Int(index)] : 0
        switch op {
        case .notEqual: return arg != value
        case .lessThan: return arg < value
        case .lessOrEqual: return arg <= value
        case .equal: return arg == value
        case .greaterOrEqual: return arg >= value
        case .greaterThan: return arg > value
        case .maskedEqual: return arg & value == valueTwo
        }
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

/// Two applicable rules for one system call that libseccomp cannot both honour.
///
/// libseccomp 2.5 keeps the first of two argument-free rules with different actions, and an
/// argument-free rule over any conditional one, and drops the other rule without a word.
/// Warren refuses such a policy instead.
public struct RuleConflict: Sendable, Equatable, CustomStringConvertible {
    /// The system call both rules name.
    public let syscall: String
    /// The earlier rule.
    public let first: ResolvedRule
    /// The later rule.
    public let second: ResolvedRule

    public var description: String {
        let scope = { (rule: ResolvedRule) in rule.args.isEmpty ? "for all arguments" : "for some arguments" }
        return "syscalls[\(second.source)] gives \"\(syscall)\" \(second.action) \(scope(second)) but "
            + "syscalls[\(first.source)] already gives it \(first.action) \(scope(first)); libseccomp would "
            + "silently drop one. Hint: remove one rule, or give both conditions on arguments"
    }
}

extension ResolvedPolicy {
    /// Rule pairs libseccomp would silently reduce to one: same call, different actions,
    /// at least one of them without argument conditions.
    public var conflicts: [RuleConflict] {
        var byName: [String: [ResolvedRule]] = [:]
        var order: [String] = []
        for rule in rules {
            for name in rule.names {
                if byName[name] == nil { order.append(name) }
                byName[name, default: []].append(rule)
            }
        }
        var found: [RuleConflict] = []
        for name in order {
            let list = byName[name] ?? []
            for (i, first) in list.enumerated() {
                for second in list[(i + 1)...]
                where first.action != second.action && (first.args.isEmpty || second.args.isEmpty) {
                    found.append(RuleConflict(syscall: name, first: first, second: second))
                }
            }
        }
        return found
    }
}
