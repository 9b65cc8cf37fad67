import Foundation
import Testing

/// `warren serve` settings: the config file, flags over it, and clear
/// one-line refusals of bad settings.
@Suite(.serialized) struct ServeConfigurationTests {
    @Test func configFileKeysAndLimitsApplyAndFlagsOverrideThem() throws {
        let dir = try OperatorCLI.temporaryDirectory("warren-config")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = dir + "/warren.json"
        try """
            {"listen": "127.0.0.1:1", "accountLimit": 50, "region": "eu-west-1",
             "accessKeys": [{"accessKeyId": "AKIDFROMFILE", "secretAccessKey": "file-secret"}]}
            """.write(toFile: config, atomically: true, encoding: .utf8)
        // --listen overrides the file's port 1 (which root could bind, but the flag wins).
        let server = try ServeProcess(extraArguments: ["--config", config])
        defer { _ = server.stop() }
        #expect(server.log.contains("access key AKIDFROMFILE secret file-secret region eu-west-1"), "\(server.log)")
        #expect(!server.log.contains("AKIDWARRENLOCAL"))

        let env = ["AWS_ACCESS_KEY_ID": "AKIDFROMFILE", "AWS_SECRET_ACCESS_KEY": "file-secret"]
        let account = try server.warren(["account", "--output", "json", "--region", "eu-west-1"], env: env)
        #expect(account.status == 0, "\(account.stderr)")
        let limit = try OperatorCLI.object(account)["AccountLimit"] as? [String: Any]
        #expect(limit?["ConcurrentExecutions"] as? Int == 50)
        // The embedded local key is not accepted once keys are configured,
        let refused = try server.warren(["account", "--region", "eu-west-1"])
        #expect(refused.status == 3)
        #expect(refused.stderr.contains("UnrecognizedClientException"), "\(refused.stderr)")
        // and a signature for another region than the server's is refused.
        let wrongRegion = try server.warren(["account"], env: env)
        #expect(wrongRegion.status == 3)
        #expect(wrongRegion.stderr.contains("Credential should be scoped to a valid region"), "\(wrongRegion.stderr)")
    }

    @Test(arguments: [
        (#"{"accountLimit": "many"}"#, "accountLimit"),
        (#"{"listen": "localhost"}"#, "is not HOST:PORT"),
        (#"{"memoryBudgetMB": 12}"#, "at least 128 MB"),
        (#"{"maxLogMB": 0}"#, "log file limit must be 1 to 65536 MB"),
        (#"{"maxConnections": 0}"#, "connection limit must be at least 1"),
        (#"{"idleTimeoutSeconds": 0}"#, "idle timeout must be 1 to 86400 seconds"),
        (#"{"shutdownGraceSeconds": -1}"#, "shutdown grace must be 0 to 86400 seconds"),
        ("not json", "not a JSON object"),
    ])
    func badConfigFilesAreRefusedInOneLine(text: String, expected: String) throws {
        let dir = try OperatorCLI.temporaryDirectory("warren-config")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = dir + "/warren.json"
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        let result = try OperatorCLI.run(["serve", "--config", config, "--state-dir", dir + "/state"])
        #expect(result.status == 2, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains(expected), "\(result.stderr)")
        #expect(result.stderr.contains(config), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/state"), "nothing is created for a refused config")
    }

    /// A start that fails before the store opens (here: a home without policies/default.json) leaves
    /// no state directory of its own making; one that was there stays.
    @Test func aStartThatFailsEarlyLeavesNoStateDirectoryItMade() throws {
        let dir = try OperatorCLI.temporaryDirectory("warren-early")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/home", withIntermediateDirectories: true)
        let result = try OperatorCLI.run(["serve", "--listen", "127.0.0.1:0", "--home", dir + "/home",
                                          "--state-dir", dir + "/state"])
        #expect(result.status == 1 && result.stderr.contains("policies/default.json"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/state"), "the failed start left its state directory")
        try FileManager.default.createDirectory(atPath: dir + "/kept", withIntermediateDirectories: true)
        _ = try OperatorCLI.run(["serve", "--listen", "127.0.0.1:0", "--home", dir + "/home",
                                 "--state-dir", dir + "/kept"])
        #expect(FileManager.default.fileExists(atPath: dir + "/kept"), "a state directory that was there was removed")
    }

    @Test func aMalformedAccessKeyFlagIsAUsageError() throws {
        let result = try OperatorCLI.run(["serve", "--access-key", "no-secret-here", "--state-dir", "/nonexistent/x"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("is not ID:SECRET"), "\(result.stderr)")
        #expect(!result.stderr.contains("no-secret-here:"), "the secret part is never echoed")
    }
}
