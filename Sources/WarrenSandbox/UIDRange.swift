#if canImport(Glibc)
import Glibc
#endif

/// A range of unprivileged uids that no other Warren process on the host holds while this one
/// lives, so that sandboxes of two `warren serve` (or a `warren run` beside one) never share a
/// uid (DESIGN.md step 5).
///
/// A lease is an exclusive `flock` on `/run/warren/uids/<n>`: the kernel drops it when the
/// process ends, however it ends, so a killed server leaves no stale lease behind, and nothing
/// is ever written to the files. Range `n` is the uids `first + n × size` up to the next range.
public final class UIDRange: Sendable {
    public static let directory = "/run/warren/uids"
    public static let first: UInt32 = 200_000
    public static let size: UInt32 = 65_536
    public static let count = 1024

    /// The range's first uid.
    public let base: UInt32
    /// Which range of ``count`` this is.
    public let index: Int
    private let fd: Int32

    private init(index: Int, fd: Int32) {
        self.index = index
        self.fd = fd
        base = Self.first + UInt32(index) * Self.size
    }

    deinit { close(fd) }

    /// Leases the first free range from `preferring` (modulo ``count``) on: by default one picked
    /// by the process id, so processes starting together seldom try the same files.
    /// - Throws: `SystemError` when the directory cannot be made or every range is held.
    public static func lease(preferring: Int = Int(getpid()), directory: String = directory) throws -> UIDRange {
        try makeDirectory(directory)
        let start = ((preferring % count) + count) % count
        for step in 0..<count {
            let index = (start + step) % count
            let path = "\(directory)/\(index)"
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
            guard fd >= 0 else { throw SystemError("open \(path)", errno: errno) }
            if flock(fd, LOCK_EX | LOCK_NB) == 0 { return UIDRange(index: index, fd: fd) }
            let err = errno
            close(fd)
            guard err == EWOULDBLOCK else { throw SystemError("flock \(path)", errno: err) }
        }
        throw SystemError("lease a uid range: all \(count) under \(directory) are held", errno: EBUSY)
    }

    /// `mkdir -p` with mode 0700, owned by whoever runs Warren (root).
    private static func makeDirectory(_ path: String) throws {
        var prefix = ""
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, 0o700) != 0, errno != EEXIST { throw SystemError("mkdir \(prefix)", errno: errno) }
        }
    }
}
