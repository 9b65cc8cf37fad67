import Foundation
import Glibc
import Testing

/// Runs the operator commands with a controlled environment and stdin, and
/// starts real `warren serve` processes for them to talk to.
enum OperatorCLI {
    static let repo = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// The variables the operator commands read; the caller's are dropped so a test sees only its own.
    static let connectionVariables = ["WARREN_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]

    /// `warren ARGS…` with `env` added to a cleaned environment and `stdin` as its input.
    static func run(_ args: [String], env: [String: String] = [:], stdin: String? = nil) throws -> CLI.Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLI.warren)
        process.arguments = args
        var environment = ProcessInfo.processInfo.environment
        for name in connectionVariables { environment[name] = nil }
        process.environment = environment.merging(env) { $1 }
        process.standardOutput = Pipe()
        process.standardError = Pipe()
        let input = Pipe()
        process.standardInput = stdin == nil ? FileHandle.nullDevice : input
        try process.run()
        if let stdin {
            input.fileHandleForWriting.write(Data(stdin.utf8))
            try input.fileHandleForWriting.close()
        }
        return CLI.finish(process)
    }

    /// A fresh temporary directory.
    static func temporaryDirectory(_ prefix: String) throws -> String {
        try TestTemporary.directory(prefix).path
    }

    /// Writes `files` (relative path → contents, mode) under a new directory.
    static func tree(_ files: [String: (String, Int)]) throws -> String {
        let dir = try temporaryDirectory("warren-code")
        for (path, (text, mode)) in files {
            let full = dir + "/" + path
            try FileManager.default.createDirectory(
                atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: full, atomically: false, encoding: .utf8)
            chmod(full, mode_t(mode))
        }
        return dir
    }

    /// The JSON object a command printed.
    static func object(_ result: CLI.Result) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stdout)")
    }

    /// The JSON array a command printed.
    static func array(_ result: CLI.Result) throws -> [[String: Any]] {
        try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]], "\(result.stdout)")
    }
}

/// A `warren serve` on a free loopback port with its own state directory;
/// ``stop()`` sends SIGTERM and reports how it ended.
final class ServeProcess {
    let process = Process()
    let directory: String
    private(set) var endpoint = ""

    /// Starts the server and waits for its "listening on" line.
    init(extraArguments: [String] = []) throws {
        directory = try OperatorCLI.temporaryDirectory("warren-serve")
        let out = directory + "/stdout", err = directory + "/stderr"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        process.executableURL = URL(fileURLWithPath: CLI.warren)
        process.arguments = ["serve", "--listen", "127.0.0.1:0", "--state-dir", directory + "/state",
                             "--home", OperatorCLI.repo] + extraArguments
        // Files, not pipes: nobody drains the server's output while tests run.
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let prefix = "warren: listening on "
        _ = CLI.eventually(120) {
            let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) {
                endpoint = String(line.dropFirst(prefix.count))
            }
            return !endpoint.isEmpty || !process.isRunning
        }
        if endpoint.isEmpty {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            throw ServeFailed(output: log)
        }
    }

    struct ServeFailed: Error, CustomStringConvertible {
        var output: String
        var description: String { "warren serve did not start:\n\(output)" }
    }

    /// What the server printed on stdout and stderr.
    var log: String {
        ["stdout", "stderr"].map { (try? String(contentsOfFile: directory + "/" + $0, encoding: .utf8)) ?? "" }
            .joined(separator: "\n")
    }

    /// `warren ARGS… --endpoint <this server>`.
    func warren(_ args: [String], env: [String: String] = [:], stdin: String? = nil) throws -> CLI.Result {
        try OperatorCLI.run(args + ["--endpoint", endpoint], env: env, stdin: stdin)
    }

    /// SIGTERM, then waits; returns the exit status.
    func stop() -> Int32 {
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        return process.terminationStatus
    }
}
