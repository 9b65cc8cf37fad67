// Parsing and validation in one pass: each check runs where the value is
// read, so its error carries the path. A policy that parses is one that
// libseccomp 2.5 will accept (system call names aside, which it may not know).

extension Policy {
    /// Parses and validates a profile.
    ///
    /// - Parameters:
    ///   - bytes: the JSON document (UTF-8).
    ///   - file: the name to put in errors, usually the path the user gave.
    /// - Throws: `PolicyError` for invalid JSON, unknown keys, unknown names or values libseccomp would refuse.
    public static func parse(_ bytes: [UInt8], file: String) throws(PolicyError) -> Policy {
        let root: JSONValue
        do {
            root = try JSONParser.parse(bytes)
        } catch {
            throw PolicyError(
                file: file, location: "",
                message: "invalid JSON at line \(error.line) column \(error.column): \(error.message)")
        }
        return try PolicyReader(file: file).policy(root)
    }

    /// Parses and validates a profile given as text.
    /// - Throws: `PolicyError`, as ``parse(_:file:)``.
    public static func parse(json: String, file: String) throws(PolicyError) -> Policy {
        try parse(Array(json.utf8), file: file)
    }
}

extension PolicyReader {
    static let topKeys = [
        "defaultAction", "defaultErrnoRet", "architectures", "archMap", "flags",
        "listenerPath", "listenerMetadata", "syscalls", "warren",
    ]
    static let ruleKeys = ["names", "name", "action", "errnoRet", "args", "comment", "includes", "excludes"]
    static let argKeys = ["index", "value", "valueTwo", "op"]
    static let filterKeys = ["caps", "arches", "minKernel"]
    // The kernel clamps SECCOMP_RET_ERRNO data to MAX_ERRNO; a trace message has 16 bits.
    static let maxErrno: UInt64 = 4095

    func policy(_ root: JSONValue) throws(PolicyError) -> Policy {
        let fields = try object(root, at: "", keys: Self.topKeys)
        guard let actionValue = fields["defaultAction"] else { throw fail("", "missing key \"defaultAction\"") }
        let action = try choice(
            SeccompAction.self, actionValue, at: "defaultAction", reportAt: "defaultAction", what: "action")
        if action == .notify {
            // The kernel needs a filter to answer something when no listener is attached.
            throw fail("defaultAction", "SCMP_ACT_NOTIFY cannot be the default action")
        }
        var policy = Policy(defaultAction: action)
        if let value = fields["defaultErrnoRet"] {
            policy.defaultErrnoRet = try errnoRet(value, for: action, at: "defaultErrnoRet")
        }
        if let value = fields["architectures"] { policy.architectures = try architectures(value, at: "architectures") }
        if let value = fields["archMap"] { policy.archMap = try archMap(value) }
        if !policy.architectures.isEmpty, !policy.archMap.isEmpty {
            throw fail("", "both \"architectures\" and \"archMap\" are set; use one (Docker refuses this too)")
        }
        if let value = fields["flags"] {
            for (index, item) in try array(value, at: "flags").enumerated() {
                let path = "flags[\(index)]"
                policy.flags.append(try choice(FilterFlag.self, item, at: path, reportAt: path, what: "flag"))
            }
        }
        if let value = fields["listenerPath"] { policy.listenerPath = try string(value, at: "listenerPath") }
        if let value = fields["listenerMetadata"] { policy.listenerMetadata = try string(value, at: "listenerMetadata") }
        if let value = fields["syscalls"] {
            for (index, item) in try array(value, at: "syscalls").enumerated() {
                policy.syscalls.append(try rule(item, at: "syscalls[\(index)]"))
            }
        }
        if let value = fields["warren"] { policy.warren = try warren(value) }
        return policy
    }

    func errnoRet(_ value: JSONValue, for action: SeccompAction, at path: String) throws(PolicyError) -> UInt32 {
        guard action.acceptsErrnoRet else {
            throw fail(path, "errnoRet is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not \(action.rawValue)")
        }
        return UInt32(try unsigned(value, at: path, max: action == .errno ? Self.maxErrno : UInt64(UInt16.max)))
    }

    func archMap(_ value: JSONValue) throws(PolicyError) -> [ArchMapEntry] {
        var entries: [ArchMapEntry] = []
        for (index, item) in try array(value, at: "archMap").enumerated() {
            let path = "archMap[\(index)]"
            let fields = try object(item, at: path, keys: ["architecture", "subArchitectures"])
            guard let arch = fields["architecture"] else { throw fail(path, "missing key \"architecture\"") }
            let archPath = Self.join(path, "architecture")
            var entry = ArchMapEntry(
                architecture: try choice(Architecture.self, arch, at: archPath, reportAt: archPath, what: "architecture"))
            if let subs = fields["subArchitectures"] {
                entry.subArchitectures = try architectures(subs, at: Self.join(path, "subArchitectures"))
            }
            entries.append(entry)
        }
        return entries
    }

    func rule(_ value: JSONValue, at path: String) throws(PolicyError) -> SyscallRule {
        let fields = try object(value, at: path, keys: Self.ruleKeys)
        var names: [String] = []
        if let value = fields["names"] { names = try strings(value, at: Self.join(path, "names")) }
        if let value = fields["name"] { names.append(try string(value, at: Self.join(path, "name"))) }
        guard !names.isEmpty else { throw fail(path, "rule names no system call (\"names\" is missing or empty)") }
        for name in names where !LinuxSyscalls.isKnown(name) {
            throw fail(path, "unknown syscall \"\(name)\"" + Suggestion.hint(for: name, in: LinuxSyscalls.names))
        }
        guard let actionValue = fields["action"] else { throw fail(path, "missing key \"action\"") }
        let action = try choice(
            SeccompAction.self, actionValue, at: Self.join(path, "action"), reportAt: path, what: "action")
        var rule = SyscallRule(names: names, action: action)
        if let value = fields["errnoRet"] {
            rule.errnoRet = try errnoRet(value, for: action, at: Self.join(path, "errnoRet"))
        }
        if let value = fields["args"] { rule.args = try args(value, at: Self.join(path, "args")) }
        if let value = fields["comment"] { rule.comment = try string(value, at: Self.join(path, "comment")) }
        if let value = fields["includes"] { rule.includes = try filter(value, at: Self.join(path, "includes")) }
        if let value = fields["excludes"] { rule.excludes = try filter(value, at: Self.join(path, "excludes")) }
        return rule
    }

    func args(_ value: JSONValue, at path: String) throws(PolicyError) -> [ArgCondition] {
        var conditions: [ArgCondition] = []
        for (index, item) in try array(value, at: path).enumerated() {
            let argPath = "\(path)[\(index)]"
            let fields = try object(item, at: argPath, keys: Self.argKeys)
            guard let indexValue = fields["index"] else { throw fail(argPath, "missing key \"index\"") }
            guard let opValue = fields["op"] else { throw fail(argPath, "missing key \"op\"") }
            let argIndex = try unsigned(indexValue, at: Self.join(argPath, "index"), max: .max)
            guard argIndex <= 5 else {
                throw fail(argPath, "argument index \(argIndex) is out of range (system calls have arguments 0 to 5)")
            }
            let op = try choice(CompareOp.self, opValue, at: Self.join(argPath, "op"), reportAt: argPath, what: "op")
            var condition = ArgCondition(index: UInt32(argIndex), value: 0, op: op)
            if let v = fields["value"] { condition.value = try unsigned(v, at: Self.join(argPath, "value")) }
            if let v = fields["valueTwo"] { condition.valueTwo = try unsigned(v, at: Self.join(argPath, "valueTwo")) }
            if let earlier = conditions.firstIndex(where: { $0.index == condition.index }) {
                // libseccomp 2.5 returns EINVAL for a second comparison of one argument in a rule.
                throw fail(argPath, "argument \(argIndex) is already compared by args[\(earlier)]; libseccomp 2.5 "
                    + "allows one comparison per argument in a rule. Hint: split into separate rules (they are ORed)")
            }
            conditions.append(condition)
        }
        return conditions
    }

    func filter(_ value: JSONValue, at path: String) throws(PolicyError) -> RuleFilter {
        let fields = try object(value, at: path, keys: Self.filterKeys)
        var filter = RuleFilter()
        if let value = fields["caps"] {
            filter.caps = try strings(value, at: Self.join(path, "caps"))
            for cap in filter.caps where !Capabilities.known.contains(cap) {
                throw fail(
                    Self.join(path, "caps"),
                    "unknown capability \"\(cap)\"" + Suggestion.hint(for: cap, in: Capabilities.known))
            }
        }
        if let value = fields["arches"] {
            filter.arches = try strings(value, at: Self.join(path, "arches"))
            for arch in filter.arches where !Architecture.knownRuleNames.contains(arch) {
                throw fail(Self.join(path, "arches"), "unknown architecture \"\(arch)\" (Docker's names: amd64, arm64, x32…)"
                    + Suggestion.hint(for: arch, in: Architecture.knownRuleNames))
            }
        }
        if let value = fields["minKernel"] {
            let text = try string(value, at: Self.join(path, "minKernel"))
            guard let version = KernelVersion(parsing: text) else {
                throw fail(
                    Self.join(path, "minKernel"),
                    "invalid kernel version \"\(text)\", expected \"<major>.<minor>\" such as \"4.8\"")
            }
            filter.minKernel = version
        }
        return filter
    }

    func warren(_ value: JSONValue) throws(PolicyError) -> WarrenSettings {
        let fields = try object(value, at: "warren", keys: ["network"])
        var settings = WarrenSettings()
        if let value = fields["network"] {
            settings.network = try choice(
                NetworkMode.self, value, at: "warren.network", reportAt: "warren.network", what: "network mode")
        }
        return settings
    }
}
