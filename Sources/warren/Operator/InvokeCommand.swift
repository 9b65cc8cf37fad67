import ArgumentParser
import Foundation
import Glibc

/// `X-Amz-Invocation-Type`.
enum InvocationType: String, ExpressibleByArgument, CaseIterable {
    case requestResponse = "RequestResponse"
    case event = "Event"
    case dryRun = "DryRun"
}

/// `warren invoke FUNCTION [PAYLOAD]`.
struct InvokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "invoke",
        abstract: "Invoke a function and print its response payload.",
        discussion: OperatorHelp.discussion("""
            The response payload goes to stdout byte for byte (a newline is added only on a \
            terminal); with --tail the invocation's log tail goes to stderr. When the function \
            fails the payload is its error object and warren exits with 1. Event invocations \
            are queued and print nothing.

            Examples:
              warren invoke hello '{"name": "world"}'
              echo '{}' | warren invoke hello --payload-file - --qualifier live --tail
            """))

    @Argument(help: ArgumentHelp("Function name or ARN.", valueName: "function"))
    var function: String

    @Argument(help: ArgumentHelp("JSON payload. [default: {}]", valueName: "payload"))
    var payload: String?

    @Option(name: .customLong("payload-file"), help: ArgumentHelp("Read the payload from a file; - for stdin.", valueName: "file"))
    var payloadFile: String?

    @Option(name: .long, help: ArgumentHelp("Version or alias. [default: $LATEST]", valueName: "qualifier"))
    var qualifier: String?

    @Option(name: .long, help: "Invocation type: RequestResponse, Event or DryRun.")
    var type: InvocationType = .requestResponse

    @Flag(name: .long, help: "Print the last 4 KB of the invocation's log to stderr.")
    var tail = false

    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        if payload != nil, payloadFile != nil { throw ValidationError("give PAYLOAD or --payload-file, not both") }
    }

    func run() async throws {
        try await Operator.run(connection) { client in
            let body = try readPayload()
            var headers = [("X-Amz-Invocation-Type", type.rawValue)]
            if tail { headers.append(("X-Amz-Log-Type", "Tail")) }
            let response = try await client.send(
                .POST, OperatorClient.functionPath(function) + "/invocations",
                query: qualifier.map { [("Qualifier", $0)] } ?? [], headers: headers, body: body)
            if let log = response.header("X-Amz-Log-Result"), let decoded = Data(base64Encoded: log) {
                StandardStreams.error(Render.forTerminal(Array(decoded), fd: STDERR_FILENO))
            }
            Render.write(Render.forTerminal(response.body, fd: STDOUT_FILENO))
            if isatty(STDOUT_FILENO) == 1, let last = response.body.last, last != UInt8(ascii: "\n") {
                Render.write([UInt8(ascii: "\n")])
            }
            if let error = response.header("X-Amz-Function-Error") {
                throw OperatorError(kind: .functionError, message: "the function failed (X-Amz-Function-Error: \(error))")
            }
        }
    }

    private func readPayload() throws(OperatorError) -> [UInt8] {
        if let payload { return Array(payload.utf8) }
        guard let payloadFile else { return Array("{}".utf8) }
        if payloadFile == "-" { return Array(FileHandle.standardInput.readDataToEndOfFile()) }
        guard let data = FileManager.default.contents(atPath: payloadFile) else {
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: payloadFile, isDirectory: &isDirectory)
            let reason = !exists ? "no such file" : isDirectory.boolValue ? "a directory" : "permission denied"
            throw .input("cannot read \(payloadFile): \(reason)")
        }
        return Array(data)
    }
}

/// `warren logs FUNCTION [--follow]`.
struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Print a function's log (START/END/REPORT-framed output of every invocation).",
        discussion: OperatorHelp.discussion("""
            With --follow warren keeps printing new lines until interrupted. With --output json each \
            line is one JSON object, {"message": "<the line>"}, one per line (JSON Lines), as they come.
            """))

    @Argument(help: ArgumentHelp("Function name.", valueName: "function"))
    var function: String

    @Flag(name: [.short, .long], help: "Keep polling for new lines.")
    var follow = false

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await Operator.run(connection) { client in
            let path = "/warren/v1/functions/\(OperatorClient.encode(function))/logs"
            // A position: an offset in the file the server names (so a rotation loses nothing).
            var offset = 0
            var file: String?
            var lines = JSONLines()
            defer { if connection.output == .json { lines.finish() } }
            while true {
                let query = [("Offset", String(offset))] + (file.map { [("File", $0)] } ?? [])
                let response = try await client.send(.GET, path, query: query)
                if connection.output == .json {
                    lines.add(response.body)
                } else {
                    Render.write(Render.forTerminal(response.body, fd: STDOUT_FILENO))
                }
                let next = response.header("X-Warren-Next-Offset").flatMap { Int($0) } ?? offset + response.body.count
                let nextFile = response.header("X-Warren-Log-File") ?? file
                if response.body.isEmpty {
                    guard follow else { return }
                    try await Task.sleep(for: .milliseconds(500))
                }
                (offset, file) = (next, nextFile)
            }
        }
    }
}

/// Log text as JSON Lines: `{"message": "<line>"}` for each whole line, as it comes; a line
/// still without its newline waits for the rest (or for ``finish()``).
private struct JSONLines {
    private var partial: [UInt8] = []

    mutating func add(_ bytes: [UInt8]) {
        partial += bytes
        guard let last = partial.lastIndex(of: UInt8(ascii: "\n")) else { return }
        var out: [UInt8] = []
        for line in partial[...last].split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast() {
            out += Self.record(line)
        }
        partial.removeSubrange(...last)
        Render.write(out)
    }

    /// Writes the last line if it had no newline.
    mutating func finish() {
        guard !partial.isEmpty else { return }
        Render.write(Self.record(partial[...]))
        partial = []
    }

    private static func record(_ line: ArraySlice<UInt8>) -> [UInt8] {
        let object = ["message": String(decoding: line, as: UTF8.self)]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes])) ?? Data()
        return Array(data) + [UInt8(ascii: "\n")]
    }
}
