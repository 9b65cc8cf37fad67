import Glibc

/// Instance cgroups on cgroup v2: `<mount>/<own path>/<subtree>/<name>`.
package struct CgroupV2Backend: CgroupBackend {
    /// The directory instance cgroups are created in (`<own cgroup>/<subtree>`).
    package let root: String

    /// The controllers Warren asks for in `cgroup.subtree_control`; only those the kernel offers are enabled.
    package static let controllers = ["memory", "pids", "cpu"]

    /// Creates a backend over an already prepared directory; tests point it at a temporary directory.
    /// - Parameter root: the parent of the instance cgroups; see `prepare(ownDir:subtree:)`.
    package init(root: String) {
        self.root = root
    }

    package var version: CgroupVersion { .v2 }
    package var rootDescription: String { root }

    /// Creates `<ownDir>/<subtree>` and enables the controllers down to it, so that instance cgroups
    /// below it have `memory.max`, `pids.max` and `cpu.max`.
    ///
    /// The no-internal-processes rule forbids enabling controllers in the subtree_control of a non-root
    /// cgroup that has processes of its own (EBUSY). Then every process of `ownDir` (the supervisor and
    /// whatever runs beside it, e.g. the rest of a systemd service) is moved into the leaf
    /// `<ownDir>/<subtree>-supervisor` and enabling is retried. The root cgroup is exempt from the rule.
    /// - Throws: `CgroupError` naming the file and errno of the step that failed.
    package static func prepare(ownDir: String, subtree: String) throws -> CgroupV2Backend {
        try CgroupName.validate(subtree)
        let root = ownDir + "/" + subtree
        try CgroupFS.mkdir(root, existingIsFine: true)
        try enable(in: ownDir, leafForProcesses: root + "-supervisor")
        // The subtree itself never holds processes, so enabling there cannot hit the rule.
        try enable(in: root, leafForProcesses: nil)
        return CgroupV2Backend(root: root)
    }

    /// Enables in `dir/cgroup.subtree_control` those of `wanted` that `dir` has and has not enabled yet
    /// (only new ones: re-enabling would needlessly hit the no-internal-processes check).
    ///
    /// On EBUSY with a `leaf`, moves the processes of `dir` into `leaf` and retries once.
    /// - Parameter write: the file writer; a seam for tests, since a plain directory cannot answer EBUSY.
    package static func enable(
        in dir: String, leafForProcesses leaf: String?, wanted: [String] = controllers,
        write: (String, String) throws -> Void = CgroupFS.write
    ) throws {
        let available = words(try CgroupFS.read(dir + "/cgroup.controllers"))
        let enabled = words(try CgroupFS.read(dir + "/cgroup.subtree_control"))
        let missing = wanted.filter { available.contains($0) && !enabled.contains($0) }
        guard !missing.isEmpty else { return }
        let request = missing.map { "+" + $0 }.joined(separator: " ")
        do {
            try write(dir + "/cgroup.subtree_control", request)
        } catch let error as CgroupError where error.errno == EBUSY {
            guard let leaf else { throw error }
            try moveProcesses(from: dir, to: leaf, write: write)
            try write(dir + "/cgroup.subtree_control", request)
        }
    }

    /// Moves every process of `dir` into the leaf cgroup `leaf` (created if needed).
    private static func moveProcesses(
        from dir: String, to leaf: String, write: (String, String) throws -> Void
    ) throws {
        try CgroupFS.mkdir(leaf, existingIsFine: true)
        for pid in try CgroupFS.readPids(dir + "/cgroup.procs") {
            do {
                try write(leaf + "/cgroup.procs", String(pid))
            } catch let error as CgroupError where error.errno == ESRCH {
                continue  // exited meanwhile: nothing left to move
            }
        }
    }

    private static func words(_ text: String) -> [String] {
        text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
    }

    /// Creates `<root>/<name>` and writes the limits.
    /// - Throws: `CgroupError` for an invalid name or limit, an existing cgroup (EEXIST), or a failed write
    ///   (ENOENT on a limit file means its controller is not enabled); the directory is removed again.
    package func create(name: String, limits: CgroupLimits) throws -> any Cgroup {
        try CgroupName.validate(name)
        let path = root + "/" + name
        try limits.validate(for: path)
        try CgroupFS.mkdir(path)
        do {
            try CgroupV2Limits.apply(limits, to: path)
        } catch {
            // The write error is the one worth reporting; a leftover is swept at the next start.
            try? CgroupFS.rmdir(path)
            throw error
        }
        return CgroupV2(name: name, path: path)
    }

    package func existing() throws -> [String] {
        guard CgroupFS.exists(root) else { return [] }
        return try CgroupFS.subdirectories(root)
    }

    /// Re-opens `<root>/<name>`.
    /// - Throws: `CgroupError` ENOENT if it does not exist.
    package func open(name: String) throws -> any Cgroup {
        try CgroupName.validate(name)
        let path = root + "/" + name
        guard CgroupFS.exists(path) else { throw CgroupFS.failure("open", path, ENOENT) }
        return CgroupV2(name: name, path: path)
    }
}

/// Writing `CgroupLimits` into one v2 cgroup directory; separate so tests can aim it at a plain directory.
package enum CgroupV2Limits {
    /// Writes memory.max (+ memory.swap.max 0), pids.max, cpu.max and cpu.weight for the non-nil limits.
    /// - Throws: `CgroupError` for the first failed write.
    package static func apply(_ limits: CgroupLimits, to dir: String) throws {
        if let bytes = limits.memoryBytes {
            try CgroupFS.write(dir + "/memory.max", String(bytes))
            // Absent only without swap support in the kernel, where there is nothing to turn off.
            if CgroupFS.exists(dir + "/memory.swap.max") { try CgroupFS.write(dir + "/memory.swap.max", "0") }
        }
        if let pidsMax = limits.pidsMax { try CgroupFS.write(dir + "/pids.max", String(pidsMax)) }
        if let quota = limits.cpuQuotaMicros {
            try CgroupFS.write(dir + "/cpu.max", "\(quota) \(CgroupLimits.cpuPeriodMicros)")
        }
        if let weight = limits.cpuWeight { try CgroupFS.write(dir + "/cpu.weight", String(weight)) }
    }
}
