import ArgumentParser
import Foundation
import WarrenPolicy
import WarrenSandbox

/// `warren policy check FILE…`.
struct PolicyCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate policies and summarise what they allow.",
        discussion: """
            Reports errors (the policy cannot be used: invalid JSON or names, rules libseccomp \
            would silently drop, a missing native architecture, a filter that does not compile), \
            warnings (legal but suspicious: rules that never match, repeat the default or are \
            shadowed by an earlier rule, deny-lists, foreign architectures) and notes (rules \
            Docker's includes/excludes leave out here). Then: the default action, how many of \
            this architecture's system calls are allowed, allowed for some arguments, denied and \
            killed, and the dangerous system calls the policy lets run, each with the reason.

            Exit status: 0 when no file has an error, 1 otherwise.
            """
    )

    @Option(name: .long, help: "Output format: text or json.")
    var output: OutputFormat = .text

    @Argument(help: ArgumentHelp("Policy files (OCI/Docker seccomp JSON).", valueName: "FILE"))
    var files: [String]

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("missing FILE: warren policy check FILE...") }
    }

    func run() throws {
        let results = files.map(Self.check)
        switch output {
        case .text: print(results.map(Self.text).joined(separator: "\n"), terminator: "")
        case .json: print(PolicyText.json(results.map(Self.json)), terminator: "")
        }
        if results.contains(where: { !$0.passed }) { throw ExitCode(1) }
    }

    /// One file's outcome: the parse error, or the check with compile findings added.
    struct Result {
        var file: String
        var check: PolicyCheck?
        var findings: [PolicyFinding]
        var passed: Bool { !findings.contains { $0.severity == .error } }
    }

    static func check(_ file: String) -> Result {
        let policy: Policy
        do {
            policy = try PolicyFile.load(path: file)
        } catch let error as PolicyError {
            return Result(file: file, check: nil, findings: [PolicyFinding(.error, error.location, error.message)])
        } catch {
            return Result(file: file, check: nil, findings: [PolicyFinding(.error, "", "\(error)")])
        }
        let check = policy.check(native: .native, kernel: .current, catalog: LibseccompCatalog())
        var findings = check.findings
        if check.passed {
            // What only libseccomp knows: the program's size, and calls it cannot name.
            do {
                let filter = try SeccompCompiler.compile(policy)
                for missing in filter.unenforced {
                    findings.append(PolicyFinding(.warning, "", "\(missing) is not enforced: libseccomp 2.5.4 does not know it"))
                }
            } catch {
                findings.insert(PolicyFinding(.error, "", "does not compile: \(error)"), at: 0)
            }
        }
        return Result(file: file, check: check, findings: findings)
    }

    static func text(_ result: Result) -> String {
        let count = { (s: PolicyFinding.Severity) in result.findings.filter { $0.severity == s }.count }
        var out = "\(result.file): \(result.passed ? "ok" : "FAILED") (\(count(.error)) errors, "
            + "\(count(.warning)) warnings, \(count(.note)) notes)\n"
        for finding in result.findings { out += "  \(finding)\n" }
        guard let check = result.check else { return out }
        let c = check.counts
        out += "  default action: \(PolicyText.action(check.defaultAction))\n"
        out += "  architectures: \(check.architectures.map(\.rawValue).joined(separator: ", "))\n"
        out += "  \(PolicyText.host): \(c.allowed) allowed, \(c.conditional) allowed for some arguments, "
            + "\(c.denied) denied, \(c.killed) killed (of \(c.total))\n"
        if check.dangerous.isEmpty {
            out += "  dangerous system calls allowed: none\n"
        } else {
            out += "  dangerous system calls allowed (\(check.dangerous.count)):\n"
            for grant in check.dangerous {
                out += "    \(grant.syscall)\(grant.when.map { " (\($0))" } ?? ""): \(grant.reason)\n"
            }
        }
        return out
    }

    static func json(_ result: Result) -> [String: Any] {
        var object: [String: Any] = [
            "file": result.file, "ok": result.passed,
            "findings": result.findings.map { ["severity": $0.severity.rawValue, "location": $0.location, "message": $0.message] },
        ]
        guard let check = result.check else { return object }
        object["defaultAction"] = PolicyText.action(check.defaultAction)
        object["architectures"] = check.architectures.map(\.rawValue)
        object["host"] = PolicyText.host
        object["counts"] = ["allowed": check.counts.allowed, "conditional": check.counts.conditional,
                            "denied": check.counts.denied, "killed": check.counts.killed, "total": check.counts.total]
        object["dangerous"] = check.dangerous.map { grant -> [String: Any] in
            var entry: [String: Any] = ["syscall": grant.syscall, "reason": grant.reason]
            if let when = grant.when { entry["when"] = when }
            return entry
        }
        return object
    }
}
