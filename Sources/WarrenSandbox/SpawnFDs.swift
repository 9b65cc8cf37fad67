import CWarrenSandbox
import Glibc

/// A close-on-exec pipe: (read end, write end).
/// - Throws: `SystemError`.
package func makePipe() throws -> (Int32, Int32) {
    try SpawnFDs.pipe("pipe")
}

/// The descriptors of one spawn. All are O_CLOEXEC in the parent, so that
/// no other process the supervisor starts inherits them; the child clears
/// the flag on exactly those it passes on.
struct SpawnFDs {
    var errRead: Int32 = -1
    var errWrite: Int32 = -1
    var statusRead: Int32 = -1
    var statusWrite: Int32 = -1
    var bpf: Int32 = -1
    /// The namespace to join, -1 for a new one.
    var netns: Int32 = -1
    private var ownsNetns = false
    var cgroupProcs: [Int32] = []
    /// The payload's 0, 1, 2 as the child will dup2 them (-1: leave).
    var child: [Int32] = [-1, -1, -1]
    /// Parent ends of `.pipe` streams.
    var parent: [Int32] = [-1, -1, -1]
    /// Descriptors opened here for the child only (/dev/null, pipe ends).
    private var childOwned: [Int32] = []

    mutating func prepare(_ spec: SandboxSpec) throws {
        (errRead, errWrite) = try Self.pipe("error pipe")
        (statusRead, statusWrite) = try Self.pipe("status pipe")
        if let filter = spec.seccomp {
            bpf = try filter.makeMemfd()
        }
        for path in spec.cgroup?.procsPaths ?? [] {
            cgroupProcs.append(try syscall("open \(path)") { open(path, O_WRONLY | O_CLOEXEC) })
        }
        switch spec.network {
        case .loopback, .none: break
        case .namespace(let fd): netns = fd
        case .pool(let pool):
            if let fd = pool.take() { (netns, ownsNetns) = (fd, true) }
        }
        for (n, stdio) in [spec.stdin, spec.stdout, spec.stderr].enumerated() {
            try prepareStdio(stdio, number: Int32(n))
        }
    }

    private mutating func prepareStdio(_ stdio: Stdio, number: Int32) throws {
        switch stdio {
        case .inherit:
            child[Int(number)] = number
        case .fd(let fd):
            child[Int(number)] = fd
        case .null:
            let fd = try syscall("open /dev/null") { open("/dev/null", O_RDWR | O_CLOEXEC) }
            childOwned.append(fd)
            child[Int(number)] = fd
        case .pipe:
            let (r, w) = try Self.pipe("stdio pipe")
            let (mine, theirs) = number == 0 ? (w, r) : (r, w)
            childOwned.append(theirs)
            child[Int(number)] = theirs
            parent[Int(number)] = mine
        }
    }

    static func pipe(_ what: String) throws -> (Int32, Int32) {
        var p: [Int32] = [-1, -1]
        try syscall("pipe2 (\(what))") { wrn_pipe_cloexec(&p) }
        return (p[0], p[1])
    }

    mutating func takeStatusRead() -> Int32 {
        defer { statusRead = -1 }
        return statusRead
    }

    mutating func takeParentEnd(_ n: Int) -> Int32? {
        defer { parent[n] = -1 }
        return parent[n] >= 0 ? parent[n] : nil
    }

    /// Closes everything not taken by the handle.
    mutating func closeAll() {
        if ownsNetns { close(netns) }
        (netns, ownsNetns) = (-1, false)
        for fd in [errRead, errWrite, statusRead, statusWrite, bpf] + cgroupProcs + childOwned + parent where fd >= 0 {
            close(fd)
        }
        errRead = -1; errWrite = -1; statusRead = -1; statusWrite = -1; bpf = -1
        cgroupProcs = []; childOwned = []; parent = [-1, -1, -1]
    }
}
