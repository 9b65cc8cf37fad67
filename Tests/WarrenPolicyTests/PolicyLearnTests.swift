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

    /// A learned clone creates no namespace (a user namespace would give every capability inside
    /// it), and clone3, whose flags seccomp cannot read, falls back to it: as the default policy.
    @Test func allowingConfinedCloneAllowsCloneWithoutNamespaceFlagsAndAnswersClone3ENOSYS() throws {
        let learned = Policy.allowList(["execve", "exit_group"], native: .x86_64).allowingConfinedClone(clone3: true)
        let resolved = learned.resolve(native: .x86_64, kernel: KernelVersion(6, 18))
        #expect(resolved.conflicts.isEmpty)
        let thread: UInt64 = 0x003D_0F00  // pthread_create's flags
        #expect(resolved.evaluate("clone", args: [thread]).allSatisfy { $0.mayRun })
        for flag: UInt64 in [0x1000_0000, 0x0002_0000, 0x4000_0000] {  // NEWUSER, NEWNS, NEWNET
            #expect(!resolved.evaluate("clone", args: [thread | flag]).contains { $0.mayRun }, "flag \(flag)")
        }
        #expect(resolved.verdict("clone3") == SyscallVerdict(otherwise: .errno(38)))
        #expect(resolved.verdict("execve").alwaysRuns)
        let check = learned.check(native: .x86_64, kernel: KernelVersion(6, 18), catalog: StubCatalog())
        #expect(!check.dangerous.contains { $0.syscall == "clone" || $0.syscall == "clone3" }, "\(check.dangerous)")
        #expect(try Policy.parse(json: learned.jsonText, file: "x") == learned)
        // Without clone3, only clone's rule is added.
        let noClone3 = Policy.allowList(["execve"], native: .x86_64).allowingConfinedClone(clone3: false)
        #expect(!noClone3.syscalls.contains { $0.names.contains("clone3") })
    }

    /// On top of the default policy, which holds clone so already, nothing is repeated; a base
    /// that allows clone for any arguments keeps its rule.
    @Test func allowingConfinedCloneKeepsTheBasesCloneRule() throws {
        let base = try TestFiles.load(TestFiles.defaultPolicy)
        let learned = base.allowingConfinedClone(clone3: true)
        let clones = learned.syscalls.filter { $0.names.contains("clone") }
        #expect(clones.count == 1 && clones[0].args.count == 1, "\(clones)")
        #expect(learned.syscalls.filter { $0.names.contains("clone3") }.count == 1)
        let resolved = learned.resolve(native: .x86_64, kernel: KernelVersion(6, 18))
        #expect(resolved.conflicts.isEmpty)
        #expect(resolved.verdict("clone3") == SyscallVerdict(otherwise: .errno(38)))
        let open = Policy.allowList(["clone", "read"], native: .x86_64)
        #expect(open.allowingConfinedClone(clone3: false) == open)
    }
}
