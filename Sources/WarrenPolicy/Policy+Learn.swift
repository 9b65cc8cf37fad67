// `warren policy learn` turns the system calls a run made into a policy, and
// writes any policy back as OCI JSON that Warren and Docker-compatible
// runtimes both load. Key order follows the OCI spec's examples, names are
// sorted, so two runs that made the same calls give the same bytes.

extension Policy {
    /// The minimal allow-list: `names` allowed, every other call `SCMP_ACT_ERRNO` (EPERM),
    /// only `native` accepted (other architectures are killed).
    ///
    /// - Parameters:
    ///   - names: the system calls the run made.
    ///   - native: the architecture they were made on.
    ///   - comment: put on the rule, e.g. how it was learned.
    public static func allowList(_ names: some Sequence<String>, native: Architecture, comment: String? = nil) -> Policy {
        let sorted = Set(names).sorted()
        return Policy(
            defaultAction: .errno, defaultErrnoRet: EffectiveAction.eperm, architectures: [native],
            syscalls: sorted.isEmpty ? [] : [SyscallRule(names: sorted, action: .allow, comment: comment)])
    }

    /// This policy with `names` allowed for all arguments as well.
    ///
    /// The names are taken out of every rule that does not allow them (libseccomp would
    /// otherwise keep one of two disagreeing rules and drop the other); rules left empty go.
    public func allowing(_ names: some Sequence<String>, comment: String? = nil) -> Policy {
        let added = Set(names)
        guard !added.isEmpty else { return self }
        var copy = self
        copy.syscalls = syscalls.compactMap { rule in
            guard rule.action != .allow || !rule.args.isEmpty else { return rule }
            var kept = rule
            kept.names = rule.names.filter { !added.contains($0) }
            return kept.names.isEmpty ? nil : kept
        }
        copy.syscalls.append(SyscallRule(names: added.sorted(), action: .allow, comment: comment))
        return copy
    }

    /// clone(2)'s namespace flags: CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |
    /// CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET (as Docker's profile masks them).
    public static let cloneNamespaceFlags: UInt64 = 0x7E02_0000

    /// This policy with processes and threads allowed as Warren's default policy and Docker's
    /// allow them: `clone` when its flags name no namespace (unless a rule allows it for any
    /// arguments already), and with `clone3`, that call answered ENOSYS (its flags are in memory,
    /// where seccomp cannot read them) so that libc falls back to `clone`; `clone3` leaves every
    /// other rule. `policy learn` adds what a run made this way when it made no namespace.
    public func allowingConfinedClone(clone3: Bool) -> Policy {
        let masked = ArgCondition(index: 0, value: Self.cloneNamespaceFlags, valueTwo: 0, op: .maskedEqual)
        var copy = self
        let held = syscalls.contains {
            $0.action == .allow && $0.names.contains("clone") && ($0.args.isEmpty || $0.args == [masked])
        }
        if !held {
            let hex = "0x" + String(Self.cloneNamespaceFlags, radix: 16, uppercase: true)
            copy.syscalls.append(SyscallRule(
                names: ["clone"], action: .allow, args: [masked],
                comment: "clone: processes and threads, but no new namespaces: (flags & \(hex)) == 0"))
        }
        if clone3 {
            copy.syscalls = copy.syscalls.compactMap { rule in
                var kept = rule
                kept.names.removeAll { $0 == "clone3" }
                return kept.names.isEmpty ? nil : kept
            }
            copy.syscalls.append(SyscallRule(
                names: ["clone3"], action: .errno, errnoRet: 38,
                comment: "clone3's flags are in memory seccomp cannot read: ENOSYS (38), and libc falls back to clone"))
        }
        return copy
    }

    /// The policy as OCI / Docker seccomp JSON (with Warren's key only when it differs from the default).
    public var jsonText: String {
        var top: [String] = ["\"defaultAction\": \(quote(defaultAction.rawValue))"]
        if let value = defaultErrnoRet { top.append("\"defaultErrnoRet\": \(value)") }
        if !architectures.isEmpty { top.append("\"architectures\": \(list(architectures.map(\.rawValue)))") }
        if !archMap.isEmpty {
            let entries = archMap.map {
                "{\"architecture\": \(quote($0.architecture.rawValue)), \"subArchitectures\": \(list($0.subArchitectures.map(\.rawValue)))}"
            }
            top.append("\"archMap\": [\n    " + entries.joined(separator: ",\n    ") + "\n  ]")
        }
        if !flags.isEmpty { top.append("\"flags\": \(list(flags.map(\.rawValue)))") }
        if let value = listenerPath { top.append("\"listenerPath\": \(quote(value))") }
        if let value = listenerMetadata { top.append("\"listenerMetadata\": \(quote(value))") }
        if warren != WarrenSettings() { top.append("\"warren\": {\"network\": \(quote(warren.network.rawValue))}") }
        top.append("\"syscalls\": [" + (syscalls.isEmpty ? "]" : "\n" + syscalls.map(ruleText).joined(separator: ",\n") + "\n  ]"))
        return "{\n  " + top.joined(separator: ",\n  ") + "\n}\n"
    }

    private func ruleText(_ rule: SyscallRule) -> String {
        var fields: [String] = []
        if let comment = rule.comment { fields.append("\"comment\": \(quote(comment))") }
        fields.append("\"names\": " + wrapped(rule.names))
        fields.append("\"action\": \(quote(rule.action.rawValue))")
        if let value = rule.errnoRet { fields.append("\"errnoRet\": \(value)") }
        if !rule.args.isEmpty {
            let args = rule.args.map {
                "{\"index\": \($0.index), \"value\": \($0.value)"
                    + ($0.op == .maskedEqual ? ", \"valueTwo\": \($0.valueTwo)" : "") + ", \"op\": \(quote($0.op.rawValue))}"
            }
            fields.append("\"args\": [\n        " + args.joined(separator: ",\n        ") + "\n      ]")
        }
        for (key, filter) in [("includes", rule.includes), ("excludes", rule.excludes)] where !filter.isEmpty {
            var parts: [String] = []
            if !filter.caps.isEmpty { parts.append("\"caps\": \(list(filter.caps))") }
            if !filter.arches.isEmpty { parts.append("\"arches\": \(list(filter.arches))") }
            if let kernel = filter.minKernel { parts.append("\"minKernel\": \(quote(kernel.description))") }
            fields.append("\"\(key)\": {" + parts.joined(separator: ", ") + "}")
        }
        return "    {\n      " + fields.joined(separator: ",\n      ") + "\n    }"
    }

    /// Names, a few per line, so a diff of two learned policies is readable.
    private func wrapped(_ names: [String]) -> String {
        var lines: [String] = []
        var line = ""
        for name in names.map(quote) {
            if !line.isEmpty, line.count + name.count + 2 > 96 {
                lines.append(line)
                line = ""
            }
            line += line.isEmpty ? name : ", " + name
        }
        if !line.isEmpty { lines.append(line) }
        return lines.count <= 1 ? "[\(line)]" : "[\n        " + lines.joined(separator: ",\n        ") + "\n      ]"
    }

    private func list(_ items: [String]) -> String { "[" + items.map(quote).joined(separator: ", ") + "]" }

    private func quote(_ text: String) -> String { jsonQuoted(text) }
}
