/// Which cgroup interface a backend drives.
package enum CgroupVersion: String, Sendable {
    case v1, v2
}

/// Resource limits of one instance cgroup; nil leaves the kernel's default (no limit).
package struct CgroupLimits: Sendable, Equatable {
    /// Memory limit with swap off (v1: `memory.limit_in_bytes` plus `memory.memsw.limit_in_bytes` when
    /// swap accounting exists, else `memory.swappiness` 0; v2: `memory.max` plus `memory.swap.max` 0).
    package var memoryBytes: UInt64?
    /// Maximum number of tasks (`pids.max`).
    package var pidsMax: Int?
    /// CPU quota in cores (v1 `cpu.cfs_quota_us`/`cpu.cfs_period_us`; v2 `cpu.max`); nil = no quota.
    package var cpus: Double?
    /// Relative CPU share 1...10000 (v2 `cpu.weight`; v1 `cpu.shares` = weight × 1024 / 100).
    package var cpuWeight: Int?

    /// Creates limits; every nil field is left unlimited.
    package init(memoryBytes: UInt64? = nil, pidsMax: Int? = nil, cpus: Double? = nil, cpuWeight: Int? = nil) {
        self.memoryBytes = memoryBytes
        self.pidsMax = pidsMax
        self.cpus = cpus
        self.cpuWeight = cpuWeight
    }

    /// The CFS period both versions use: 100 ms, the kernel's default.
    static let cpuPeriodMicros = 100_000

    /// The quota in µs per period, at least the kernel's minimum of 1 ms.
    var cpuQuotaMicros: Int? {
        cpus.map { max(1_000, Int(($0 * Double(Self.cpuPeriodMicros)).rounded())) }
    }

    /// Rejects values the kernel would reject later with a bare EINVAL, naming the field instead.
    /// - Parameter path: the cgroup the limits are for, for the error message.
    func validate(for path: String) throws {
        func bad(_ detail: String) -> CgroupError {
            CgroupError(operation: "validate", path: path, detail: detail)
        }
        if let memoryBytes, memoryBytes == 0 { throw bad("memoryBytes must be > 0") }
        if let pidsMax, pidsMax <= 0 { throw bad("pidsMax must be > 0, got \(pidsMax)") }
        if let cpus, !(cpus.isFinite && cpus > 0 && cpus <= 4096) { throw bad("cpus must be in (0, 4096], got \(cpus)") }
        if let cpuWeight, !(1...10_000).contains(cpuWeight) { throw bad("cpuWeight must be in 1...10000, got \(cpuWeight)") }
    }
}

/// One instance cgroup (a directory per v1 hierarchy, or one v2 directory).
package protocol Cgroup: AnyObject, Sendable {
    /// The instance name (the last path component).
    var name: String { get }
    /// The cgroup.procs files the spawner writes the child's pid into (one per v1 hierarchy, one on v2).
    var procsPaths: [String] { get }
    /// Freezes every process and waits (bounded) until the kernel reports the cgroup frozen.
    func freeze() throws
    /// Thaws the cgroup and waits (bounded) until it runs again.
    func thaw() throws
    /// Number of OOM kills in this cgroup so far (v1 memory.oom_control "oom_kill N"; v2 memory.events "oom_kill N").
    func oomKillCount() throws -> UInt64
    /// Peak memory in bytes (v1 memory.max_usage_in_bytes; v2 memory.peak), nil if the kernel has no such file.
    func peakMemoryBytes() throws -> UInt64?
    /// Current memory use in bytes, nil if the kernel has no such file.
    func currentMemoryBytes() throws -> UInt64?
    /// Pids of every process in the cgroup.
    func pids() throws -> [Int32]
    /// Kills every process and waits (bounded) until the cgroup is empty.
    ///
    /// v2 writes `cgroup.kill` when present; v1 freezes, SIGKILLs each pid (re-reading until empty), thaws.
    func killAll() throws
    /// killAll, then rmdir every directory. Idempotent (ENOENT is fine).
    func remove() throws
}

/// Creates and finds instance cgroups under Warren's subtree of one cgroup version.
package protocol CgroupBackend: Sendable {
    /// The cgroup version this backend drives.
    var version: CgroupVersion { get }
    /// Where instance cgroups are created (for logs/tests): v1 the memory hierarchy dir, v2 the dir.
    var rootDescription: String { get }
    /// Creates the instance cgroup `name` and applies `limits`; a failure removes what was created.
    func create(name: String, limits: CgroupLimits) throws -> any Cgroup
    /// Names of existing instance cgroups (for the sweep of a crashed supervisor).
    func existing() throws -> [String]
    /// Re-open an existing instance cgroup by name (to kill/remove leftovers).
    func open(name: String) throws -> any Cgroup
}

/// Validation of cgroup directory names, which come from instance ids and end up in paths.
package enum CgroupName {
    /// Throws unless `name` is one safe path component: non-empty, ≤ 255 bytes, no '/', no "..",
    /// no control characters, and not a cgroupfs control-file prefix such as "cgroup.".
    package static func validate(_ name: String) throws {
        func bad(_ why: String) -> CgroupError {
            CgroupError(operation: "validate", path: name, detail: "invalid cgroup name: \(why)")
        }
        if name.isEmpty { throw bad("empty") }
        if name.utf8.count > 255 { throw bad("longer than 255 bytes") }
        if name.contains("/") { throw bad("contains '/'") }
        if name.contains("..") || name == "." { throw bad("contains '..' or is '.'") }
        if name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) {
            throw bad("contains a control character")
        }
        if name.hasPrefix("cgroup.") { throw bad("starts with 'cgroup.' (reserved for control files)") }
    }
}

/// What the probe found usable: the v1 parent directories per controller, or the v2 own cgroup.
package enum CgroupChoice: Sendable, Equatable {
    /// Controller → `<mount>/<own path>/<subtree>` for memory, pids, cpu and freezer.
    case v1(hierarchies: [String: String])
    /// The process's own cgroup directory on the cgroup2 mount; the backend adds `<subtree>`.
    case v2(ownDir: String)
}

/// Picks the cgroup backend for this host.
package enum CgroupProbe {
    /// The v1 controllers Warren needs: limits (memory, pids, cpu) and the freezer for idle instances and kills.
    package static let v1Controllers = ["memory", "pids", "cpu", "freezer"]
    /// The v2 controllers that must be available; cpu is used when present.
    package static let v2Required = ["memory", "pids"]

    /// Picks the backend by probing /proc/self/mountinfo and /proc/self/cgroup: v2 when the cgroup2 mount has
    /// memory+pids controllers available; else v1 when memory, pids, freezer and cpu hierarchies are mounted;
    /// else throws with a hint.
    /// - Parameter subtree: the directory name Warren uses under the calling process's own cgroup.
    /// - Throws: `CgroupError` (operation `probe`) naming what was found; errors of preparing the v2 subtree.
    package static func detect(subtree: String = "warren") throws -> any CgroupBackend {
        let layout = CgroupLayout(
            mountinfo: try CgroupFS.read("/proc/self/mountinfo"),
            procSelfCgroup: try CgroupFS.read("/proc/self/cgroup"))
        let choice = try choose(layout: layout, subtree: subtree) { dir in
            // An unreadable own cgroup (e.g. outside a container's view) just means v2 is not usable.
            try? CgroupFS.read(dir + "/cgroup.controllers")
        }
        switch choice {
        case .v1(let hierarchies):
            return CgroupV1Backend(hierarchies: hierarchies)
        case .v2(let ownDir):
            return try CgroupV2Backend.prepare(ownDir: ownDir, subtree: subtree)
        }
    }

    /// The decision of `detect`, without touching the filesystem except through `readControllers`.
    /// - Parameter readControllers: returns the content of `<dir>/cgroup.controllers`, nil if unreadable.
    package static func choose(
        layout: CgroupLayout, subtree: String, readControllers: (String) -> String?
    ) throws -> CgroupChoice {
        try CgroupName.validate(subtree)
        var v2Available: [String] = []
        if let ownDir = layout.v2OwnDir, let text = readControllers(ownDir) {
            v2Available = text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
            if v2Required.allSatisfy(v2Available.contains) { return .v2(ownDir: ownDir) }
        }
        var hierarchies: [String: String] = [:]
        for controller in v1Controllers {
            if let dir = layout.v1OwnDirs[controller] { hierarchies[controller] = dir + "/" + subtree }
        }
        if hierarchies.count == v1Controllers.count { return .v1(hierarchies: hierarchies) }
        let mounted = v1Controllers.filter { hierarchies[$0] != nil }
        let v2Text = layout.v2Mount.map { "cgroup2 at \($0) with controllers [\(v2Available.joined(separator: " "))]" }
        throw CgroupError(
            operation: "probe", path: "/proc/self/mountinfo",
            detail: "no usable cgroups: \(v2Text ?? "no cgroup2 mount"); v1 hierarchies [\(mounted.joined(separator: " "))]",
            hint: "Warren needs memory and pids on cgroup v2 (enabled in the parent's cgroup.subtree_control; "
                + "under systemd use Delegate=yes), or memory, pids, cpu and freezer hierarchies mounted on cgroup v1")
    }
}
