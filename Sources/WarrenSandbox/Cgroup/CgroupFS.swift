import Glibc

/// A failed cgroup operation: what was done, on which path, and why.
///
/// Printed as `write /sys/fs/cgroup/memory/…/memory.limit_in_bytes: EBUSY (Hint: …)`,
/// so a log line alone tells which file and which errno.
package struct CgroupError: Error, CustomStringConvertible, Equatable {
    /// The operation that failed: `read`, `write`, `mkdir`, `rmdir`, `freeze`, `kill`, `probe`, `validate` …
    package let operation: String
    /// The file or directory the operation was about.
    package let path: String
    /// The errno of the failed system call, nil when the failure is not a syscall's (a timeout, a bad value).
    package let errno: Int32?
    /// What went wrong when there is no errno (e.g. "timed out after 2 s, freezer.state is FREEZING").
    package let detail: String?
    /// What to check or do next.
    package let hint: String?

    /// Creates an error; prefer the helpers in `CgroupFS`, which fill in `hint` from the errno.
    package init(operation: String, path: String, errno: Int32? = nil, detail: String? = nil, hint: String? = nil) {
        self.operation = operation
        self.path = path
        self.errno = errno
        self.detail = detail
        self.hint = hint
    }

    package var description: String {
        var reasons: [String] = []
        if let errno { reasons.append(CgroupFS.errnoName(errno)) }
        if let detail { reasons.append(detail) }
        var text = "\(operation) \(path): \(reasons.isEmpty ? "failed" : reasons.joined(separator: ", "))"
        if let hint { text += " (Hint: \(hint))" }
        return text
    }
}

/// Small-file helpers for cgroupfs: every failure names the path and the errno, and EINTR is retried.
///
/// cgroupfs files are tiny and the kernel answers from memory, so blocking reads and writes are fine
/// here; they are never pipes or sockets.
package enum CgroupFS {
    /// Reads a whole (small) file.
    /// - Throws: `CgroupError` with operation `read` and the errno of `open` or `read`.
    package static func read(_ path: String) throws -> String {
        guard let fd = retrying({ open(path, O_RDONLY | O_CLOEXEC) }) else { throw failure("read", path, errno) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { buffer in
                retrying { Glibc.read(fd, buffer.baseAddress, buffer.count) }
            }
            guard let count else { throw failure("read", path, errno) }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Reads a file and drops the trailing newline the kernel adds.
    package static func readTrimmed(_ path: String) throws -> String {
        var text = try read(path)
        while text.last == "\n" || text.last == " " { text.removeLast() }
        return text
    }

    /// Writes `value` in one `write(2)`: cgroupfs parses each write as one command.
    /// - Throws: `CgroupError` with operation `write`; a short write is reported as EIO.
    package static func write(_ path: String, _ value: String) throws {
        // O_TRUNC is what `echo >` does: cgroupfs ignores it, and a plain file (tests) gets replaced.
        guard let fd = retrying({ open(path, O_WRONLY | O_TRUNC | O_CLOEXEC) }) else {
            throw failure("write", path, errno, value: value)
        }
        defer { close(fd) }
        let bytes = Array(value.utf8)
        let written = bytes.withUnsafeBytes { buffer in
            retrying { Glibc.write(fd, buffer.baseAddress, buffer.count) }
        }
        guard let written else { throw failure("write", path, errno, value: value) }
        guard written == bytes.count else { throw failure("write", path, EIO, value: value) }
    }

    /// Whether `path` exists (a file or a directory).
    package static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// Creates one directory; EEXIST is an error unless `existingIsFine`.
    package static func mkdir(_ path: String, existingIsFine: Bool = false) throws {
        guard retrying({ Glibc.mkdir(path, 0o755) }) == nil else { return }
        if errno == EEXIST && existingIsFine { return }
        throw failure("mkdir", path, errno)
    }

    /// Creates `path` and its missing parents below `base` (which must exist).
    package static func mkdirs(_ path: String, below base: String) throws {
        guard path.hasPrefix(base) else {
            throw CgroupError(operation: "mkdir", path: path, detail: "not below \(base)")
        }
        var current = base
        for part in path.dropFirst(base.count).split(separator: "/") {
            current += "/" + part
            try mkdir(current, existingIsFine: true)
        }
    }

    /// Removes an empty cgroup directory; a missing one is fine (removal is idempotent).
    /// EBUSY is retried briefly because the kernel may still be releasing the last exited task.
    package static func rmdir(_ path: String) throws {
        var lastError: Int32 = 0
        _ = poll(timeoutSeconds: 0.5) {
            lastError = 0
            if retrying({ Glibc.rmdir(path) }) != nil { return true }
            if errno == ENOENT { return true }
            lastError = errno
            return lastError != EBUSY  // other errors will not go away by waiting
        }
        if lastError != 0 { throw failure("rmdir", path, lastError) }
    }

    /// Names of the subdirectories of `path`.
    package static func subdirectories(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else { throw failure("opendir", path, errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            guard entry.pointee.d_type == UInt8(DT_DIR) else { continue }
            let name = withUnsafePointer(to: entry.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Parses the pids of a `cgroup.procs` file; a missing file counts as empty (the cgroup is gone).
    package static func readPids(_ path: String) throws -> [Int32] {
        do {
            return try read(path).split(whereSeparator: \.isNewline).compactMap { Int32($0) }
        } catch let error as CgroupError where error.errno == ENOENT {
            return []
        }
    }

    /// The value of `key` in a flat-keyed file such as `memory.events` ("oom_kill 3").
    package static func keyedValue(_ text: String, key: String) -> UInt64? {
        for line in text.split(whereSeparator: \.isNewline) {
            let fields = line.split(separator: " ")
            if fields.count == 2 && fields[0] == key { return UInt64(fields[1]) }
        }
        return nil
    }

    /// SIGKILLs every pid `pids` returns, re-reading until it returns none or `timeoutSeconds` pass.
    ///
    /// Re-reading catches children forked between a read and the kill; ESRCH (already gone) is fine.
    /// - Throws: `CgroupError` (operation `kill`) naming the survivors, or the errno of `kill(2)`.
    package static func killUntilEmpty(
        _ description: String, timeoutSeconds: Double, note: String? = nil, pids: () throws -> [Int32]
    ) throws {
        var remaining: [Int32] = []
        let empty = try poll(timeoutSeconds: timeoutSeconds) {
            remaining = try pids()
            for pid in remaining where kill(pid, SIGKILL) != 0 && errno != ESRCH {
                throw failure("kill", "\(description) pid \(pid)", errno)
            }
            return remaining.isEmpty
        }
        guard empty else {
            throw CgroupError(
                operation: "kill", path: description,
                detail: "pids \(remaining) still alive after \(timeoutSeconds) s" + (note.map { "; \($0)" } ?? ""),
                hint: "tasks in uninterruptible sleep (D state) die only when their I/O completes")
        }
    }

    /// Calls `condition` until it holds or `timeoutSeconds` pass, sleeping 100 µs growing to 5 ms.
    /// - Returns: whether the condition held.
    package static func poll(timeoutSeconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = monotonicSeconds() + timeoutSeconds
        var pause: UInt32 = 100
        while true {
            if try condition() { return true }
            if monotonicSeconds() >= deadline { return false }
            usleep(pause)
            pause = min(pause * 2, 5_000)
        }
    }

    /// Builds the error for a failed syscall, with a hint chosen from the errno and the file.
    package static func failure(_ operation: String, _ path: String, _ code: Int32, value: String? = nil) -> CgroupError {
        CgroupError(
            operation: operation, path: path, errno: code,
            detail: value.map { "value \"\($0)\"" },
            hint: hint(operation: operation, path: path, errno: code))
    }

    static func hint(operation: String, path: String, errno code: Int32) -> String? {
        let file = path.split(separator: "/").last.map(String.init) ?? path
        switch (code, operation) {
        case (EACCES, _), (EPERM, _):
            return "cgroups need root, or a cgroup delegated to this user"
        case (EROFS, _):
            return "cgroupfs is mounted read-only (a container without a writable cgroup mount?)"
        case (EBUSY, "write") where file == "cgroup.subtree_control":
            return "the cgroup has processes of its own (no-internal-processes rule); move them to a leaf first"
        case (EBUSY, "write") where file.hasPrefix("memory."):
            return "the cgroup already uses more memory than the new limit"
        case (EBUSY, "rmdir"), (ENOTEMPTY, "rmdir"):
            return "the cgroup still has processes or child cgroups; killAll() first"
        case (ENOENT, "write") where file.contains("."):
            let controller = file.split(separator: ".").first.map(String.init) ?? file
            return "no \(file): the \(controller) controller is not enabled for this cgroup "
                + "(cgroup.subtree_control of the parent) or not mounted"
        case (EINVAL, "write"):
            return "the kernel rejected the value"
        case (ENOSPC, "mkdir"), (EAGAIN, "mkdir"):
            return "cgroup.max.descendants or the kernel's cgroup limit reached; sweep leftover cgroups"
        default:
            return nil
        }
    }

    /// The symbolic name of an errno ("EBUSY"), falling back to strerror for rare ones.
    package static func errnoName(_ code: Int32) -> String {
        let names: [Int32: String] = [
            EPERM: "EPERM", ENOENT: "ENOENT", ESRCH: "ESRCH", EINTR: "EINTR", EIO: "EIO",
            E2BIG: "E2BIG", EBADF: "EBADF", EAGAIN: "EAGAIN", ENOMEM: "ENOMEM", EACCES: "EACCES",
            EFAULT: "EFAULT", EBUSY: "EBUSY", EEXIST: "EEXIST", ENODEV: "ENODEV", ENOTDIR: "ENOTDIR",
            EISDIR: "EISDIR", EINVAL: "EINVAL", EMFILE: "EMFILE", ENOSPC: "ENOSPC", EROFS: "EROFS",
            ERANGE: "ERANGE", ENOTEMPTY: "ENOTEMPTY", EOPNOTSUPP: "EOPNOTSUPP", ENAMETOOLONG: "ENAMETOOLONG",
        ]
        return names[code] ?? "errno \(code) (\(String(cString: strerror(code))))"
    }

    /// Runs a syscall-like call that returns -1 on failure, retrying EINTR; nil means failed (errno is set).
    private static func retrying<T: BinaryInteger>(_ call: () -> T) -> T? {
        while true {
            let result = call()
            if result != -1 { return result }
            if errno != EINTR { return nil }
        }
    }

    private static func monotonicSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}
