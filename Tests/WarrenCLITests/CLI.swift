import Foundation
import Glibc

/// One directory for every temporary file of this test process, removed
/// when the process exits, so no run leaves anything in /tmp.
enum TestTemporary {
    static let root: URL = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("warren-cli-tests-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        atexit {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("warren-cli-tests-\(getpid())")
            try? FileManager.default.removeItem(at: dir)
        }
        return dir
    }()

    /// A new directory under ``root``.
    static func directory(_ prefix: String) throws -> URL {
        let dir = root.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }
}

/// Runs the built `warren` binary and collects what a user would see.
enum CLI {
    /// The build's products directory (the test bundle sits in it).
    static let products: String = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent().path
    }()

    static var warren: String { products + "/warren" }

    /// The static probe built for the sandbox tests.
    static var probeDir: String { products + "/warren_WarrenSandboxTests.resources" }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Starts `warren ARGS…`; the caller waits.
    static func start(_ args: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: warren)
        process.arguments = args
        process.standardOutput = Pipe()
        process.standardError = Pipe()
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
    }

    static func finish(_ process: Process) -> Result {
        let out = (process.standardOutput as! Pipe).fileHandleForReading.readDataToEndOfFile()
        let err = (process.standardError as! Pipe).fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self),
                      stderr: String(decoding: err, as: UTF8.self))
    }

    static func run(_ args: [String]) throws -> Result {
        finish(try start(args))
    }

    /// Runs `script` with bash (for redirections a test needs: `2>&-`, `| head -c 0`).
    static func bash(_ script: String) throws -> Result {
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/bash")
        shell.arguments = ["-c", script]
        shell.standardOutput = Pipe()
        shell.standardError = Pipe()
        try shell.run()
        return finish(shell)
    }

    /// Pids of the direct children of `pid`.
    static func children(of pid: Int32) -> [Int32] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.flatMap { task in
            ((try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/children", encoding: .utf8)) ?? "")
                .split(separator: " ").compactMap { Int32($0) }
        }
    }

    /// Waits up to `seconds` for `condition`.
    static func eventually(_ seconds: Double = 5, _ condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }
}
