import ArgumentParser
import Foundation
import WarrenPolicy
import WarrenSandbox

/// `warren policy learn -- CMD… > policy.json`.
struct PolicyLearnCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "learn",
        abstract: "Run CMD and print the minimal allow-list policy under which it runs.",
        discussion: """
            CMD runs in the sandbox with a filter that stops every system call for Warren, \
            its ptrace tracer (SCMP_ACT_TRACE); Warren records it and lets it run. The policy printed \
            on stdout allows exactly the calls made (names sorted, any arguments, except that clone \
            is allowed only without namespace flags and clone3 answered ENOSYS, unless CMD made \
            namespaces with clone; while learning, clone3 is answered ENOSYS too), answers every \
            other with EPERM and accepts only this architecture: OCI/Docker seccomp JSON that \
            warren run and Docker-compatible runtimes load. CMD's stdout goes to stderr. It \
            includes execve (made by Warren's init after loading the filter) and whatever the \
            dynamic loader needs, since they were made. With --base FILE, CMD runs in audit mode \
            under that policy and only the calls it would deny are added to it.

            Learn from a run that exercises every path the program takes in production: a \
            call only made on an error path is not learned.
            """
    )

    @Option(name: .long, help: ArgumentHelp("Learn on top of this policy.", valueName: "FILE"))
    var base: String?

    @OptionGroup var sandbox: SandboxOptions

    @Argument(parsing: .postTerminator, help: ArgumentHelp("The command and its arguments, after --.", valueName: "CMD"))
    var command: [String] = []

    func validate() throws {
        guard !command.isEmpty else { throw ValidationError("missing CMD: warren policy learn [--base FILE] -- CMD [ARG...]") }
    }

    func run() throws {
        let learned: Policy
        let outcome: AuditRun.Outcome
        do {
            let basePolicy = try base.map { try PolicyFile.load(path: $0) }
            let audit = basePolicy.map(AuditFilter.auditVariant) ?? AuditFilter.everything
            let resolvedBase = basePolicy?.resolve(native: .native, kernel: .current)
            // clone3 is answered ENOSYS, as the printed policy will answer it (libc then falls back to
            // clone, whose flags are learned), unless the base lets it run.
            let clone3Runs = resolvedBase?.verdict("clone3").alwaysRuns ?? false
            let answers: [String: EffectiveAction] =
                AuditSession.tracerEnforces && !clone3Runs ? ["clone3": .errno(38)] : [:]
            let session = try AuditSession(policy: resolvedBase, enforce: false, answers: answers)
            var run = AuditRun(options: sandbox, argv: command, stdout: .fd(2))
            run.network = basePolicy?.warren.network ?? .loopback
            outcome = try run
                .run(filter: try AuditFilter.compile(audit, tracing: session.interception == .tracer), session: session)
            let known = Set(LibseccompCatalog.nativeNames.values)
            let native = outcome.records.map(\.name).filter { !$0.contains(":") && known.contains($0) }
            for foreign in outcome.records where foreign.name.contains(":") {
                PolicyText.warn("\(foreign.name) is another architecture's call; not learned (the policy kills it)")
            }
            for unknown in Set(outcome.records.map(\.name)) where !unknown.contains(":") && !known.contains(unknown) {
                PolicyText.warn("\(unknown) is no system call this host knows; not learned (the policy denies it)")
            }
            let comment = "Learned by warren policy learn from: \(command.joined(separator: " "))"
            // A run that made no namespace gets clone without namespace flags and clone3 ENOSYS (as
            // the run had it), as in the default policy: allowed for any arguments, either could make
            // a user namespace.
            let cloneFlags = outcome.records.filter { $0.name == "clone" }.reduce(0) { $0 | $1.firstArgUnion }
            let confined = cloneFlags & Policy.cloneNamespaceFlags == 0
            if !confined {
                PolicyText.warn("CMD created namespaces with clone: the policy allows clone with any flags")
            }
            let plain = confined ? native.filter { $0 != "clone" && $0 != "clone3" } : native
            let allowed = basePolicy?.allowing(plain, comment: comment)
                ?? Policy.allowList(plain, native: .native, comment: comment)
            learned = confined && plain.count != native.count
                ? allowed.allowingConfinedClone(clone3: native.contains("clone3")) : allowed
        } catch {
            PolicyText.warn("\(error)")
            throw ExitCode(125)
        }
        if let signal = outcome.interrupted {
            // A run cut short learned only part of what CMD makes: no policy from it.
            PolicyText.warn("interrupted (signal \(signal)): CMD was killed and no policy is printed")
            throw ExitCode(outcome.exitCode)
        }
        print(learned.jsonText, terminator: "")
        if outcome.exitCode != 0 {
            PolicyText.warn("CMD exited with status \(outcome.exitCode); the policy covers that run only")
            throw ExitCode(outcome.exitCode)
        }
    }
}
