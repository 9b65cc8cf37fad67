import Foundation

/// A runtime: its root filesystem and how its bootstrap starts
/// (`rootfs/<name>/manifest.json`, built into `rootfs/out/<name>`).
public struct RuntimeInfo: Sendable, Equatable {
    public var name: String
    public var rootfs: String
    public var entrypoint: [String]
    public var workdir: String
    public var environment: [String: String]
    /// The rootfs build's identity (`BUILD_ID` in its `/etc/os-release`: a hash of the recipe);
    /// empty if it has none.
    public var buildId = ""

    /// Lambda's `INIT_START` line for an instance of this runtime: `python:3.11.<build>` and an ARN
    /// naming the build, as Lambda names the runtime version an execution environment runs.
    public func initStartLine(region: String) -> String {
        "INIT_START Runtime Version: \(versionName)\tRuntime Version ARN: \(versionArn(region: region))"
    }

    /// `python:3.11.<build>`, `provided:al2023.<build>`.
    var versionName: String {
        let split = name.firstIndex { $0.isNumber || $0 == "." } ?? name.endIndex
        var rest = name[split...]
        if rest.first == "." { rest = rest.dropFirst() }
        return "\(name[..<split]):\(rest).\(build)"
    }

    /// The ARN of the runtime version: `arn:aws:lambda:<region>::runtime:<build>`, as Lambda's
    /// `RuntimeVersionConfig` and `INIT_START` name it.
    public func versionArn(region: String) -> String {
        "arn:aws:lambda:\(region)::runtime:\(build)"
    }

    private var build: String { buildId.isEmpty ? "unknown" : buildId }
}

/// The runtimes a Warren installation has.
public struct RuntimeCatalog: Sendable {
    /// The directory holding `rootfs/` (a checkout or `/usr/share/warren`).
    public var home: String

    public init(home: String) {
        self.home = home
    }

    private struct Manifest: Decodable {
        var name: String
        var entrypoint: [String]
        var workdir: String?
        var env: [String: String]?
    }

    /// - Throws: `invalidParameterValue` for a runtime Warren does not have or has not built.
    public func runtime(_ name: String) throws -> RuntimeInfo {
        guard !name.contains("/"), !name.hasPrefix(".") else {
            throw SupervisorError(.invalidParameterValue, "Value \(name) at 'runtime' failed to satisfy constraint")
        }
        let manifestPath = home + "/rootfs/" + name + "/manifest.json"
        guard let data = FileManager.default.contents(atPath: manifestPath) else {
            throw SupervisorError(.invalidParameterValue, "The runtime parameter of \(name) is not supported by Warren.")
        }
        let manifest: Manifest
        do {
            manifest = try JSONDecoder().decode(Manifest.self, from: data)
        } catch {
            throw SupervisorError(.serviceException, "\(manifestPath): \(error)")
        }
        let rootfs = home + "/rootfs/out/" + name
        guard FileManager.default.fileExists(atPath: rootfs + "/etc") else {
            throw SupervisorError(.serviceException, "runtime \(name) is not built (run `make rootfs`): \(rootfs)")
        }
        return RuntimeInfo(name: manifest.name, rootfs: rootfs, entrypoint: manifest.entrypoint,
                           workdir: manifest.workdir ?? "/var/task", environment: manifest.env ?? [:],
                           buildId: Self.buildId(rootfs: rootfs))
    }
}

extension RuntimeCatalog {
    /// `BUILD_ID` of `rootfs/etc/os-release`, which `rootfs/build.sh` writes.
    static func buildId(rootfs: String) -> String {
        guard let text = try? String(contentsOfFile: rootfs + "/etc/os-release", encoding: .utf8) else { return "" }
        for line in text.split(separator: "\n") where line.hasPrefix("BUILD_ID=") {
            return String(line.dropFirst("BUILD_ID=".count)).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        }
        return ""
    }
}

/// The environment of an instance, as Lambda gives it (spec/runtime-api.md §7): the runtime's
/// defaults (`PATH`, `LANG`, `LD_LIBRARY_PATH`, `TZ` …), then the function's variables, which
/// override those as on Lambda, then the reserved ones, which win (the API refuses them in a
/// function's variables).
enum InstanceEnvironment {
    static func make(
        config: FunctionConfig, version: String, runtime: RuntimeInfo, provisioned: Bool, region: String
    ) -> [String] {
        var env = ["TZ": ":UTC", "LC_CTYPE": "C.UTF-8"].merging(runtime.environment) { $1 }
        env.merge(config.environment) { $1 }
        let stream = Self.logStream(version: version)
        let reserved: [String: String] = [
            "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001",
            "_HANDLER": config.handler,
            "LAMBDA_TASK_ROOT": "/var/task",
            "LAMBDA_RUNTIME_DIR": "/var/runtime",
            "AWS_LAMBDA_FUNCTION_NAME": config.functionName,
            "AWS_LAMBDA_FUNCTION_VERSION": version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": String(config.memorySize),
            "AWS_LAMBDA_LOG_GROUP_NAME": config.logging.logGroup ?? "/aws/lambda/\(config.functionName)",
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": provisioned ? "provisioned-concurrency" : "on-demand",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
        ]
        for (key, value) in reserved { env[key] = value }
        // JSON logging, as Lambda tells the runtime (awslambdaric 2.0.6 and later log JSON then, at
        // the application log level).
        if config.logging.json {
            env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
            env["AWS_LAMBDA_LOG_LEVEL"] = config.logging.applicationLogLevel ?? "INFO"
        }
        if runtime.name.hasPrefix("provided") { env["AWS_EXECUTION_ENV"] = nil }
        return env.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
    }

    /// `2023/04/23/[$LATEST]<32 hex>`.
    static func logStream(version: String) -> String {
        let day = Date().formatted(.iso8601.year().month().day().dateSeparator(.dash)).replacingOccurrences(of: "-", with: "/")
        let hex = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        return "\(day)/[\(version)]\(hex)"
    }
}
