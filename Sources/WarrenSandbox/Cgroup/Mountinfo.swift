/// One line of `/proc/self/mountinfo`, reduced to what the cgroup probe needs.
package struct MountinfoEntry: Sendable, Equatable {
    /// The directory within the filesystem that is mounted (field 4); not "/" inside some containers.
    package var root: String
    /// Where it is mounted (field 5).
    package var mountPoint: String
    /// The filesystem type after the " - " separator (`cgroup`, `cgroup2`, `tmpfs` …).
    package var fsType: String
    /// The super-block options, split on commas; for cgroup v1 they name the controllers.
    package var superOptions: [String]

    /// Parses every line of a mountinfo text; malformed lines are skipped, since the kernel's own format
    /// is trusted and a line we cannot read is no cgroup mount we could use.
    package static func parse(_ text: String) -> [MountinfoEntry] {
        text.split(whereSeparator: \.isNewline).compactMap { parseLine(Substring($0)) }
    }

    static func parseLine(_ line: Substring) -> MountinfoEntry? {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        // Optional fields end at a lone "-"; after it come fstype, source, super options.
        guard fields.count >= 10, let dash = fields.firstIndex(of: "-"), dash >= 6,
              fields.count >= dash + 4
        else { return nil }
        return MountinfoEntry(
            root: unescape(fields[3]),
            mountPoint: unescape(fields[4]),
            fsType: String(fields[dash + 1]),
            superOptions: fields[dash + 3].split(separator: ",").map(String.init))
    }

    /// Undoes the kernel's octal escapes (`\040` for a space) in paths.
    static func unescape(_ field: Substring) -> String {
        guard field.contains("\\") else { return String(field) }
        var bytes: [UInt8] = []
        var utf8 = Array(field.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "\\"), utf8.count >= 3,
               let value = UInt8(String(decoding: utf8.prefix(3), as: UTF8.self), radix: 8) {
                bytes.append(value)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// One line of `/proc/self/cgroup`: `hierarchy-ID:controller-list:path`.
package struct ProcCgroupEntry: Sendable, Equatable {
    /// 0 for the cgroup2 unified hierarchy.
    package var hierarchyID: Int
    /// The v1 controllers of the hierarchy (`["cpu", "cpuacct"]`, `["name=systemd"]`); empty on v2.
    package var controllers: [String]
    /// The process's cgroup relative to the hierarchy's root.
    package var path: String

    /// Parses `/proc/self/cgroup`; the path may itself contain ':' so only the first two are split.
    package static func parse(_ text: String) -> [ProcCgroupEntry] {
        text.split(whereSeparator: \.isNewline).compactMap { line in
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, let id = Int(parts[0]) else { return nil }
            let controllers = parts[1].split(separator: ",").map(String.init)
            return ProcCgroupEntry(hierarchyID: id, controllers: controllers, path: String(parts[2]))
        }
    }
}

/// The cgroup mounts and the calling process's place in them, as read from the two proc files.
package struct CgroupLayout: Sendable, Equatable {
    /// For each v1 controller, the directory of the calling process's own cgroup in that hierarchy.
    package var v1OwnDirs: [String: String] = [:]
    /// The cgroup2 mount point, if one is mounted.
    package var v2Mount: String?
    /// The calling process's own cgroup directory on the cgroup2 mount.
    package var v2OwnDir: String?

    /// Joins mountinfo and /proc/self/cgroup.
    ///
    /// The own path in /proc/self/cgroup is relative to the hierarchy's root, while a mount may show
    /// only a subtree (mountinfo field 4, e.g. inside a container); the part above the mount is cut off.
    package init(mountinfo: String, procSelfCgroup: String) {
        let mounts = MountinfoEntry.parse(mountinfo)
        let own = ProcCgroupEntry.parse(procSelfCgroup)
        for mount in mounts where mount.fsType == "cgroup" {
            guard let entry = own.first(where: { !$0.controllers.isEmpty && Set($0.controllers).isSubset(of: mount.superOptions) })
            else { continue }
            let dir = Self.join(mount: mount, ownPath: entry.path)
            for controller in entry.controllers where v1OwnDirs[controller] == nil {
                v1OwnDirs[controller] = dir
            }
        }
        if let mount = mounts.first(where: { $0.fsType == "cgroup2" }) {
            v2Mount = mount.mountPoint
            if let entry = own.first(where: { $0.hierarchyID == 0 }) {
                v2OwnDir = Self.join(mount: mount, ownPath: entry.path)
            }
        }
    }

    static func join(mount: MountinfoEntry, ownPath: String) -> String {
        var relative = ownPath
        if mount.root != "/" && (relative == mount.root || relative.hasPrefix(mount.root + "/")) {
            relative = String(relative.dropFirst(mount.root.count))
        }
        let parts = [mount.mountPoint] + relative.split(separator: "/").map(String.init)
        let joined = parts.joined(separator: "/")
        return joined.hasPrefix("//") ? String(joined.dropFirst()) : joined
    }
}
