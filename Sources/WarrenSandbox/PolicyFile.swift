import Glibc
import WarrenPolicy

/// Reads policy files from disk; WarrenPolicy itself does no I/O.
package enum PolicyFile {
    /// Policies are small; a bigger file is a mistake (or an attack on memory), not a policy.
    package static let maxSize = 4 << 20

    /// Reads, parses and validates the policy at `path`.
    ///
    /// - Parameter path: the file; errors name it as given.
    /// - Throws: `PolicyError` whose `file` is `path`, for unreadable files as for invalid policies.
    package static func load(path: String) throws -> Policy {
        try Policy.parse(try readBytes(path), file: path)
    }

    /// Loads a policy to run a command under: one under which no command could start or end is
    /// refused (its process would fail to exec, then spin, unable to exit).
    package static func loadRunnable(path: String) throws -> Policy {
        let policy = try load(path: path)
        if let reason = policy.resolve(native: .native, kernel: .current).unrunnable {
            throw PolicyError(file: path, location: "syscalls", message: reason)
        }
        return policy
    }

    private static func readBytes(_ path: String) throws(PolicyError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure(path, "cannot open", errno) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n >= 0 else { throw failure(path, "cannot read", errno) }
            if n == 0 { return bytes }
            bytes += chunk[..<n]
            if bytes.count > maxSize {
                throw PolicyError(file: path, location: "", message: "larger than \(maxSize >> 20) MiB; not a policy")
            }
        }
    }

    private static func failure(_ path: String, _ what: String, _ code: Int32) -> PolicyError {
        PolicyError(file: path, location: "", message: "\(what): \(Errno.name(code)) (\(String(cString: strerror(code))))")
    }
}
