import Foundation
import Testing

@testable import WarrenStore

@Suite struct CodeStoreTests {
    /// Adds `zip` expecting refusal for `reason`, and checks nothing was written under code/.
    private func expectRefused(_ zip: [UInt8], _ reason: CodeError.Reason, message: String? = nil,
                               sourceLocation: SourceLocation = #_sourceLocation) throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        do {
            _ = try store.code.add(zip: zip)
            Issue.record("accepted a zip that should fail with \(reason)", sourceLocation: sourceLocation)
        } catch let error as CodeError {
            #expect(error.reason == reason, "\(error)", sourceLocation: sourceLocation)
            #expect(error.message.hasPrefix(message ?? CodeError.unzipFailed), sourceLocation: sourceLocation)
        }
        #expect(try codeEntries(store).isEmpty, sourceLocation: sourceLocation)
    }

    @Test func goodZipExtractsReadOnlyWithExecBit() throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        let zip = try makeZip([
            .file("bootstrap", "#!/bin/sh\n", permissions: 0o755),
            ZipItem(path: "lib/", type: .directory),
            .file("lib/data.txt", "data"),
            .file("lib/deep/setuid", "x", permissions: 0o4755),
            .symlink("lib/link", to: "data.txt"),
            .symlink("bin/run", to: "../bootstrap"),
        ])
        let artifact = try store.code.add(zip: zip)
        #expect(artifact.size == zip.count && artifact.sha256.count == 64)
        #expect(Data(base64Encoded: artifact.sha256Base64)?.count == 32)
        #expect(artifact.directory.lastPathComponent == artifact.sha256)
        let root = artifact.directory
        #expect(mode(root.appendingPathComponent("bootstrap")) == 0o555)
        #expect(mode(root.appendingPathComponent("lib/data.txt")) == 0o444)
        #expect(mode(root.appendingPathComponent("lib/deep/setuid")) == 0o555)
        #expect(mode(root) == 0o555 && mode(root.appendingPathComponent("lib/deep")) == 0o555)
        #expect(try String(contentsOf: root.appendingPathComponent("lib/link"), encoding: .utf8) == "data")
        #expect(try String(contentsOf: root.appendingPathComponent("bin/run"), encoding: .utf8) == "#!/bin/sh\n")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: root.appendingPathComponent("bin/run").path)
            == "../bootstrap")
        // Extracted once: the same zip again is the same artifact, no second tree.
        #expect(try store.code.add(zip: zip) == artifact)
        #expect(try codeEntries(store) == [artifact.sha256, artifact.sha256 + ".zip"])
        // The package is kept as uploaded, read-only, for GetFunction's Code.Location.
        let kept = store.code.zipFile(for: artifact.sha256)
        #expect(try [UInt8](Data(contentsOf: kept)) == zip)
        #expect(mode(kept) == 0o444)
    }

    @Test func aPackageStoredWithoutItsZipGetsItOnTheNextUpload() throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        let zip = try makeZip([.file("bootstrap", "#!/bin/sh\n", permissions: 0o755)])
        let artifact = try store.code.add(zip: zip)
        // As a state directory from before packages were kept.
        #expect(unlink(store.code.zipFile(for: artifact.sha256).path) == 0)
        #expect(try store.code.add(zip: zip) == artifact)
        #expect(try [UInt8](Data(contentsOf: store.code.zipFile(for: artifact.sha256))) == zip)
    }

    @Test func deflatedContentAndDefaultPermissions() throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        let big = ZipItem(path: "big.bin", content: Array(repeating: 7, count: 100_000), compressed: true)
        let artifact = try store.code.add(zip: try makeZip([big]))
        #expect(try Data(contentsOf: artifact.directory.appendingPathComponent("big.bin")).count == 100_000)
        // MS-DOS entries have no unix mode: 0644 by default, sealed to 0444.
        let dos = try store.code.add(zip: ZipBytes.emptyFiles(count: 2, unix: false))
        #expect(mode(dos.directory.appendingPathComponent("f1")) == 0o444)
    }

    @Test func nonZipBytesAreRefused() throws {
        try expectRefused(Array("this is not a zip file at all".utf8), .notAZip)
        try expectRefused([], .notAZip)
    }

    /// A zip with no entry (the 22 bytes of its end record) has no code: Lambda's 400.
    @Test func anEmptyZipIsRefused() throws {
        let empty: [UInt8] = [0x50, 0x4B, 0x05, 0x06] + [UInt8](repeating: 0, count: 18)
        try expectRefused(empty, .empty, message: "Uploaded file must be a non-empty zip")
    }

    @Test func oversizeUploadIsRefused() throws {
        try expectRefused([UInt8](repeating: 0, count: CodeLimits.zippedSize + 1), .zippedTooLarge,
                          message: "Zipped size must be smaller than 52428800 bytes")
        #expect(CodeError(.zippedTooLarge, "").lambdaErrorType == "RequestEntityTooLargeException")
    }

    @Test func pathTraversalIsRefused() throws {
        try expectRefused(try makeZip([.file("ok.txt", "x"), .file("../x", "evil")]), .pathTraversal)
        try expectRefused(try makeZip([.file("a/../../x", "evil")]), .pathTraversal)
        try expectRefused(try makeZip([.file("a\\..\\..\\x", "evil")]), .pathTraversal)
    }

    @Test func absolutePathsAreRefused() throws {
        try expectRefused(try makeZip([.file("/etc/cron.d/evil", "x")]), .absolutePath)
        try expectRefused(try makeZip([.file("C:/evil", "x")]), .absolutePath)
    }

    @Test func symlinksOutOfTheTreeAreRefused() throws {
        try expectRefused(try makeZip([.symlink("etc", to: "/etc")]), .symlink)
        try expectRefused(try makeZip([.symlink("a/up", to: "../../outside")]), .symlink)
        try expectRefused(try makeZip([.symlink("a/b", to: "c/../../..")]), .symlink)
        // Writing through an in-tree link could still land anywhere the link is retargeted.
        try expectRefused(try makeZip([.symlink("link", to: "sub"), .file("link/x", "x")]), .symlink)
    }

    @Test func zipBombsAreRefused() throws {
        let zeros = ZipItem(path: "zeros", content: Array(repeating: 0, count: 2_000_000), compressed: true)
        try expectRefused(try makeZip([zeros]), .expansionRatio)
        // Declared total over Lambda's 250 MB unzipped limit, refused before extraction.
        let huge = ZipBytes.declareUncompressedSize(300_000_000, in: try makeZip([.file("a", "x")]))
        try expectRefused(huge, .unzippedTooLarge, message: "Unzipped size must be smaller than 262144000 bytes")
        try expectRefused(ZipBytes.emptyFiles(count: CodeLimits.entries + 1), .tooManyEntries)
    }

    @Test func theEntryLimitItselfIsAccepted() throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        let artifact = try store.code.add(zip: ZipBytes.emptyFiles(count: 300))
        #expect(try FileManager.default.contentsOfDirectory(atPath: artifact.directory.path).count == 300)
    }

    @Test func duplicateEntriesAreRefused() throws {
        try expectRefused(try makeZip([.file("a.txt", "1"), .file("a.txt", "2")]), .duplicateEntry)
        try expectRefused(try makeZip([.file("a.txt", "1"), .file("./a.txt", "2")]), .duplicateEntry)
        try expectRefused(try makeZip([.file("a", "1"), .file("a/b", "2")]), .duplicateEntry)
    }

    @Test func lyingSizesAreRefused() throws {
        let item = ZipItem(path: "liar", content: Array(repeating: 65, count: 10_000), compressed: true)
        let lying = ZipBytes.declareUncompressedSize(100, in: try makeZip([item]))
        try expectRefused(lying, .sizeMismatch)
        // A flipped data byte in a stored entry: the CRC catches it.
        var corrupt = try makeZip([.file("c.txt", "hello world")])
        let offset = ZipBytes.offsets(of: Array("hello".utf8), in: corrupt)[0]
        corrupt[offset] = UInt8(ascii: "j")
        try expectRefused(corrupt, .corrupt)
    }
}
