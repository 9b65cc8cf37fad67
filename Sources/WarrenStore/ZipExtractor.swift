import Foundation
import ZIPFoundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a validated ``ZipPlan`` into a staging directory, then makes it read-only.
///
/// Symlinks are created last, so while files are written every directory
/// on every path is a real one created here; files are opened `O_EXCL |
/// O_NOFOLLOW` anyway so nothing is ever written through a link.
struct ZipExtractor {
    let archive: Archive
    let root: URL
    private var directories: Set<String> = []
    private var files: [(path: String, executable: Bool)] = []

    init(archive: Archive, root: URL) {
        self.archive = archive
        self.root = root
    }

    /// - Throws: ``CodeError`` for a lying or corrupt entry, ``SystemError`` for a disk failure.
    mutating func extract(_ plan: ZipPlan) throws {
        var links: [(PlannedEntry, String)] = []
        for planned in plan.entries {
            switch planned.kind {
            case .directory: try makeDirectories(planned.components, raw: planned.entry.path)
            case .file: try writeFile(planned)
            case .symlink: links.append((planned, try readLinkTarget(planned)))
            }
        }
        for (planned, target) in links {
            try makeDirectories(Array(planned.components.dropLast()), raw: planned.entry.path)
            let path = url(planned.components).path
            try entryCall(planned) { try systemCall("symlink", path) { symlink(target, path) } }
        }
        try sealPermissions()
    }

    private func url(_ components: [String]) -> URL {
        components.reduce(root) { $0.appendingPathComponent($1) }
    }

    private mutating func makeDirectories(_ components: [String], raw: String) throws {
        for depth in stride(from: 1, through: components.count, by: 1) {
            let key = components[0..<depth].joined(separator: "/")
            if directories.contains(key) { continue }
            let path = url(Array(components[0..<depth])).path
            // A file already there (`a` then `a/b`) is a conflict, not a directory.
            try entryCall(raw) { try systemCall("mkdir", path) { mkdir(path, 0o755) } }
            directories.insert(key)
        }
    }

    private mutating func writeFile(_ planned: PlannedEntry) throws {
        try makeDirectories(Array(planned.components.dropLast()), raw: planned.entry.path)
        let path = url(planned.components).path
        let fd = try entryCall(planned) {
            try systemCall("open", path) { open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600) }
        }
        defer { close(fd) }
        let entry = planned.entry
        let declared = entry.uncompressedSize
        var written: UInt64 = 0
        let checksum = try readEntry(planned) { chunk in
            // Stop as soon as the data outgrows its declared size: the size
            // checks before extraction trusted that number.
            written += UInt64(chunk.count)
            if written > declared {
                throw CodeError.refused(.sizeMismatch, "Entry '\(entry.path)' is larger than its declared size.")
            }
            try writeAll(fd, chunk, path: path)
        }
        // Flushed before the rename that publishes the tree (see CodeStore).
        try systemCall("fsync", path) { fsync(fd) }
        if written != declared || checksum != entry.checksum {
            throw CodeError.refused(.corrupt, "Entry '\(entry.path)' is corrupt (size or CRC-32 mismatch).")
        }
        let mode = (planned.entry.fileAttributes[.posixPermissions] as? NSNumber)?.uint16Value ?? 0o644
        files.append((path, mode & 0o111 != 0))
    }

    /// A symlink entry's target, checked to stay in the tree; reads the archive only.
    func readLinkTarget(_ planned: PlannedEntry) throws -> String {
        var data = Data()
        _ = try readEntry(planned) { chunk in
            data.append(chunk)
            if UInt64(data.count) > CodeLimits.symlinkTarget {
                throw CodeError.refused(.symlink, "Entry '\(planned.entry.path)' is a symbolic link with an "
                    + "oversized target.")
            }
        }
        if planned.entry.isCompressed {
            // ZIPFoundation hands a link's stored bytes over as they are;
            // a deflated target (zip(1) deflates long ones) is inflated here.
            let raw = data
            var inflated = Data()
            do {
                _ = try Data.decompress(size: Int64(raw.count), bufferSize: raw.count, skipCRC32: true, provider: { position, size in
                    raw.subdata(in: Int(position)..<min(raw.count, Int(position) + size))
                }, consumer: { chunk in
                    inflated.append(chunk)
                    if UInt64(inflated.count) > CodeLimits.symlinkTarget {
                        throw CodeError.refused(.symlink, "Entry '\(planned.entry.path)' is a symbolic link with an "
                            + "oversized target.")
                    }
                })
            } catch let error as CodeError {
                throw error
            } catch {
                throw CodeError.refused(.symlink, "Entry '\(planned.entry.path)' has an unreadable link target.")
            }
            data = inflated
        }
        guard let target = String(data: data, encoding: .utf8), !target.isEmpty else {
            throw CodeError.refused(.symlink, "Entry '\(planned.entry.path)' has an unreadable link target.")
        }
        try ZipPlan.checkSymlinkTarget(target, of: planned.components, raw: planned.entry.path)
        return target
    }

    /// Reads an entry, turning ZIPFoundation's parse and inflate errors into ``CodeError``.
    private func readEntry(_ planned: PlannedEntry, _ consumer: (Data) throws -> Void) throws -> CRC32 {
        do {
            return try archive.extract(planned.entry, consumer: consumer)
        } catch let error as CodeError {
            throw error
        } catch let error as SystemError {
            throw error
        } catch {
            throw CodeError.refused(.corrupt, "Entry '\(planned.entry.path)' cannot be read (\(error)).")
        }
    }

    /// Files 0444, or 0555 when the zip gave any exec bit; directories 0555,
    /// deepest first. No setuid, setgid or sticky bit survives.
    private func sealPermissions() throws {
        for (path, executable) in files {
            try systemCall("chmod", path) { chmod(path, executable ? 0o555 : 0o444) }
        }
        let deepestFirst = directories.sorted { $0.split(separator: "/").count > $1.split(separator: "/").count }
        for key in deepestFirst {
            let path = root.appendingPathComponent(key).path
            try systemCall("chmod", path) { chmod(path, 0o555) }
            try syncDirectory(path)
        }
        try systemCall("chmod", root.path) { chmod(root.path, 0o555) }
        try syncDirectory(root.path)
    }

    /// A write refused for the entry's sake (it exists, a file blocks a
    /// directory, a name is too long) is the archive's fault; a full disk is not.
    @discardableResult
    private func entryCall<T>(_ planned: PlannedEntry, _ body: () throws -> T) throws -> T {
        try entryCall(planned.entry.path, body)
    }

    @discardableResult
    private func entryCall<T>(_ raw: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as SystemError where [EEXIST, ENOTDIR, ENAMETOOLONG, EISDIR, ELOOP].contains(error.errno) {
            throw CodeError.refused(.duplicateEntry, "Entry '\(raw)' cannot be written: "
                + "\(String(cString: strerror(error.errno))).")
        }
    }
}
