import Foundation
import WarrenStore
import ZIPFoundation

/// A deployment package: the zip bytes `CreateFunction` and `UpdateFunctionCode` send.
enum CodePackage {
    /// Entries carry this time, so the same tree always zips to the same bytes
    /// (and the same `CodeSha256`: publishing unchanged code makes no new version).
    /// 1980-01-02: a day after the zip (DOS) epoch, so no time zone turns it into 1979.
    static let fixedDate = Date(timeIntervalSince1970: 315_619_200)

    /// Lambda's `CodeSizeZipped`: 50 MiB.
    static let maxZipBytes = 52_428_800

    /// Reads `--zip FILE`, and checks that it is a zip with an entry at least: before anything is
    /// sent, so that `function update --timeout 6 --zip notazip` does not apply the timeout and
    /// then fail on the code.
    /// - Throws: ``OperatorError`` (`input`) if it cannot be read or is not a zip.
    static func read(zip path: String) throws(OperatorError) -> [UInt8] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .input("cannot read \(path): no such file")
        }
        guard !isDirectory.boolValue else { throw .input("cannot read \(path): a directory (use --code-dir)") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .input("cannot read \(path): permission denied")
        }
        // Lambda's limit on a zip sent in the request, checked before the configuration is sent.
        guard data.count <= maxZipBytes else {
            throw .input("\(path) is \(data.count) bytes; a deployment package is at most \(maxZipBytes) bytes")
        }
        let bytes = Array(data)
        try check(bytes, from: path)
        return bytes
    }

    /// The server's checks of a package that need no extraction (paths that leave the tree,
    /// symlinks, bombs by count, size or ratio), made before anything is sent: a package the server
    /// would refuse must not leave the configuration sent with it applied.
    private static func check(_ zip: [UInt8], from source: String) throws(OperatorError) {
        do {
            try ZipCheck.check(zip)
        } catch let error as CodeError {
            switch error.reason {
            case .notAZip: throw .input("\(source) is not a zip file")
            case .empty: throw .input("\(source) is an empty zip")
            default: throw .input("\(source) would be refused: \(error.message)")
            }
        } catch {
            throw .input("\(source): \(error)")
        }
    }

    /// Zips `--code-dir DIR` in memory: every file, directory and symlink under
    /// it, by path relative to it, with its permissions (an executable
    /// `bootstrap` stays executable).
    /// - Parameters:
    ///   - directory: The tree to package.
    ///   - progress: Called now and then with the number of entries added so far.
    /// - Throws: ``OperatorError`` (`input`) if the tree cannot be read.
    static func zip(directory: String, progress: (Int) -> Void = { _ in }) throws(OperatorError) -> [UInt8] {
        let root = URL(fileURLWithPath: directory).standardizedFileURL
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDirectory) else {
            throw .input("cannot read \(directory): no such directory")
        }
        guard isDirectory.boolValue else { throw .input("cannot read \(directory): not a directory (use --zip)") }
        do {
            let archive = try Archive(data: Data(), accessMode: .create)
            let paths = try relativePaths(under: root)
            // Lambda refuses an empty package; said before the configuration is sent.
            guard !paths.isEmpty else { throw OperatorError.input("\(directory) is empty") }
            for (index, path) in paths.enumerated() {
                try add(path, root: root, to: archive)
                if index % 100 == 99 { progress(index + 1) }
            }
            progress(paths.count)
            let bytes = Array(archive.data ?? Data())
            guard bytes.count <= maxZipBytes else {
                throw OperatorError.input("\(directory) zips to \(bytes.count) bytes; a deployment package is at "
                                          + "most \(maxZipBytes) bytes")
            }
            try check(bytes, from: directory)
            return bytes
        } catch let error as OperatorError {
            throw error
        } catch {
            throw .input("cannot zip \(directory): \(error)")
        }
    }

    /// Every path under `root`, relative, sorted (parents before children), symlinks not followed.
    private static func relativePaths(under root: URL) throws -> [String] {
        var out: [String] = []
        var pending = [""]
        while let relative = pending.popLast() {
            let dir = relative.isEmpty ? root.path : root.path + "/" + relative
            for name in try FileManager.default.contentsOfDirectory(atPath: dir) {
                let path = relative.isEmpty ? name : relative + "/" + name
                out.append(path)
                let attributes = try FileManager.default.attributesOfItem(atPath: root.path + "/" + path)
                if attributes[.type] as? FileAttributeType == .typeDirectory { pending.append(path) }
            }
        }
        return out.sorted()
    }

    private static func add(_ path: String, root: URL, to archive: Archive) throws {
        let full = root.path + "/" + path
        let attributes = try FileManager.default.attributesOfItem(atPath: full)
        let permissions = (attributes[.posixPermissions] as? NSNumber)?.uint16Value
        switch attributes[.type] as? FileAttributeType {
        case .typeDirectory?:
            try archive.addEntry(with: path + "/", type: .directory, uncompressedSize: Int64(0),
                                 modificationDate: fixedDate, permissions: permissions, provider: { _, _ in Data() })
        case .typeSymbolicLink?:
            let target = Data(try FileManager.default.destinationOfSymbolicLink(atPath: full).utf8)
            try archive.addEntry(with: path, type: .symlink, uncompressedSize: Int64(target.count),
                                 modificationDate: fixedDate, permissions: 0o777,
                                 provider: { position, size in target.subdata(in: Int(position)..<Int(position) + size) })
        case .typeRegular?:
            let data = try Data(contentsOf: URL(fileURLWithPath: full), options: .alwaysMapped)
            try archive.addEntry(with: path, type: .file, uncompressedSize: Int64(data.count),
                                 modificationDate: fixedDate, permissions: permissions, compressionMethod: .deflate,
                                 provider: { position, size in data.subdata(in: Int(position)..<Int(position) + size) })
        default:
            throw OperatorError.input("cannot zip \(full): not a file, directory or symlink")
        }
    }
}
