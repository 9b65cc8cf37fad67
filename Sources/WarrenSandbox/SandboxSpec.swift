import Foundation
import Glibc

/// Everything a sandbox needs, as plain data. Built by the caller, turned
/// into one C request by `Sandbox.spawn`.
package struct SandboxSpec: Sendable {
    /// `argv[0]` is the program: an absolute path inside the sandbox, or a
    /// name looked up in the sandbox's `PATH`.
    package var argv: [String]
    /// `KEY=VALUE` entries, in order.
    package var environment: [String]
    /// Host path of the root filesystem, mounted read-only.
    package var rootfs: String
    /// Bind mounts on top of the rootfs (code at `/var/task`, layers at `/opt` …).
    package var binds: [BindMount]
    /// Size of the tmpfs on `/tmp`, in MiB (Lambda's EphemeralStorage).
    package var tmpSizeMB: Int
    package var hostname: String
    /// Runs the sandbox under `SCHED_BATCH`: a fair CPU share as before, but its wake-ups never
    /// preempt the task running on that CPU (for Warren's instances, the supervisor's event loop
    /// that has just written to the runtime's socket).
    package var batchScheduling = false
    /// The unprivileged identity the payload runs as; never 0.
    package var uid: UInt32
    package var gid: UInt32
    package var rlimits: [Rlimit]
    /// The compiled seccomp filter; nil only when a policy switches seccomp off.
    package var seccomp: CompiledFilter?
    /// The instance's cgroup, joined before any code of the payload runs.
    package var cgroup: (any Cgroup)?
    package var stdin: Stdio
    package var stdout: Stdio
    package var stderr: Stdio
    /// Working directory inside the sandbox.
    package var cwd: String
    package var network: Network
    /// Extra descriptors that stay open in the payload (same numbers).
    package var passFDs: [Int32]
    /// A unix socket to the audit supervisor of `warren policy test` and `learn`: the payload
    /// sends its seccomp listener on it (SCM_RIGHTS) when the filter uses `SCMP_ACT_NOTIFY`
    /// (the number must then be one the filter lets `sendmsg` use, see `AuditFilter`), and
    /// otherwise waits on it to be seized by its tracer before loading the filter.
    package var notifySocket: Int32?

    package init(
        argv: [String], environment: [String] = ["PATH=/usr/local/bin:/usr/bin:/bin"],
        rootfs: String, binds: [BindMount] = [], tmpSizeMB: Int = 512, hostname: String = "warren",
        uid: UInt32 = 993, gid: UInt32 = 990, rlimits: [Rlimit] = Rlimit.lambdaDefaults,
        seccomp: CompiledFilter?, cgroup: (any Cgroup)? = nil,
        stdin: Stdio = .null, stdout: Stdio = .inherit, stderr: Stdio = .inherit,
        cwd: String = "/", network: Network = .loopback, passFDs: [Int32] = [], notifySocket: Int32? = nil
    ) {
        self.argv = argv
        self.environment = environment
        self.rootfs = rootfs
        self.binds = binds
        self.tmpSizeMB = tmpSizeMB
        self.hostname = hostname
        self.uid = uid
        self.gid = gid
        self.rlimits = rlimits
        self.seccomp = seccomp
        self.cgroup = cgroup
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.cwd = cwd
        self.network = network
        self.passFDs = passFDs
        self.notifySocket = notifySocket
    }
}

/// A bind mount from the host into the sandbox.
package struct BindMount: Sendable, Equatable {
    package var source: String
    /// Absolute path inside the sandbox; must exist in the rootfs.
    package var destination: String
    package var readOnly: Bool

    /// Parses `SRC:DST[:rw]` (the `--bind` syntax); a relative SRC is taken
    /// from the current directory.
    /// - Returns: nil when the text is not of that form or DST is not absolute.
    package init?(parsing text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 || (parts.count == 3 && parts[2] == "rw"), !parts[0].isEmpty,
              parts[1].hasPrefix("/"), !Self.isCovered(parts[1]) else { return nil }
        self.init(source: URL(fileURLWithPath: parts[0]).standardizedFileURL.path, destination: parts[1],
                  readOnly: parts.count == 2)
    }

    /// Where a bind would be hidden: `/` itself, and `/tmp`, `/proc`, `/dev` and what is under
    /// them, which the sandbox mounts after the binds.
    package static func isCovered(_ destination: String) -> Bool {
        let path = URL(fileURLWithPath: destination).standardizedFileURL.path
        return path == "/" || ["/tmp", "/proc", "/dev"].contains { path == $0 || path.hasPrefix($0 + "/") }
    }

    package init(source: String, destination: String, readOnly: Bool = true) {
        self.source = source
        self.destination = destination
        self.readOnly = readOnly
    }
}

/// A resource limit set in the child before it drops privileges.
package struct Rlimit: Sendable, Equatable {
    package var resource: Int32
    package var soft: UInt64
    package var hard: UInt64

    package init(_ resource: Int32, soft: UInt64, hard: UInt64) {
        self.resource = resource
        self.soft = soft
        self.hard = hard
    }

    /// No core dumps, and Lambda's 1024 open files (fewer when this process may not have that many:
    /// the sandbox cannot raise a hard limit).
    package static var lambdaDefaults: [Rlimit] {
        var own = rlimit()
        let files = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &own) == 0 ? min(1024, UInt64(own.rlim_max)) : 1024
        return [
            Rlimit(Int32(RLIMIT_CORE.rawValue), soft: 0, hard: 0),
            Rlimit(Int32(RLIMIT_NOFILE.rawValue), soft: files, hard: files),
        ]
    }
}

/// Where a standard stream of the payload goes.
package enum Stdio: Sendable, Equatable {
    /// The caller's own descriptor of the same number.
    case inherit
    /// `/dev/null` of the host.
    case null
    /// A descriptor of the caller (not closed by spawn).
    case fd(Int32)
    /// A new pipe; the read end (stdout/stderr) or write end (stdin) is on the handle.
    case pipe
}

/// The network the sandbox gets.
package enum Network: Sendable {
    /// A new network namespace with only `lo`, brought up.
    case loopback
    /// A new network namespace with no interface up, not even `lo` (a policy's
    /// `"warren": {"network": "none"}`).
    case none
    /// Join this prepared network namespace (an fd of `/proc/PID/ns/net` or
    /// `/run/netns/X`); the caller keeps and closes the descriptor.
    case namespace(fd: Int32)
    /// Take one from the pool (a new one when it is empty); closed once
    /// the sandbox is in it.
    case pool(NetnsPool)
}
