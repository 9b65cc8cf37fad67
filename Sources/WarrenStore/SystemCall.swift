import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed system call: which one, on what, and errno.
public struct SystemError: Error, Sendable, Equatable, CustomStringConvertible {
    public var errno: Int32
    public var operation: String
    public var path: String

    public init(errno: Int32, operation: String, path: String) {
        self.errno = errno
        self.operation = operation
        self.path = path
    }

    public var description: String {
        "\(operation) \(path): \(String(cString: strerror(errno)))"
    }
}

/// Runs one system call, retrying EINTR, throwing ``SystemError`` on -1.
/// Every call in this module goes through here so errors name the call and path.
@discardableResult
func systemCall(_ operation: String, _ path: String, _ body: () -> Int32) throws -> Int32 {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = errno
        if code == EINTR { continue }
        throw SystemError(errno: code, operation: operation, path: path)
    }
}

/// Writes every byte of `data`, looping over short writes.
func writeAll(_ fd: Int32, _ data: Data, path: String) throws {
    try data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
        var offset = 0
        while offset < buffer.count {
            let written = try systemCall("write", path) {
                Int32(truncatingIfNeeded: write(fd, buffer.baseAddress! + offset, buffer.count - offset))
            }
            offset += Int(written)
        }
    }
}

/// Makes a directory's entries (a rename, new files) durable.
/// (`syncfs` would flush a whole tree in one call, but Glibc's module
/// map hides it behind `_GNU_SOURCE`.)
func syncDirectory(_ path: String) throws {
    let fd = try systemCall("open", path) { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
    defer { close(fd) }
    try systemCall("fsync", path) { fsync(fd) }
}

/// Removes a tree even when its directories are read-only (0555), as
/// extracted code is: write permission on a directory is needed to unlink
/// in it, and a non-root process does not bypass that.
func removeTree(_ url: URL) throws {
    var info = stat()
    guard lstat(url.path, &info) == 0 else { return }
    if (info.st_mode & S_IFMT) == S_IFDIR {
        _ = chmod(url.path, 0o755)
        let names = try FileManager.default.contentsOfDirectory(atPath: url.path)
        for name in names { try removeTree(url.appendingPathComponent(name)) }
        try systemCall("rmdir", url.path) { rmdir(url.path) }
    } else {
        try systemCall("unlink", url.path) { unlink(url.path) }
    }
}
