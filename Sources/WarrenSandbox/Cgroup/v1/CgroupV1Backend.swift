import Glibc

/// Instance cgroups on cgroup v1: one directory per needed hierarchy (memory, pids, cpu, freezer).
///
/// Layout: `<mount>/<own path>/<subtree>/<name>` in every hierarchy, so Warren's tree nests under the
/// cgroup the supervisor runs in and inherits its limits.
package struct CgroupV1Backend: CgroupBackend {
    /// Controller → the *parent* directory instance cgroups are created in (`…/<own path>/<subtree>`).
    package let hierarchies: [String: String]

    /// Creates a backend over explicit parent directories; tests point these at temporary directories.
    /// - Parameter hierarchies: controller name → parent directory; co-mounted controllers may share one.
    package init(hierarchies: [String: String]) {
        self.hierarchies = hierarchies
    }

    package var version: CgroupVersion { .v1 }

    package var rootDescription: String {
        hierarchies["memory"] ?? parentDirs.joined(separator: ", ")
    }

    /// The distinct parent directories, memory first, then in controller order; co-mounted controllers
    /// (e.g. `cpu,cpuacct`) give one directory, which must be created and written once.
    var parentDirs: [String] {
        var seen: Set<String> = []
        return Self.controllerOrder(hierarchies.keys).compactMap { controller in
            guard let dir = hierarchies[controller], seen.insert(dir).inserted else { return nil }
            return dir
        }
    }

    static func controllerOrder(_ controllers: some Sequence<String>) -> [String] {
        let preferred = CgroupProbe.v1Controllers
        let known = preferred.filter { Set(controllers).contains($0) }
        return known + controllers.filter { !preferred.contains($0) }.sorted()
    }

    /// Creates `<parent>/<name>` in every hierarchy and applies `limits`.
    /// - Throws: `CgroupError` for an invalid name or limit, an existing cgroup (EEXIST), or a failed write;
    ///   directories created before the failure are removed again.
    package func create(name: String, limits: CgroupLimits) throws -> any Cgroup {
        try CgroupName.validate(name)
        let cgroup = CgroupV1(name: name, parents: hierarchies)
        try limits.validate(for: cgroup.rootDescription)
        var created: [String] = []
        do {
            for parent in parentDirs {
                // The parent is one level below the own cgroup, which exists; create it on first use.
                try CgroupFS.mkdir(parent, existingIsFine: true)
                try CgroupFS.mkdir(parent + "/" + name)
                created.append(parent + "/" + name)
            }
            try cgroup.apply(limits)
        } catch {
            // Undo a half-made cgroup; the original error is the one worth reporting, and the sweep at
            // the next start removes anything this cleanup could not.
            for dir in created.reversed() { try? CgroupFS.rmdir(dir) }
            throw error
        }
        return cgroup
    }

    /// Names present in any hierarchy: a crash between two mkdirs leaves a cgroup in only some of them.
    package func existing() throws -> [String] {
        var names: Set<String> = []
        for parent in parentDirs where CgroupFS.exists(parent) {
            names.formUnion(try CgroupFS.subdirectories(parent))
        }
        return names.sorted()
    }

    /// Re-opens `name`; it is enough that it exists in one hierarchy (a partial leftover).
    /// - Throws: `CgroupError` ENOENT if it exists in none.
    package func open(name: String) throws -> any Cgroup {
        try CgroupName.validate(name)
        let cgroup = CgroupV1(name: name, parents: hierarchies)
        guard cgroup.distinctDirs.contains(where: CgroupFS.exists) else {
            throw CgroupFS.failure("open", cgroup.rootDescription, ENOENT)
        }
        return cgroup
    }
}
