import ArgumentParser
import Foundation

/// `warren publish NAME`.
struct PublishCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Publish $LATEST as a new version (PublishVersion).",
        discussion: OperatorHelp.discussion("""
            Unchanged code and configuration since the last publish returns that version again.
            """))

    @Argument(help: ArgumentHelp("Function name.", valueName: "name"))
    var name: String

    @Option(name: .long, help: ArgumentHelp("The version's description.", valueName: "text"))
    var description: String?

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await Operator.run(connection) { client in
            let response = try await client.send(
                .POST, OperatorClient.functionPath(name) + "/versions",
                json: description.map { ["Description": $0] } ?? [:])
            try FunctionView.show(response, client.output)
        }
    }
}

/// `warren alias …`.
struct AliasCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alias",
        abstract: "Create, update, list and delete aliases (named pointers to versions).",
        discussion: OperatorHelp.discussion(""),
        subcommands: [AliasCreateCommand.self, AliasUpdateCommand.self, AliasListCommand.self, AliasDeleteCommand.self])

    /// Shows one alias: JSON as is, or its fields.
    static func show(_ response: APIResponse, _ output: OperatorOutput) throws(OperatorError) {
        guard output == .table else { return Render.json(response) }
        let alias = try response.object()
        Render.fields([
            ("Name", Render.text(alias["Name"])),
            ("AliasArn", Render.text(alias["AliasArn"])),
            ("FunctionVersion", Render.text(alias["FunctionVersion"])),
            ("Weights", weights(alias)),
            ("Description", Render.text(alias["Description"]).flatMap { $0.isEmpty ? nil : $0 }),
            ("RevisionId", Render.text(alias["RevisionId"])),
        ])
    }

    /// `2=0.2` for each additional version, or nil.
    static func weights(_ alias: [String: Any]) -> String? {
        let routing = (alias["RoutingConfig"] as? [String: Any])?["AdditionalVersionWeights"] as? [String: Any] ?? [:]
        guard !routing.isEmpty else { return nil }
        return routing.sorted { $0.key < $1.key }.map { "\($0.key)=\(Render.text($0.value) ?? "")" }
            .joined(separator: " ")
    }
}

/// The flags `alias create` and `alias update` share.
struct AliasSettings: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Also route this share of invocations to another version; repeatable.", valueName: "version=weight"))
    var weight: [String] = []

    @Option(name: .long, help: ArgumentHelp("Description.", valueName: "text"))
    var description: String?

    func validate() throws { _ = try weights() }

    /// `AdditionalVersionWeights`.
    func weights() throws -> [String: Double] {
        var out: [String: Double] = [:]
        for w in weight {
            let pair = w.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, let share = Double(pair[1]), share >= 0, share <= 1 else {
                throw ValidationError("--weight wants VERSION=WEIGHT with a weight from 0 to 1, got '\(w)'")
            }
            out[String(pair[0])] = share
        }
        return out
    }

    /// The request fields these flags set (`RoutingConfig` only when weights are given).
    func fields() throws -> [String: Any] {
        var fields: [String: Any] = [:]
        if let description { fields["Description"] = description }
        if !weight.isEmpty { fields["RoutingConfig"] = ["AdditionalVersionWeights": try weights()] }
        return fields
    }
}

/// `warren alias create FUNCTION ALIAS --version V`.
struct AliasCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Create an alias (CreateAlias).",
        discussion: OperatorHelp.discussion("""
            Example: route 10% of "live" to version 3, the rest to 2:
              warren alias create hello live --version 2 --weight 3=0.1
            """))

    @Argument(help: ArgumentHelp("Function name.", valueName: "function"))
    var function: String

    @Argument(help: ArgumentHelp("Alias name.", valueName: "alias"))
    var alias: String

    @Option(name: .long, help: ArgumentHelp("The version it points to.", valueName: "version"))
    var version: String

    @OptionGroup var settings: AliasSettings
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        var request = try settings.fields()
        request["Name"] = alias
        request["FunctionVersion"] = version
        try await Operator.run(connection) { client in
            let response = try await client.send(.POST, OperatorClient.functionPath(function) + "/aliases", json: request)
            try AliasCommand.show(response, client.output)
        }
    }
}

/// `warren alias update FUNCTION ALIAS`.
struct AliasUpdateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "update", abstract: "Change an alias's version, weights or description (UpdateAlias).",
        discussion: OperatorHelp.discussion(
            "Flags not given keep their value. --weight replaces the alias's routing; --clear-weights removes it."))

    @Argument(help: ArgumentHelp("Function name.", valueName: "function"))
    var function: String

    @Argument(help: ArgumentHelp("Alias name.", valueName: "alias"))
    var alias: String

    @Option(name: .long, help: ArgumentHelp("The version it points to from now on.", valueName: "version"))
    var version: String?

    @Flag(name: .customLong("clear-weights"), help: "Route every invocation to --version alone.")
    var clearWeights = false

    @OptionGroup var settings: AliasSettings
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        if clearWeights, !settings.weight.isEmpty { throw ValidationError("give --weight or --clear-weights, not both") }
        guard version != nil || clearWeights || !settings.weight.isEmpty || settings.description != nil else {
            throw ValidationError("nothing to update: give --version, --weight, --clear-weights or --description")
        }
    }

    func run() async throws {
        var request = try settings.fields()
        if let version { request["FunctionVersion"] = version }
        if clearWeights { request["RoutingConfig"] = ["AdditionalVersionWeights": [String: Double]()] }
        try await Operator.run(connection) { client in
            let path = OperatorClient.functionPath(function) + "/aliases/" + OperatorClient.encode(alias)
            try AliasCommand.show(try await client.send(.PUT, path, json: request), client.output)
        }
    }
}

/// `warren alias list FUNCTION`.
struct AliasListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List a function's aliases (ListAliases, every page).",
        discussion: OperatorHelp.discussion(""))

    @Argument(help: ArgumentHelp("Function name.", valueName: "function"))
    var function: String

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await Operator.run(connection) { client in
            let aliases = try await client.list(OperatorClient.functionPath(function) + "/aliases", key: "Aliases")
            guard client.output == .table else { return Render.json(array: aliases) }
            let rows = aliases.compactMap { $0 as? [String: Any] }.map { a in
                [Render.text(a["Name"]) ?? "-", Render.text(a["FunctionVersion"]) ?? "-",
                 AliasCommand.weights(a) ?? "-", Render.text(a["Description"]) ?? ""]
            }
            Render.table(["ALIAS", "VERSION", "WEIGHTS", "DESCRIPTION"], rows)
        }
    }
}

/// `warren alias delete FUNCTION ALIAS`.
struct AliasDeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Delete an alias (DeleteAlias).", discussion: OperatorHelp.discussion(""))

    @Argument(help: ArgumentHelp("Function name.", valueName: "function"))
    var function: String

    @Argument(help: ArgumentHelp("Alias name.", valueName: "alias"))
    var alias: String

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await Operator.run(connection) { client in
            _ = try await client.send(
                .DELETE, OperatorClient.functionPath(function) + "/aliases/" + OperatorClient.encode(alias))
            if client.output == .table { Render.print("Deleted alias \(alias) of \(function).") }
        }
    }
}
