import Foundation
import Testing

/// `warren policy check` and `warren policy diff` as a user runs them: output and exit codes.
@Suite struct PolicyCheckDiffTests {
    static let repo = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let defaultPolicy = repo + "/policies/default.json"
    static let docker = repo + "/../shared/fixtures/docker-default-seccomp.json"

    /// Writes `json` to a temporary file and returns its path.
    static func file(_ json: String, _ name: String = "policy.json") throws -> String {
        let dir = try TestTemporary.directory("warren-pol")
        let path = dir.appendingPathComponent(name).path
        try json.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static let broken = """
        {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [
          {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
          {"names": ["read"], "action": "SCMP_ACT_KILL_PROCESS"},
          {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}]}
        """

    @Test func checkPassesTheDefaultPolicy() throws {
        let r = try CLI.run(["policy", "check", Self.defaultPolicy])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("default.json: ok (0 errors, 0 warnings"))
        #expect(r.stdout.contains("default action: ERRNO(EPERM)"))
        #expect(r.stdout.contains("dangerous system calls allowed: none"))
    }

    @Test func checkPassesDockersProfileAndNamesWhatItAllows() throws {
        let r = try CLI.run(["policy", "check", Self.docker])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("warning: archMap: also accepts SCMP_ARCH_X86, SCMP_ARCH_X32"))
        #expect(r.stdout.contains("    ptrace: "))
        #expect(r.stdout.contains("    socket (AF_PACKET"))
    }

    @Test func checkFailsABrokenPolicyWithExit1() throws {
        let broken = try Self.file(Self.broken)
        let invalid = try Self.file(#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["mkdri"], "action": "SCMP_ACT_ALLOW"}]}"#)
        let r = try CLI.run(["policy", "check", Self.defaultPolicy, broken, invalid])
        #expect(r.status == 1)
        #expect(r.stdout.contains("default.json: ok"))
        #expect(r.stdout.contains("error: syscalls[1]: syscalls[1] gives \"read\" KILL_PROCESS"))
        #expect(r.stdout.contains("warning: syscalls[2]: repeats the default action"))
        #expect(r.stdout.contains("error: syscalls[0]: unknown syscall \"mkdri\" (did you mean \"mkdir\"?)"))
    }

    @Test func checkSpeaksJSON() throws {
        let r = try CLI.run(["policy", "check", "--output", "json", Self.defaultPolicy])
        #expect(r.status == 0)
        let parsed = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]]
        let first = try #require(parsed?.first)
        #expect(first["ok"] as? Bool == true)
        #expect(first["defaultAction"] as? String == "ERRNO(EPERM)")
        #expect((first["counts"] as? [String: Int])?["allowed"] ?? 0 > 250)
    }

    @Test func diffExitsLikeDiff() throws {
        let same = try CLI.run(["policy", "diff", Self.defaultPolicy, Self.defaultPolicy])
        #expect(same.status == 0)
        #expect(same.stdout.hasSuffix("equivalent\n"))

        let r = try CLI.run(["policy", "diff", Self.defaultPolicy, Self.docker])
        #expect(r.status == 1)
        #expect(r.stdout.contains("allowed by B, denied by A"))
        #expect(r.stdout.contains("  ptrace "))
        #expect(r.stdout.contains("socket      A: ALLOW if arg0 == 1 | arg0 == 2"))

        let missing = try CLI.run(["policy", "diff", Self.defaultPolicy, "/nonexistent.json"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("/nonexistent.json: cannot open: ENOENT"))
        #expect(try CLI.run(["policy", "diff", Self.defaultPolicy]).status == 2)
    }

    @Test func diffSpeaksJSON() throws {
        let r = try CLI.run(["policy", "diff", "--output", "json", Self.defaultPolicy, Self.docker])
        #expect(r.status == 1)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let rows = try #require(parsed["syscalls"] as? [[String: String]])
        #expect(rows.contains { $0["syscall"] == "ptrace" && $0["kind"] == "only-second-allows" && $0["b"] == "ALLOW" })
    }
}
