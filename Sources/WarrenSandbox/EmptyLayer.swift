import Glibc

/// The second, empty lower layer of the overlays each sandbox mounts as its root and its code.
///
/// A sandbox's root used to be a bind of the runtime's shared rootfs directory: every sandbox of a
/// runtime then saw the same inodes, and an inotify watch inside one (on `/var/lang/lib/python3.11`,
/// say) reported when another opened a file there: which modules another function imports, and
/// when its instances start. An overlay of the rootfs is a superblock of the sandbox's own, with
/// inodes of its own, so its watches see its own accesses only. Overlayfs takes a read-only
/// mount (no upper layer) only with two lower layers at least: the rootfs and this directory.
enum EmptyLayer {
    /// Root's, mode 0555, empty: made once per process.
    static let path = "/run/warren/empty-layer"

    /// Whether the directory is ready, checked once.
    private static let ready: Bool = {
        _ = mkdir("/run/warren", 0o755)
        _ = mkdir(path, 0o555)
        var st = stat()
        guard lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFDIR, st.st_uid == 0, st.st_mode & 0o022 == 0,
              let dir = opendir(path) else { return false }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { return false }
        }
        return true
    }()

    /// The mount options of a read-only overlay of `lower`, or nil for a bind instead: when the
    /// directory cannot be made, or the path has a character that mount(2)'s option string cannot
    /// carry (`,` separates options, `:` layers, `\` escapes).
    static func overlayOptions(lower: String) -> String? {
        let lower = lower.count > 1 && lower.hasSuffix("/") ? String(lower.dropLast()) : lower
        guard ready, !lower.contains(where: { $0 == "," || $0 == ":" || $0 == "\\" }) else { return nil }
        return "lowerdir=\(lower):\(path)"
    }
}
