import Foundation
import WarrenPolicy

/// Files the tests read: the repository's policies and the shared fixtures next to the repository.
enum TestFiles {
    /// `<repo>`, three levels above this file (`Tests/WarrenPolicyTests/TestFiles.swift`).
    static let repoRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Docker's default profile, `<repo>/../shared/fixtures/docker-default-seccomp.json`.
    static let dockerProfile = repoRoot.appendingPathComponent("../shared/fixtures/docker-default-seccomp.json").standardized

    /// `<repo>/policies/default.json`.
    static let defaultPolicy = repoRoot.appendingPathComponent("policies/default.json")

    /// Reads and parses a policy; the file name in errors is the path.
    static func load(_ url: URL) throws -> Policy {
        try Policy.parse(Array(try Data(contentsOf: url)), file: url.path)
    }
}
