import Foundation
import Testing
@testable import WarrenSupervisor

/// The order of lines in a function's log file, and what the tail of an invocation holds.
struct InstanceLogTests {
    /// A fresh log file and the instance log writing into it.
    func withLog(_ body: (InstanceLog, () -> String) throws -> Void) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("warren-log-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = try FunctionLog(path: dir.appendingPathComponent("f.log").path)
        try body(InstanceLog(file)) { (try? String(contentsOfFile: file.path, encoding: .utf8)) ?? "" }
    }

    @Test func aStartLineWaitsForTheNextWriteAndKeepsItsPlace() throws {
        try withLog { log, contents in
            log.begin()
            log.lineWithNext("START 1")
            #expect(contents() == "", "START alone is held")
            log.line("END 1")
            #expect(contents() == "START 1\nEND 1\n")
            #expect(String(decoding: log.end(), as: UTF8.self) == "START 1\nEND 1\n")

            log.begin()
            log.lineWithNext("START 2")
            log.write(Array("partial ".utf8))
            #expect(contents() == "START 1\nEND 1\n", "no whole line yet")
            log.write(Array("line\nnext".utf8))
            #expect(contents() == "START 1\nEND 1\nSTART 2\npartial line\n")
            log.line("END 2")
            #expect(contents() == "START 1\nEND 1\nSTART 2\npartial line\nnext\nEND 2\n")
            _ = log.end()
        }
    }

    @Test func outputLeftWithoutANewlineBeforeAStartIsEndedFirst() throws {
        try withLog { log, contents in
            log.write(Array("dangling".utf8))
            log.lineWithNext("START 1")
            #expect(contents() == "dangling\n")
            log.line("END 1")
            #expect(contents() == "dangling\nSTART 1\nEND 1\n")
        }
    }
}
