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
    ///
    /// The directory must be a real directory owned by this user and writable by no one else. An
    /// entry that is no lockable regular file (a directory, a symlink, a socket) is skipped, and
    /// so is a lock whose file was replaced while it was taken.
    ///
    /// Sandboxes of Warren processes that are gone must be removed first (their uids are the
    /// range's): `warren run` and `serve` sweep them before they lease.
    /// - Throws: `SystemError` when the directory is unusable or no range can be leased.
    public static func lease(preferring: Int = Int(getpid()), directory: String = directory) throws -> UIDRange {
        let dir = try openDirectory(directory)
        defer { close(dir) }
        let start = ((preferring % count) + count) % count
        var unusable: SystemError?
        for step in 0..<count {
            let index = (start + step) % count
            let name = String(index)
            let fd = openat(dir, name, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0o600)
            guard fd >= 0 else {
                unusable = SystemError("open \(directory)/\(name)", errno: errno)
                continue
            }
            var opened = stat()
            guard fstat(fd, &opened) == 0, opened.st_mode & S_IFMT == S_IFREG else {
                unusable = SystemError("open \(directory)/\(name): not a regular file", errno: EINVAL)
                close(fd)
                continue
            }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                if errno != EWOULDBLOCK { unusable = SystemError("flock \(directory)/\(name)", errno: errno) }
                close(fd)
                continue
            }
            // The name must still be the file locked: one unlinked (or replaced) meanwhile is
            // lockable again by the next process that creates it.
            var named = stat()
            guard fstatat(dir, name, &named, AT_SYMLINK_NOFOLLOW) == 0,
                named.st_dev == opened.st_dev, named.st_ino == opened.st_ino
            else {
                close(fd)
                continue
            }
            return UIDRange(index: index, fd: fd)
        }
        let why = unusable.map { "; \($0)" } ?? ""
        throw SystemError("lease a uid range: all \(count) under \(directory) are held or unusable\(why)", errno: EBUSY)
    }

    /// `mkdir -p` with mode 0700, then the directory, opened without following a symlink, checked
    /// to be this user's and writable by no one else.
    private static func openDirectory(_ path: String) throws -> Int32 {
        var prefix = ""
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, 0o700) != 0, errno != EEXIST { throw SystemError("mkdir \(prefix)", errno: errno) }
        }
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("open \(path)", errno: errno) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_uid == geteuid(), info.st_mode & 0o022 == 0 else {
            close(fd)
            throw SystemError("\(path): not owned by uid \(geteuid()) or writable by others", errno: EPERM)
        }
        return fd
    }
}
