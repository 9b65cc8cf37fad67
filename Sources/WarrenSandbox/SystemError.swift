import Glibc

/// A failed system call: the operation (with the path or object it acted on) and errno.
///
/// Prints as `open /sys/fs/cgroup/memory/x: ENOENT (No such file or directory)`.
package struct SystemError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What was attempted, e.g. `"open /var/task"`.
    package let operation: String
    /// The errno value.
    package let errno: Int32

    package init(_ operation: String, errno: Int32) {
        self.operation = operation
        self.errno = errno
    }

    package var description: String {
        "\(operation): \(Errno.name(errno)) (\(String(cString: strerror(errno))))"
    }
}

/// errno names, for messages that read like strace ("ENOENT"), not like prose.
package enum Errno {
    private static let names: [Int32: String] = [
        EPERM: "EPERM", ENOENT: "ENOENT", ESRCH: "ESRCH", EINTR: "EINTR", EIO: "EIO",
        ENXIO: "ENXIO", E2BIG: "E2BIG", ENOEXEC: "ENOEXEC", EBADF: "EBADF", ECHILD: "ECHILD",
        EAGAIN: "EAGAIN", ENOMEM: "ENOMEM", EACCES: "EACCES", EFAULT: "EFAULT", EBUSY: "EBUSY",
        EEXIST: "EEXIST", EXDEV: "EXDEV", ENODEV: "ENODEV", ENOTDIR: "ENOTDIR", EISDIR: "EISDIR",
        EINVAL: "EINVAL", ENFILE: "ENFILE", EMFILE: "EMFILE", ENOTTY: "ENOTTY", ETXTBSY: "ETXTBSY",
        EFBIG: "EFBIG", ENOSPC: "ENOSPC", ESPIPE: "ESPIPE", EROFS: "EROFS", EMLINK: "EMLINK",
        EPIPE: "EPIPE", ERANGE: "ERANGE", ENAMETOOLONG: "ENAMETOOLONG", ENOSYS: "ENOSYS",
        ENOTEMPTY: "ENOTEMPTY", ELOOP: "ELOOP", EOPNOTSUPP: "EOPNOTSUPP", EAFNOSUPPORT: "EAFNOSUPPORT",
        EADDRINUSE: "EADDRINUSE", ECONNREFUSED: "ECONNREFUSED", ENETUNREACH: "ENETUNREACH",
        ETIMEDOUT: "ETIMEDOUT", ECONNRESET: "ECONNRESET", EHOSTUNREACH: "EHOSTUNREACH",
    ]

    /// `ENOENT` for 2; `errno 200` for values without a name.
    package static func name(_ value: Int32) -> String {
        names[value] ?? "errno \(value)"
    }
}

/// Runs a system call that returns -1 and sets errno on failure; retries EINTR.
///
/// - Throws: `SystemError` naming `operation`.
@discardableResult
package func syscall<T: BinaryInteger>(_ operation: @autoclosure () -> String, _ body: () -> T) throws -> T {
    while true {
        let result = body()
        if result >= 0 { return result }
        let err = Glibc.errno
        if err == EINTR { continue }
        precondition(err != EBADF && err != EFAULT, "\(operation()): \(Errno.name(err)) is a bug")
        throw SystemError(operation(), errno: err)
    }
}
