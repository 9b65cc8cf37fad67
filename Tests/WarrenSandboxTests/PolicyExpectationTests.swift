import Foundation
import Testing
import WarrenPolicy
@testable import WarrenSandbox

/// `policies/expectations/*.expect.json`: what each shipped policy must allow, deny and kill,
/// verified by the probe in a real sandbox, so a policy change that opens a hole fails CI.
@Suite(.serialized)
struct PolicyExpectationTests {
    static let directory = Fixture.repo + "/policies/expectations"

    /// One expectation file, decoded.
    struct Expectation {
        var file: String
        var policy: String
        /// Probe case → wanted outcome as the probe prints it (`ok`, `errno=EPERM`, `killed=SIGSYS`).
        var outcomes: [String: String]

        init(path: String) throws {
            file = path
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(path)")
            let name = try #require(object["policy"] as? String, "\(path): \"policy\"")
            policy = Fixture.repo + "/policies/" + name
            outcomes = [:]
            for name in object["allowed"] as? [String] ?? [] { outcomes[name] = "ok" }
            for (errno, names) in object["ran"] as? [String: [String]] ?? [:] {
                for name in names { outcomes[name] = "errno=\(errno)" }
            }
            for (errno, names) in object["denied"] as? [String: [String]] ?? [:] {
                for name in names { outcomes[name] = "errno=\(errno)" }
            }
            for name in object["killed"] as? [String] ?? [] { outcomes[name] = "killed=SIGSYS" }
        }
    }

    static func expectationFiles() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".expect.json") }.sorted().map { directory + "/" + $0 }
    }

    /// Runs `probe syscall` with every case under `filter`: case → outcome.
    func outcomes(_ filter: CompiledFilter, _ names: [String]) throws -> [String: String] {
        let (ended, out, err) = try Fixture.run(Fixture.probeSpec(["syscall"] + names.sorted(), filter: filter))
        #expect(ended.status == .exited(0), "\(out)\(err)")
        var result: [String: String] = [:]
        for line in out.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            if parts.count == 2 { result[parts[0]] = parts[1] }
        }
        return result
    }

    /// The policy with every EPERM answer (default and rules) turned into EHWPOISON: a call
    /// the filter denies then shows the odd errno, one the kernel refuses shows EPERM.
    static func oddErrno(_ policy: Policy) -> Policy {
        var copy = policy
        if copy.defaultAction == .errno, (copy.defaultErrnoRet ?? 1) == 1 { copy.defaultErrnoRet = UInt32(EHWPOISON) }
        for i in copy.syscalls.indices where copy.syscalls[i].action == .errno && (copy.syscalls[i].errnoRet ?? 1) == 1 {
            copy.syscalls[i].errnoRet = UInt32(EHWPOISON)
        }
        return copy
    }

    @Test func everyShippedPolicyHasExpectations() throws {
        let policies = try FileManager.default.contentsOfDirectory(atPath: Fixture.repo + "/policies")
            .filter { $0.hasSuffix(".json") }
        let covered = try Set(Self.expectationFiles().map { try Expectation(path: $0).policy })
        for policy in policies {
            #expect(covered.contains(Fixture.repo + "/policies/" + policy), "policies/\(policy) has no expectation file")
        }
    }

    @Test(arguments: expectationFiles())
    func thePolicyBehavesAsExpected(_ path: String) throws {
        let expectation = try Expectation(path: path)
        let policy = try PolicyFile.load(path: expectation.policy)
        let got = try outcomes(try SeccompCompiler.compile(policy), Array(expectation.outcomes.keys))
        for (name, want) in expectation.outcomes.sorted(by: { $0.key < $1.key }) {
            #expect(got[name] == want, "\(path): \(name): got \(got[name] ?? "nothing"), want \(want)")
        }
        // EPERM from the filter, not from the kernel's own permission check.
        let eperm = expectation.outcomes.filter { $0.value == "errno=EPERM" }.map(\.key)
        let odd = try outcomes(try SeccompCompiler.compile(Self.oddErrno(policy)), eperm)
        for name in eperm.sorted() {
            #expect(odd[name] == "errno=EHWPOISON", "\(path): \(name) is refused by the kernel, not the policy: \(odd[name] ?? "nothing")")
        }
    }
}
