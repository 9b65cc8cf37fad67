import Glibc

/// One instance cgroup on cgroup v2: a single directory.
///
/// Immutable paths only, so it is `Sendable` without locks; the kernel serialises the file writes.
package final class CgroupV2: Cgroup {
    package let name: String
    /// The cgroup directory; the spawner opens it for `CLONE_INTO_CGROUP`.
    package let path: String

    /// How long freeze, thaw and killAll wait for the kernel before giving up.
    static let timeoutSeconds = 2.0

    /// Describes the cgroup at `path`; nothing is created.
    init(name: String, path: String) {
        self.name = name
        self.path = path
    }

    package var procsPaths: [String] { [path + "/cgroup.procs"] }

    package func freeze() throws {
        try setFrozen(true)
    }

    package func thaw() throws {
        try setFrozen(false)
    }

    /// Writes cgroup.freeze and waits for cgroup.events to report the state: the write only starts
    /// freezing, and a caller that wants a quiescent instance must wait for "frozen 1".
    private func setFrozen(_ frozen: Bool) throws {
        let want: UInt64 = frozen ? 1 : 0
        try CgroupFS.write(path + "/cgroup.freeze", String(want))
        var current: UInt64?
        let reached = try CgroupFS.poll(timeoutSeconds: Self.timeoutSeconds) {
            current = CgroupFS.keyedValue(try CgroupFS.read(path + "/cgroup.events"), key: "frozen")
            return current == want
        }
        guard reached else {
            throw CgroupError(
                operation: frozen ? "freeze" : "thaw", path: path + "/cgroup.events",
                detail: "\"frozen \(current.map(String.init) ?? "?")\" after \(Self.timeoutSeconds) s",
                hint: "a task in uninterruptible sleep (D state) delays freezing; cgroup.freeze needs kernel ≥ 5.2")
        }
    }

    package func oomKillCount() throws -> UInt64 {
        let file = path + "/memory.events"
        guard let count = CgroupFS.keyedValue(try CgroupFS.read(file), key: "oom_kill") else {
            throw CgroupError(operation: "read", path: file, detail: "no \"oom_kill\" line")
        }
        return count
    }

    package func peakMemoryBytes() throws -> UInt64? {
        try readOptionalNumber(path + "/memory.peak")
    }

    package func currentMemoryBytes() throws -> UInt64? {
        try readOptionalNumber(path + "/memory.current")
    }

    private func readOptionalNumber(_ file: String) throws -> UInt64? {
        guard CgroupFS.exists(file) else { return nil }
        let text = try CgroupFS.readTrimmed(file)
        guard let value = UInt64(text) else {
            throw CgroupError(operation: "read", path: file, detail: "not a number: \"\(text)\"")
        }
        return value
    }

    package func pids() throws -> [Int32] {
        try CgroupFS.readPids(path + "/cgroup.procs").sorted()
    }

    /// `cgroup.kill` (kernel ≥ 5.14) kills the whole cgroup atomically, forks in flight included; on older
    /// kernels: freeze, SIGKILL each pid until none is left, thaw (frozen tasks die only when thawed).
    package func killAll() throws {
        guard CgroupFS.exists(path) else { return }
        var note: String?
        if CgroupFS.exists(path + "/cgroup.kill") {
            try CgroupFS.write(path + "/cgroup.kill", "1")
        } else {
            do { try freeze() } catch let error as CgroupError { note = "freeze failed: \(error)" }
            for pid in try pids() where kill(pid, SIGKILL) != 0 && errno != ESRCH {
                throw CgroupFS.failure("kill", "\(path) pid \(pid)", errno)
            }
            try thaw()
        }
        // Both ways: wait until the kernel has let every task exit, re-killing any straggler.
        try CgroupFS.killUntilEmpty(path, timeoutSeconds: Self.timeoutSeconds, note: note, pids: pids)
    }

    package func remove() throws {
        try killAll()
        try CgroupFS.rmdir(path)
    }
}
