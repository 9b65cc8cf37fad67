// What one system call gets under a resolved policy, as libseccomp builds
// the filter: an unconditional rule wins over every conditional one (and
// Warren refuses a policy where they disagree), a rule that repeats the
// default is dropped, and conditional rules are ORed over the default.
// `warren policy check`, `diff` and `learn` all reason with this one model.

/// The outcome of one system call under a resolved policy.
public struct SyscallVerdict: Sendable, Hashable, CustomStringConvertible {
    /// What happens when no conditional rule matches: an unconditional rule's action, or the default.
    public var otherwise: EffectiveAction
    /// Rules with argument conditions whose action differs from `otherwise`, in file order.
    public var conditional: [ConditionalAction]

    /// Creates a verdict.
    public init(otherwise: EffectiveAction, conditional: [ConditionalAction] = []) {
        self.otherwise = otherwise
        self.conditional = conditional
    }

    /// True when the call runs for some arguments.
    public var mayRun: Bool { otherwise.mayRun || conditional.contains { $0.action.mayRun } }

    /// True when the call runs whatever its arguments.
    public var alwaysRuns: Bool { otherwise.mayRun && conditional.allSatisfy { $0.action.mayRun } }

    /// `ALLOW`, or `ALLOW if arg0 == 2 | arg0 == 10; otherwise ERRNO(1)`.
    public var description: String { describe { $0.description } }

    /// The verdict in words, with actions rendered by `action` (so callers can print errno names).
    public func describe(_ action: (EffectiveAction) -> String) -> String {
        guard !conditional.isEmpty else { return action(otherwise) }
        var groups: [(EffectiveAction, [String])] = []
        for rule in conditional {
            let text = rule.args.map(\.description).joined(separator: " && ")
            if let i = groups.firstIndex(where: { $0.0 == rule.action }) {
                groups[i].1.append(text)
            } else {
                groups.append((rule.action, [text]))
            }
        }
        let parts = groups.map { "\(action($0.0)) if \($0.1.joined(separator: " | "))" }
        return parts.joined(separator: "; ") + "; otherwise \(action(otherwise))"
    }
}

/// A rule with argument conditions: `action` when all of `args` hold.
public struct ConditionalAction: Sendable, Hashable {
    /// Conditions; all must hold.
    public var args: [ArgCondition]
    /// The action then.
    public var action: EffectiveAction

    /// Creates one.
    public init(args: [ArgCondition], action: EffectiveAction) {
        self.args = args
        self.action = action
    }
}

extension ArgCondition: CustomStringConvertible {
    /// `arg0 == 2`, `arg0 & 0x7e020000 == 0`.
    public var description: String {
        let hex = { (v: UInt64) in v > 4096 ? "0x" + String(v, radix: 16) : String(v) }
        switch op {
        case .notEqual: return "arg\(index) != \(hex(value))"
        case .lessThan: return "arg\(index) < \(hex(value))"
        case .lessOrEqual: return "arg\(index) <= \(hex(value))"
        case .equal: return "arg\(index) == \(hex(value))"
        case .greaterOrEqual: return "arg\(index) >= \(hex(value))"
        case .greaterThan: return "arg\(index) > \(hex(value))"
        case .maskedEqual: return "arg\(index) & \(hex(value)) == \(hex(valueTwo))"
        }
    }
}

extension ResolvedPolicy {
    /// Why no command could start, or end, under this policy; nil when one can. A payload needs
    /// `execve` (or `execveat`) to start, and `exit_group` or `exit` to end: refused with an errno,
    /// a process can neither (a killing action at least ends it).
    public var unrunnable: String? {
        if !["execve", "execveat"].contains(where: { verdict($0).mayRun }) {
            return "execve and execveat are denied: no command can start under this policy"
        }
        let ends = ["exit_group", "exit"].contains { name in
            let verdict = verdict(name)
            switch verdict.otherwise {
            case .killThread, .killProcess, .trap: return true
            default: return verdict.mayRun
            }
        }
        return ends ? nil : "exit_group and exit are denied: a process could never end under this policy"
    }

    /// What `syscall` gets, as the compiled filter decides it.
    public func verdict(_ syscall: String) -> SyscallVerdict {
        let matching = rules(for: syscall)
        if let unconditional = matching.first(where: { $0.args.isEmpty }) {
            // libseccomp keeps an argument-free rule over any conditional one.
            return SyscallVerdict(otherwise: unconditional.action)
        }
        var conditional: [ConditionalAction] = []
        for rule in matching where rule.action != defaultAction {
            let entry = ConditionalAction(args: rule.args, action: rule.action)
            if !conditional.contains(entry) { conditional.append(entry) }
        }
        return SyscallVerdict(otherwise: defaultAction, conditional: conditional)
    }
}

/// One system call two policies treat differently.
public struct SyscallDifference: Sendable, Hashable {
    /// How the two differ.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// The first policy lets it run (for some arguments at least); the second never does.
        case onlyFirstAllows = "only-first-allows"
        /// The second lets it run; the first never does.
        case onlySecondAllows = "only-second-allows"
        /// Both deny it, with a different errno or a kill instead of an errno.
        case deniedDifferently = "denied-differently"
        /// Both let it run for some arguments, under different conditions.
        case conditionsDiffer = "conditions-differ"
    }

    /// The system call.
    public let syscall: String
    /// How they differ.
    public let kind: Kind
    /// Its verdict under the first policy.
    public let first: SyscallVerdict
    /// Its verdict under the second.
    public let second: SyscallVerdict
}

/// The differences between two resolved policies for one architecture.
public struct PolicyDiff: Sendable, Equatable {
    /// Default actions, when they differ.
    public let defaultActions: (EffectiveAction, EffectiveAction)?
    /// Accepted architectures, when they differ.
    public let architectures: ([Architecture], [Architecture])?
    /// Per system call, sorted by name.
    public let syscalls: [SyscallDifference]

    /// True when no system call, default or architecture differs.
    public var isEmpty: Bool { defaultActions == nil && architectures == nil && syscalls.isEmpty }

    public static func == (lhs: PolicyDiff, rhs: PolicyDiff) -> Bool {
        lhs.defaultActions.map { [$0.0, $0.1] } == rhs.defaultActions.map { [$0.0, $0.1] }
            && lhs.architectures.map { [$0.0, $0.1] } == rhs.architectures.map { [$0.0, $0.1] }
            && lhs.syscalls == rhs.syscalls
    }
}

extension ResolvedPolicy {
    /// Compares two resolved policies call by call.
    ///
    /// - Parameters:
    ///   - other: the second policy.
    ///   - syscalls: the calls to compare, usually every call of the native architecture.
    public func diff(_ other: ResolvedPolicy, syscalls: some Sequence<String>) -> PolicyDiff {
        var found: [SyscallDifference] = []
        for name in Set(syscalls).sorted() {
            let a = verdict(name), b = other.verdict(name)
            guard a != b else { continue }
            let kind: SyscallDifference.Kind
            switch (a.mayRun, b.mayRun) {
            case (true, false): kind = .onlyFirstAllows
            case (false, true): kind = .onlySecondAllows
            case (false, false): kind = .deniedDifferently
            case (true, true): kind = .conditionsDiffer
            }
            found.append(SyscallDifference(syscall: name, kind: kind, first: a, second: b))
        }
        return PolicyDiff(
            defaultActions: defaultAction == other.defaultAction ? nil : (defaultAction, other.defaultAction),
            architectures: architectures == other.architectures ? nil : (architectures, other.architectures),
            syscalls: found)
    }
}
