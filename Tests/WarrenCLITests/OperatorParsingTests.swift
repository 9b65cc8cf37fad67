import Foundation
import Glibc
import Testing
import ZIPFoundation

/// The operator commands without a server: help, usage errors (exit 2),
/// unreadable input (exit 2) and an unreachable server (exit 4).
@Suite struct OperatorParsingTests {
    /// A loopback TCP port that refuses connections for as long as the value lives:
    /// bound, never listening, so no other process can take it meanwhile.
    final class ClosedPort {
        let fd: Int32
        let port: Int

        init() throws {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            self.fd = fd
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                    bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
                }
            }
            try #require(bound, "bind: \(errno)")
            port = Int(UInt16(bigEndian: address.sin_port))
        }

        var endpoint: String { "http://127.0.0.1:\(port)" }

        deinit { close(fd) }
    }

    @Test func topLevelHelpListsTheOperatorCommands() throws {
        let r = try OperatorCLI.run(["--help"])
        #expect(r.status == 0)
        for command in ["function", "publish", "alias", "concurrency", "provisioned", "invoke", "logs", "instances", "account"] {
            #expect(r.stdout.contains("  \(command) "), "top-level help lacks \(command)")
        }
    }

    @Test(arguments: [
        ["function", "create"], ["function", "update"], ["function", "get"], ["function", "list"],
        ["function", "delete"], ["publish"], ["alias", "create"], ["alias", "list"], ["concurrency", "set"],
        ["provisioned", "set"], ["invoke"], ["logs"], ["instances"], ["account"],
    ])
    func helpDocumentsConnectionAndExitStatus(command: [String]) throws {
        let r = try OperatorCLI.run(command + ["--help"])
        #expect(r.status == 0)
        // ArgumentParser wraps help at 80 columns.
        let help = r.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for text in ["--endpoint", "WARREN_ENDPOINT", "--access-key", "--secret-key", "--region", "--output",
                     "Exit status: 0 success; 1 the function failed", "4 cannot reach the server"] {
            #expect(help.contains(text), "\(command) help lacks \(text)")
        }
    }

    @Test func createHelpNamesEveryFlag() throws {
        let r = try OperatorCLI.run(["function", "create", "--help"])
        for flag in ["--runtime", "--handler", "--zip", "--code-dir", "--memory", "--timeout", "--env", "--role",
                     "--description", "--publish", "--log-format", "--log-level"] {
            #expect(r.stdout.contains(flag), "create help lacks \(flag)")
        }
    }

    /// With stderr closed or full, the command still ends with its exit status (it trapped in
    /// `FileHandle.write`, status 132).
    @Test(arguments: ["2>&-", "2>/dev/full"])
    func anUnwritableStderrKeepsTheExitStatus(redirect: String) throws {
        for (args, status) in [("account --endpoint http://127.0.0.1:1", 4), ("function frobnicate", 2)] {
            #expect(try CLI.bash("'\(CLI.warren)' \(args) \(redirect)").status == status, "\(args) \(redirect)")
        }
    }

    @Test(arguments: [
        (["function", "create", "f", "--runtime", "python3.11"], "missing --zip FILE or --code-dir DIR"),
        (["function", "create", "f", "--zip", "a.zip"], "missing --runtime"),
        (["function", "create", "f", "--zip", "a.zip", "--runtime", "python3.11"], "missing --handler"),
        (["function", "create", "f", "--runtime", "r", "--handler", "h", "--zip", "a", "--code-dir", "d"], "not both"),
        (["function", "create", "f", "--runtime", "r", "--handler", "h", "--zip", "a", "--env", "NOEQUALS"], "--env wants K=V"),
        (["function", "update", "f"], "nothing to update"),
        (["function", "update", "f", "--log-format", "xml"], "--log-format wants text or json"),
        (["function", "update", "f", "--log-level", "info"], "--log-level goes with --log-format json"),
        (["invoke", "f", "{}", "--payload-file", "p.json"], "give PAYLOAD or --payload-file, not both"),
        (["invoke", "f", "--type", "Sometimes"], "Sometimes"),
        (["alias", "create", "f", "live"], "--version"),
        (["alias", "create", "f", "live", "--version", "1", "--weight", "2=1.5"], "--weight wants VERSION=WEIGHT"),
        (["concurrency", "set", "f", "-1"], "<n>"),
        (["provisioned", "set", "f", "1", "0"], "N must be 1 or more"),
        (["function", "list", "--output", "yaml"], "yaml"),
        (["function", "list", "--endpoint", "ftp://example"], "--endpoint wants a URL"),
        (["function", "list", "--endpoint", "http://127.0.0.1:70000"], "--endpoint wants a URL"),
        (["account", "--endpoint", "http://127.0.0.1:65536"], "--endpoint wants a URL"),
        (["account", "--endpoint", "http://127.0.0.1:18446744073709551616"], "--endpoint wants a URL"),
        (["account", "--endpoint", "http://[::1]:0"], "--endpoint wants a URL"),
        (["function", "frobnicate"], "frobnicate"),
    ])
    func usageErrorsExitWith2(args: [String], message: String) throws {
        let r = try OperatorCLI.run(args)
        #expect(r.status == 2, "\(args): \(r.stderr)")
        #expect(r.stderr.contains(message), "\(args): \(r.stderr)")
        #expect(r.stdout.isEmpty)
    }

    @Test func anUnreachableServerExitsWith4AndSaysWhere() throws {
        let closed = try ClosedPort()
        for args in [["function", "list"], ["invoke", "f", "{}"], ["instances"], ["account", "--output", "json"]] {
            let r = try OperatorCLI.run(args + ["--endpoint", closed.endpoint])
            #expect(r.status == 4, "\(args): \(r.stderr)")
            #expect(r.stderr == "warren: cannot reach \(closed.endpoint): connection refused\n", "\(args)")
            #expect(r.stdout.isEmpty)
        }
    }

    @Test func theEndpointComesFromTheEnvironmentUnlessGiven() throws {
        let fromEnvironment = try ClosedPort(), fromFlag = try ClosedPort()
        let env = ["WARREN_ENDPOINT": fromEnvironment.endpoint]
        let r = try OperatorCLI.run(["function", "list"], env: env)
        #expect(r.status == 4)
        #expect(r.stderr.contains("cannot reach \(fromEnvironment.endpoint)"), "\(r.stderr)")
        let flag = try OperatorCLI.run(["function", "list", "--endpoint", fromFlag.endpoint], env: env)
        #expect(flag.stderr.contains("cannot reach \(fromFlag.endpoint)"), "\(flag.stderr)")
    }

    @Test func anUnreadableZipOrDirectoryExitsWith2BeforeAnyRequest() throws {
        let closed = try ClosedPort()
        let missing = "/nonexistent-\(UUID().uuidString)"
        let zip = try OperatorCLI.run(["function", "create", "f", "--runtime", "python3.11", "--handler", "h",
                                       "--zip", missing + ".zip",
                                       "--endpoint", closed.endpoint])
        #expect(zip.status == 2)
        #expect(zip.stderr == "warren: cannot read \(missing).zip: no such file\n")
        let dir = try OperatorCLI.run(["function", "update", "f", "--code-dir", missing, "--endpoint", closed.endpoint])
        #expect(dir.status == 2)
        #expect(dir.stderr == "warren: cannot read \(missing): no such directory\n")
        let payload = try OperatorCLI.run(["invoke", "f", "--payload-file", missing, "--endpoint", closed.endpoint])
        #expect(payload.status == 2)
        #expect(payload.stderr == "warren: cannot read \(missing): no such file\n")
        // Not a zip: refused before anything is sent, so no configuration given with it is applied.
        let notZip = FileManager.default.temporaryDirectory.appendingPathComponent("warren-\(UUID().uuidString).zip")
        try Data("notzip\n".utf8).write(to: notZip)
        defer { try? FileManager.default.removeItem(at: notZip) }
        let bad = try OperatorCLI.run(["function", "update", "f", "--timeout", "6", "--zip", notZip.path,
                                       "--endpoint", closed.endpoint])
        #expect(bad.status == 2)
        #expect(bad.stderr == "warren: \(notZip.path) is not a zip file\n")
        let folder = try OperatorCLI.run(["function", "update", "f", "--zip", "/tmp", "--endpoint", closed.endpoint])
        #expect(folder.stderr == "warren: cannot read /tmp: a directory (use --code-dir)\n")
        let emptyDir = try OperatorCLI.temporaryDirectory("empty")
        let empty = try OperatorCLI.run(["function", "update", "f", "--timeout", "6", "--code-dir", emptyDir,
                                         "--endpoint", closed.endpoint])
        #expect(empty.status == 2 && empty.stderr == "warren: \(emptyDir) is empty\n", "\(empty.stderr)")

        // What the server would refuse for its content is refused here first, with the server's reason.
        let traversal = FileManager.default.temporaryDirectory.appendingPathComponent("warren-\(UUID().uuidString).zip")
        defer { try? FileManager.default.removeItem(at: traversal) }
        let archive = try Archive(url: traversal, accessMode: .create)
        let evil = Data("x".utf8)
        try archive.addEntry(with: "../evil", type: .file, uncompressedSize: Int64(evil.count)) { position, size in
            evil.subdata(in: Int(position)..<Int(position) + size)
        }
        let escaping = try OperatorCLI.run(["function", "update", "f", "--timeout", "6", "--zip", traversal.path,
                                            "--endpoint", closed.endpoint])
        #expect(escaping.status == 2, "\(escaping.stderr)")
        #expect(escaping.stderr.hasPrefix("warren: \(traversal.path) would be refused: Could not unzip"),
                "\(escaping.stderr)")
        let linked = try OperatorCLI.temporaryDirectory("linked")
        try FileManager.default.createSymbolicLink(atPath: linked + "/passwd", withDestinationPath: "/etc/passwd")
        let outside = try OperatorCLI.run(["function", "update", "f", "--timeout", "6", "--code-dir", linked,
                                           "--endpoint", closed.endpoint])
        #expect(outside.status == 2 && outside.stderr.hasPrefix("warren: \(linked) would be refused: "),
                "\(outside.stderr)")
    }
}
