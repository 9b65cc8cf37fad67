import ArgumentParser
import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization
import WarrenAPI
import WarrenStore
import WarrenSupervisor

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the Lambda REST API and run functions.",
        discussion: """
            Starts Warren's supervisor and the Lambda REST API (boto3, the aws CLI and \
            Warren's own commands talk to it). State (SQLite, code, logs) is kept in the \
            state directory across restarts; accepted Event invocations survive a crash.

            Settings come from the embedded defaults, then --config (JSON: listen, \
            stateDirectory, home, region, accountLimit, memoryBudgetMB, maxLogMB, maxConnections, \
            idleTimeoutSeconds, shutdownGraceSeconds, accessKeys [{accessKeyId, secretAccessKey}]), \
            then flags. With no keys configured, requests are signed with the local key \
            AKIDWARRENLOCAL / warren-local-secret.
            SIGINT or SIGTERM stops it: requests read whole are answered, invocations still \
            running get --shutdown-grace seconds to end, then every instance is destroyed; queued \
            events stay queued.
            """
    )

    @Option(name: .long, help: ArgumentHelp("JSON config file.", valueName: "file"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp("Address to listen on; port 0 picks a free one. [default: 127.0.0.1:9000]",
                                            valueName: "host:port"))
    var listen: String?

    @Option(name: .customLong("state-dir"), help: ArgumentHelp("State directory. [default: ./.warren]", valueName: "dir"))
    var stateDirectory: String?

    @Option(name: .long, help: ArgumentHelp("Directory holding rootfs/out/ and policies/. [default: this checkout]",
                                            valueName: "dir"))
    var home: String?

    @Option(name: .customLong("account-limit"), help: "Concurrent executions for the whole host. [default: 1000]")
    var accountLimit: Int?

    @Option(name: .customLong("memory-budget"),
            help: ArgumentHelp("MiB all instances together may be configured with. [default: none]", valueName: "MB"))
    var memoryBudget: Int?

    @Option(name: .customLong("max-log"),
            help: ArgumentHelp("MiB a function's log file reaches before it is rotated to .1. [default: 64]",
                               valueName: "MB"))
    var maxLog: Int?

    @Option(name: .customLong("max-connections"),
            help: ArgumentHelp("API connections open at once; more are answered 429 and closed. "
                               + "[default: a quarter of the file-descriptor limit]", valueName: "n"))
    var maxConnections: Int?

    @Option(name: .customLong("idle-timeout"),
            help: ArgumentHelp("Seconds an API connection may stay open with no request in progress. [default: 60]",
                               valueName: "seconds"))
    var idleTimeout: Int?

    @Option(name: .customLong("shutdown-grace"),
            help: ArgumentHelp("Seconds invocations still running may go on after SIGTERM or SIGINT before their "
                               + "instances are destroyed. [default: 30]", valueName: "seconds"))
    var shutdownGrace: Int?

    @Option(name: .customLong("access-key"), parsing: .singleValue,
            help: ArgumentHelp("An access key requests may be signed with; repeatable.", valueName: "id:secret"))
    var accessKeys: [String] = []

    @Option(name: .long, help: "Region in ARNs and signatures. [default: us-east-1]")
    var region: String?

    @Flag(name: .customLong("no-auth"), help: "Accept unsigned requests (local play only; logged loudly).")
    var noAuth = false

    func resolved() throws -> ServeConfiguration {
        var settings = ServeConfiguration()
        if let config { try settings.apply(file: config) }
        if let listen { try settings.setListen(listen) }
        if let stateDirectory { settings.stateDirectory = stateDirectory }
        if let home { settings.home = home }
        if let accountLimit { settings.accountLimit = accountLimit }
        if let memoryBudget { settings.memoryBudgetMB = memoryBudget }
        if let maxLog { settings.maxLogMB = maxLog }
        if let maxConnections { settings.maxConnections = maxConnections }
        if let idleTimeout { settings.idleTimeoutSeconds = idleTimeout }
        if let shutdownGrace { settings.shutdownGraceSeconds = shutdownGrace }
        if let region { settings.region = region }
        if !accessKeys.isEmpty { settings.accessKeys = try accessKeys.map(ServeConfiguration.parseKey) }
        settings.auth = !noAuth
        try settings.validate()
        return settings
    }

    func run() async throws {
        let settings: ServeConfiguration
        do {
            settings = try resolved()
        } catch let error as ServeConfigurationError {
            // One line, exit 2 (a usage error), as the operator commands do.
            StandardStreams.error("warren serve: \(error.description)\n")
            throw ExitCode(2)
        }
        guard getuid() == 0 else {
            throw ServeFailure("warren serve must run as root (instances need namespaces, cgroups and mounts); try sudo")
        }
        raiseFileLimit()
        // Before any instance exists: it sweeps them if this process dies without doing so.
        Watchdog.start()
        let server: WarrenServer
        do {
            server = try await WarrenServer.start(settings.server)
        } catch {
            throw ServeFailure("cannot start: \(error)")
        }
        let host = settings.host
        let auth = settings.auth
        let keys = settings.effectiveKeys
        let region = settings.region
        let handlers = server.channelHandlers(serverName: "warren")
        let app = Application(
            router: server.router,
            server: .lambda(handlers: handlers),
            configuration: .init(address: .hostname(host, port: settings.port), serverName: "warren"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                let display = host.contains(":") ? "[\(host)]" : host
                var lines = ["warren: listening on http://\(display):\(port)"]
                if auth {
                    for key in keys {
                        lines.append("warren: access key \(key.accessKeyId) secret \(key.secretAccessKey) region \(region)")
                    }
                    lines.append("warren: try: AWS_ACCESS_KEY_ID=\(keys[0].accessKeyId) AWS_SECRET_ACCESS_KEY=\(keys[0].secretAccessKey) "
                                 + "aws --region \(region) --endpoint-url http://\(display):\(port) lambda list-functions")
                } else {
                    lines.append("warren: WARNING: --no-auth: requests are NOT authenticated; anyone who reaches this port can run code")
                }
                _ = StandardStreams.write(STDOUT_FILENO, Array((lines.joined(separator: "\n") + "\n").utf8))
            },
            logger: Logger(label: "warren") { ServerLogHandler(label: $0) }
        )
        let grace = Self.boundShutdown(of: server, after: .seconds(settings.shutdownGraceSeconds))
        defer { grace.forEach { $0.cancel() } }
        do {
            try await app.runService()
        } catch {
            await server.stop()
            throw ServeFailure("\(error)")
        }
        await server.stop()
    }
}

extension ServeCommand {
    /// On SIGTERM or SIGINT (which the application's graceful shutdown also gets, and answers by
    /// waiting for the requests in progress), ends the invocations still running after
    /// `grace`: before, a stop waited out an Invoke's whole timeout.
    static func boundShutdown(of server: WarrenServer, after grace: Duration) -> [any DispatchSourceSignal] {
        let started = Atomic<Bool>(false)
        let end = server.endInvocations
        return [SIGTERM, SIGINT].map { signo in
            let source = DispatchSource.makeSignalSource(signal: signo, queue: .global())
            source.setEventHandler {
                let first = started.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged
                guard first else { return }
                Task {
                    try? await Task.sleep(for: grace)
                    StandardStreams.error("warren: ending the invocations still running, \(grace) after the signal\n")
                    await end()
                }
            }
            source.resume()
            return source
        }
    }
}

/// Raises the soft file-descriptor limit to the hard one, as servers do: connections and instances
/// each hold descriptors. (Instances get Lambda's 1024 of their own.)
private func raiseFileLimit() {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
    limit.rlim_cur = limit.rlim_max
    _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}

/// A fatal `serve` error, printed as one line.
struct ServeFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
