import CWarrenSandbox
import Glibc

/// Reads a function's log file (`logs/<fn>.log`, rotated to `.log.1` at its size limit) from a
/// follower's position: what `GET /warren/v1/functions/{fn}/logs` answers.
///
/// A position is an offset in one file, named by the file's identity (`X-Warren-Log-File`, see
/// ``identity(inode:birthNanoseconds:)``). When the file a follower was reading has been
/// rotated, the rest of it is read from `.log.1` first, then the new file from its start, so no
/// line is skipped or read twice across a rotation. A position in a file that is gone (rotated
/// twice, or the function re-created), or one without a file given that lies past the current
/// file's end, starts over at the current file's start.
enum LogReader {
    /// Longest chunk one read returns.
    static let maxChunk = 1 << 20

    struct Chunk: Equatable {
        var bytes: [UInt8]
        /// Where the next read begins, in `file`.
        var next: Int
        /// The identity of the file `next` is in; `nil` while there is no file.
        var file: UInt64?
    }

    static func read(path: String, from offset: Int, in file: UInt64? = nil) throws(LambdaError) -> Chunk {
        // The current file first: a rotation after this leaves it readable as the open descriptor.
        let current = try OpenLog(path)
        if let file, file != current?.identity, let older = try OpenLog(path + ".1"), older.identity == file,
           offset <= older.size {
            let rest = try older.read(from: offset)
            if !rest.isEmpty { return Chunk(bytes: rest, next: offset + rest.count, file: file) }
            // The rotated file is read to its end: on to the current one.
            guard let current else { return Chunk(bytes: [], next: offset, file: file) }
            return try current.chunk(from: 0)
        }
        guard let current else { return Chunk(bytes: [], next: offset, file: file) }
        let start = offset > current.size || (file != nil && file != current.identity) ? 0 : offset
        return try current.chunk(from: start)
    }

    /// A file's identity: its inode, mixed with its birth time where the file system keeps one
    /// (ext4, xfs, btrfs, tmpfs). ext4 gives a new file the inode of one just deleted, so the
    /// inode alone would let a follower of a log rotated away twice read on from its old offset
    /// in the new file.
    static func identity(inode: UInt64, birthNanoseconds: Int64) -> UInt64 {
        guard birthNanoseconds != 0 else { return inode }
        var mixed = inode &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(bitPattern: birthNanoseconds)
        mixed ^= mixed >> 29
        mixed = mixed &* 0xBF58_476D_1CE4_E5B9
        return mixed ^ (mixed >> 32)
    }

    /// The identity of the file at `path`, or nil if there is none.
    static func identity(ofFileAt path: String) throws(LambdaError) -> UInt64? {
        try OpenLog(path)?.identity
    }

    /// A log file open for reading, with its identity and size at opening.
    private final class OpenLog {
        let fd: Int32
        let identity: UInt64
        let size: Int

        /// `nil` when there is no such file.
        init?(_ path: String) throws(LambdaError) {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                if errno == ENOENT { return nil }
                throw LambdaError.service("cannot open \(path): errno \(errno)")
            }
            var info = stat()
            guard fstat(fd, &info) == 0 else {
                let error = errno
                close(fd)
                throw LambdaError.service("cannot stat \(path): errno \(error)")
            }
            self.fd = fd
            identity = LogReader.identity(inode: UInt64(info.st_ino), birthNanoseconds: wrn_file_birth_ns(fd))
            size = Int(info.st_size)
        }

        deinit { close(fd) }

        /// Up to ``LogReader/maxChunk`` bytes from `offset`, to the size seen at opening.
        func read(from offset: Int) throws(LambdaError) -> [UInt8] {
            let count = min(LogReader.maxChunk, max(0, size - offset))
            var bytes = [UInt8](repeating: 0, count: count)
            var done = 0
            while done < count {
                let n = bytes.withUnsafeMutableBytes {
                    pread(fd, $0.baseAddress! + done, count - done, off_t(offset + done))
                }
                if n < 0 && errno == EINTR { continue }
                guard n >= 0 else { throw LambdaError.service("cannot read a log file: errno \(errno)") }
                if n == 0 { break }
                done += n
            }
            return Array(bytes[..<done])
        }

        func chunk(from offset: Int) throws(LambdaError) -> Chunk {
            let bytes = try read(from: offset)
            return Chunk(bytes: bytes, next: offset + bytes.count, file: identity)
        }
    }
}
