import Foundation
import Testing
@testable import WarrenSupervisor

/// The order of lines in a function's log file, and what the tail of an invocation holds.
struct InstanceLogTests {
    /// A fresh log file and the instance log writing into it.
    func withLog(logging: LoggingSettings = LoggingSettings(),
                 _ body: (InstanceLog, () -> String) throws -> Void) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("warren-log-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = try FunctionLog(path: dir.appendingPathComponent("f.log").path)
        try body(InstanceLog(file, logging: logging)) {
            (try? String(contentsOfFile: file.path, encoding: .utf8)) ?? ""
        }
    }

    /// With JSON logging, Lambda filters the runtime's output by the application log level: a JSON
    /// object's `"level"` (Python's WARNING and CRITICAL too), INFO for any other line. What is left
    /// out is in neither the file nor the tail; a partial line is judged when it ends.
    @Test func jsonLoggingLeavesOutLinesUnderTheApplicationLevel() throws {
        try withLog(logging: LoggingSettings(json: true, applicationLogLevel: "WARN")) { log, contents in
            log.begin()
            log.lineWithNext("START 1")
            log.write(Array(#"{"level":"debug","m":1}"#.utf8) + [0x0A] + Array("plain print\n".utf8))
            #expect(contents() == "", "nothing kept yet: START still waits")
            log.write(Array(#"{"level": "WARNING", "m": 2}"#.utf8)
                      + Array("\n  {\"level\":\"error\"}\n{\"level\":".utf8))
            log.write(Array(#""fatal"}"#.utf8))
            log.write(Array("\n[not json\n{\"level\":\"info\"}\n{\"level\":\"DEBUG\"".utf8))
            log.line("END 1")
            let kept = "START 1\n" + #"{"level": "WARNING", "m": 2}"# + "\n" + #"  {"level":"error"}"# + "\n"
                + #"{"level":"fatal"}"# + "\nEND 1\n"
            #expect(contents() == kept, "\(contents())")
            #expect(String(decoding: log.end(), as: UTF8.self) == kept)
        }
        // At INFO (JSON's default) plain lines stay and DEBUG goes; without JSON nothing is filtered.
        try withLog(logging: LoggingSettings(json: true)) { log, contents in
            log.write(Array("plain\n{\"level\":\"debug\"}\n{\"level\":\"INFO\"}\n".utf8))
            #expect(contents() == "plain\n{\"level\":\"INFO\"}\n", "\(contents())")
        }
        try withLog { log, contents in
            log.write(Array("{\"level\":\"debug\"}\n".utf8))
            #expect(contents() == "{\"level\":\"debug\"}\n")
        }
    }

    /// Filtered lines keep Text's rules for the tail and for long lines: a line begun before the
    /// invocation is not in its tail; a line longer than 64 KiB is cut as in Text, every part
    /// judged by the level its start names (a DEBUG line passed as two INFO ones); JSON is strict
    /// (a trailing comma is not JSON: INFO).
    @Test func filteredLinesKeepTheTailAndLongLineRules() throws {
        try withLog(logging: LoggingSettings(json: true)) { log, contents in
            log.write(Array(#"{"level":"ERROR","m":"before"#.utf8))
            log.begin()
            log.lineWithNext("START 2")
            log.write(Array("\"}\nmine\n".utf8))
            log.line("END 2")
            // START ends the line left without its newline (INFO: not JSON), which is not in the tail.
            #expect(contents() == #"{"level":"ERROR","m":"before"# + "\nSTART 2\n\"}\nmine\nEND 2\n", "\(contents())")
            #expect(String(decoding: log.end(), as: UTF8.self) == "START 2\n\"}\nmine\nEND 2\n")
        }
        let big = String(repeating: "x", count: 80_000)
        try withLog(logging: LoggingSettings(json: true)) { log, contents in
            for level in ["DEBUG", "ERROR"] {
                let line = Array(#"{"level":"\#(level)","m":"\#(big)"}"#.utf8) + [0x0A]
                for start in stride(from: 0, to: line.count, by: 70_000) {
                    log.write(Array(line[start..<min(line.count, start + 70_000)]))
                }
            }
            log.write(Array(#"{"level":"DEBUG",}"#.utf8) + [0x0A])
            let text = contents()
            #expect(!text.contains("DEBUG\",\"m") && text.contains(#"{"level":"ERROR","m":"xxx"#),
                    "\(text.prefix(200))")
            #expect(text.utf8.count == 80_000 + #"{"level":"ERROR","m":""}"#.utf8.count + 2
                    + #"{"level":"DEBUG",}"#.utf8.count + 1, "the ERROR line in two parts and the invalid one")
        }
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
            // The tail ends the runtime's partial line as the file does (it read "nextEND 2").
            #expect(String(decoding: log.end(), as: UTF8.self) == "START 2\npartial line\nnext\nEND 2\n")
        }
    }

    @Test func outputLeftWithoutANewlineBeforeAStartIsEndedFirst() throws {
        try withLog { log, contents in
            log.write(Array("dangling".utf8))
            log.begin()
            log.lineWithNext("START 1")
            #expect(contents() == "dangling\n")
            log.line("END 1")
            #expect(contents() == "dangling\nSTART 1\nEND 1\n")
            // The tail has none of that line, and so not its newline either (it began with one).
            #expect(String(decoding: log.end(), as: UTF8.self) == "START 1\nEND 1\n")
        }
    }
}

/// A function's log file is bounded: rotated to `.1` at its size limit, records kept whole.
struct FunctionLogRotationTests {
    @Test func theFileIsRotatedAtItsLimitAndNoRecordIsSplit() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("warren-log-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("f.log").path
        func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
        func record(_ n: Int) -> [UInt8] { Array("record \(n) ".utf8) + [UInt8](repeating: 0x2E, count: 30) + [0x0A] }

        var log: FunctionLog? = try FunctionLog(path: path, maxBytes: 100)
        for n in 1...5 { log!.append(record(n)) }  // 40 bytes each: the third reaches 100
        #expect(read(path + ".1") == (1...3).map { String(decoding: record($0), as: UTF8.self) }.joined())
        #expect(read(path) == (4...5).map { String(decoding: record($0), as: UTF8.self) }.joined())

        // Reopened on a file of 80 bytes: the size is known, the next record rotates it again.
        log = nil
        log = try FunctionLog(path: path, maxBytes: 100)
        log!.append(record(6))
        #expect(read(path + ".1") == (4...6).map { String(decoding: record($0), as: UTF8.self) }.joined())
        #expect(read(path) == "")
        for n in 7...100 { log!.append(record(n)) }
        let onDisk = read(path).utf8.count + read(path + ".1").utf8.count
        #expect(onDisk <= 2 * (100 + 40), "bounded: \(onDisk) bytes")
        #expect(read(path + ".1").hasPrefix("record "), "whole records only")
    }
}
