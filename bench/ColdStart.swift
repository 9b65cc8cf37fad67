import Foundation
import Glibc
import WarrenPolicy
import WarrenSandbox

/// posix_spawn + waitpid, the same launcher for both external contenders.
func launch(_ argv: [String]) throws {
    var pid: pid_t = 0
    var cargs = argv.map { strdup($0) } + [nil]
    defer { cargs.forEach { free($0) } }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    defer { posix_spawn_file_actions_destroy(&actions) }
    let rc = posix_spawn(&pid, argv[0], &actions, nil, &cargs, environ)
    guard rc == 0 else { throw SystemError("posix_spawn \(argv[0])", errno: rc) }
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    guard status == 0 else { throw SystemError("\(argv.joined(separator: " ")) exited \(status)", errno: 0) }
}

func inProcess(pool: NetnsPool?) throws -> [Double] {
    let filter = try SeccompCompiler.compile(try PolicyFile.load(path: repo + "/policies/default.json"))
    let backend = try CgroupProbe.detect(subtree: "warren-bench")
    // The supervisor reuses instance cgroups (DESIGN.md: cheaper than
    // creating them); so does the benchmark.
    let cgroup = try backend.create(name: "bench-\(getpid())", limits: CgroupLimits(memoryBytes: 128 << 20, pidsMax: 64))
    defer { try? cgroup.remove() }
    let spec = SandboxSpec(
        argv: ["/var/task/true"], rootfs: rootfs, binds: [BindMount(source: payloadDir, destination: "/var/task")],
        tmpSizeMB: 64, uid: 100_900, gid: 100_900, seccomp: filter, cgroup: cgroup, stdout: .null, stderr: .inherit,
        network: pool.map { .pool($0) } ?? .loopback)
    return try measure(runs) {
        if let pool {
            // The pool refills between invocations, as it does between
            // cold starts in the supervisor; waiting for it is not timed.
            while pool.count == 0 { usleep(100) }
        }
        let process = try Sandbox.spawn(spec)
        guard try process.wait()?.status == .exited(0) else { throw SystemError("payload failed", errno: 0) }
    }
}

/// Cold start of a fully confined static program: in process (pooled and
/// new network namespace), `warren run`, and bwrap beside them.
func coldStart() throws {
    let warren = ProcessInfo.processInfo.environment["WARREN_BIN"] ?? repo + "/.build/release/warren"
    print("cold start of a fully confined static /bin/true-like program (\(runs) runs each, 2 cores)")
    let pooledSamples = try inProcess(pool: NetnsPool(target: 4))
    let spawnSamples = try inProcess(pool: nil)
    let bwrapSamples = try measure(runs) {
        try launch(["/usr/bin/bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/usr", "/usr",
                    "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--ro-bind", payloadDir, "/var/task",
                    "/var/task/true"])
    }
    let runSamples = try measure(max(20, runs / 5)) {
        try launch([warren, "run", "--bind", payloadDir + ":/var/task", "--", "/var/task/true"])
    }
    report([("warren: in-process spawn, netns pool", pooledSamples), ("warren: in-process spawn, new netns", spawnSamples), ("warren run (whole process)", runSamples),
            ("bwrap --unshare-all (peer)", bwrapSamples)], peer: bwrapSamples, peerName: "bwrap")
    for (name, samples) in [("netns pool", pooledSamples), ("new netns", spawnSamples)] {
        let ratio = percentile(samples, 0.5) / percentile(bwrapSamples, 0.5)
        print(String(format: "target: in-process spawn (\(name)) median at most 0.50x bwrap's: %.2fx, ", ratio)
              + (ratio <= 0.5 ? "met" : "not met"))
    }
}
