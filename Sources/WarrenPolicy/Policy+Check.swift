// `warren policy check`: what a policy that parses may still get wrong, and
// what it lets a process do. Parsing already refused what libseccomp would
// refuse; these findings are about rules that do nothing, rules that hide
// others, and rules that open the kernel's riskiest doors.

/// Which system calls exist on which architecture. WarrenPolicy has no table of numbers
/// per architecture; the caller supplies libseccomp's.
public protocol SyscallCatalog: Sendable {
    /// True when `name` is a system call of `arch`.
    func exists(_ name: String, on arch: Architecture) -> Bool
    /// Every system call of `arch`.
    func names(on arch: Architecture) -> Set<String>
}

/// One thing `check` has to say about a policy.
public struct PolicyFinding: Sendable, Hashable, CustomStringConvertible {
    /// How much it matters.
    public enum Severity: String, Sendable, Hashable, Comparable {
        /// The policy cannot be used as written; `check` fails.
        case error
        /// Legal, but probably not what the author meant, or risky.
        case warning
        /// Worth knowing; nothing wrong.
        case note

        private var rank: Int { self == .error ? 0 : self == .warning ? 1 : 2 }
        public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
    }

    /// How much it matters.
    public let severity: Severity
    /// Where: `syscalls[3]`, or empty for the whole policy.
    public let location: String
    /// What, in one line.
    public let message: String

    /// Creates a finding.
    public init(_ severity: Severity, _ location: String, _ message: String) {
        self.severity = severity
        self.location = location
        self.message = message
    }

    public var description: String {
        location.isEmpty ? "\(severity.rawValue): \(message)" : "\(severity.rawValue): \(location): \(message)"
    }
}

/// Counts of the native architecture's system calls by outcome.
public struct VerdictCounts: Sendable, Equatable {
    /// Run whatever the arguments.
    public var allowed = 0
    /// Run for some arguments only.
    public var conditional = 0
    /// Fail with an errno (or ENOSYS for TRACE without a tracer).
    public var denied = 0
    /// Kill the thread or process, or send SIGSYS.
    public var killed = 0
    /// Total system calls of the architecture.
    public var total: Int { allowed + conditional + denied + killed }

    /// Creates counts.
    public init(allowed: Int = 0, conditional: Int = 0, denied: Int = 0, killed: Int = 0) {
        (self.allowed, self.conditional, self.denied, self.killed) = (allowed, conditional, denied, killed)
    }
}

/// What `check` found.
public struct PolicyCheck: Sendable {
    /// The default action, errno filled in.
    public let defaultAction: EffectiveAction
    /// The architectures the filter accepts, native first.
    public let architectures: [Architecture]
    /// The native architecture's calls by outcome.
    public let counts: VerdictCounts
    /// Risky calls the policy lets run, in table order.
    public let dangerous: [DangerousGrant]
    /// Errors, warnings and notes, errors first.
    public let findings: [PolicyFinding]

    /// True when no finding is an error.
    public var passed: Bool { !findings.contains { $0.severity == .error } }
}

extension Policy {
    /// Checks the policy for a process without capabilities on `native` running `kernel`.
    ///
    /// - Parameters:
    ///   - native: the host architecture.
    ///   - kernel: the running kernel (`minKernel`).
    ///   - catalog: which calls exist on which architecture.
    public func check(native: Architecture, kernel: KernelVersion, catalog: some SyscallCatalog) -> PolicyCheck {
        let resolved = resolve(native: native, kernel: kernel)
        var findings = policyFindings(resolved, native: native)
        if let reason = resolved.unrunnable { findings.append(PolicyFinding(.error, "syscalls", reason)) }
        findings += resolved.conflicts.map { PolicyFinding(.error, "syscalls[\($0.second.source)]", $0.description) }
        let applied = Set(resolved.rules.map(\.source))
        for (index, rule) in syscalls.enumerated() {
            let location = "syscalls[\(index)]"
            guard applied.contains(index) else {
                findings.append(PolicyFinding(.note, location, rule.whyNotApplied(native: native, kernel: kernel)))
                continue
            }
            findings += ruleFindings(rule, at: location, resolved: resolved, catalog: catalog)
        }
        findings += shadowFindings(resolved)
        var unique: Set<PolicyFinding> = []
        findings = findings.filter { unique.insert($0).inserted }
        var counts = VerdictCounts()
        for name in catalog.names(on: native) {
            let verdict = resolved.verdict(name)
            if verdict.alwaysRuns {
                counts.allowed += 1
            } else if verdict.mayRun {
                counts.conditional += 1
            } else if case .errno = verdict.otherwise {
                counts.denied += 1
            } else if case .trace = verdict.otherwise {
                counts.denied += 1
            } else {
                counts.killed += 1
            }
        }
        return PolicyCheck(
            defaultAction: resolved.defaultAction, architectures: resolved.architectures, counts: counts,
            dangerous: DangerousSyscalls.granted(by: resolved, catalog: catalog, native: native),
            findings: findings.enumerated().sorted { ($0.element.severity, $0.offset) < ($1.element.severity, $1.offset) }
                .map(\.element))
    }

    private func policyFindings(_ resolved: ResolvedPolicy, native: Architecture) -> [PolicyFinding] {
        var found: [PolicyFinding] = []
        if !resolved.architectures.contains(native) {
            found.append(PolicyFinding(.error, "architectures", "\(native.rawValue) is not listed: every system call "
                + "of this host would kill the process. Hint: add \"\(native.rawValue)\""))
        }
        let foreign = resolved.architectures.filter { $0 != native }
        if !foreign.isEmpty {
            found.append(PolicyFinding(.warning, architectures.isEmpty ? "archMap" : "architectures",
                "also accepts \(foreign.map(\.rawValue).joined(separator: ", ")) system calls (e.g. int 0x80); every "
                + "rule must hold for those numbers too. Warren's default lists only the native architecture"))
        }
        switch resolved.defaultAction {
        case .allow, .log:
            found.append(PolicyFinding(.warning, "defaultAction", "a deny-list: every call no rule names runs, "
                + "including calls newer than the policy. Hint: default to SCMP_ACT_ERRNO and allow what is needed"))
        case .errno(0):
            found.append(PolicyFinding(.warning, "defaultErrnoRet", "errno 0 makes denied calls appear to succeed"))
        case .trace:
            found.append(PolicyFinding(.warning, "defaultAction", "SCMP_ACT_TRACE without a tracer fails calls with ENOSYS"))
        default: break
        }
        if flags.contains(.log) {
            found.append(PolicyFinding(.note, "flags", "SECCOMP_FILTER_FLAG_LOG logs every action but ALLOW to the audit log"))
        }
        return found
    }

    private func ruleFindings(
        _ rule: SyscallRule, at location: String, resolved: ResolvedPolicy, catalog: some SyscallCatalog
    ) -> [PolicyFinding] {
        var found: [PolicyFinding] = []
        let action = rule.effectiveAction
        if action == resolved.defaultAction {
            found.append(PolicyFinding(.warning, location, "repeats the default action \(action): it has no effect"))
        }
        var seen: Set<String> = []
        var repeated: [String] = []
        for name in rule.names where !seen.insert(name).inserted && !repeated.contains(name) { repeated.append(name) }
        for name in repeated {
            found.append(PolicyFinding(.warning, location, "names \"\(name)\" twice"))
        }
        let missing = rule.names.filter { name in !resolved.architectures.contains { catalog.exists(name, on: $0) } }
        if !missing.isEmpty {
            let arches = resolved.architectures.map(\.rawValue).joined(separator: ", ")
            found.append(PolicyFinding(.warning, location, "never matches \(missing.map { "\"\($0)\"" }.joined(separator: ", ")): "
                + "no such system call on \(arches)"))
        }
        for (i, condition) in rule.args.enumerated() where condition.isNeverTrue {
            found.append(PolicyFinding(.warning, "\(location).args[\(i)]", "\(condition) is never true: the rule never matches"))
        }
        let runs = action.mayRun
        for (i, condition) in rule.args.enumerated() where condition.widenedByUpperBits(allowing: runs) {
            found.append(PolicyFinding(.warning, "\(location).args[\(i)]", "\(condition): seccomp compares all 64 bits, "
                + "but the kernel reads many arguments as a 32-bit int (socket's family, for one): a value with "
                + "upper bits set \(runs ? "passes this condition" : "escapes this rule") and acts as its low 32 bits. "
                + "Hint: for an int argument, allow values with SCMP_CMP_EQ, or match with SCMP_CMP_MASKED_EQ and "
                + "mask 0xffffffff"))
        }
        switch action {
        case .errno(0):
            found.append(PolicyFinding(.warning, location, "SCMP_ACT_ERRNO with errnoRet 0 makes the call appear to succeed without running"))
        case .notify:
            found.append(PolicyFinding(.warning, location, "SCMP_ACT_NOTIFY needs a seccomp agent; warren run refuses such a policy"))
        case .trace:
            found.append(PolicyFinding(.warning, location, "SCMP_ACT_TRACE without a tracer fails the call with ENOSYS"))
        default: break
        }
        return found
    }

    /// Later rules that an earlier one makes redundant: same call, same action, and the
    /// earlier one unconditional (or both with the same conditions).
    private func shadowFindings(_ resolved: ResolvedPolicy) -> [PolicyFinding] {
        var found: [PolicyFinding] = []
        var firstSeen: [String: [ResolvedRule]] = [:]
        for rule in resolved.rules {
            var shadowed: [String] = []
            var shadowers: Set<Int> = []
            for name in rule.names {
                let earlier = firstSeen[name, default: []]
                // A name listed twice in one rule is reported by ruleFindings, not as shadowing.
                if let hit = earlier.first(where: {
                    $0.source != rule.source && $0.action == rule.action && ($0.args.isEmpty || $0.args == rule.args)
                }) {
                    shadowed.append(name)
                    shadowers.insert(hit.source)
                }
                firstSeen[name, default: []].append(rule)
            }
            guard !shadowed.isEmpty else { continue }
            let by = shadowers.sorted().map { "syscalls[\($0)]" }.joined(separator: ", ")
            found.append(PolicyFinding(.warning, "syscalls[\(rule.source)]",
                "\(shadowed.map { "\"\($0)\"" }.joined(separator: ", ")) already get\(shadowed.count == 1 ? "s" : "") "
                + "\(rule.action) from \(by): redundant"))
        }
        return found
    }
}

extension ArgCondition {
    /// Whether a value with its upper 32 bits set widens what the rule lets through when the kernel
    /// reads the argument as a 32-bit int: it passes an allowing condition (`!=`, `>`, `>=`) whose
    /// low 32 bits it fails, or fails a denying one (`==`, `<`, `<=`, a mask over the upper bits)
    /// whose low 32 bits match.
    func widenedByUpperBits(allowing: Bool) -> Bool {
        switch op {
        case .notEqual, .greaterThan, .greaterOrEqual: allowing
        case .equal, .lessThan, .lessOrEqual: !allowing
        case .maskedEqual: !allowing && value >> 32 != 0
        }
    }
}

extension SyscallRule {
    /// Why Docker's `includes`/`excludes` leave this rule out for a process without capabilities.
    func whyNotApplied(native: Architecture, kernel: KernelVersion) -> String {
        let archNames = Set(native.ruleNames)
        if excludes.arches.contains(where: archNames.contains) { return "excluded on \(native.ruleNames[0]); not applied" }
        if let minimum = excludes.minKernel, kernel >= minimum { return "excluded on kernel \(minimum)+; not applied" }
        if !includes.arches.isEmpty, !includes.arches.contains(where: archNames.contains) {
            return "only for \(includes.arches.joined(separator: ", ")); not applied on \(native.ruleNames[0])"
        }
        if !includes.caps.isEmpty {
            return "only with \(includes.caps.joined(separator: ", ")), which Warren's processes never hold; not applied"
        }
        if let minimum = includes.minKernel { return "only on kernel \(minimum)+ (this is \(kernel)); not applied" }
        return "not applied"
    }
}

extension ArgCondition {
    /// True when no 64-bit argument can satisfy the comparison.
    public var isNeverTrue: Bool {
        switch op {
        case .lessThan: value == 0
        case .greaterThan: value == .max
        case .maskedEqual: valueTwo & ~value != 0
        default: false
        }
    }
}

/// A risky system call a policy lets run.
public struct DangerousGrant: Sendable, Hashable {
    /// The system call (`clone`, `socket`…).
    public let syscall: String
    /// Why it matters, in one line.
    public let reason: String
    /// nil when it runs whatever its arguments; otherwise for which (`flags CLONE_NEWUSER`).
    public let when: String?
}

/// The calls a security review asks about first, and why.
enum DangerousSyscalls {
    /// Calls that are risky whenever they run. Order: the review's.
    static let plain: [(String, String)] = [
        ("mount", "mounts filesystems; with a user namespace the process can mount over what it sees"),
        ("umount2", "unmounts, uncovering what a mount hid"),
        ("umount", "unmounts, uncovering what a mount hid"),
        ("pivot_root", "changes the root filesystem"),
        ("chroot", "changes the root directory; with other privileges a classic escape"),
        ("fsopen", "new mount API: creates filesystem contexts"),
        ("fsmount", "new mount API: turns a context into a mount"),
        ("move_mount", "new mount API: attaches mounts anywhere"),
        ("open_tree", "new mount API: clones mount trees"),
        ("ptrace", "reads and writes other processes' memory and registers, bypassing their seccomp"),
        ("process_vm_readv", "reads another process's memory"),
        ("process_vm_writev", "writes another process's memory"),
        ("pidfd_getfd", "steals file descriptors from other processes"),
        ("kcmp", "compares kernel objects of other processes (kernel pointer oracle)"),
        ("bpf", "loads eBPF programs: a large, often exploited kernel attack surface"),
        ("unshare", "creates namespaces; a user namespace gives every capability inside it"),
        ("setns", "joins other namespaces"),
        ("keyctl", "kernel keyrings are not namespaced: keys leak between containers"),
        ("add_key", "kernel keyrings are not namespaced"),
        ("request_key", "kernel keyrings are not namespaced; can run user-mode helpers"),
        ("perf_event_open", "performance counters: side channels and a history of kernel bugs"),
        ("userfaultfd", "pauses the kernel on page faults: the standard tool to win kernel races"),
        ("io_uring_setup", "io_uring: a large attack surface whose operations seccomp cannot see"),
        ("io_uring_enter", "io_uring: operations bypass per-syscall filtering"),
        ("io_uring_register", "io_uring: registers buffers and files with the kernel"),
        ("open_by_handle_at", "opens files by handle, bypassing path checks (the 'shocker' escape)"),
        ("name_to_handle_at", "produces file handles for open_by_handle_at"),
        ("init_module", "loads kernel modules"),
        ("finit_module", "loads kernel modules"),
        ("delete_module", "unloads kernel modules"),
        ("kexec_load", "replaces the running kernel"),
        ("kexec_file_load", "replaces the running kernel"),
        ("reboot", "reboots the host (or the pid namespace)"),
        ("swapon", "changes the host's swap"),
        ("swapoff", "changes the host's swap"),
        ("acct", "switches process accounting on the host"),
        ("quotactl", "manipulates filesystem quotas"),
        ("syslog", "reads the kernel log (kernel addresses)"),
        ("iopl", "raises the I/O privilege level: direct port I/O"),
        ("ioperm", "direct port I/O"),
        ("settimeofday", "sets the host clock (time is not namespaced)"),
        ("clock_settime", "sets the host clock"),
        ("lookup_dcookie", "reveals kernel paths (profiling interface)"),
        ("uselib", "legacy loader interface, historically buggy"),
        ("vm86", "virtual 8086 mode, historically buggy"),
        ("nfsservctl", "kernel NFS server control"),
    ]

    /// Namespace flags of clone(2)'s first argument (x86_64, arm64: flags are arg0). CLONE_NEWTIME
    /// is absent: its bit is part of the exit signal for clone(2); only clone3 and unshare take it.
    static let cloneNamespaces: [(String, UInt64)] = [
        ("CLONE_NEWNS", 0x0002_0000), ("CLONE_NEWCGROUP", 0x0200_0000), ("CLONE_NEWUTS", 0x0400_0000),
        ("CLONE_NEWIPC", 0x0800_0000), ("CLONE_NEWUSER", 0x1000_0000), ("CLONE_NEWPID", 0x2000_0000),
        ("CLONE_NEWNET", 0x4000_0000),
    ]

    /// Socket families (and one protocol) that reach far beyond a function's needs.
    static let socketKinds: [(String, [UInt64])] = [
        ("AF_PACKET", [17, 3, 0]), ("AF_VSOCK", [40, 1, 0]), ("AF_ALG", [38, 5, 0]),
        ("AF_BLUETOOTH", [31, 3, 0]), ("AF_NETLINK/NETLINK_AUDIT", [16, 3, 9]),
        ("AF_NETLINK/NETLINK_NETFILTER", [16, 3, 12]), ("AF_KEY", [15, 3, 2]),
    ]

    static func granted(by resolved: ResolvedPolicy, catalog: some SyscallCatalog, native: Architecture) -> [DangerousGrant] {
        let runs = { (name: String, args: [UInt64]) in resolved.evaluate(name, args: args).contains { $0.mayRun } }
        var grants: [DangerousGrant] = []
        let ns = cloneNamespaces.filter { runs("clone", [$0.1]) }.map(\.0)
        if !ns.isEmpty {
            grants.append(DangerousGrant(syscall: "clone", reason: "creates namespaces; a user namespace gives every "
                + "capability inside it", when: "flags " + ns.joined(separator: ", ")))
        }
        if resolved.verdict("clone3").mayRun {
            grants.append(DangerousGrant(syscall: "clone3", reason: "its flags are in memory seccomp cannot read, so it "
                + "creates namespaces whatever the rules; Docker answers ENOSYS so libc falls back to clone", when: nil))
        }
        let families = socketKinds.filter { runs("socket", $0.1) }.map(\.0)
        if !families.isEmpty {
            grants.append(DangerousGrant(syscall: "socket", reason: "link-layer, hypervisor, kernel-crypto or "
                + "kernel-control sockets", when: families.joined(separator: ", ")))
        }
        if runs("personality", [0x0040000]) || runs("personality", [0x0400000]) {
            grants.append(DangerousGrant(syscall: "personality", reason: "ADDR_NO_RANDOMIZE turns off ASLR, "
                + "READ_IMPLIES_EXEC makes data executable", when: "any persona"))
        }
        for (name, reason) in plain where catalog.exists(name, on: native) {
            let verdict = resolved.verdict(name)
            guard verdict.mayRun else { continue }
            grants.append(DangerousGrant(syscall: name, reason: reason, when: verdict.alwaysRuns ? nil : verdict.description))
        }
        return grants
    }
}
