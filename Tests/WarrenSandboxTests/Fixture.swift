import Foundation
import Glibc
import Testing
import WarrenPolicy
@testable import WarrenSandbox

/// Paths and helpers shared by the kernel tests: the built rootfs, the
/// static probe (bound at /var/task), compiled policies.
enum Fixture {
    static let repo = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// `make rootfs` output; `make test` builds it first.
    static var rootfs: String {
        ProcessInfo.processInfo.environment["WARREN_ROOTFS"] ?? repo + "/rootfs/out/provided.al2023"
    }

    /// The directory holding the static probe, bound read-only at /var/task.
    static let taskDir: String = {
        let probe = Bundle.module.url(forResource: "probe", withExtension: nil)!
        return probe.deletingLastPathComponent().path
    }()

    static let defaultPolicy: CompiledFilter = try! compile(repo + "/policies/default.json")

    static var dockerProfilePath: String { repo + "/../shared/fixtures/docker-default-seccomp.json" }

    static func compile(_ path: String) throws -> CompiledFilter {
        try SeccompCompiler.compile(try PolicyFile.load(path: path))
    }

    static let backend: any CgroupBackend = try! CgroupProbe.detect(subtree: "warren-test")

    /// A spec that runs the probe with `args`, stdout captured.
    static func probeSpec(_ args: [String], filter: CompiledFilter? = defaultPolicy,
                          cgroup: (any Cgroup)? = nil, tmpSizeMB: Int = 16) -> SandboxSpec {
        SandboxSpec(
            argv: ["/var/task/probe"] + args, rootfs: rootfs,
            binds: [BindMount(source: taskDir, destination: "/var/task")],
            tmpSizeMB: tmpSizeMB, hostname: "probe-host", uid: 100_777, gid: 100_777,
            seccomp: filter, cgroup: cgroup, stdin: .null, stdout: .pipe, stderr: .pipe)
    }

    /// Runs a spec to its end: (termination, stdout, stderr).
    static func run(_ spec: SandboxSpec) throws -> (Termination, String, String) {
        let process = try SpawnThread.shared.spawn(spec)
        let out = Pipes.drain(process.stdout!, process.stderr!)
        let ended = try process.wait()!
        return (ended, out.0, out.1)
    }

    /// A fresh cgroup for one test, removed by the caller.
    static func cgroup(_ limits: CgroupLimits = CgroupLimits(memoryBytes: 64 << 20, pidsMax: 64)) throws -> any Cgroup {
        try backend.create(name: "t-\(getpid())-\(UInt32.random(in: 0...UInt32.max))", limits: limits)
    }

    /// The mount points of this process's mount namespace.
    static func hostMounts() -> String {
        (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
    }
}

enum Pipes {
    /// Reads two pipes to EOF concurrently (so neither fills and blocks the child).
    static func drain(_ a: Int32, _ b: Int32) -> (String, String) {
        var fds = [pollfd(fd: a, events: Int16(POLLIN), revents: 0), pollfd(fd: b, events: Int16(POLLIN), revents: 0)]
        var bufs: [[UInt8]] = [[], []]
        var open = 2
        var chunk = [UInt8](repeating: 0, count: 65536)
        while open > 0 {
            if poll(&fds, 2, -1) < 0 { if errno == EINTR { continue }; break }
            for i in 0..<2 where fds[i].fd >= 0 && fds[i].revents != 0 {
                let n = read(fds[i].fd, &chunk, chunk.count)
                if n > 0 { bufs[i] += chunk[0..<n] } else if n == 0 || errno != EINTR { fds[i].fd = -1; open -= 1 }
            }
        }
        return (String(decoding: bufs[0], as: UTF8.self), String(decoding: bufs[1], as: UTF8.self))
    }
}
