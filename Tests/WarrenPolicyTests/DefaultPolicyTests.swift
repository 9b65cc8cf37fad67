import Testing
import WarrenPolicy

/// Calls no function may make under `policies/default.json`.
let dangerousSyscalls = [
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "ptrace", "bpf", "keyctl", "add_key",
    "request_key", "perf_event_open", "open_by_handle_at", "name_to_handle_at", "init_module", "finit_module",
    "delete_module", "kexec_load", "kexec_file_load", "userfaultfd", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "process_vm_readv", "process_vm_writev", "reboot", "swapon", "swapoff", "acct",
    "quotactl", "quotactl_fd", "lookup_dcookie", "clock_settime", "settimeofday", "adjtimex", "clock_adjtime",
    "fsopen", "fsmount", "fsconfig", "fspick", "move_mount", "open_tree", "mount_setattr", "clone3", "syslog",
    "sethostname", "setdomainname", "iopl", "ioperm", "modify_ldt", "vhangup", "pidfd_getfd", "kcmp",
    "fanotify_init", "memfd_secret", "uselib", "nfsservctl", "vm86", "vm86old", "_sysctl", "personality",
]

@Suite("policies/default.json is a strict allow-list")
struct DefaultPolicyTests {
    let policy: Policy
    let resolved: ResolvedPolicy

    init() throws {
        policy = try TestFiles.load(TestFiles.defaultPolicy)
        resolved = policy.resolve(native: .x86_64, kernel: KernelVersion(6, 18))
    }

    @Test("denies by default with EPERM, x86_64 only, loopback network")
    func shape() {
        #expect(resolved.defaultAction == .errno(1))
        #expect(resolved.architectures == [.x86_64])
        #expect(policy.warren.network == .loopback)
        #expect(policy.syscalls.allSatisfy { $0.includes.isEmpty && $0.excludes.isEmpty })
    }

    @Test("every rule says why it is there")
    func commented() {
        #expect(policy.syscalls.allSatisfy { !($0.comment ?? "").isEmpty })
    }

    @Test("no dangerous call runs with plain arguments", arguments: dangerousSyscalls)
    func dangerousDenied(_ name: String) {
        let verdict = resolved.evaluate(name, args: [0x0040_0000, 0, 0, 0, 0, 0])
        #expect(!verdict.contains { $0.mayRun }, "\(name): \(verdict)")
        if name != "personality" {
            #expect(!resolved.mayRun(name), "\(name) is allowed by some rule")
        }
    }

    @Test("a name appears in one group only, so the groups read as a plain list")
    func noDuplicates() {
        let unconditional = policy.syscalls.filter(\.args.isEmpty).flatMap(\.names)
        #expect(Set(unconditional).count == unconditional.count)
    }

    @Test("what busybox sh, C programs and python3 need is allowed", arguments: [
        "read", "write", "openat", "close", "mmap", "mprotect", "brk", "execve", "wait4", "pipe2", "dup2",
        "rt_sigaction", "rt_sigprocmask", "fork", "vfork", "arch_prctl", "set_tid_address", "set_robust_list",
        "rseq", "prlimit64", "getrandom", "futex", "newfstatat", "statx", "getdents64", "fcntl", "ioctl",
        "epoll_create1", "epoll_ctl", "epoll_wait", "bind", "listen", "accept4", "connect", "sendto",
        "recvfrom", "getsockname", "setsockopt", "exit_group", "clock_gettime", "fchmodat2", "mseal",
    ])
    func needed(_ name: String) {
        #expect(resolved.evaluate(name) == [.allow], "\(name)")
    }

    @Test("clone without namespace flags runs; with them it is denied")
    func clone() {
        #expect(resolved.evaluate("clone", args: [0x003D_0F00]) == [.allow])  // threads
        #expect(resolved.evaluate("clone", args: [0x0120_0011]) == [.allow])  // fork()
        for flag: UInt64 in [0x0002_0000, 0x0200_0000, 0x0400_0000, 0x0800_0000, 0x1000_0000, 0x2000_0000, 0x4000_0000] {
            #expect(resolved.evaluate("clone", args: [flag | 17]) == [.errno(1)], "flag \(flag)")
        }
        #expect(resolved.evaluate("clone3") == [.errno(38)])
    }

    @Test("socket families: unix, inet, inet6 and route netlink only")
    func sockets() {
        for family: UInt64 in [1, 2, 10] {
            #expect(resolved.evaluate("socket", args: [family, 1, 0]) == [.allow], "family \(family)")
        }
        #expect(resolved.evaluate("socket", args: [16, 3, 0]) == [.allow])  // NETLINK_ROUTE
        #expect(resolved.evaluate("socket", args: [16, 3, 9]) == [.errno(1)])  // NETLINK_AUDIT
        for family: UInt64 in [4, 5, 17, 38, 40, 31, 0x1_0000_0002] {  // IPX, AppleTalk, PACKET, ALG, VSOCK, Bluetooth
            #expect(resolved.evaluate("socket", args: [family, 1, 0]) == [.errno(1)], "family \(family)")
        }
        #expect(resolved.evaluate("socketpair", args: [1, 1, 0]) == [.allow])
        #expect(resolved.evaluate("socketpair", args: [2, 1, 0]) == [.errno(1)])
    }

    @Test("personality only for Docker's values")
    func personality() {
        for value: UInt64 in [0, 8, 0x20000, 0x20008, 0xFFFF_FFFF] {
            #expect(resolved.evaluate("personality", args: [value]) == [.allow])
        }
        #expect(resolved.evaluate("personality", args: [0x0040_0000]) == [.errno(1)])
    }
}
