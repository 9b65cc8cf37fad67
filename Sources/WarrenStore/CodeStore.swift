import Crypto
import Foundation
import ZIPFoundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A deployed package, extracted and read-only.
public struct CodeArtifact: Sendable, Equatable {
    /// Lower-case hex SHA-256 of the zip; the directory's name.
    public var sha256: String
    /// Lambda's `CodeSha256`: the same digest in base64.
    public var sha256Base64: String
    /// Bytes of the zip (Lambda's `CodeSize`).
    public var size: Int
    /// `<stateDir>/code/<sha256>/`, mounted read-only at `/var/task`.
    public var directory: URL
}

/// Content-addressed code at `<stateDir>/code/<sha256>/`.
///
/// Each zip is extracted once, into `.tmp-<uuid>/` beside the final
/// directory, fsynced and renamed into place, so a reader (or a
/// crash) never sees a half-extracted tree. Extracted code is shared by
/// every version whose zip has that digest.
///
/// Zips are hostile. Refused with nothing left on disk: non-zip bytes,
/// sizes over ``CodeLimits``, more than 100:1 expansion over 1 MB, absolute
/// paths, `..`, duplicate entries, entries larger than declared or with a
/// bad CRC. Symlinks are kept only when relative and pointing inside the
/// tree (`..` only leading, never above the root) and nothing is extracted
/// through them, because real packages (`node_modules/.bin`, Python venvs)
/// contain such links; any other symlink is refused.
public struct CodeStore: Sendable {
    public let directory: URL

    /// - Parameter directory: `<stateDir>/code`; created if missing.
    /// - Throws: If the directory cannot be created.
    public init(directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.directory = directory
    }

    /// Stores a zip, extracting it unless that digest is already stored.
    /// - Parameter zip: The uploaded package.
    /// - Returns: The artifact; its directory exists and is durable on return.
    /// - Throws: ``CodeError`` for a refused package, ``SystemError`` for a disk failure.
    public func add(zip: [UInt8]) throws -> CodeArtifact {
        try ZipCheck.checkZippedSize(zip)
        let digest = SHA256.hash(data: zip)
        let hex = digest.map { String(format: "%02x", $0) }.joined()
        let artifact = CodeArtifact(sha256: hex, sha256Base64: Data(digest).base64EncodedString(), size: zip.count,
                                    directory: directory(for: hex))
        if contains(hex) {
            // Stored before packages were kept (or a crash came between the two): keep it now.
            if !FileManager.default.fileExists(atPath: zipFile(for: hex).path) { try keep(zip, as: hex) }
            return artifact
        }
        let (archive, plan) = try ZipPlan.open(zip)
        // The package first: a code directory never lacks its zip after a crash (an orphan zip is
        // garbage-collected like an orphan directory).
        try keep(zip, as: hex)
        do {
            try install(plan, archive: archive, at: artifact.directory)
        } catch {
            // Refused mid-extraction (a size that lied, say): nothing of it stays.
            unlink(zipFile(for: hex).path)
            throw error
        }
        return artifact
    }

    /// Where a digest's original package is kept (`GetFunction`'s `Code.Location` serves it).
    public func zipFile(for sha256: String) -> URL {
        directory.appendingPathComponent(sha256 + ".zip")
    }

    /// Writes the package as `<sha256>.zip`, read-only: staged, flushed, then renamed into place.
    private func keep(_ zip: [UInt8], as hex: String) throws {
        let staging = directory.appendingPathComponent(".tmp-\(UUID().uuidString.lowercased()).zip")
        let fd = try systemCall("open", staging.path) {
            open(staging.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o444)
        }
        do {
            try writeAll(fd, Data(zip), path: staging.path)
            try systemCall("fsync", staging.path) { fsync(fd) }
            close(fd)
            try systemCall("rename", staging.path) { rename(staging.path, zipFile(for: hex).path) }
            try syncDirectory(directory.path)
        } catch {
            close(fd)
            unlink(staging.path)
            throw error
        }
    }

    /// Extracts into a staging directory and renames it into place.
    private func install(_ plan: ZipPlan, archive: Archive, at final: URL) throws {
        let staging = directory.appendingPathComponent(".tmp-\(UUID().uuidString.lowercased())")
        try systemCall("mkdir", staging.path) { mkdir(staging.path, 0o700) }
        do {
            var extractor = ZipExtractor(archive: archive, root: staging)
            try extractor.extract(plan)
            // The extractor flushed files and directories; only now the
            // name: after a crash the directory is absent or complete.
            let renamed = rename(staging.path, final.path) == 0
            if !renamed {
                let code = errno
                // Another writer stored the same digest first: same bytes, keep theirs.
                guard code == EEXIST || code == ENOTEMPTY else {
                    throw SystemError(errno: code, operation: "rename", path: final.path)
                }
                try removeTree(staging)
            }
            try syncDirectory(directory.path)
        } catch {
            try? removeTree(staging)
            throw error
        }
    }

    /// Where a digest's code lives (whether or not it is stored).
    public func directory(for sha256: String) -> URL {
        directory.appendingPathComponent(sha256, isDirectory: true)
    }

    /// Whether code with this hex digest is stored.
    public func contains(_ sha256: String) -> Bool {
        guard Self.isDigest(sha256) else { return false }
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: directory(for: sha256).path, isDirectory: &isDirectory)
            && isDirectory.boolValue
    }

    /// Removes staging leftovers and every artifact not in `referenced`.
    /// Only safe while nothing is being deployed: the store calls it on open.
    /// - Returns: The digests removed.
    func removeAll(except referenced: Set<String>) throws -> [String] {
        var removed: [String] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() {
            if name.hasPrefix(".tmp-") {
                try removeTree(directory.appendingPathComponent(name))
            } else if Self.isDigest(name), !referenced.contains(name) {
                try removeTree(directory.appendingPathComponent(name))
                removed.append(name)
            } else if name.hasSuffix(".zip"), Self.isDigest(String(name.dropLast(4))),
                !referenced.contains(String(name.dropLast(4)))
            {
                try removeTree(directory.appendingPathComponent(name))
            }
        }
        return removed
    }

    /// 64 lower-case hex digits: anything else never names a directory here.
    public static func isDigest(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}
