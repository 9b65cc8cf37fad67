import ArgumentParser
import Foundation
import WarrenPolicy
import WarrenSandbox

/// `warren policy diff A B`.
struct PolicyDiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Show what one policy allows that the other does not.",
        discussion: """
            Compares the two policies system call by system call, for this host's architecture, \
            a process without capabilities and the running kernel: what A lets run that B never \
            does and vice versa, calls both deny differently (another errno, a kill), and calls \
            both allow under different argument conditions (shown with their conditions).

            Exit status, as diff(1): 0 when the policies are equivalent, 1 when they differ, 2 on \
            error (a file missing or invalid).
            """
    )

    @Option(name: .long, help: "Output format: text or json.")
    var output: OutputFormat = .text

    @Argument(help: ArgumentHelp("The two policies.", valueName: "FILE"))
    var files: [String] = []

    func run() throws {
        guard files.count == 2 else {
            PolicyText.warn("policy diff wants two files: warren policy diff A B")
            throw ExitCode(2)
        }
        let resolved: [ResolvedPolicy]
        do {
            resolved = try files.map { try PolicyFile.load(path: $0).resolve(native: .native, kernel: .current) }
        } catch {
            PolicyText.warn("\(error)")
            throw ExitCode(2)
        }
        let names = LibseccompCatalog().names(on: .native)
        let diff = resolved[0].diff(resolved[1], syscalls: names)
        switch output {
        case .text: print(text(diff), terminator: "")
        case .json: print(PolicyText.json(json(diff)), terminator: "")
        }
        if !diff.isEmpty { throw ExitCode(1) }
    }

    static let headings: [(SyscallDifference.Kind, String)] = [
        (.onlyFirstAllows, "allowed by A, denied by B"),
        (.onlySecondAllows, "allowed by B, denied by A"),
        (.deniedDifferently, "denied by both, differently"),
        (.conditionsDiffer, "allowed by both, under different conditions"),
    ]

    func text(_ diff: PolicyDiff) -> String {
        var out = "--- A \(files[0])\n+++ B \(files[1])\n(\(PolicyText.host))\n"
        if diff.isEmpty { return out + "equivalent\n" }
        if let (a, b) = diff.defaultActions {
            out += "default action: A \(PolicyText.action(a)), B \(PolicyText.action(b))\n"
        }
        if let (a, b) = diff.architectures {
            out += "architectures: A \(a.map(\.rawValue).joined(separator: ",")), B \(b.map(\.rawValue).joined(separator: ","))\n"
        }
        for (kind, heading) in Self.headings {
            let rows = diff.syscalls.filter { $0.kind == kind }
            guard !rows.isEmpty else { continue }
            out += "\(heading) (\(rows.count)):\n"
            out += PolicyText.table(rows.map {
                [$0.syscall, "A: " + $0.first.describe(PolicyText.action), "B: " + $0.second.describe(PolicyText.action)]
            })
        }
        return out
    }

    func json(_ diff: PolicyDiff) -> [String: Any] {
        var object: [String: Any] = ["a": files[0], "b": files[1], "host": PolicyText.host, "equal": diff.isEmpty]
        if let (a, b) = diff.defaultActions { object["defaultAction"] = ["a": PolicyText.action(a), "b": PolicyText.action(b)] }
        if let (a, b) = diff.architectures { object["architectures"] = ["a": a.map(\.rawValue), "b": b.map(\.rawValue)] }
        object["syscalls"] = diff.syscalls.map {
            ["syscall": $0.syscall, "kind": $0.kind.rawValue,
             "a": $0.first.describe(PolicyText.action), "b": $0.second.describe(PolicyText.action)]
        }
        return object
    }
}
