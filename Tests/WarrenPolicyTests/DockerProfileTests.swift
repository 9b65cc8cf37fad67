import Testing
import WarrenPolicy

@Suite("Docker's default profile loads unchanged and resolves as Docker resolves it")
struct DockerProfileTests {
    let policy: Policy
    /// A process with no capabilities on this x86_64 host's kernel, as Warren runs one.
    let resolved: ResolvedPolicy

    init() throws {
        policy = try TestFiles.load(TestFiles.dockerProfile)
        resolved = policy.resolve(native: .x86_64, kernel: KernelVersion(6, 18))
    }

    @Test("the whole profile is read")
    func loads() {
        #expect(policy.defaultAction == .errno)
        #expect(policy.effectiveDefaultAction == .errno(1))
        #expect(policy.architectures.isEmpty)
        #expect(policy.archMap.count == 8)
        #expect(policy.archMap.last == ArchMapEntry(architecture: .riscv64, subArchitectures: []))
        #expect(policy.syscalls.count == 31)
        #expect(policy.syscalls[17].comment == "s390 parameter ordering for clone is different")
    }

    @Test("architectures come from archMap: native plus its sub-architectures")
    func architectures() {
        #expect(resolved.architectures == [.x86_64, .x86, .x32])
        #expect(policy.targetArchitectures(native: .aarch64) == [.aarch64, .arm])
        #expect(policy.targetArchitectures(native: .riscv64) == [.riscv64])
    }

    @Test("calls that need a capability are denied with EPERM", arguments: [
        "mount", "umount2", "unshare", "setns", "bpf", "chroot", "reboot", "init_module", "perf_event_open",
        "open_by_handle_at", "settimeofday", "syslog", "pivot_root", "keyctl", "kexec_load",
    ])
    func denied(_ name: String) {
        #expect(!resolved.mayRun(name))
        #expect(resolved.evaluate(name) == [.errno(1)])
    }

    @Test("ptrace is allowed from kernel 4.8 on (includes.minKernel), denied before")
    func ptraceByKernel() {
        #expect(resolved.evaluate("ptrace") == [.allow])
        let old = policy.resolve(native: .x86_64, kernel: KernelVersion(4, 4))
        #expect(old.evaluate("ptrace") == [.errno(1)])
        #expect(old.evaluate("process_vm_readv") == [.errno(1)])
    }

    @Test("personality is allowed only for Docker's five values")
    func personality() {
        let values = resolved.rules(for: "personality").flatMap(\.args)
        #expect(values.map(\.value) == [0, 8, 0x20000, 0x20008, 0xFFFF_FFFF])
        #expect(values.allSatisfy { $0.op == .equal && $0.index == 0 })
        #expect(resolved.evaluate("personality", args: [0]) == [.allow])
        #expect(resolved.evaluate("personality", args: [0x0040_0000]) == [.errno(1)])  // READ_IMPLIES_EXEC
    }

    @Test("clone is allowed without namespace flags; clone3 fails with ENOSYS")
    func cloneRules() throws {
        let clone = resolved.rules(for: "clone")
        #expect(clone.count == 1)
        #expect(clone.first?.source == 16)
        #expect(clone.first?.args == [ArgCondition(index: 0, value: 0x7E02_0000, valueTwo: 0, op: .maskedEqual)])
        #expect(resolved.evaluate("clone", args: [0x003D_0F00]) == [.allow])  // pthread_create's flags
        #expect(resolved.evaluate("clone", args: [0x1000_0000 | 17]) == [.errno(1)])  // CLONE_NEWUSER | SIGCHLD
        #expect(resolved.evaluate("clone3") == [.errno(38)])
    }

    @Test("socket is allowed for every family but AF_VSOCK")
    func socketFamilies() {
        #expect(resolved.evaluate("socket", args: [40, 1, 0]) == [.errno(1)])
        #expect(resolved.evaluate("socket", args: [2, 1, 0]) == [.allow])
        #expect(resolved.evaluate("socket", args: [1, 1, 0]) == [.allow])
    }

    @Test("includes.arches compare with the native architecture only")
    func archRules() {
        #expect(resolved.evaluate("arch_prctl") == [.allow])
        #expect(resolved.evaluate("modify_ldt") == [.allow])
        #expect(resolved.rules(for: "s390_runtime_instr").isEmpty)
        #expect(resolved.rules(for: "arm_fadvise64_64").isEmpty)
        let arm = policy.resolve(native: .aarch64, kernel: KernelVersion(6, 18))
        #expect(arm.evaluate("arch_prctl") == [.errno(1)])
        #expect(arm.evaluate("arm_fadvise64_64") == [.allow])
        let s390 = policy.resolve(native: .s390x, kernel: KernelVersion(6, 18))
        #expect(s390.rules(for: "clone").map(\.source) == [17])
    }

    @Test("with CAP_SYS_ADMIN the admin rules apply and the namespace guard on clone goes")
    func withCapabilities() {
        let admin = policy.resolve(native: .x86_64, capabilities: ["CAP_SYS_ADMIN"], kernel: KernelVersion(6, 18))
        #expect(admin.evaluate("mount") == [.allow])
        #expect(admin.evaluate("clone3") == [.allow])
        #expect(admin.rules(for: "clone").map(\.source) == [15])
        #expect(admin.evaluate("clone", args: [0x1000_0000]) == [.allow])
    }

    @Test("no two applicable rules conflict, whatever the capabilities or architecture")
    func noConflicts() {
        for arch in [Architecture.x86_64, .aarch64, .s390x, .ppc64le, .riscv64] {
            for caps in [Set<String>(), Capabilities.known] {
                #expect(policy.resolve(native: arch, capabilities: caps, kernel: KernelVersion(6, 18)).conflicts.isEmpty)
            }
        }
    }
}
