import CWarrenSandbox

/// The ordered steps of a sandbox's start; mirrors `enum wrn_step` in
/// `wrn_spawn.h` (a test keeps the two in step).
package enum SpawnStep: Int32, Sendable, CaseIterable {
    case clone = 0x40, cgroup, sync, signals, mountPrivate, bindRoot, mount, remountRoot
    case pivotRoot, loopback, hostname, rlimit, capbset, setgroups, setgid, setuid
    case capset, ambient, noNewPrivs, pdeathsig, fds, chdir, execInit, initFork, seccomp, exec
    case netns, cgroupns, sched

    /// The name the C side gives the step ("pivot_root").
    package var name: String { String(cString: wrn_step_name(rawValue)) }
}

/// Why a sandbox did not start.
package enum SpawnError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A step between clone() and execve() failed. `subject` names what the
    /// step acted on: the path inside the sandbox for mounts ("/var/task"),
    /// the program for exec, the rlimit, the cgroup file.
    case childSetup(step: SpawnStep, errno: Int32, subject: String?)
    /// Preparing the spawn in the parent failed (opening the init binary, pipes, memfd).
    case prepare(SystemError)
    /// The spec cannot be run as given.
    case invalidSpec(String)

    package var description: String {
        switch self {
        case .childSetup(let step, let errno, let subject):
            let what = subject.map { "\(step.name) \($0)" } ?? step.name
            return "\(what): \(Errno.name(errno))\(Self.hint(step, errno))"
        case .prepare(let error):
            return "prepare sandbox: \(error)"
        case .invalidSpec(let message):
            return "invalid sandbox spec: \(message)"
        }
    }

    private static func hint(_ step: SpawnStep, _ errno: Int32) -> String {
        switch (step, errno) {
        case (.mount, 2): return " (Hint: the mount point must exist in the rootfs; it is read-only)"
        case (.exec, 2): return " (Hint: no such program in the sandbox; PATH is searched inside it)"
        case (.exec, 13): return " (Hint: the program is not executable by the sandbox's uid)"
        case (.clone, 1): return " (Hint: Warren's sandbox needs root for its namespaces)"
        default: return ""
        }
    }
}
