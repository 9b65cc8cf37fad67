import ArgumentParser
import Foundation

/// `warren concurrency set|get|delete FUNCTION`: reserved concurrency.
struct ConcurrencyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "concurrency",
        abstract: "Reserve concurrency for a function (a guarantee and a cap).",
        discussion: OperatorHelp.discussion(""),
        subcommands: [SetCommand.self, GetCommand.self, DeleteCommand.self])

    static func show(_ response: APIResponse, _ output: OperatorOutput) throws(OperatorError) {
        guard output == .table else { return Render.json(response) }
        let value = Render.text(try response.object()["ReservedConcurrentExecutions"])
        Render.fields([("ReservedConcurrentExecutions", value ?? "none (the function uses the unreserved pool)")])
    }

    struct SetCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set", abstract: "Reserve N concurrent executions (PutFunctionConcurrency).",
            discussion: OperatorHelp.discussion("0 stops every invocation of the function."))

        @Argument(help: ArgumentHelp("Function name.", valueName: "function"))
        var function: String

        @Argument(help: ArgumentHelp("Concurrent executions.", valueName: "n"))
        var count: Int

        @OptionGroup var connection: ConnectionOptions

        func validate() throws {
            guard count >= 0 else { throw ValidationError("N must be 0 or more") }
        }

        func run() async throws {
            try await Operator.run(connection) { client in
                let response = try await client.send(
                    .PUT, OperatorClient.functionPath(function, "2017-10-31") + "/concurrency",
                    json: ["ReservedConcurrentExecutions": count])
                try ConcurrencyCommand.show(response, client.output)
            }
        }
    }

    struct GetCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "get", abstract: "Show the reserved concurrency (GetFunctionConcurrency).",
            discussion: OperatorHelp.discussion(""))

        @Argument(help: ArgumentHelp("Function name.", valueName: "function"))
        var function: String

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            try await Operator.run(connection) { client in
                let response = try await client.send(
                    .GET, OperatorClient.functionPath(function, "2019-09-30") + "/concurrency")
                try ConcurrencyCommand.show(response, client.output)
            }
        }
    }

    struct DeleteCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "delete", abstract: "Remove the reservation (DeleteFunctionConcurrency).",
            discussion: OperatorHelp.discussion(""))

        @Argument(help: ArgumentHelp("Function name.", valueName: "function"))
        var function: String

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            try await Operator.run(connection) { client in
                _ = try await client.send(.DELETE, OperatorClient.functionPath(function, "2017-10-31") + "/concurrency")
                if client.output == .table { Render.print("Removed the reserved concurrency of \(function).") }
            }
        }
    }
}

/// `warren provisioned set|get|delete FUNCTION QUALIFIER`.
struct ProvisionedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "provisioned",
        abstract: "Keep instances of a version or alias initialized ahead of traffic.",
        discussion: OperatorHelp.discussion(""),
        subcommands: [SetCommand.self, GetCommand.self, DeleteCommand.self])

    static func path(_ function: String) -> String {
        OperatorClient.functionPath(function, "2019-09-30") + "/provisioned-concurrency"
    }

    static func show(_ config: [String: Any]) {
        Render.fields([
            ("Status", Render.text(config["Status"])),
            ("StatusReason", Render.text(config["StatusReason"])),
            ("Requested", Render.text(config["RequestedProvisionedConcurrentExecutions"])),
            ("Allocated", Render.text(config["AllocatedProvisionedConcurrentExecutions"])),
            ("Available", Render.text(config["AvailableProvisionedConcurrentExecutions"])),
            ("LastModified", Render.text(config["LastModified"])),
        ])
    }

    struct SetCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set", abstract: "Provision N instances (PutProvisionedConcurrencyConfig).",
            discussion: OperatorHelp.discussion("""
                Without --wait the answer is IN_PROGRESS; with --wait warren polls until READY \
                (exit 0) or FAILED (exit 3, "warren: ProvisionedConcurrencyFailed: <reason>").
                """))

        @Argument(help: ArgumentHelp("Function name.", valueName: "function"))
        var function: String

        @Argument(help: ArgumentHelp("A published version or an alias.", valueName: "qualifier"))
        var qualifier: String

        @Argument(help: ArgumentHelp("Instances to keep ready.", valueName: "n"))
        var count: Int

        @Flag(name: .long, help: "Wait until the instances are ready.")
        var wait = false

        @OptionGroup var connection: ConnectionOptions

        func validate() throws {
            guard count >= 1 else { throw ValidationError("N must be 1 or more; use 'provisioned delete' to remove") }
        }

        func run() async throws {
            try await Operator.run(connection) { client in
                var response = try await client.send(
                    .PUT, ProvisionedCommand.path(function), query: [("Qualifier", qualifier)],
                    json: ["ProvisionedConcurrentExecutions": count])
                if wait { response = try await waitUntilSettled(client) }
                guard client.output == .table else { return Render.json(response) }
                ProvisionedCommand.show(try response.object())
            }
        }

        /// Polls GetProvisionedConcurrencyConfig until the status leaves IN_PROGRESS.
        private func waitUntilSettled(_ client: OperatorClient) async throws -> APIResponse {
            let status = StatusLine()
            defer { status.clear() }
            while true {
                let response = try await client.send(
                    .GET, ProvisionedCommand.path(function), query: [("Qualifier", qualifier)])
                let config = try response.object()
                switch config["Status"] as? String {
                case "READY":
                    return response
                case "FAILED":
                    status.clear()
                    throw OperatorError.api(
                        "ProvisionedConcurrencyFailed", Render.text(config["StatusReason"]) ?? "no reason given")
                default:
                    let allocated = Render.text(config["AllocatedProvisionedConcurrentExecutions"]) ?? "0"
                    status.show("provisioning \(function):\(qualifier): \(allocated)/\(count) instances ready…")
                    try await Task.sleep(for: .milliseconds(250))
                }
            }
        }
    }

    struct GetCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "get", abstract: "Show the provisioned concurrency (GetProvisionedConcurrencyConfig).",
            discussion: OperatorHelp.discussion(""))

        @Argument(help: ArgumentHelp("Function name.", valueName: "function"))
        var function: String

        @Argument(help: ArgumentHelp("A published version or an alias.", valueName: "qualifier"))
        var qualifier: String

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            try await Operator.run(connection) { client in
                let response = try await client.send(
                    .GET, ProvisionedCommand.path(function), query: [("Qualifier", qualifier)])
                guard client.output == .table else { return Render.json(response) }
                ProvisionedCommand.show(try response.object())
            }
        }
    }

    struct DeleteCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "delete", abstract: "Stop provisioning (DeleteProvisionedConcurrencyConfig).",
            discussion: OperatorHelp.discussion(""))

        @Argument(help: ArgumentHelp("Function name.", valueName: "function"))
        var function: String

        @Argument(help: ArgumentHelp("A published version or an alias.", valueName: "qualifier"))
        var qualifier: String

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            try await Operator.run(connection) { client in
                _ = try await client.send(
                    .DELETE, ProvisionedCommand.path(function), query: [("Qualifier", qualifier)])
                if client.output == .table {
                    Render.print("Removed the provisioned concurrency of \(function):\(qualifier).")
                }
            }
        }
    }
}
