import Foundation
import WarrenAPI

/// What `warren serve` runs with: embedded defaults, then the config file,
/// then flags, each overriding the one before.
struct ServeConfiguration: Equatable {
    /// The key a local `aws`/boto3 user signs with when none is configured
    /// (README "Quick start"). Loopback-only by default, so it guards
    /// nothing but accidents; configure real keys before listening elsewhere.
    static let localKey = AccessKey(accessKeyId: "AKIDWARRENLOCAL", secretAccessKey: "warren-local-secret")

    var host = "127.0.0.1"
    var port = 9000
    var stateDirectory = "./.warren"
    var home = Defaults.home
    var region = "us-east-1"
    var accountLimit = 1000
    var memoryBudgetMB: Int?
    var maxLogMB = 64
    /// nil: a quarter of the file-descriptor limit (after `serve` raises it to its hard limit).
    var maxConnections: Int?
    var idleTimeoutSeconds = 60
    /// After SIGTERM/SIGINT, how long invocations still running may go on before their
    /// instances are destroyed (each then answered `Sandbox.Failure`).
    var shutdownGraceSeconds = 30
    var accessKeys: [AccessKey] = []
    var auth = true

    /// The keys requests are checked against: the configured ones, else the local key.
    var effectiveKeys: [AccessKey] { accessKeys.isEmpty ? [Self.localKey] : accessKeys }

    /// What the server library takes.
    var server: WarrenServer.Settings {
        var server = WarrenServer.Settings(home: home, stateDirectory: stateDirectory)
        server.region = region
        server.accountLimit = accountLimit
        server.memoryBudgetMB = memoryBudgetMB
        server.maxLogMB = maxLogMB
        server.maxConnections = maxConnections
        server.idleTimeoutSeconds = idleTimeoutSeconds
        server.keys = auth ? effectiveKeys : nil
        return server
    }

    /// The JSON config file; every key optional.
    struct File: Decodable {
        struct Key: Decodable { var accessKeyId: String; var secretAccessKey: String }
        var listen: String?
        var stateDirectory: String?
        var home: String?
        var region: String?
        var accountLimit: Int?
        var memoryBudgetMB: Int?
        var maxLogMB: Int?
        var maxConnections: Int?
        var idleTimeoutSeconds: Int?
        var shutdownGraceSeconds: Int?
        var accessKeys: [Key]?
    }

    /// Applies a config file. - Throws: `ServeConfigurationError` naming the file and the problem.
    mutating func apply(file path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ServeConfigurationError("\(path): cannot read the file")
        }
        let file: File
        do {
            file = try JSONDecoder().decode(File.self, from: data)
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw ServeConfigurationError("\(path): \(key): \(context.debugDescription)")
        } catch {
            throw ServeConfigurationError("\(path): not a JSON object of Warren's settings (\(error))")
        }
        do {
            if let listen = file.listen { try setListen(listen) }
            if let value = file.stateDirectory { stateDirectory = value }
            if let value = file.home { home = value }
            if let value = file.region { region = value }
            if let value = file.accountLimit { accountLimit = value }
            if let value = file.memoryBudgetMB { memoryBudgetMB = value }
            if let value = file.maxLogMB { maxLogMB = value }
            if let value = file.maxConnections { maxConnections = value }
            if let value = file.idleTimeoutSeconds { idleTimeoutSeconds = value }
            if let value = file.shutdownGraceSeconds { shutdownGraceSeconds = value }
            if let keys = file.accessKeys {
                accessKeys = keys.map { AccessKey(accessKeyId: $0.accessKeyId, secretAccessKey: $0.secretAccessKey) }
            }
            try validate()
        } catch let error as ServeConfigurationError {
            throw ServeConfigurationError("\(path): \(error.description)")
        }
    }

    /// `HOST:PORT`, `[v6]:PORT` or `:PORT` (loopback). Port 0 picks a free one.
    mutating func setListen(_ value: String) throws {
        guard let colon = value.lastIndex(of: ":"), let port = Int(value[value.index(after: colon)...]),
              (0...65535).contains(port) else {
            throw ServeConfigurationError("listen address '\(value)' is not HOST:PORT")
        }
        var host = String(value[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.host = host.isEmpty ? "127.0.0.1" : host
        self.port = port
    }

    /// `ID:SECRET`.
    static func parseKey(_ value: String) throws -> AccessKey {
        guard let colon = value.firstIndex(of: ":"), colon != value.startIndex,
              value.index(after: colon) != value.endIndex else {
            throw ServeConfigurationError("access key '\(value.prefix(while: { $0 != ":" }))…' is not ID:SECRET")
        }
        return AccessKey(accessKeyId: String(value[..<colon]), secretAccessKey: String(value[value.index(after: colon)...]))
    }

    func validate() throws {
        guard accountLimit >= 1 else { throw ServeConfigurationError("account limit must be at least 1, not \(accountLimit)") }
        if let memoryBudgetMB, memoryBudgetMB < 128 {
            throw ServeConfigurationError("memory budget must be at least 128 MB, not \(memoryBudgetMB)")
        }
        guard (1...65_536).contains(maxLogMB) else {
            throw ServeConfigurationError("log file limit must be 1 to 65536 MB, not \(maxLogMB)")
        }
        if let maxConnections, maxConnections < 1 {
            throw ServeConfigurationError("connection limit must be at least 1, not \(maxConnections)")
        }
        guard (1...86_400).contains(idleTimeoutSeconds) else {
            throw ServeConfigurationError("idle timeout must be 1 to 86400 seconds, not \(idleTimeoutSeconds)")
        }
        guard (0...86_400).contains(shutdownGraceSeconds) else {
            throw ServeConfigurationError("shutdown grace must be 0 to 86400 seconds, not \(shutdownGraceSeconds)")
        }
        for key in accessKeys where key.accessKeyId.isEmpty || key.secretAccessKey.isEmpty {
            throw ServeConfigurationError("an access key needs both an id and a secret")
        }
    }
}

struct ServeConfigurationError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
