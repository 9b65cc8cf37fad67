import CWarrenSandbox
import Glibc

/// The ordered mounts that make a sandbox's filesystem, as the child will
/// perform them on the host paths under the rootfs (before pivot_root).
///
/// Order matters: binds first (the code and layers), then `/tmp`, `/proc`
/// and `/dev`, then read-only remounts; the rootfs itself turns read-only
/// after all of them, in the C side.
package struct MountPlan: Sendable {
    package struct Entry: Sendable, Equatable {
        package var kind: Int32
        package var flags: UInt
        package var bindRemount: Bool
        package var source: String?
        package var target: String
        package var data: String?
        /// The path inside the sandbox, for error messages ("/var/task").
        package var inside: String
    }

    package private(set) var entries: [Entry] = []

    /// Devices of a minimal `/dev` (name, major, minor): the memory devices.
    package static let devices: [(String, UInt, UInt)] = [
        ("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9),
    ]

    package init(spec: SandboxSpec) throws {
        let root = spec.rootfs.hasSuffix("/") ? String(spec.rootfs.dropLast()) : spec.rootfs
        let nosuid = UInt(MS_NOSUID), nodev = UInt(MS_NODEV), noexec = UInt(MS_NOEXEC)
        let rdonly = UInt(MS_RDONLY)

        for bind in spec.binds {
            guard bind.destination.hasPrefix("/"), !bind.destination.split(separator: "/").contains("..") else {
                throw SpawnError.invalidSpec("bind destination must be an absolute path without '..': \(bind.destination)")
            }
            // A read-only directory (the code at /var/task) is an overlay of the sandbox's own, as
            // the root is: the code directory is shared by every instance of a function and by
            // functions with the same zip, and a bind of it let an inotify watch in one see
            // another's accesses.
            if bind.readOnly, bind.source.hasPrefix("/"), Self.isDirectory(bind.source),
               let overlay = EmptyLayer.overlayOptions(lower: bind.source) {
                add(WRN_MOUNT_OVERLAY, flags: rdonly | nosuid | nodev, source: bind.source, data: overlay,
                    inside: bind.destination, root: root)
                continue
            }
            add(WRN_MOUNT_BIND, source: bind.source, inside: bind.destination, root: root)
            let ro = bind.readOnly ? rdonly : 0
            add(WRN_MOUNT_REMOUNT, flags: ro | nosuid | nodev, bind: true, inside: bind.destination, root: root)
        }
        guard spec.tmpSizeMB > 0 else { throw SpawnError.invalidSpec("tmp size must be positive") }
        add(WRN_MOUNT_TMPFS, flags: nosuid | nodev, data: "size=\(spec.tmpSizeMB)m,mode=1777", inside: "/tmp", root: root)
        add(WRN_MOUNT_PROC, flags: nosuid | nodev | noexec, inside: "/proc", root: root)
        add(WRN_MOUNT_TMPFS, flags: nosuid | noexec, data: "size=64k,nr_inodes=64,mode=755", inside: "/dev", root: root)
        for (name, major, minor) in Self.devices {
            add(WRN_MOUNT_MKNOD, flags: major << 20 | minor, inside: "/dev/\(name)", root: root)
        }
        for (name, link) in [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                             ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")] {
            add(WRN_MOUNT_SYMLINK, source: link, inside: "/dev/\(name)", root: root)
        }
        add(WRN_MOUNT_REMOUNT, flags: rdonly | nosuid | noexec, inside: "/dev", root: root)
    }

    private static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFDIR
    }

    private mutating func add(
        _ kind: wrn_mount_kind, flags: UInt = 0, bind: Bool = false, source: String? = nil,
        data: String? = nil, inside: String, root: String
    ) {
        entries.append(Entry(kind: Int32(kind.rawValue), flags: flags, bindRemount: bind, source: source,
                             target: root + inside, data: data, inside: inside))
    }
}
