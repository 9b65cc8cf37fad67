import Glibc

/// Reads a function's log file (`logs/<fn>.log`, rotated to `.log.1` at its size limit) from a
/// follower's position: what `GET /warren/v1/functions/{fn}/logs` answers.
///
/// A position is an offset in one file, named by its inode (`X-Warren-Log-File`). When the
/// file a follower was reading has been rotated, the rest of it is read from `.log.1` first,
/// then the new file from its start, so no line is skipped or read twice across a rotation. A
/// position in a file that is gone (rotated twice, or the function re-created), or one without a
/// file given that lies past the current file's end, starts over at the current file's start;
/// except that a new file may reuse a gone one's inode (ext4 does), and a follower of the gone
/// one then reads on from its offset in the new file: after two rotations between two reads.
enum LogReader {
    /// Longest chunk one read returns.
    static let maxChunk = 1 << 20

    struct Chunk: Equatable {
        var bytes: [UInt8]
        /// Where the next read begins, in `file`.
        var next: Int
        /// The inode of the file `next` is in; `nil` while there is no file.
        var file: UInt64?
    }

    static func read(path: String, from offset: Int, in file: UInt64? = nil) throws(LambdaError) -> Chunk {
        // The current file first: a rotation after this leaves it readable as the open descriptor.
        let current = try OpenLog(path)
        if let file, file != current?.inode, let older = try OpenLog(path + ".1"), older.inode == file,
           offset <= older.size {
            let rest = try older.read(from: offset)
            if !rest.isEmpty { return Chunk(bytes: rest, next: offset + rest.count, file: file) }
            // The rotated file is read to its end: on to the current one.
            guard let current else { return Chunk(bytes: [], next: offset, file: file) }
            return try current.chunk(from: 0)
        }
        guard let current else { return Chunk(bytes: [], next: offset, file: file) }
        let start = offset > current.size || (file != nil && file != current.inode) ? 0 : offset
        return try current.chunk(from: start)
    }

    /// A log file open for reading, with its inode and size at opening.
    private final class OpenLog {
        let fd: Int32
        let inode: UInt64
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
            inode = UInt64(info.st_ino)
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
            return Chunk(bytes: bytes, next: offset + bytes.count, file: inode)
        }
    }
}
