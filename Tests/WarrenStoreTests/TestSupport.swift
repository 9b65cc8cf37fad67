import Foundation
import Testing
import ZIPFoundation

@testable import WarrenStore

/// A fresh state directory under the system temp dir, removed by `cleanup`.
struct TempDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("warren-store-\(UUID().uuidString.lowercased())")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// Extracted code is read-only, so a plain removeItem would fail as non-root.
    func cleanup() {
        try? removeTree(url)
    }
}

/// One entry of a zip built in a test.
struct ZipItem {
    var path: String
    var type: Entry.EntryType = .file
    var content: [UInt8] = []
    var permissions: UInt16? = nil
    var compressed = false

    static func file(_ path: String, _ text: String, permissions: UInt16? = nil) -> ZipItem {
        ZipItem(path: path, content: Array(text.utf8), permissions: permissions)
    }

    static func symlink(_ path: String, to target: String) -> ZipItem {
        ZipItem(path: path, type: .symlink, content: Array(target.utf8))
    }
}

/// Builds zips in memory with ZIPFoundation, which writes whatever path
/// it is given: exactly what hostile-input tests need.
func makeZip(_ items: [ZipItem]) throws -> [UInt8] {
    let archive = try Archive(data: Data(), accessMode: .create)
    for item in items {
        let bytes = Data(item.content)
        try archive.addEntry(with: item.path, type: item.type, uncompressedSize: Int64(bytes.count),
                             permissions: item.permissions,
                             compressionMethod: item.compressed ? .deflate : .none) { position, size in
            bytes.subdata(in: Int(position)..<Int(position) + size)
        }
    }
    return [UInt8](try #require(archive.data))
}

/// The handler package most tests deploy: an executable `bootstrap`.
func bootstrapZip(_ marker: String = "v1") throws -> [UInt8] {
    try makeZip([.file("bootstrap", "#!/bin/sh\necho \(marker)\n", permissions: 0o755),
                 .file("lib/data.txt", marker)])
}

/// Opens a store in `dir`.
func openStore(_ dir: TempDirectory) throws -> SQLiteStore {
    try SQLiteStore(directory: dir.url)
}

/// Uploads code and creates a function with it.
@discardableResult
func deploy(_ store: SQLiteStore, _ name: String, marker: String = "v1") async throws -> FunctionRecord {
    let artifact = try store.code.add(zip: try bootstrapZip(marker))
    let record = FunctionRecord(name: name, runtime: "provided.al2023", handler: "bootstrap",
                                role: "arn:aws:iam::000000000000:role/lambda", codeSha256: artifact.sha256,
                                codeSize: artifact.size)
    return try await store.createFunction(record)
}

/// Runs `body` and returns the ``StoreError`` it threw.
func storeError(_ body: () async throws -> Void) async -> StoreError? {
    do {
        try await body()
        return nil
    } catch let error as StoreError {
        return error
    } catch {
        Issue.record("expected StoreError, got \(error)")
        return nil
    }
}

/// Names under `code/`, staging dirs included: what a refused upload must not add to.
func codeEntries(_ store: SQLiteStore) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: store.code.directory.path).sorted()
}

/// `st_mode & 0o7777` of a path, without following a link.
func mode(_ url: URL) -> UInt16? {
    var info = stat()
    guard lstat(url.path, &info) == 0 else { return nil }
    return UInt16(info.st_mode & 0o7777)
}
