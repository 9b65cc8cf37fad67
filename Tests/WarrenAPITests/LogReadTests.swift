import Foundation
import Testing
@testable import WarrenAPI

/// What `warren logs` reads from an offset of a function's log file.
struct LogReadTests {
    @Test func anOffsetPastTheEndStartsOverOnTheNewFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("warren-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try LambdaRoutes.readLog(path: path, from: 7) == ([], 7), "no file: nothing yet")
        try Data("0123456789".utf8).write(to: URL(fileURLWithPath: path))
        #expect(try LambdaRoutes.readLog(path: path, from: 4) == (Array("456789".utf8), 10))
        #expect(try LambdaRoutes.readLog(path: path, from: 10) == ([], 10))
        // A follower at 50 of a file that was rotated (or re-created) and is now 10 bytes long.
        #expect(try LambdaRoutes.readLog(path: path, from: 50) == (Array("0123456789".utf8), 10))
    }
}
