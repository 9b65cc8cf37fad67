import Foundation
import Glibc

/// Writes to the standard streams that never trap: `FileHandle.write` ends the process with a
/// fatal error when the descriptor is closed, full or a pipe nobody reads (`2>&-`, `>/dev/full`).
enum StandardStreams {
    /// Writes `bytes` to stderr; what cannot be written is dropped (there is nowhere to say so).
    static func error(_ bytes: some Collection<UInt8>) {
        _ = write(STDERR_FILENO, Array(bytes))
    }

    /// Writes `text` to stderr, as ``error(_:)`` does.
    static func error(_ text: String) {
        error(Array(text.utf8))
    }

    /// Writes all of `bytes` to `fd`, retrying after signals; the errno of the first failure, or 0.
    static func write(_ fd: Int32, _ bytes: [UInt8]) -> Int32 {
        var rest = bytes[...]
        while !rest.isEmpty {
            let written = rest.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written >= 0 {
                rest = rest.dropFirst(written)
            } else if errno != EINTR {
                return errno
            }
        }
        return 0
    }
}
