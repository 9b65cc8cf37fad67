import Glibc

/// One instance cgroup on cgroup v1: the same name in the memory, pids, cpu and freezer hierarchies.
///
/// Immutable paths only, so it is `Sendable` without locks; the kernel serialises the file writes.
package final class CgroupV1: Cgroup {
    package let name: String
    /// Controller → this instance's directory in that hierarchy.
    package let directories: [String: String]
    /// One directory per distinct hierarchy (co-mounted controllers share one), memory first.
    let distinctDirs: [String]

    /// How long freeze, thaw and killAll wait for the kernel before giving up.
    static let timeoutSeconds = 2.0

    /// Describes the cgroup `name` below each parent directory; nothing is created.
    init(name: String, parents: [String: String]) {
        self.name = name
        var directories: [String: String] = [:]
        for (controller, parent) in parents { directories[controller] = parent + "/" + name }
        self.directories = directories
        var seen: Set<String> = []
        distinctDirs = CgroupV1Backend.controllerOrder(parents.keys).compactMap { controller in
            guard let dir = directories[controller], seen.insert(dir).inserted else { return nil }
            return dir
        }
    }

    /// The memory directory, or the first one, for messages.
    var rootDescription: String { directories["memory"] ?? distinctDirs.first ?? name }

    package var procsPaths: [String] { distinctDirs.map { $0 + "/cgroup.procs" } }

    private func file(_ controller: String, _ file: String) throws -> String {
        guard let dir = directories[controller] else {
            throw CgroupError(
                operation: "open", path: rootDescription + "/" + file,
                detail: "no \(controller) hierarchy", hint: "mount the \(controller) controller (cgroup v1)")
        }
        return dir + "/" + file
    }

    /// Writes the limits; memory first, since the kernel checks memsw ≥ limit_in_bytes on each write.
    func apply(_ limits: CgroupLimits) throws {
        if directories["memory"] != nil { try applyMemory(limits.memoryBytes) }
        if let pidsMax = limits.pidsMax { try CgroupFS.write(try file("pids", "pids.max"), String(pidsMax)) }
        if let quota = limits.cpuQuotaMicros {
            try CgroupFS.write(try file("cpu", "cpu.cfs_period_us"), String(CgroupLimits.cpuPeriodMicros))
            try CgroupFS.write(try file("cpu", "cpu.cfs_quota_us"), String(quota))
        }
        if let weight = limits.cpuWeight {
            // 100 is the v2 default weight and 1024 the v1 default shares; the kernel's minimum is 2.
            try CgroupFS.write(try file("cpu", "cpu.shares"), String(max(2, weight * 1024 / 100)))
        }
    }

    private func applyMemory(_ bytes: UInt64?) throws {
        // Hierarchical accounting is always on since 5.x kernels (writing fails there); older kernels
        // default to 0, which would let the instance escape the supervisor's own limit, so ask for 1.
        let hierarchy = try file("memory", "memory.use_hierarchy")
        if CgroupFS.exists(hierarchy), try CgroupFS.readTrimmed(hierarchy) == "0" {
            try? CgroupFS.write(hierarchy, "1")
        }
        // A new v1 memory cgroup inherits oom_kill_disable from its parent: with 1 an instance over its
        // limit would hang instead of being killed, and Warren would never see the OOM.
        let oomControl = try file("memory", "memory.oom_control")
        if CgroupFS.keyedValue(try CgroupFS.read(oomControl), key: "oom_kill_disable") == 1 {
            try CgroupFS.write(oomControl, "0")
        }
        guard let bytes else { return }
        try CgroupFS.write(try file("memory", "memory.limit_in_bytes"), String(bytes))
        let memsw = try file("memory", "memory.memsw.limit_in_bytes")
        if CgroupFS.exists(memsw) {
            // memory+swap = memory means no swap at all; it must follow limit_in_bytes (memsw ≥ memory).
            try CgroupFS.write(memsw, String(bytes))
        } else {
            // No swap accounting (swapaccount=0): the best v1 can do is never to choose this cgroup's pages.
            try CgroupFS.write(try file("memory", "memory.swappiness"), "0")
        }
        // v1 counts TCP buffers apart from the rest, and only in a cgroup with this limit; without it
        // they are the host's (a 128 MB function queued 1,174 MB in loopback connections it never
        // read, pressing on every socket of the host). v2 counts them with the rest.
        let tcp = try file("memory", "memory.kmem.tcp.limit_in_bytes")
        if CgroupFS.exists(tcp) { try CgroupFS.write(tcp, String(bytes)) }
    }

    package func freeze() throws {
        try setFreezer("FROZEN")
    }

    package func thaw() throws {
        try setFreezer("THAWED")
    }

    /// Writes `state` and polls freezer.state until it reads back; FREEZING means some task has not
    /// stopped yet, and writing FROZEN again makes the kernel retry those tasks.
    private func setFreezer(_ state: String) throws {
        let path = try file("freezer", "freezer.state")
        var current = ""
        let reached = try CgroupFS.poll(timeoutSeconds: Self.timeoutSeconds) {
            try CgroupFS.write(path, state)
            current = try CgroupFS.readTrimmed(path)
            return current == state
        }
        guard reached else {
            throw CgroupError(
                operation: state == "FROZEN" ? "freeze" : "thaw", path: path,
                detail: "still \(current) after \(Self.timeoutSeconds) s",
                hint: "a task in uninterruptible sleep (D state, e.g. stuck I/O) delays the freezer")
        }
    }

    package func oomKillCount() throws -> UInt64 {
        let path = try file("memory", "memory.oom_control")
        guard let count = CgroupFS.keyedValue(try CgroupFS.read(path), key: "oom_kill") else {
            throw CgroupError(
                operation: "read", path: path, detail: "no \"oom_kill\" line",
                hint: "the kernel predates 4.13, which added the OOM kill counter")
        }
        return count
    }

    package func peakMemoryBytes() throws -> UInt64? {
        try readOptionalNumber(try file("memory", "memory.max_usage_in_bytes"))
    }

    package func currentMemoryBytes() throws -> UInt64? {
        try readOptionalNumber(try file("memory", "memory.usage_in_bytes"))
    }

    private func readOptionalNumber(_ path: String) throws -> UInt64? {
        guard CgroupFS.exists(path) else { return nil }
        let text = try CgroupFS.readTrimmed(path)
        guard let value = UInt64(text) else {
            throw CgroupError(operation: "read", path: path, detail: "not a number: \"\(text)\"")
        }
        return value
    }

    /// The union over all hierarchies: a pid written to only some of them (a spawn that failed halfway)
    /// must still be seen, and killed.
    package func pids() throws -> [Int32] {
        var all: Set<Int32> = []
        for dir in distinctDirs { all.formUnion(try CgroupFS.readPids(dir + "/cgroup.procs")) }
        return all.sorted()
    }

    /// Freeze (so nothing forks between reading cgroup.procs and the kill), SIGKILL every pid, thaw
    /// (a frozen task dies only once it leaves the freezer), then re-read and re-kill until empty.
    package func killAll() throws {
        guard distinctDirs.contains(where: CgroupFS.exists) else { return }
        let freezerState = directories["freezer"].map { $0 + "/freezer.state" }
        let canFreeze = freezerState.map(CgroupFS.exists) ?? false
        var freezeError: CgroupError?
        if canFreeze {
            // A cgroup that will not freeze (a task stuck in D state) is still killed pid by pid; the
            // re-read loop below catches children forked in between.
            do { try freeze() } catch let error as CgroupError { freezeError = error }
        }
        // One pass while frozen: nothing can fork between reading cgroup.procs and the kill.
        for pid in try pids() where kill(pid, SIGKILL) != 0 && errno != ESRCH {
            throw CgroupFS.failure("kill", "\(rootDescription) pid \(pid)", errno)
        }
        if canFreeze { try thaw() }
        try CgroupFS.killUntilEmpty(
            rootDescription, timeoutSeconds: Self.timeoutSeconds,
            note: freezeError.map { "freeze failed: \($0)" }, pids: pids)
    }

    package func remove() throws {
        let elsewhere = directoriesElsewhere()
        try killAll()
        for dir in distinctDirs { try CgroupFS.rmdir(dir) }
        for dir in elsewhere { try CgroupFS.rmdir(dir) }
    }

    /// This instance's directories under another parent than this process's, as its processes'
    /// `/proc/PID/cgroup` shows them: on a v1 host that gives each process a memory cgroup of its own,
    /// a dead server's instances sit below that server's, which a sweeping process does not list.
    /// Only directories of this instance's name, in Warren's controllers, are taken.
    private func directoriesElsewhere() -> [String] {
        guard let pids = try? pids(), !pids.isEmpty, let own = distinctDirs.first,
              let mountinfo = try? CgroupFS.read("/proc/self/mountinfo") else { return [] }
        // ".../<subtree>/<name>": the subtree ("warren") is the parent's last component.
        let suffix = "/" + (own.dropLast(name.count + 1).split(separator: "/").last ?? "") + "/" + name
        var found: Set<String> = []
        for pid in pids.prefix(8) {
            guard let cgroups = try? CgroupFS.read("/proc/\(pid)/cgroup") else { continue }
            let layout = CgroupLayout(mountinfo: mountinfo, procSelfCgroup: cgroups)
            for controller in CgroupProbe.v1Controllers {
                guard let dir = layout.v1OwnDirs[controller], dir.hasSuffix(suffix),
                      !distinctDirs.contains(dir) else { continue }
                found.insert(dir)
            }
        }
        return found.sorted()
    }
}
