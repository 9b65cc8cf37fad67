import ArgumentParser
import Foundation
import NIOCore
import NIOPosix

@main
struct Warren: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "warren",
        abstract: "Run untrusted functions the way AWS Lambda does, on your own Linux host.",
        discussion: """
            Every process Warren starts is confined by new namespaces, an empty capability \
            set, no_new_privs, a seccomp filter and cgroup limits.
            """,
        subcommands: [ServeCommand.self, FunctionCommand.self, PublishCommand.self, AliasCommand.self,
                      ConcurrencyCommand.self, ProvisionedCommand.self, InvokeCommand.self, LogsCommand.self,
                      InstancesCommand.self, AccountCommand.self, RunCommand.self, PolicyCommand.self,
                      WatchdogCommand.self]
    )

    /// ArgumentParser's `main`, except that a usage error exits with 2 (as
    /// getopt tools and the operator commands' documented exit status say),
    /// not EX_USAGE (64).
    static func main() async {
        do {
            var command = try parseAsRoot()
            if command is ServeCommand {
                // The server's tasks run on its event loops, not on a pool of their own: an invoke
                // then stays on the thread that read its request instead of crossing between
                // Swift Concurrency's pool and NIO's loops several times per request.
                NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
            }
            if var command = command as? AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
            StandardStreams.error((fullMessage(for: error) + "\n"))
            exit(withError: ExitCode(2))
        }
    }
}
