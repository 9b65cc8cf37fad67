import Foundation
import Glibc

/// Removes instance cgroups that a dead Warren process left behind.
///
/// Names are `<prefix><owner pid>-…`; a cgroup is an orphan when its owner
/// no longer runs: gone (ESRCH) or a zombie, which `kill(pid, 0)` still
/// reports as alive although it will never clean up.
package enum CgroupSweep {
    /// Kills and removes every orphaned cgroup under `backend` whose name starts with `prefix`.
    package static func removeOrphans(_ backend: any CgroupBackend, prefix: String) {
        for name in (try? backend.existing()) ?? [] where name.hasPrefix(prefix) {
            let owner = name.dropFirst(prefix.count).split(separator: "-").first.flatMap { Int32($0) }
            guard let owner, !isRunning(owner) else { continue }
            try? backend.open(name: name).remove()
        }
    }

    /// True while `pid` exists and is not a zombie.
    package static func isRunning(_ pid: Int32) -> Bool {
        if kill(pid, 0) != 0 && errno == ESRCH { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return true }
        // Field 3, after "pid (comm) ": the state letter.
        return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first != "Z"
    }
}
