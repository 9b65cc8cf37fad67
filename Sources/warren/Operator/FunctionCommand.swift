import ArgumentParser
import Foundation

/// `warren function …`: deploy and inspect functions.
struct FunctionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "function",
        abstract: "Create, update, inspect, list and delete functions.",
        discussion: OperatorHelp.discussion(""),
        subcommands: [FunctionCreateCommand.self, FunctionUpdateCommand.self, FunctionGetCommand.self,
                      FunctionListCommand.self, FunctionDeleteCommand.self]
    )
}

/// `--zip FILE | --code-dir DIR`.
struct CodeSource: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Deployment package: a zip file.", valueName: "file"))
    var zip: String?

    @Option(name: .customLong("code-dir"), help: ArgumentHelp(
        "Deployment package: this directory, zipped in memory (permissions kept).", valueName: "dir"))
    var codeDirectory: String?

    var given: Bool { zip != nil || codeDirectory != nil }

    func validate() throws {
        if zip != nil, codeDirectory != nil { throw ValidationError("give --zip or --code-dir, not both") }
    }

    /// The zip bytes, with a progress line while a directory is zipped.
    func load(_ status: StatusLine) throws(OperatorError) -> [UInt8]? {
        if let zip { return try CodePackage.read(zip: zip) }
        guard let codeDirectory else { return nil }
        status.show("zipping \(codeDirectory)…")
        let bytes = try CodePackage.zip(directory: codeDirectory) { status.show("zipping \(codeDirectory): \($0) entries") }
        status.clear()
        return bytes
    }
}

/// The configuration flags `create` and `update` share; only given ones are sent.
struct FunctionSettings: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Runtime, e.g. python3.11 or provided.al2023.", valueName: "runtime"))
    var runtime: String?

    @Option(name: .long, help: ArgumentHelp("Handler, e.g. app.handler (python) or bootstrap.", valueName: "handler"))
    var handler: String?

    @Option(name: .long, help: ArgumentHelp("Memory in MB, 128-10240 (create: 128 if not given).", valueName: "mb"))
    var memory: Int?

    @Option(name: .long, help: ArgumentHelp("Timeout in seconds, 1-900 (create: 3 if not given).", valueName: "s"))
    var timeout: Int?

    @Option(name: .long, help: ArgumentHelp(
        "Environment variable; repeatable. On update the given set replaces all variables.", valueName: "k=v"))
    var env: [String] = []

    @Option(name: .long, help: ArgumentHelp("Execution role ARN (create: \(FunctionCreateCommand.defaultRole) if not given).", valueName: "arn"))
    var role: String?

    @Option(name: .long, help: ArgumentHelp("Description.", valueName: "text"))
    var description: String?

    @Option(name: .customLong("log-format"), help: ArgumentHelp(
        "Log format: text, or json (the runtime logs JSON records, Lambda's lines are JSON events).",
        valueName: "format"))
    var logFormat: String?

    @Option(name: .customLong("log-level"), help: ArgumentHelp(
        "With --log-format json: the application log level (TRACE, DEBUG, INFO, WARN, ERROR, FATAL).",
        valueName: "level"))
    var logLevel: String?

    func validate() throws {
        for e in env where !e.contains("=") || e.hasPrefix("=") { throw ValidationError("--env wants K=V, got '\(e)'") }
        if let logFormat, Self.logFormats[logFormat.lowercased()] == nil {
            throw ValidationError("--log-format wants text or json, got '\(logFormat)'")
        }
        if logLevel != nil, logFormat?.lowercased() != "json" {
            throw ValidationError("--log-level goes with --log-format json (Lambda's levels are JSON's)")
        }
    }

    /// `--log-format` values as Lambda spells them.
    static let logFormats = ["text": "Text", "json": "JSON"]

    var given: Bool {
        runtime != nil || handler != nil || memory != nil || timeout != nil || !env.isEmpty || role != nil
            || description != nil || logFormat != nil
    }

    /// The `FunctionConfiguration` keys these flags set.
    var fields: [String: Any] {
        var fields: [String: Any] = [:]
        if let runtime { fields["Runtime"] = runtime }
        if let handler { fields["Handler"] = handler }
        if let memory { fields["MemorySize"] = memory }
        if let timeout { fields["Timeout"] = timeout }
        if let role { fields["Role"] = role }
        if let description { fields["Description"] = description }
        if !env.isEmpty { fields["Environment"] = ["Variables": Self.pairs(env)] }
        if let format = logFormat.flatMap({ Self.logFormats[$0.lowercased()] }) {
            var logging = ["LogFormat": format]
            if let logLevel { logging["ApplicationLogLevel"] = logLevel.uppercased() }
            fields["LoggingConfig"] = logging
        }
        return fields
    }

    /// `K=V` arguments (checked to hold a `=`) as a dictionary; a later key wins.
    static func pairs(_ arguments: [String]) -> [String: String] {
        var pairs: [String: String] = [:]
        for argument in arguments {
            let pair = argument.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            pairs[String(pair[0])] = String(pair[1])
        }
        return pairs
    }
}

/// `warren function create NAME …`.
struct FunctionCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a function from a zip or a directory.",
        discussion: OperatorHelp.discussion("""
            Example:
              warren function create hello --runtime python3.11 --handler app.handler --code-dir ./hello
            """)
    )

    /// What `Role` is when none is given: Warren runs no IAM, but the API requires one.
    static let defaultRole = "arn:aws:iam::000000000000:role/warren"

    @Argument(help: ArgumentHelp("Function name.", valueName: "name"))
    var name: String

    @OptionGroup var code: CodeSource
    @OptionGroup var settings: FunctionSettings

    @Flag(name: .long, help: "Also publish version 1.")
    var publish = false

    @Option(name: .long, help: ArgumentHelp("Tag of the function; repeatable.", valueName: "k=v"))
    var tag: [String] = []

    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        for t in tag where !t.contains("=") || t.hasPrefix("=") { throw ValidationError("--tag wants K=V, got '\(t)'") }
        guard code.given else { throw ValidationError("missing --zip FILE or --code-dir DIR") }
        guard settings.runtime != nil else { throw ValidationError("missing --runtime, e.g. --runtime python3.11") }
        guard settings.handler != nil else {
            throw ValidationError("missing --handler, e.g. --handler app.handler (python) or bootstrap (provided.al2023)")
        }
    }

    func run() async throws {
        let status = StatusLine()
        try await Operator.run(connection) { client in
            guard let zip = try code.load(status) else { return }
            var request = settings.fields
            request["FunctionName"] = name
            request["Role"] = settings.role ?? Self.defaultRole
            request["Code"] = ["ZipFile": Data(zip).base64EncodedString()]
            request["Publish"] = publish
            if !tag.isEmpty { request["Tags"] = FunctionSettings.pairs(tag) }
            status.show("uploading \(Render.bytes(zip.count))…")
            defer { status.clear() }
            let response = try await client.send(.POST, "/2015-03-31/functions", json: request)
            status.clear()
            try FunctionView.show(response, client.output)
        }
    }
}

/// `warren function update NAME …`.
struct FunctionUpdateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "update",
        abstract: "Update a function's code, configuration or both.",
        discussion: OperatorHelp.discussion("""
            Configuration flags go to UpdateFunctionConfiguration, code to UpdateFunctionCode \
            (configuration first). --publish then publishes a version of the result.
            """)
    )

    @Argument(help: ArgumentHelp("Function name.", valueName: "name"))
    var name: String

    @OptionGroup var code: CodeSource
    @OptionGroup var settings: FunctionSettings

    @Flag(name: .long, help: "Publish a version after the update.")
    var publish = false

    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        guard code.given || settings.given || publish else {
            throw ValidationError("nothing to update: give --zip/--code-dir and/or configuration flags")
        }
    }

    func run() async throws {
        let status = StatusLine()
        try await Operator.run(connection) { client in
            let zip = try code.load(status)
            let path = OperatorClient.functionPath(name)
            var last: APIResponse?
            if settings.given {
                last = try await client.send(.PUT, path + "/configuration", json: settings.fields)
            }
            if let zip {
                if last != nil { try await FunctionView.waitForUpdate(client, name: name) }
                status.show("uploading \(Render.bytes(zip.count))…")
                defer { status.clear() }
                last = try await client.send(
                    .PUT, path + "/code", json: ["ZipFile": Data(zip).base64EncodedString(), "Publish": publish])
                status.clear()
            } else if publish {
                if last != nil { try await FunctionView.waitForUpdate(client, name: name) }
                last = try await client.send(.POST, path + "/versions", json: [:])
            }
            if let last { try FunctionView.show(last, client.output) }
        }
    }
}
