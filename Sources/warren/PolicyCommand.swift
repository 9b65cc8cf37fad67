import ArgumentParser
import Foundation
import WarrenPolicy
import WarrenSandbox

/// `warren policy …`: the security engineer's tools for seccomp policies.
struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Check, compare, test and learn seccomp policies.",
        discussion: """
            Every subcommand judges a policy as Warren applies it: for this host's architecture, \
            a process without capabilities, and the running kernel (Docker's includes/excludes \
            resolved as Docker resolves them).
            """,
        subcommands: [PolicyCheckCommand.self, PolicyDiffCommand.self, PolicyTestCommand.self, PolicyLearnCommand.self]
    )
}

/// `--output text|json`.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text
    case json
}

/// Rendering shared by the policy subcommands.
enum PolicyText {
    /// `ERRNO(EPERM)` rather than `ERRNO(1)`: engineers read errno names.
    static func action(_ action: EffectiveAction) -> String {
        switch action {
        case .errno(let value): "ERRNO(\(Errno.name(Int32(value))))"
        case .trace(let value): "TRACE(\(value))"
        default: action.description
        }
    }

    /// The host as every verdict assumes it: `x86_64, no capabilities, kernel 6.18`.
    static var host: String {
        "\(Architecture.native.rawValue.dropFirst("SCMP_ARCH_".count).lowercased()), no capabilities, kernel \(KernelVersion.current)"
    }

    /// Pretty, key-sorted JSON of plain dictionaries and arrays, with a final newline.
    static func json(_ value: Any) -> String {
        let data = (try? JSONSerialization.data(
            withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data("null".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// Writes to stderr, prefixed like every warren message.
    static func warn(_ message: String) {
        StandardStreams.error("warren: \(message)\n")
    }

    /// Columns padded to the widest cell of each.
    static func table(_ rows: [[String]], indent: String = "  ") -> String {
        guard let width = rows.map(\.count).max() else { return "" }
        var widths = [Int](repeating: 0, count: width)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        return rows.map { row in
            indent + row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}
