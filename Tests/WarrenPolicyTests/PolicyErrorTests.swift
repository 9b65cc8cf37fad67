import Testing
import WarrenPolicy

/// One broken policy and the exact message it must produce.
struct BrokenPolicy: Sendable, CustomTestStringConvertible {
    let name: String
    let json: String
    let expected: String
    var testDescription: String { name }
}

/// A minimal valid rule, to pad `syscalls` so the broken rule sits at a known index.
private let okRule = #"{"names": ["read"], "action": "SCMP_ACT_ALLOW"}"#

private func policy(_ rules: [String], top: String = "") -> String {
    #"{"defaultAction": "SCMP_ACT_ERRNO", \#(top)"syscalls": [\#(rules.joined(separator: ", "))]}"#
}

private let brokenPolicies: [BrokenPolicy] = [
    BrokenPolicy(
        name: "bad JSON", json: "{\"defaultAction\": \"SCMP_ACT_ALLOW\",\n  \"syscalls\": [}",
        expected: "p/x.json: invalid JSON at line 2 column 16: unexpected '}', expected a value"),
    BrokenPolicy(
        name: "trailing comma", json: #"{"defaultAction": "SCMP_ACT_ALLOW",}"#,
        expected: "p/x.json: invalid JSON at line 1 column 36: unexpected '}', expected a key in quotes"),
    BrokenPolicy(
        name: "duplicate key", json: #"{"defaultAction": "SCMP_ACT_ALLOW", "defaultAction": "SCMP_ACT_LOG"}"#,
        expected: "p/x.json: invalid JSON at line 1 column 37: duplicate key \"defaultAction\""),
    BrokenPolicy(
        name: "unknown top-level key", json: #"{"defaultActon": "SCMP_ACT_ALLOW"}"#,
        expected: "p/x.json: unknown key \"defaultActon\" (did you mean \"defaultAction\"?)"),
    BrokenPolicy(
        name: "missing defaultAction", json: #"{"syscalls": []}"#,
        expected: "p/x.json: missing key \"defaultAction\""),
    BrokenPolicy(
        name: "unknown key in a rule", json: policy([okRule, #"{"names": ["read"], "action": "SCMP_ACT_ALLOW", "coment": "x"}"#]),
        expected: "p/x.json: syscalls[1]: unknown key \"coment\" (did you mean \"comment\"?)"),
    BrokenPolicy(
        name: "unknown syscall", json: policy([okRule, okRule, okRule, #"{"names": ["read", "mkdri"], "action": "SCMP_ACT_ALLOW"}"#]),
        expected: "p/x.json: syscalls[3]: unknown syscall \"mkdri\" (did you mean \"mkdir\"?)"),
    BrokenPolicy(
        name: "unknown op",
        json: policy([okRule, okRule, #"{"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_FOO"}]}"#]),
        expected: "p/x.json: syscalls[2].args[0]: unknown op \"SCMP_CMP_FOO\""),
    BrokenPolicy(
        name: "unknown action", json: policy([#"{"names": ["read"], "action": "SCMP_ACT_ALOW"}"#]),
        expected: "p/x.json: syscalls[0]: unknown action \"SCMP_ACT_ALOW\" (did you mean \"SCMP_ACT_ALLOW\"?)"),
    BrokenPolicy(
        name: "unknown default action", json: #"{"defaultAction": "SCMP_ACT_DENY"}"#,
        expected: "p/x.json: defaultAction: unknown action \"SCMP_ACT_DENY\""),
    BrokenPolicy(
        name: "arg index out of range",
        json: policy([okRule, #"{"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}"#]),
        expected: "p/x.json: syscalls[1].args[0]: argument index 6 is out of range (system calls have arguments 0 to 5)"),
    BrokenPolicy(
        name: "two comparisons of one argument",
        json: policy([#"{"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_GE"}, {"index": 0, "value": 9, "op": "SCMP_CMP_LE"}]}"#]),
        expected: "p/x.json: syscalls[0].args[1]: argument 0 is already compared by args[0]; libseccomp 2.5 allows one "
            + "comparison per argument in a rule. Hint: split into separate rules (they are ORed)"),
    BrokenPolicy(
        name: "errnoRet on ALLOW", json: policy([okRule, #"{"names": ["read"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1}"#]),
        expected: "p/x.json: syscalls[1].errnoRet: errnoRet is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not SCMP_ACT_ALLOW"),
    BrokenPolicy(
        name: "errno too large", json: policy([#"{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 4096}"#]),
        expected: "p/x.json: syscalls[0].errnoRet: 4096 is out of range (at most 4095)"),
    BrokenPolicy(
        name: "defaultErrnoRet on ALLOW", json: #"{"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1}"#,
        expected: "p/x.json: defaultErrnoRet: errnoRet is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not SCMP_ACT_ALLOW"),
    BrokenPolicy(
        name: "NOTIFY as default", json: #"{"defaultAction": "SCMP_ACT_NOTIFY"}"#,
        expected: "p/x.json: defaultAction: SCMP_ACT_NOTIFY cannot be the default action"),
    BrokenPolicy(
        name: "bad archMap architecture",
        json: #"{"defaultAction": "SCMP_ACT_ERRNO", "archMap": [{"architecture": "SCMP_ARCH_X86_46", "subArchitectures": null}]}"#,
        expected: "p/x.json: archMap[0].architecture: unknown architecture \"SCMP_ARCH_X86_46\" (did you mean \"SCMP_ARCH_X86_64\"?)"),
    BrokenPolicy(
        name: "bad sub-architecture",
        json: #"{"defaultAction": "SCMP_ACT_ERRNO", "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["i386"]}]}"#,
        expected: "p/x.json: archMap[0].subArchitectures[0]: unknown architecture \"i386\""),
    BrokenPolicy(
        name: "architectures and archMap",
        json: #"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}"#,
        expected: "p/x.json: both \"architectures\" and \"archMap\" are set; use one (Docker refuses this too)"),
    BrokenPolicy(
        name: "bad minKernel",
        json: policy([#"{"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.x"}}"#]),
        expected: "p/x.json: syscalls[0].includes.minKernel: invalid kernel version \"4.x\", expected \"<major>.<minor>\" such as \"4.8\""),
    BrokenPolicy(
        name: "minKernel with a patch level",
        json: policy([#"{"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "4.8.1"}}"#]),
        expected: "p/x.json: syscalls[0].excludes.minKernel: invalid kernel version \"4.8.1\", expected \"<major>.<minor>\" such as \"4.8\""),
    BrokenPolicy(
        name: "unknown capability",
        json: policy([#"{"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMN"]}}"#]),
        expected: "p/x.json: syscalls[0].includes.caps: unknown capability \"CAP_SYS_ADMN\" (did you mean \"CAP_SYS_ADMIN\"?)"),
    BrokenPolicy(
        name: "unknown rule architecture",
        json: policy([#"{"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd46"]}}"#]),
        expected: "p/x.json: syscalls[0].includes.arches: unknown architecture \"amd46\" (Docker's names: amd64, arm64, x32…) (did you mean \"amd64\"?)"),
    BrokenPolicy(
        name: "unknown key in includes",
        json: policy([#"{"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"kernel": "4.8"}}"#]),
        expected: "p/x.json: syscalls[0].includes: unknown key \"kernel\""),
    BrokenPolicy(
        name: "unknown key in args",
        json: policy([#"{"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "valueThree": 2, "op": "SCMP_CMP_EQ"}]}"#]),
        expected: "p/x.json: syscalls[0].args[0]: unknown key \"valueThree\""),
    BrokenPolicy(
        name: "negative value",
        json: policy([#"{"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]}"#]),
        expected: "p/x.json: syscalls[0].args[0].value: expected a non-negative integer, found -1"),
    BrokenPolicy(
        name: "value beyond 64 bits",
        json: policy([#"{"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 18446744073709551616, "op": "SCMP_CMP_EQ"}]}"#]),
        expected: "p/x.json: syscalls[0].args[0].value: 18446744073709551616 is out of range (at most 18446744073709551615)"),
    BrokenPolicy(
        name: "names is not an array", json: policy([#"{"names": "read", "action": "SCMP_ACT_ALLOW"}"#]),
        expected: "p/x.json: syscalls[0].names: expected an array, found a string"),
    BrokenPolicy(
        name: "rule without names", json: policy([#"{"names": [], "action": "SCMP_ACT_ALLOW"}"#]),
        expected: "p/x.json: syscalls[0]: rule names no system call (\"names\" is missing or empty)"),
    BrokenPolicy(
        name: "unknown flag", json: #"{"defaultAction": "SCMP_ACT_ERRNO", "flags": ["SECCOMP_FILTER_FLAG_LOGG"]}"#,
        expected: "p/x.json: flags[0]: unknown flag \"SECCOMP_FILTER_FLAG_LOGG\" (did you mean \"SECCOMP_FILTER_FLAG_LOG\"?)"),
    BrokenPolicy(
        name: "unknown key under warren", json: #"{"defaultAction": "SCMP_ACT_ERRNO", "warren": {"network": "none", "mounts": []}}"#,
        expected: "p/x.json: warren: unknown key \"mounts\""),
    BrokenPolicy(
        name: "unknown network mode", json: #"{"defaultAction": "SCMP_ACT_ERRNO", "warren": {"network": "host"}}"#,
        expected: "p/x.json: warren.network: unknown network mode \"host\""),
]

@Suite("Broken policies name the file, the place and the problem")
struct PolicyErrorTests {
    @Test(arguments: brokenPolicies)
    func rejects(_ broken: BrokenPolicy) {
        #expect {
            _ = try Policy.parse(json: broken.json, file: "p/x.json")
        } throws: { error in
            let policyError = error as? PolicyError
            #expect(policyError?.file == "p/x.json")
            #expect(policyError?.description == broken.expected)
            return policyError != nil
        }
    }

    @Test("the location field is set apart from the message")
    func structuredFields() {
        let json = policy([okRule, okRule, okRule, #"{"names": ["mkdri"], "action": "SCMP_ACT_ALLOW"}"#])
        #expect(throws: PolicyError(file: "f.json", location: "syscalls[3]", message: "unknown syscall \"mkdri\" (did you mean \"mkdir\"?)")) {
            try Policy.parse(json: json, file: "f.json")
        }
    }

    @Test("syntax errors report the line and column of the problem")
    func syntaxPositions() {
        let json = "{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n  \"syscalls\": [\n    {\"names\": [\"read\"] \"action\": 1}\n  ]\n}"
        #expect(throws: PolicyError(
            file: "f.json", location: "", message: "invalid JSON at line 4 column 24: unexpected '\"', expected ',' or '}'")) {
            try Policy.parse(json: json, file: "f.json")
        }
    }

    @Test("JSON oddities that lenient parsers accept are refused", arguments: [
        "", "{} {}", "{\"a\": 01}", "{\"a\": 1.}", "{\"a\": \"\\x\"}", "{\"a\": tru}", "[" + String(repeating: "[", count: 100),
        "{\"a\": \"tab\there\"}",
    ])
    func strictJSON(_ json: String) {
        #expect(throws: PolicyError.self) { try Policy.parse(json: json, file: "f.json") }
    }
}
