import Foundation
import ZIPFoundation

/// Lambda's limits on a deployment package, and Warren's own bomb guards.
public enum CodeLimits {
    /// Largest zip accepted by direct upload (Lambda: 50 MB).
    public static let zippedSize = 52_428_800
    /// Largest total of uncompressed sizes (Lambda: 250 MB).
    public static let unzippedSize: UInt64 = 262_144_000
    /// More entries than any real package needs; bounds inode use and time.
    public static let entries = 20_000
    /// Largest expansion ratio once the package exceeds ``ratioFloor`` unzipped.
    public static let expansionRatio: UInt64 = 100
    /// Below this unzipped size any ratio is harmless (a zip of zeros is small).
    public static let ratioFloor: UInt64 = 1_048_576
    /// Longest symlink target kept; longer is not a real package's link.
    public static let symlinkTarget: UInt64 = 4096
}

/// The checks of a deployment package that write nothing: its central directory (the count, the
/// declared sizes and ratio, every path) and every symlink's target. What ``CodeStore/add(zip:)``
/// refuses for these it refuses here first, for a client to check before it sends anything;
/// extraction alone finds a size that lies or data that is corrupt.
public enum ZipCheck {
    /// - Throws: ``CodeError`` naming the first rule the package breaks.
    public static func check(_ zip: [UInt8]) throws {
        try checkZippedSize(zip)
        let (archive, plan) = try ZipPlan.open(zip)
        let reader = ZipExtractor(archive: archive, root: URL(fileURLWithPath: "/nonexistent"))
        for planned in plan.entries where planned.kind == .symlink { _ = try reader.readLinkTarget(planned) }
    }
}

extension ZipCheck {
    /// Lambda's limit on a package sent in the request.
    static func checkZippedSize(_ zip: [UInt8]) throws {
        guard zip.count <= CodeLimits.zippedSize else {
            throw CodeError(.zippedTooLarge, "Zipped size must be smaller than \(CodeLimits.zippedSize) bytes")
        }
    }
}

extension ZipPlan {
    /// Opens a package and plans it: the checks of its central directory.
    static func open(_ zip: [UInt8]) throws -> (Archive, ZipPlan) {
        let archive: Archive
        do {
            archive = try Archive(data: Data(zip), accessMode: .read)
        } catch {
            throw CodeError(.notAZip, CodeError.unzipFailed)
        }
        return (archive, try ZipPlan(archive: archive, zipSize: zip.count))
    }
}

/// One entry that passed validation, with its cleaned relative path.
struct PlannedEntry {
    enum Kind { case file, directory, symlink }

    var entry: Entry
    var kind: Kind
    /// Path components under the code root: no `.`, `..`, or empty ones.
    var components: [String]
    var path: String { components.joined(separator: "/") }
}

/// The checks that need only the central directory, done before a byte is
/// written: count, total and ratio from declared sizes, then each path.
/// Extraction later enforces the declared sizes, so they cannot lie.
struct ZipPlan {
    var entries: [PlannedEntry] = []

    /// - Throws: ``CodeError`` naming the first rule the archive breaks.
    init(archive: Archive, zipSize: Int) throws {
        var total: UInt64 = 0
        var seen = Set<String>()
        var count = 0
        for entry in archive {
            count += 1
            if count > CodeLimits.entries {
                throw CodeError.refused(.tooManyEntries, "The archive has more than \(CodeLimits.entries) entries.")
            }
            total = total.addingReportingOverflow(entry.uncompressedSize).partialValue
            if total > CodeLimits.unzippedSize || total < entry.uncompressedSize {
                throw CodeError(.unzippedTooLarge,
                                "Unzipped size must be smaller than \(CodeLimits.unzippedSize) bytes")
            }
            guard let planned = try Self.plan(entry) else { continue }
            if !seen.insert(planned.path).inserted {
                throw CodeError.refused(.duplicateEntry, "Entry '\(entry.path)' appears more than once.")
            }
            entries.append(planned)
        }
        // Lambda's words: a zip with no entry has no code to run.
        if count == 0 { throw CodeError(.empty, "Uploaded file must be a non-empty zip") }
        if total > CodeLimits.ratioFloor, total / UInt64(max(zipSize, 1)) > CodeLimits.expansionRatio {
            throw CodeError.refused(.expansionRatio, "The archive expands \(total / UInt64(max(zipSize, 1))) "
                + "times, more than \(CodeLimits.expansionRatio) (a zip bomb?).")
        }
        try checkNothingUnderSymlinks()
    }

    /// Validates one entry's path; `nil` for the root itself (`./`).
    private static func plan(_ entry: Entry) throws -> PlannedEntry? {
        let raw = entry.path
        if raw.hasPrefix("/") || raw.hasPrefix("\\")
            || (raw.first?.isLetter == true && raw.dropFirst().hasPrefix(":")) {
            throw CodeError.refused(.absolutePath, "Entry '\(raw)' has an absolute path.")
        }
        // Backslashes split too: some unzippers treat them as separators.
        let split = raw.split(omittingEmptySubsequences: true) { $0 == "/" || $0 == "\\" }
        if split.contains("..") || raw.contains("\0") {
            throw CodeError.refused(.pathTraversal, "Entry '\(raw)' has a path that leaves the code directory.")
        }
        let components = raw.split(separator: "/").map(String.init).filter { $0 != "." }
        let kind: PlannedEntry.Kind = switch entry.type {
        case .file: .file
        case .directory: .directory
        case .symlink: .symlink
        }
        if components.isEmpty {
            if kind == .directory { return nil }
            throw CodeError.refused(.pathTraversal, "Entry '\(raw)' has no file name.")
        }
        if kind == .symlink, entry.uncompressedSize > CodeLimits.symlinkTarget {
            throw CodeError.refused(.symlink, "Entry '\(raw)' is a symbolic link with an oversized target.")
        }
        return PlannedEntry(entry: entry, kind: kind, components: components)
    }

    /// Refuses `link/file` when `link` is a symlink entry: writing through
    /// it would land wherever the link points, possibly outside the tree.
    private func checkNothingUnderSymlinks() throws {
        let links = Set(entries.filter { $0.kind == .symlink }.map(\.path))
        guard !links.isEmpty else { return }
        for planned in entries where planned.components.count > 1 {
            for depth in 1..<planned.components.count
            where links.contains(planned.components[0..<depth].joined(separator: "/")) {
                throw CodeError.refused(.symlink, "Entry '\(planned.entry.path)' lies under a symbolic link.")
            }
        }
    }

    /// Checks a symlink's target stays in the tree. Relative targets only,
    /// `..` only as leading components, and never above the root: then
    /// every hop lands inside, whatever other in-tree links it crosses.
    /// - Parameters:
    ///   - target: The link's content.
    ///   - components: The link's own path components.
    static func checkSymlinkTarget(_ target: String, of components: [String], raw: String) throws {
        let outside = CodeError.refused(.symlink, "Entry '\(raw)' is a symbolic link pointing outside the "
            + "code directory ('\(target)').")
        if target.isEmpty || target.hasPrefix("/") || target.contains("\0") || target.contains("\\") {
            throw outside
        }
        let parts = target.split(separator: "/").filter { $0 != "." }
        let ups = parts.prefix { $0 == ".." }.count
        if parts.dropFirst(ups).contains("..") || ups > components.count - 1 { throw outside }
    }
}
