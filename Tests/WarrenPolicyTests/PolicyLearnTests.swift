import Testing
import WarrenPolicy

@Suite("policy learn: learned policies are valid OCI JSON")
struct PolicyLearnTests {
    @Test func anAllowListRoundTripsThroughTheParser() throws {
        let policy = Policy.allowList(["write", "execve", "exit_group", "write"], native: .x86_64, comment: "a \"quoted\" run")
        let parsed = try Policy.parse(json: policy.jsonText, file: "learned.json")
        #expect(parsed == policy)
        #expect(parsed.syscalls.first?.names == ["execve", "exit_group", "write"])
        #expect(parsed.resolve(native: .x86_64, kernel: KernelVersion(6, 18)).verdict("read") == SyscallVerdict(otherwise: .errno(1)))
    }

    @Test func everyShippedPolicyRoundTrips() throws {
        for url in [TestFiles.defaultPolicy, TestFiles.dockerProfile] {
            let policy = try TestFiles.load(url)
            #expect(try Policy.parse(json: policy.jsonText, file: url.path) == policy)
        }
    }

    @Test func allowingOnTopOfABaseRemovesTheNamesFromDenyingRules() throws {
        let base = try Policy.parse(json: """
            {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
              {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
              {"names": ["mount", "ptrace"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
              {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}]}
            """, file: "base.json")
        let learned = base.allowing(["ptrace", "socket"])
        let resolved = learned.resolve(native: .x86_64, kernel: KernelVersion(6, 18))
        #expect(resolved.conflicts.isEmpty)
        #expect(resolved.verdict("ptrace").alwaysRuns)
        #expect(resolved.verdict("socket").alwaysRuns)
        #expect(resolved.verdict("mount") == SyscallVerdict(otherwise: .errno(38)))
        #expect(try Policy.parse(json: learned.jsonText, file: "x") == learned)
    }
}
