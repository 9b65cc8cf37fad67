import Testing
import WarrenPolicy

/// A catalog for tests: x86_64 has every known name but the 32-bit-only ones listed here.
struct StubCatalog: SyscallCatalog {
    static let only32 = Set(["chown32", "socketcall", "recv", "send"])

    func exists(_ name: String, on arch: Architecture) -> Bool {
        arch == .x86_64 ? !Self.only32.contains(name) : true
    }

    func names(on arch: Architecture) -> Set<String> {
        Set(["read", "write", "getcwd", "socket", "clone", "clone3", "mount", "bpf", "personality", "ptrace", "execve"])
    }
}

@Suite("policy check: findings, counts and dangerous grants")
struct PolicyCheckTests {
    func check(_ json: String) throws -> PolicyCheck {
        try Policy.parse(json: json, file: "t.json").check(native: .x86_64, kernel: KernelVersion(6, 18), catalog: StubCatalog())
    }

    func messages(_ check: PolicyCheck, _ severity: PolicyFinding.Severity) -> [String] {
        check.findings.filter { $0.severity == severity }.map { "\($0.location): \($0.message)" }
    }

    @Test func theDefaultPolicyPassesWithoutWarnings() throws {
        let result = try TestFiles.load(TestFiles.defaultPolicy)
            .check(native: .x86_64, kernel: KernelVersion(6, 18), catalog: StubCatalog())
        #expect(result.passed)
        #expect(result.findings.filter { $0.severity != .note }.isEmpty, "\(result.findings)")
        #expect(result.defaultAction == .errno(1))
        #expect(result.dangerous.isEmpty, "\(result.dangerous)")
    }

    @Test func dockersProfilePassesWithWarningsAndNotes() throws {
        let result = try TestFiles.load(TestFiles.dockerProfile)
            .check(native: .x86_64, kernel: KernelVersion(6, 18), catalog: StubCatalog())
        #expect(result.passed)
        #expect(messages(result, .warning).contains { $0.hasPrefix("archMap: also accepts SCMP_ARCH_X86") })
        #expect(messages(result, .note).contains { $0.contains("CAP_SYS_ADMIN, which Warren's processes never hold") })
        let dangerous = Set(result.dangerous.map(\.syscall))
        #expect(dangerous.isSuperset(of: ["ptrace", "socket"]))
        #expect(!dangerous.contains("mount") && !dangerous.contains("clone"))
    }

    @Test func conflictsAreErrorsAndReportedOnce() throws {
        let result = try check("""
            {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [
              {"names": ["read", "read"], "action": "SCMP_ACT_ALLOW"},
              {"names": ["read"], "action": "SCMP_ACT_KILL_PROCESS"},
              {"names": ["execve", "exit_group"], "action": "SCMP_ACT_ALLOW"}]}
            """)
        #expect(!result.passed)
        #expect(messages(result, .error).count == 1)
        #expect(messages(result, .warning) == ["syscalls[0]: names \"read\" twice"])
    }

    @Test func rulesThatNeverMatchOrChangeNothingAreWarnings() throws {
        let result = try check("""
            {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [
              {"names": ["read", "chown32"], "action": "SCMP_ACT_ALLOW"},
              {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"},
              {"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
              {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_LT"}]},
              {"names": ["write"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 1, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"}]},
              {"names": ["execve", "exit_group"], "action": "SCMP_ACT_ALLOW"}]}
            """)
        #expect(result.passed)
        let warnings = messages(result, .warning)
        #expect(warnings.contains("syscalls[0]: never matches \"chown32\": no such system call on SCMP_ARCH_X86_64"))
        #expect(warnings.contains("syscalls[1]: repeats the default action ERRNO(1): it has no effect"))
        #expect(warnings.contains("syscalls[2]: \"read\" already gets ALLOW from syscalls[0]: redundant"))
        #expect(warnings.contains("syscalls[3].args[0]: arg0 < 0 is never true: the rule never matches"))
        #expect(warnings.contains("syscalls[4].args[0]: arg1 & 1 == 2 is never true: the rule never matches"))
    }

    /// No command could start (execve denied) or end (exit denied, it spun): an error, which
    /// `warren run` refuses to run (it hung). A killing action still ends a process.
    @Test func aPolicyUnderWhichNothingCanRunOrEndFails() throws {
        let nothing = try check(#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"]}"#)
        #expect(messages(nothing, .error) == ["syscalls: execve and execveat are denied: no command can start under "
            + "this policy"])
        let endless = try check("""
            {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
             "syscalls": [{"names": ["execve"], "action": "SCMP_ACT_ALLOW"}]}
            """)
        #expect(messages(endless, .error) == ["syscalls: exit_group and exit are denied: a process could never end "
            + "under this policy"])
        let killed = try check("""
            {"defaultAction": "SCMP_ACT_KILL_PROCESS", "architectures": ["SCMP_ARCH_X86_64"],
             "syscalls": [{"names": ["execve"], "action": "SCMP_ACT_ALLOW"}]}
            """)
        #expect(killed.passed, "\(killed.findings)")
    }

    /// seccomp sees 64 bits where the kernel reads an int: `socket(0x100000028, …)` passed Docker's
    /// `arg0 != 40` as AF_VSOCK. Such conditions are warned about; an allowed EQ is not.
    @Test func conditionsThatUpperBitsWidenAreWarnings() throws {
        let result = try check("""
            {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [
              {"names": ["execve", "exit_group"], "action": "SCMP_ACT_ALLOW"},
              {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_NE"}]},
              {"names": ["write"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
              {"names": ["read"], "action": "SCMP_ACT_KILL_PROCESS", "args": [{"index": 0, "value": 3, "op": "SCMP_CMP_EQ"}]},
              {"names": ["getcwd"], "action": "SCMP_ACT_KILL_PROCESS",
               "args": [{"index": 0, "value": 4294967295, "valueTwo": 3, "op": "SCMP_CMP_MASKED_EQ"}]}]}
            """)
        let widened = messages(result, .warning).filter { $0.contains("seccomp compares all 64 bits") }
        #expect(widened.map { $0.prefix { $0 != ":" } } == ["syscalls[1].args[0]", "syscalls[3].args[0]"], "\(widened)")
        #expect(widened.first?.contains("passes this condition") == true)
        #expect(widened.last?.contains("escapes this rule") == true)
    }

    @Test func aNameRepeatedInOneRuleCountsOnce() throws {
        let policy = try Policy.parse(json: """
            {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [
              {"names": [\(Array(repeating: "\"read\"", count: 50_000).joined(separator: ", ")), "execve", "exit_group"],
               "action": "SCMP_ACT_ALLOW"}]}
            """, file: "t.json")
        #expect(policy.resolve(native: .x86_64, kernel: KernelVersion(6, 18)).rules.first?.names
            == ["read", "execve", "exit_group"])
        let result = policy.check(native: .x86_64, kernel: KernelVersion(6, 18), catalog: StubCatalog())
        #expect(messages(result, .warning) == ["syscalls[0]: names \"read\" twice"])
    }

    @Test func aPolicyWithoutTheNativeArchitectureFails() throws {
        let result = try check(#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_AARCH64"]}"#)
        #expect(!result.passed)
        #expect(messages(result, .error).first?.hasPrefix("architectures: SCMP_ARCH_X86_64 is not listed") == true)
        #expect(messages(result, .warning).contains { $0.hasPrefix("defaultAction: a deny-list") })
    }

    @Test func countsAndDangerousGrantsFollowTheVerdicts() throws {
        let result = try check("""
            {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [
              {"names": ["read", "write", "mount", "clone3"], "action": "SCMP_ACT_ALLOW"},
              {"names": ["bpf"], "action": "SCMP_ACT_KILL_PROCESS"},
              {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 268435456, "op": "SCMP_CMP_NE"}]},
              {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]},
              {"names": ["personality"], "action": "SCMP_ACT_ALLOW"}]}
            """)
        #expect(result.counts == VerdictCounts(allowed: 5, conditional: 2, denied: 3, killed: 1))
        let grants = Dictionary(uniqueKeysWithValues: result.dangerous.map { ($0.syscall, $0) })
        #expect(grants["clone"]?.when == "flags CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET")
        #expect(grants["mount"]?.when == nil)
        #expect(grants["clone3"] != nil)
        #expect(grants["personality"] != nil)
        #expect(grants["socket"] == nil, "AF_INET only is not dangerous")
        #expect(grants["bpf"] == nil)
    }
}
