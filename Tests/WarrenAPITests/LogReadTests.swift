import Foundation
import Testing
@testable import WarrenAPI

/// What `warren logs` reads from a follower's position in a function's log.
struct LogReadTests {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("warren-\(UUID().uuidString).log").path

    private func write(_ text: String, to path: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    private func identity(_ path: String) throws -> UInt64 {
        try #require(try LogReader.identity(ofFileAt: path))
    }

    private func inode(_ path: String) throws -> UInt64 {
        try #require((FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? NSNumber)?.uint64Value)
    }

    private func removeFiles() {
        for file in [path, path + ".1"] { try? FileManager.default.removeItem(atPath: file) }
    }

    @Test func anOffsetPastTheEndStartsOverOnTheNewFile() throws {
        defer { removeFiles() }
        #expect(try LogReader.read(path: path, from: 7) == .init(bytes: [], next: 7, file: nil), "no file: nothing yet")
        try write("0123456789", to: path)
        let file = try identity(path)
        #expect(try LogReader.read(path: path, from: 4) == .init(bytes: Array("456789".utf8), next: 10, file: file))
        #expect(try LogReader.read(path: path, from: 10, in: file) == .init(bytes: [], next: 10, file: file))
        // A follower at 50 of a file that was rotated (or re-created) and is now 10 bytes long.
        #expect(try LogReader.read(path: path, from: 50)
                == .init(bytes: Array("0123456789".utf8), next: 10, file: file))
    }

    @Test func aFollowerOfARotatedFileReadsItsRestThenTheNewFile() throws {
        defer { removeFiles() }
        try write("old-0123456789-more", to: path)
        let rotated = try identity(path)
        // Rotated as FunctionLog does: renamed to .1, a new file begun.
        #expect(rename(path, path + ".1") == 0)
        try write("new-0", to: path)
        let new = try identity(path)
        #expect(new != rotated)
        // The follower's file is the one now at .1: its rest first, then the new file from 0.
        #expect(try LogReader.read(path: path, from: 14, in: rotated)
                == .init(bytes: Array("-more".utf8), next: 19, file: rotated))
        #expect(try LogReader.read(path: path, from: 19, in: rotated)
                == .init(bytes: Array("new-0".utf8), next: 5, file: new))
        // A follower in the file that is now current reads on in it.
        #expect(try LogReader.read(path: path, from: 4, in: new) == .init(bytes: Array("0".utf8), next: 5, file: new))
        // A follower in a file that is gone (here, identity 1: none) starts over on the current one,
        // even at an offset inside it.
        #expect(try LogReader.read(path: path, from: 2, in: 1) == .init(bytes: Array("new-0".utf8), next: 5, file: new))
    }

    @Test("a new file that takes a gone file's inode is not taken for it")
    func aReusedInodeIsANewFile() throws {
        defer { removeFiles() }
        try write("first-file-0123456789", to: path)
        let gone = try identity(path)
        let goneInode = try inode(path)
        // Rotated away twice between two reads of a follower at 15 of the first file: ext4 gives
        // the next file created the inode just freed.
        #expect(unlink(path) == 0)
        try write("second-file-abcdefghij", to: path)
        if try inode(path) != goneInode {
            print("note: the file system did not reuse the inode here; the identities differ anyway")
        }
        #expect(try identity(path) != gone)
        #expect(try LogReader.read(path: path, from: 15, in: gone)
                == .init(bytes: Array("second-file-abcdefghij".utf8), next: 22, file: try identity(path)),
                "read from the new file's start, not from 15")
    }

    @Test func aChunkIsBounded() throws {
        defer { removeFiles() }
        try write(String(repeating: "x", count: LogReader.maxChunk + 10), to: path)
        let first = try LogReader.read(path: path, from: 0)
        #expect(first.bytes.count == LogReader.maxChunk && first.next == LogReader.maxChunk)
        #expect(try LogReader.read(path: path, from: first.next, in: first.file).bytes.count == 10)
    }
}
