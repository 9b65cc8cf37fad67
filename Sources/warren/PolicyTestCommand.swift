import ArgumentParser
import Foundation
import WarrenPolicy
import WarrenSandbox

/// `warren policy test FILE -- CMD…`: what the policy would deny, without denying it.
struct PolicyTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run CMD under a policy in audit mode and report what it would deny.",
        discussion: """
            CMD runs in the sandbox as with warren run, but every system call the policy would \
            stop (errno, kill, trap) stops for Warren instead (SCMP_ACT_TRACE; Warren is CMD's \
            ptrace tracer): Warren records it with its arguments and lets it run. The report \
            lists each such call with its count, the policy's action and the arguments of the \
            first occurrence. With --enforce Warren applies the policy's action instead (the \
            call skipped with its errno, the process killed); the report lists what was denied.

            Exit status: CMD's (128+N when signal N killed it); 125 when Warren failed.
            """
    )

    @Flag(name: .long, help: "Apply the policy's actions instead of only recording them.")
    var enforce = false

    @Option(name: .long, help: "Output format: text or json (CMD's stdout then goes to stderr).")
    var output: OutputFormat = .text

    @Flag(name: .long, help: ArgumentHelp(
        "Use seccomp user notification instead of ptrace (the fallback where Warren cannot enforce through "
            + "ptrace; a signal can then fail a parked call with EINTR).", visibility: .hidden))
    var listener = false

    @OptionGroup var sandbox: SandboxOptions

    @Argument(help: ArgumentHelp("The policy.", valueName: "FILE"))
    var file: String

    @Argument(parsing: .postTerminator, help: ArgumentHelp("The command and its arguments, after --.", valueName: "CMD"))
    var command: [String] = []

    func validate() throws {
        guard !command.isEmpty else { throw ValidationError("missing CMD: warren policy test FILE -- CMD [ARG...]") }
    }

    func run() throws {
        let outcome: AuditRun.Outcome
        do {
            let policy = try PolicyFile.loadRunnable(path: file)
            let session = try AuditSession(policy: policy.resolve(native: .native, kernel: .current), enforce: enforce,
                                           interception: listener ? .listener : nil)
            let filter = try AuditFilter.compile(
                AuditFilter.auditVariant(of: policy), tracing: session.interception == .tracer)
            var run = AuditRun(options: sandbox, argv: command, stdout: output == .json ? .fd(2) : .inherit)
            run.network = policy.warren.network
            outcome = try run.run(filter: filter, session: session)
        } catch {
            PolicyText.warn("\(error)")
            throw ExitCode(125)
        }
        switch output {
        case .text: print(text(outcome), terminator: "")
        case .json: print(PolicyText.json(json(outcome)), terminator: "")
        }
        throw ExitCode(outcome.exitCode)
    }

    func text(_ outcome: AuditRun.Outcome) -> String {
        let verb = enforce ? "denied" : "would deny"
        var out = "warren policy test: \(file) \(verb) \(outcome.records.count) system call"
            + "\(outcome.records.count == 1 ? "" : "s") (\(enforce ? "enforced" : "audit mode"); "
            + (outcome.interrupted.map { "interrupted by signal \($0), CMD killed" } ?? "CMD exited \(outcome.exitCode)")
            + ")\n"
        guard !outcome.records.isEmpty else { return out }
        out += PolicyText.table([["SYSCALL", "COUNT", "ACTION", "FIRST ARGS"]] + outcome.records.map { record in
            [record.name, String(record.count), record.action.map(PolicyText.action) ?? "-",
             record.firstArgs.map { "0x" + String($0, radix: 16) }.joined(separator: " ")]
        })
        return out
    }

    func json(_ outcome: AuditRun.Outcome) -> [String: Any] {
        [
            "policy": file, "mode": enforce ? "enforce" : "audit",
            "mechanism": outcome.interception == .tracer ? "ptrace" : "seccomp user notification",
            "exitCode": Int(outcome.exitCode), "host": PolicyText.host,
            "syscalls": outcome.records.map { record -> [String: Any] in
                ["syscall": record.name, "count": record.count,
                 "action": record.action.map(PolicyText.action) ?? "", "firstArgs": record.firstArgs.map { NSNumber(value: $0) }]
            },
        ]
    }
}
