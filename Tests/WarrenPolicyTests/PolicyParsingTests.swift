import Testing
@testable import WarrenPolicy

@Suite("Valid policies parse into the values they spell")
struct PolicyParsingTests {
    @Test("every field of the format is read")
    func everyField() throws {
        let json = #"""
        {
          "defaultAction": "SCMP_ACT_TRACE", "defaultErrnoRet": 7,
          "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
          "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
          "listenerPath": "/run/agent.sock", "listenerMetadata": "meta",
          "warren": {"network": "none"},
          "syscalls": [
            {"name": "getcwd", "names": null, "action": "SCMP_ACT_ERRNO", "errnoRet": 11, "comment": "odd errno",
             "includes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["amd64"], "minKernel": "5.10"},
             "excludes": {"caps": [], "arches": ["x32"], "minKernel": null},
             "args": [{"index": 5, "value": 18446744073709551615, "valueTwo": 3, "op": "SCMP_CMP_MASKED_EQ"}]}
          ]
        }
        """#
        let policy = try Policy.parse(json: json, file: "f.json")
        #expect(policy.defaultAction == .trace)
        #expect(policy.effectiveDefaultAction == .trace(7))
        #expect(policy.architectures == [.x86_64, .x86])
        #expect(policy.flags == [.log, .specAllow])
        #expect(policy.listenerPath == "/run/agent.sock")
        #expect(policy.listenerMetadata == "meta")
        #expect(policy.warren.network == NetworkMode.none)
        let rule = try #require(policy.syscalls.first)
        #expect(rule.names == ["getcwd"])
        #expect(rule.effectiveAction == .errno(11))
        #expect(rule.comment == "odd errno")
        #expect(rule.includes == RuleFilter(caps: ["CAP_SYS_ADMIN"], arches: ["amd64"], minKernel: KernelVersion(5, 10)))
        #expect(rule.excludes == RuleFilter(arches: ["x32"]))
        #expect(rule.args == [ArgCondition(index: 5, value: .max, valueTwo: 3, op: .maskedEqual)])
    }

    @Test("every action spelling parses, SCMP_ACT_KILL meaning kill-thread")
    func actions() throws {
        let expected: [String: EffectiveAction] = [
            "SCMP_ACT_ALLOW": .allow, "SCMP_ACT_ERRNO": .errno(1), "SCMP_ACT_KILL": .killThread,
            "SCMP_ACT_KILL_THREAD": .killThread, "SCMP_ACT_KILL_PROCESS": .killProcess, "SCMP_ACT_TRAP": .trap,
            "SCMP_ACT_LOG": .log, "SCMP_ACT_TRACE": .trace(1), "SCMP_ACT_NOTIFY": .notify,
        ]
        for (spelling, action) in expected {
            let json = #"{"defaultAction": "SCMP_ACT_KILL_PROCESS", "syscalls": [{"names": ["read"], "action": "\#(spelling)"}]}"#
            let policy = try Policy.parse(json: json, file: "f.json")
            #expect(policy.syscalls[0].effectiveAction == action, "\(spelling)")
            #expect(policy.usesNotify == (spelling == "SCMP_ACT_NOTIFY"))
        }
    }

    @Test("every comparison operator parses and compares as libseccomp does")
    func operators() throws {
        let cases: [(String, UInt64, matches: UInt64, fails: UInt64)] = [
            ("SCMP_CMP_NE", 5, 4, 5), ("SCMP_CMP_LT", 5, 4, 5), ("SCMP_CMP_LE", 5, 5, 6),
            ("SCMP_CMP_EQ", 5, 5, 4), ("SCMP_CMP_GE", 5, 5, 4), ("SCMP_CMP_GT", 5, 6, 5),
        ]
        for (op, value, good, bad) in cases {
            let json = #"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": \#(value), "op": "\#(op)"}]}]}"#
            let condition = try #require(try Policy.parse(json: json, file: "f.json").syscalls[0].args.first)
            #expect(condition.matches([0, good]), "\(op)")
            #expect(!condition.matches([0, bad]), "\(op)")
        }
        let masked = ArgCondition(index: 0, value: 0x7E02_0000, valueTwo: 0, op: .maskedEqual)
        #expect(masked.matches([0x0001_1200]))  // CLONE_VM | CLONE_FS... without namespace bits
        #expect(!masked.matches([0x1000_0000]))  // CLONE_NEWUSER
    }

    @Test("a legacy single name joins names; names may list several")
    func legacyName() throws {
        let json = #"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "write"], "name": "close", "action": "SCMP_ACT_ALLOW"}]}"#
        #expect(try Policy.parse(json: json, file: "f.json").syscalls[0].names == ["read", "write", "close"])
    }

    @Test("names of every architecture and newer than libseccomp 2.5.4 are known")
    func syscallTable() throws {
        for name in ["chown32", "arm_fadvise64_64", "s390_runtime_instr", "riscv_flush_icache", "mseal", "statmount", "fchmodat2", "cachestat", "_llseek"] {
            #expect(LinuxSyscalls.isKnown(name), "\(name)")
        }
        #expect(!LinuxSyscalls.isKnown("mkdri"))
        #expect(LinuxSyscalls.unifiedNumbers["fchmodat2"] == 452)
        #expect(LinuxSyscalls.unifiedNumbers["mseal"] == 462)
        #expect(LinuxSyscalls.unifiedNumbers["clone3"] == 435)
        // Numbers are unique: two names on one number would silently alias in a filter.
        #expect(Set(LinuxSyscalls.unifiedNumbers.values).count == LinuxSyscalls.unifiedNumbers.count)
    }

    @Test("warren defaults to loopback networking")
    func warrenDefault() throws {
        #expect(try Policy.parse(json: #"{"defaultAction": "SCMP_ACT_ALLOW"}"#, file: "f").warren.network == .loopback)
    }

    @Test("kernel versions parse as Docker's minKernel and as uname releases")
    func kernelVersions() {
        #expect(KernelVersion(parsing: "4.8") == KernelVersion(4, 8))
        #expect(KernelVersion(parsing: "0.0") == nil)
        #expect(KernelVersion(parsing: "4") == nil)
        #expect(KernelVersion(parsing: "4.") == nil)
        #expect(KernelVersion(parsing: "+4.8") == nil)
        #expect(KernelVersion(release: "6.18.44-fc-v595") == KernelVersion(6, 18))
        #expect(KernelVersion(release: "5.4.0-generic") == KernelVersion(5, 4))
        #expect(KernelVersion(4, 8) < KernelVersion(4, 10))
        #expect(KernelVersion(4, 10) < KernelVersion(5, 0))
    }

    @Test("string escapes decode, including surrogate pairs")
    func escapes() throws {
        let json = #"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "comment": "a\"b\\c\/\n\u00e9\ud83d\ude00"}]}"#
        #expect(try Policy.parse(json: json, file: "f").syscalls[0].comment == "a\"b\\c/\n\u{e9}\u{1F600}")
    }

    @Test("suggestions pick the nearest name, and none when nothing is close")
    func suggestions() {
        #expect(Suggestion.nearest(to: "opne", in: ["open", "openat"]) == "open")
        #expect(Suggestion.nearest(to: "zzzzzz", in: ["open", "openat"]) == nil)
        #expect(Suggestion.nearest(to: "", in: ["a"]) == "a")
    }

    @Test("rules libseccomp would silently merge are reported as conflicts")
    func conflicts() throws {
        let json = #"""
        {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
          {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
          {"names": ["write"], "action": "SCMP_ACT_ALLOW"},
          {"names": ["socket"], "action": "SCMP_ACT_LOG", "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]},
          {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
          {"names": ["read"], "action": "SCMP_ACT_KILL_PROCESS", "includes": {"minKernel": "5.0"}},
          {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 97, "excludes": {"arches": ["arm64"]}, "includes": {"minKernel": "5.0"}}]}
        """#
        let policy = try Policy.parse(json: json, file: "f")
        #expect(policy.resolve(native: .x86_64, kernel: KernelVersion(4, 19)).conflicts.isEmpty)
        let conflicts = policy.resolve(native: .x86_64, kernel: KernelVersion(6, 1)).conflicts
        #expect(conflicts.map { "\($0.syscall) \($0.first.source) \($0.second.source)" } == ["read 0 4", "socket 2 5", "socket 3 5"])
        #expect(conflicts.first?.description == "syscalls[4] gives \"read\" KILL_PROCESS for all arguments but syscalls[0] "
            + "already gives it ALLOW for all arguments; libseccomp would silently drop one. "
            + "Hint: remove one rule, or give both conditions on arguments")
    }
}
