import Foundation
import Glibc
import Testing
import WarrenPolicy
@testable import WarrenSandbox

// The compiled programs are checked by running them: `BPFMachine` below is a
// classic-BPF interpreter over `struct seccomp_data`, the same input the kernel
// gives a filter. Loading a filter for real is the sandbox tests' job.

/// Architecture tokens as the kernel puts them in `seccomp_data.arch`.
private enum AuditArch {
    static let x86_64: UInt32 = 0xC000_003E
    static let i386: UInt32 = 0x4000_0003
    static let aarch64: UInt32 = 0xC000_00B7
}

/// Kernel return values (`SECCOMP_RET_*`).
private enum Ret {
    static let allow: UInt32 = 0x7FFF_0000
    static let killProcess: UInt32 = 0x8000_0000
    static func errno(_ value: UInt32) -> UInt32 { 0x0005_0000 | value }
}

/// A classic BPF interpreter, enough for what libseccomp emits.
private struct BPFMachine {
    let program: [(code: UInt16, jt: UInt8, jf: UInt8, k: UInt32)]

    init(_ bytes: [UInt8]) {
        program = stride(from: 0, to: bytes.count, by: 8).map { i in
            let word = { (at: Int) in UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24 }
            return (UInt16(bytes[i]) | UInt16(bytes[i + 1]) << 8, bytes[i + 2], bytes[i + 3], word(i + 4))
        }
    }

    /// The filter's verdict for system call `nr` of `arch` with `args`.
    func run(nr: Int32, arch: UInt32 = AuditArch.x86_64, args: [UInt64] = []) -> UInt32? {
        var data = [UInt32](repeating: 0, count: 16)  // nr, arch, ip (2 words), args (12 words)
        data[0] = UInt32(bitPattern: nr)
        data[1] = arch
        for (i, arg) in args.enumerated() {
            data[4 + 2 * i] = UInt32(truncatingIfNeeded: arg)
            data[5 + 2 * i] = UInt32(truncatingIfNeeded: arg >> 32)
        }
        var a: UInt32 = 0, x: UInt32 = 0, pc = 0
        var memory = [UInt32](repeating: 0, count: 16)
        while pc < program.count {
            let (code, jt, jf, k) = program[pc]
            pc += 1
            switch code {
            case 0x20: guard k % 4 == 0, Int(k / 4) < data.count else { return nil }; a = data[Int(k / 4)]  // ld [k]
            case 0x00: a = k  // ld #k
            case 0x60: a = memory[Int(k & 15)]  // ld M[k]
            case 0x61: x = memory[Int(k & 15)]  // ldx M[k]
            case 0x02: memory[Int(k & 15)] = a  // st
            case 0x03: memory[Int(k & 15)] = x  // stx
            case 0x54: a &= k  // and #k
            case 0x44: a |= k  // or #k
            case 0x07: x = a  // tax
            case 0x87: a = x  // txa
            case 0x06: return k  // ret #k
            case 0x16: return a  // ret a
            case 0x05: pc += Int(k)  // ja
            case 0x15: pc += a == k ? Int(jt) : Int(jf)  // jeq #k
            case 0x25: pc += a > k ? Int(jt) : Int(jf)  // jgt #k
            case 0x35: pc += a >= k ? Int(jt) : Int(jf)  // jge #k
            case 0x45: pc += a & k != 0 ? Int(jt) : Int(jf)  // jset #k
            default: return nil  // an instruction this model does not know: fail the test
            }
        }
        return nil
    }
}

private let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
private let dockerProfilePath = repoRoot.appendingPathComponent("../shared/fixtures/docker-default-seccomp.json").standardized.path
private let defaultPolicyPath = repoRoot.appendingPathComponent("policies/default.json").path

@Suite("Policies compile to BPF that acts as the policy says")
struct SeccompCompileTests {
    @Test("Docker's profile compiles for x86_64, x86 and x32 and behaves as Docker's filter")
    func dockerProfile() throws {
        let filter = try SeccompCompiler.compile(try PolicyFile.load(path: dockerProfilePath), kernel: KernelVersion(6, 18), native: .x86_64)
        #expect(!filter.bpf.isEmpty && filter.bpf.count % 8 == 0)
        #expect(filter.instructionCount <= CompiledFilter.maxInstructions)
        #expect(filter.architectures == [.x86_64, .x86, .x32])
        #expect(filter.unenforced.isEmpty, "\(filter.unenforced)")
        #expect(!filter.usesNotify)
        let vm = BPFMachine(filter.bpf)
        #expect(vm.run(nr: 0) == Ret.allow)  // read
        #expect(vm.run(nr: 165) == Ret.errno(1))  // mount
        #expect(vm.run(nr: 272) == Ret.errno(1))  // unshare
        #expect(vm.run(nr: 321) == Ret.errno(1))  // bpf
        #expect(vm.run(nr: 435) == Ret.errno(38))  // clone3
        #expect(vm.run(nr: 41, args: [40, 1, 0]) == Ret.errno(1))  // socket(AF_VSOCK)
        #expect(vm.run(nr: 41, args: [2, 1, 0]) == Ret.allow)
        #expect(vm.run(nr: 135, args: [0]) == Ret.allow)  // personality(PER_LINUX)
        #expect(vm.run(nr: 135, args: [0x0040_0000]) == Ret.errno(1))
        #expect(vm.run(nr: 56, args: [0x003D_0F00]) == Ret.allow)  // clone for a thread
        #expect(vm.run(nr: 56, args: [0x1000_0011]) == Ret.errno(1))  // clone(CLONE_NEWUSER)
        #expect(vm.run(nr: 3, arch: AuditArch.i386) == Ret.allow)  // i386 read
        #expect(vm.run(nr: 21, arch: AuditArch.i386) == Ret.errno(1))  // i386 mount
        #expect(vm.run(nr: 0, arch: AuditArch.aarch64) == Ret.killProcess)  // foreign architecture
    }

    @Test("default.json compiles for x86_64 alone; x32 and i386 calls are killed")
    func defaultPolicy() throws {
        let filter = try SeccompCompiler.compile(try PolicyFile.load(path: defaultPolicyPath), kernel: KernelVersion(6, 18), native: .x86_64)
        #expect(filter.architectures == [.x86_64])
        #expect(filter.unenforced.isEmpty, "\(filter.unenforced)")
        let vm = BPFMachine(filter.bpf)
        #expect(vm.run(nr: 0) == Ret.allow)
        #expect(vm.run(nr: 101) == Ret.errno(1))  // ptrace
        #expect(vm.run(nr: 425) == Ret.errno(1))  // io_uring_setup
        #expect(vm.run(nr: 452) == Ret.allow)  // fchmodat2
        #expect(vm.run(nr: 462) == Ret.allow)  // mseal, added by number
        #expect(vm.run(nr: 41, args: [40, 1, 0]) == Ret.errno(1))
        #expect(vm.run(nr: 41, args: [10, 1, 0]) == Ret.allow)
        #expect(vm.run(nr: 0x4000_0000 | 0) == Ret.killProcess)  // x32 read
        #expect(vm.run(nr: 3, arch: AuditArch.i386) == Ret.killProcess)
    }

    @Test("calls newer than libseccomp's table are filtered by number on the host architecture")
    func byNumber() throws {
        let json = #"""
        {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
         "syscalls": [{"names": ["mseal", "statmount"], "action": "SCMP_ACT_ERRNO", "errnoRet": 33},
                      {"names": ["fchmodat2", "getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 11},
                      {"names": ["chown32", "arm_fadvise64_64"], "action": "SCMP_ACT_KILL_PROCESS"}]}
        """#
        let filter = try SeccompCompiler.compile(try Policy.parse(json: json, file: "t.json"), native: .x86_64)
        let vm = BPFMachine(filter.bpf)
        #expect(vm.run(nr: 462) == Ret.errno(33))  // mseal
        #expect(vm.run(nr: 457) == Ret.errno(33))  // statmount
        #expect(vm.run(nr: 452) == Ret.errno(11))  // fchmodat2, known to Debian's 2.5.4 by name
        #expect(vm.run(nr: 79) == Ret.errno(11))  // getcwd
        #expect(vm.run(nr: 1) == Ret.allow)
        #expect(vm.run(nr: 183, arch: AuditArch.i386) == Ret.errno(11))  // i386 getcwd
        #expect(vm.run(nr: 212, arch: AuditArch.i386) == Ret.killProcess)  // i386 chown32
        // libseccomp cannot add unknown numbers to foreign architectures: reported, not hidden.
        #expect(Set(filter.unenforced) == [
            UnenforcedSyscall(name: "mseal", architecture: .x86), UnenforcedSyscall(name: "statmount", architecture: .x86),
        ])
    }

    @Test("the memfd holds exactly the program, is close-on-exec in the parent and is sealed")
    func memfd() throws {
        let filter = try SeccompCompiler.compile(try PolicyFile.load(path: defaultPolicyPath))
        let fd = try filter.makeMemfd()
        defer { close(fd) }
        // Only the spawning child clears the flag, on its own copy.
        #expect(fcntl(fd, F_GETFD) & FD_CLOEXEC == FD_CLOEXEC)
        #expect(try Memfd.readAll(fd) == filter.bpf)
        let seals = fcntl(fd, 1024 + 10)  // F_GET_SEALS
        #expect(seals == 0xF)
        var byte: UInt8 = 0
        #expect(pwrite(fd, &byte, 1, 0) == -1 && errno == EPERM)
    }

    @Test("rules that repeat the default are skipped; notify, log, trace and trap compile")
    func otherActions() throws {
        let json = #"""
        {"defaultAction": "SCMP_ACT_ERRNO", "flags": ["SECCOMP_FILTER_FLAG_LOG"],
         "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO"},
                      {"names": ["write"], "action": "SCMP_ACT_LOG"}, {"names": ["getpid"], "action": "SCMP_ACT_TRAP"},
                      {"names": ["getppid"], "action": "SCMP_ACT_TRACE", "errnoRet": 5}, {"names": ["getuid"], "action": "SCMP_ACT_NOTIFY"},
                      {"names": ["gettid"], "action": "SCMP_ACT_KILL"}]}
        """#
        let filter = try SeccompCompiler.compile(try Policy.parse(json: json, file: "t.json"), native: .x86_64)
        #expect(filter.usesNotify)
        #expect(filter.loadFlags == 0x2 | 0x8)  // LOG | NEW_LISTENER
        let vm = BPFMachine(filter.bpf)
        #expect(vm.run(nr: 0) == Ret.errno(1))
        #expect(vm.run(nr: 1) == 0x7FFC_0000)
        #expect(vm.run(nr: 39) == 0x0003_0000)
        #expect(vm.run(nr: 110) == 0x7FF0_0005)
        #expect(vm.run(nr: 102) == 0x7FC0_0000)
        #expect(vm.run(nr: 186) == 0)
    }

    @Test("libseccomp failures name the call", arguments: [Architecture.loongarch64, .m68k])
    func unsupportedArchitecture(_ arch: Architecture) throws {
        let policy = Policy(defaultAction: .errno, architectures: [.x86_64, arch])
        #expect(throws: SeccompError.unsupportedArchitecture(arch)) { try SeccompCompiler.compile(policy) }
        #expect(SeccompError.libseccomp(call: "seccomp_rule_add(ptrace)", errno: EINVAL).description == "seccomp_rule_add(ptrace): EINVAL")
    }

    @Test("conflicting rules are refused rather than silently merged by libseccomp")
    func conflict() throws {
        let json = #"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}, {"names": ["read"], "action": "SCMP_ACT_KILL_PROCESS"}]}"#
        #expect {
            try SeccompCompiler.compile(try Policy.parse(json: json, file: "t.json"))
        } throws: { error in
            guard case .conflictingRules(let conflict)? = error as? SeccompError else { return false }
            return conflict.syscall == "read" && conflict.first.source == 0 && conflict.second.source == 1
        }
    }

    @Test("host probes: kernel from uname, native architecture from libseccomp")
    func host() {
        #expect(KernelVersion.current >= KernelVersion(3, 17))  // seccomp(2) exists
        #expect(Architecture.native == .x86_64)
    }

    @Test("PolicyFile names the file when it cannot be read or parsed")
    func policyFileErrors() throws {
        #expect(throws: PolicyError(file: "/nonexistent/p.json", location: "", message: "cannot open: ENOENT (No such file or directory)")) {
            try PolicyFile.load(path: "/nonexistent/p.json")
        }
        let path = NSTemporaryDirectory() + "warren-policy-\(getpid()).json"
        try Data(#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["mkdri"], "action": "SCMP_ACT_ALLOW"}]}"#.utf8)
            .write(to: URL(fileURLWithPath: path))
        defer { unlink(path) }
        #expect(throws: PolicyError(file: path, location: "syscalls[0]", message: "unknown syscall \"mkdri\" (did you mean \"mkdir\"?)")) {
            try PolicyFile.load(path: path)
        }
    }
}
