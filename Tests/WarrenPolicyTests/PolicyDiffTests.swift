import Testing
import WarrenPolicy

@Suite("policy diff: per system call, native architecture, no capabilities")
struct PolicyDiffTests {
    let names = ["read", "write", "getcwd", "socket", "mount", "ptrace", "bpf"]

    func resolved(_ json: String) throws -> ResolvedPolicy {
        try Policy.parse(json: json, file: "t.json").resolve(native: .x86_64, kernel: KernelVersion(6, 18))
    }

    @Test func aPolicyEqualsItselfAndAReorderedCopy() throws {
        let a = try resolved("""
            {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"}]}
            """)
        let b = try resolved("""
            {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1, "syscalls": [
              {"names": ["write"], "action": "SCMP_ACT_ALLOW"}, {"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}
            """)
        #expect(a.diff(a, syscalls: names).isEmpty)
        #expect(a.diff(b, syscalls: names).isEmpty)
    }

    @Test func everyKindOfDifferenceIsReported() throws {
        let a = try resolved("""
            {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
              {"names": ["read", "write", "mount"], "action": "SCMP_ACT_ALLOW"},
              {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 11},
              {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}]}
            """)
        let b = try resolved("""
            {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
              {"names": ["read", "write", "ptrace"], "action": "SCMP_ACT_ALLOW"},
              {"names": ["bpf"], "action": "SCMP_ACT_KILL_PROCESS"},
              {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]}]}
            """)
        let diff = a.diff(b, syscalls: names)
        let kinds = Dictionary(uniqueKeysWithValues: diff.syscalls.map { ($0.syscall, $0.kind) })
        #expect(kinds == ["mount": .onlyFirstAllows, "ptrace": .onlySecondAllows, "getcwd": .deniedDifferently,
                          "bpf": .deniedDifferently, "socket": .conditionsDiffer])
        let socket = diff.syscalls.first { $0.syscall == "socket" }
        #expect(socket?.first.description == "ALLOW if arg0 == 1; otherwise ERRNO(1)")
        #expect(socket?.second.description == "ALLOW if arg0 == 2; otherwise ERRNO(1)")
        #expect(diff.syscalls.map(\.syscall) == diff.syscalls.map(\.syscall).sorted())
    }

    @Test func defaultsAndArchitecturesAreCompared() throws {
        let a = try resolved(#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"]}"#)
        let b = try resolved(#"{"defaultAction": "SCMP_ACT_KILL_PROCESS", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]}"#)
        let diff = a.diff(b, syscalls: names)
        #expect(diff.defaultActions.map { [$0.0, $0.1] } == [.errno(1), .killProcess])
        #expect(diff.architectures?.1 == [.x86_64, .x86])
        #expect(diff.syscalls.count == names.count)
    }

    @Test func anUnconditionalRuleHidesConditionalOnes() throws {
        let a = try resolved("""
            {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
              {"names": ["socket"], "action": "SCMP_ACT_ALLOW"},
              {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]}]}
            """)
        #expect(a.verdict("socket") == SyscallVerdict(otherwise: .allow))
        #expect(a.verdict("mount") == SyscallVerdict(otherwise: .errno(1)))
    }
}
