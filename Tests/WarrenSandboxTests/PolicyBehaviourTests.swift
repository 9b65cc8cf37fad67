import Foundation
import Testing
import WarrenPolicy
@testable import WarrenSandbox

/// Compiled policies, loaded by the real kernel in a real sandbox.
@Suite(.serialized)
struct PolicyBehaviourTests {
    /// `probe syscall NAME…` → [NAME: "ok" | "errno=E" | "killed=SIGSYS"].
    func outcomes(_ filter: CompiledFilter, _ names: [String]) throws -> [String: String] {
        let (ended, out, err) = try Fixture.run(Fixture.probeSpec(["syscall"] + names, filter: filter))
        #expect(ended.status == .exited(0), "\(out)\(err)")
        var result: [String: String] = [:]
        for line in out.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            if parts.count == 2 { result[parts[0]] = parts[1] }
        }
        return result
    }

    @Test func dockersProfileBehavesAsDockerForAProcessWithoutCapabilities() throws {
        let filter = try Fixture.compile(Fixture.dockerProfilePath)
        let got = try outcomes(filter, ["mount", "unshare", "bpf", "clone3", "socket_vsock", "personality0",
                                        "getcwd", "socket_inet", "keyctl", "kexec_load"])
        #expect(got["mount"] == "errno=EPERM")
        #expect(got["unshare"] == "errno=EPERM")
        #expect(got["bpf"] == "errno=EPERM")
        #expect(got["clone3"] == "errno=ENOSYS")
        #expect(got["socket_vsock"] == "errno=EPERM")
        #expect(got["personality0"] == "ok")
        #expect(got["getcwd"] == "ok")
        #expect(got["socket_inet"] == "ok")
        #expect(got["keyctl"] == "errno=EPERM")
        #expect(got["kexec_load"] == "errno=EPERM")
    }

    @Test func defaultPolicyDeniesTheDangerousAndKillsForeignArchitectures() throws {
        let got = try outcomes(Fixture.defaultPolicy, ["mount", "ptrace", "bpf", "userfaultfd", "io_uring_setup",
                                                       "socket_vsock", "socket_packet", "socket_inet", "getcwd"])
        for name in ["mount", "ptrace", "bpf", "userfaultfd", "io_uring_setup", "socket_vsock", "socket_packet"] {
            #expect(got[name] == "errno=EPERM", "\(name): \(got[name] ?? "missing")")
        }
        #expect(got["socket_inet"] == "ok")
        #expect(got["getcwd"] == "ok")
    }

    /// A harmless syscall denied with an odd errno proves the filter is the
    /// one that answers, not the kernel (youki's getcwd → EAGAIN).
    @Test func aRuleWithItsOwnErrnoIsTheOneThatAnswers() throws {
        let policy = try Policy.parse(json: """
            {"defaultAction": "SCMP_ACT_ALLOW",
             "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 11}]}
            """, file: "odd-errno.json")
        let got = try outcomes(try SeccompCompiler.compile(policy), ["getcwd", "getpid"])
        #expect(got["getcwd"] == "errno=EAGAIN")
        #expect(got["getpid"] == "ok")
    }

    @Test func aKillRuleKillsThePayload() throws {
        let policy = try Policy.parse(json: """
            {"defaultAction": "SCMP_ACT_ALLOW",
             "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_KILL_PROCESS"}]}
            """, file: "kill.json")
        let got = try outcomes(try SeccompCompiler.compile(policy), ["getcwd"])
        #expect(got["getcwd"] == "killed=SIGSYS")
    }
}
