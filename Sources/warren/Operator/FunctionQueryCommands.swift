import ArgumentParser
import Foundation

/// `warren function get NAME`.
struct FunctionGetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get", abstract: "Show a function's configuration (GetFunction).",
        discussion: OperatorHelp.discussion(""))

    @Argument(help: ArgumentHelp("Function name or ARN.", valueName: "name"))
    var name: String

    @Option(name: .long, help: ArgumentHelp("Version or alias. [default: $LATEST]", valueName: "qualifier"))
    var qualifier: String?

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await Operator.run(connection) { client in
            let response = try await client.send(
                .GET, OperatorClient.functionPath(name), query: qualifier.map { [("Qualifier", $0)] } ?? [])
            guard client.output == .table else { return Render.json(response) }
            let object = try response.object()
            guard let configuration = object["Configuration"] as? [String: Any] else {
                throw OperatorError.api("InvalidResponse", "GetFunction answered without Configuration")
            }
            let reserved = (object["Concurrency"] as? [String: Any])?["ReservedConcurrentExecutions"]
            let tags = (object["Tags"] as? [String: String] ?? [:]).sorted { $0.key < $1.key }
                .map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
            FunctionView.fields(configuration, extra: [("ReservedConcurrency", Render.text(reserved)),
                                                       ("Tags", tags.isEmpty ? nil : tags)])
        }
    }
}

/// `warren function list`.
struct FunctionListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List functions (ListFunctions, every page).",
        discussion: OperatorHelp.discussion(""))

    @Flag(name: .customLong("all-versions"), help: "List every published version too, not only $LATEST.")
    var allVersions = false

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await Operator.run(connection) { client in
            let functions = try await client.list(
                "/2015-03-31/functions", key: "Functions", query: allVersions ? [("FunctionVersion", "ALL")] : [])
            guard client.output == .table else { return Render.json(array: functions) }
            let rows = functions.compactMap { $0 as? [String: Any] }.map { f in
                ["FunctionName", "Version", "Runtime", "MemorySize", "Timeout", "LastModified"].map {
                    Render.text(f[$0]) ?? "-"
                }
            }
            Render.table(["NAME", "VERSION", "RUNTIME", "MEMORY", "TIMEOUT", "LAST MODIFIED"], rows)
        }
    }
}

/// `warren function delete NAME`.
struct FunctionDeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete a function with its versions and aliases, or one version.",
        discussion: OperatorHelp.discussion(""))

    @Argument(help: ArgumentHelp("Function name or ARN.", valueName: "name"))
    var name: String

    @Option(name: .long, help: ArgumentHelp("Delete only this version.", valueName: "qualifier"))
    var qualifier: String?

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await Operator.run(connection) { client in
            _ = try await client.send(
                .DELETE, OperatorClient.functionPath(name), query: qualifier.map { [("Qualifier", $0)] } ?? [])
            if client.output == .table {
                Render.print("Deleted \(qualifier.map { "version \($0) of " } ?? "")function \(name).")
            }
        }
    }
}

/// How a `FunctionConfiguration` is shown to people.
enum FunctionView {
    /// The answer of create, update or publish: JSON as is, or the fields.
    static func show(_ response: APIResponse, _ output: OperatorOutput) throws(OperatorError) {
        guard output == .table else { return Render.json(response) }
        fields(try response.object())
    }

    /// One `Name  value` line per field a person cares about, AWS names verbatim.
    static func fields(_ c: [String: Any], extra: [(String, String?)] = []) {
        let variables = ((c["Environment"] as? [String: Any])?["Variables"] as? [String: Any] ?? [:])
            .sorted { $0.key < $1.key }.map { "\($0.key)=\(Render.text($0.value) ?? "")" }
        var rows: [(String, String?)] = ["FunctionName", "FunctionArn", "Runtime", "Handler", "Version", "State"]
            .map { ($0, Render.text(c[$0])) }
        rows += [
            ("LastUpdateStatus", Render.text(c["LastUpdateStatus"])),
            ("MemorySize", Render.text(c["MemorySize"]).map { "\($0) MB" }),
            ("Timeout", Render.text(c["Timeout"]).map { "\($0) s" }),
            ("CodeSize", (c["CodeSize"] as? Int).map(Render.bytes)),
            ("CodeSha256", Render.text(c["CodeSha256"])),
            ("LastModified", Render.text(c["LastModified"])),
            ("Role", Render.text(c["Role"])),
            ("Description", Render.text(c["Description"]).flatMap { $0.isEmpty ? nil : $0 }),
            ("Environment", variables.isEmpty ? nil : variables.joined(separator: " ")),
            ("RevisionId", Render.text(c["RevisionId"])),
        ]
        Render.fields(rows + extra)
    }

    /// Waits while `$LATEST` is `Pending` or its last update `InProgress`, so
    /// a second update in a row is not refused with 409.
    static func waitForUpdate(_ client: OperatorClient, name: String) async throws {
        for _ in 0..<600 {
            let c = try await client.send(.GET, OperatorClient.functionPath(name) + "/configuration").object()
            if c["State"] as? String != "Pending", c["LastUpdateStatus"] as? String != "InProgress" { return }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}
