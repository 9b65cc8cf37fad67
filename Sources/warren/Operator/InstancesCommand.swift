import ArgumentParser
import Foundation

/// `warren instances`: what runs right now.
struct InstancesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "instances",
        abstract: "List the running function instances.",
        discussion: OperatorHelp.discussion("""
            STATE is initializing, idle, busy …, with "frozen" while the cgroup freezer holds an \
            idle instance and "provisioned" for provisioned concurrency. MEMORY is what the \
            instance's cgroup uses now, of its function's MemorySize.
            """))

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await Operator.run(connection) { client in
            let response = try await client.send(.GET, "/warren/v1/instances")
            let instances = try response.object()["Instances"] as? [Any] ?? []
            guard client.output == .table else { return Render.json(array: instances) }
            let rows = instances.compactMap { $0 as? [String: Any] }.map(Self.row)
            Render.table(["FUNCTION", "VERSION", "STATE", "PID", "MEMORY", "AGE"], rows)
        }
    }

    static func row(_ i: [String: Any]) -> [String] {
        var state = Render.text(i["State"]) ?? "-"
        if i["Frozen"] as? Bool == true { state += " frozen" }
        if i["Provisioned"] as? Bool == true { state += " provisioned" }
        let used = (i["MemoryBytes"] as? Int).map(Render.bytes) ?? "-"
        let memory = used + (Render.text(i["MemorySize"]).map { " / \($0) MB" } ?? "")
        return [Render.text(i["FunctionName"]) ?? "-", Render.text(i["Version"]) ?? "-", state,
                Render.text(i["Pid"]) ?? "-", memory, (i["AgeSeconds"] as? Double).map { Render.age(seconds: Int($0)) } ?? "-"]
    }
}

/// `warren account`: limits and usage (GetAccountSettings).
struct AccountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "account",
        abstract: "Show the account's concurrency limits and code usage (GetAccountSettings).",
        discussion: OperatorHelp.discussion(""))

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await Operator.run(connection) { client in
            let response = try await client.send(.GET, "/2016-08-19/account-settings")
            guard client.output == .table else { return Render.json(response) }
            let settings = try response.object()
            let limit = settings["AccountLimit"] as? [String: Any] ?? [:]
            let usage = settings["AccountUsage"] as? [String: Any] ?? [:]
            let size = { (value: Any?) in (value as? Int).map(Render.bytes) }
            Render.fields([
                ("ConcurrentExecutions", Render.text(limit["ConcurrentExecutions"])),
                ("UnreservedConcurrentExecutions", Render.text(limit["UnreservedConcurrentExecutions"])),
                ("FunctionCount", Render.text(usage["FunctionCount"])),
                ("TotalCodeSize", [size(usage["TotalCodeSize"]), size(limit["TotalCodeSize"])].map { $0 ?? "-" }
                    .joined(separator: " of ")),
                ("CodeSizeZipped", size(limit["CodeSizeZipped"]).map { "at most \($0)" }),
                ("CodeSizeUnzipped", size(limit["CodeSizeUnzipped"]).map { "at most \($0)" }),
            ])
        }
    }
}
