import Foundation
import Glibc
import Testing

@testable import WarrenSandbox

/// cgroup v2: core features (procs, freeze, kill) on the host's real cgroup2 mount; controller files
/// on a temporary directory laid out like cgroupfs, because the host's cgroup2 has no memory/pids.
@Suite("Cgroup v2", .serialized)
struct CgroupV2Tests {
    /// The host's cgroup2 directory for this process (`<mount>/<own path>`).
    static func ownV2Dir() throws -> String {
        let layout = CgroupLayout(
            mountinfo: try CgroupFS.read("/proc/self/mountinfo"),
            procSelfCgroup: try CgroupFS.read("/proc/self/cgroup"))
        return try #require(layout.v2OwnDir, "this host has no cgroup2 mount")
    }

    /// A backend prepared for real under `<own v2 cgroup>/warren-test-v2-<pid>`, removed afterwards.
    static func withRealBackend(_ body: (CgroupV2Backend) throws -> Void) throws {
        print("v2: real cgroup2 mount for freeze/kill; controller files on a temp dir because the host's "
            + "cgroup2 has no memory/pids controllers")
        let backend = try CgroupV2Backend.prepare(ownDir: try ownV2Dir(), subtree: "warren-test-v2-\(getpid())")
        defer {
            try? CgroupFS.rmdir(backend.root)
            #expect(!CgroupFS.exists(backend.root), "leftover \(backend.root)")
        }
        try body(backend)
    }

    @Test("real cgroup2: create, procs, freeze via cgroup.freeze, thaw, cgroup.kill, remove")
    func realLifecycle() throws {
        try Self.withRealBackend { backend in
            let cgroup = try backend.create(name: CgroupTestSupport.uniqueName("v2"), limits: CgroupLimits())
            defer { #expect(throws: Never.self) { try cgroup.remove() } }
            let path = try #require((cgroup as? CgroupV2)?.path)
            #expect(cgroup.procsPaths == [path + "/cgroup.procs"])
            #expect(try backend.existing() == [cgroup.name])

            let output = try CgroupTestSupport.tempDir()
            defer { CgroupTestSupport.removeTree(output) }
            let ticks = output + "/ticks"
            let process = try CgroupTestSupport.start(
                joining: cgroup.procsPaths, script: "while :; do echo x >> \(ticks); sleep 0.02; done")
            defer { CgroupTestSupport.reap(process) }
            #expect(try CgroupTestSupport.joined(process, cgroup))
            #expect(CgroupTestSupport.grows(ticks))

            try cgroup.freeze()
            #expect(CgroupFS.keyedValue(try CgroupFS.read(path + "/cgroup.events"), key: "frozen") == 1)
            print("v2: frozen shell is in state \(CgroupTestSupport.state(of: process.processIdentifier))")
            #expect(CgroupTestSupport.stopsGrowing(ticks))
            try cgroup.thaw()
            #expect(CgroupFS.keyedValue(try CgroupFS.read(path + "/cgroup.events"), key: "frozen") == 0)
            #expect(CgroupTestSupport.grows(ticks))

            #expect(CgroupFS.exists(path + "/cgroup.kill"), "kernel 6.18 has cgroup.kill")
            try cgroup.freeze()  // killing must work on a frozen cgroup too
            try cgroup.killAll()
            #expect(try cgroup.pids().isEmpty)
            #expect(CgroupFS.keyedValue(try CgroupFS.read(path + "/cgroup.events"), key: "populated") == 0)
            #expect(CgroupTestSupport.exited(process))
            #expect(process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL)

            try cgroup.remove()
            #expect(!CgroupFS.exists(path))
            try cgroup.remove()  // idempotent
            #expect(try backend.existing().isEmpty)
        }
    }

    @Test("real cgroup2 without the memory controller: a memory limit fails precisely, nothing left")
    func realMissingController() throws {
        try Self.withRealBackend { backend in
            let name = CgroupTestSupport.uniqueName("v2")
            let error = try #require(throws: CgroupError.self) {
                try backend.create(name: name, limits: CgroupLimits(memoryBytes: 64 << 20))
            }
            print("v2: \(error)")
            #expect(error.path == backend.root + "/" + name + "/memory.max")
            #expect(error.errno == ENOENT)
            #expect(error.hint?.contains("memory controller is not enabled") == true)
            #expect(!CgroupFS.exists(backend.root + "/" + name))
            #expect(throws: CgroupError.self) { try backend.open(name: name) }
        }
    }

    @Test("controller files on a temp dir: memory.max, swap off, pids.max, cpu.max, cpu.weight")
    func limitFiles() throws {
        let dir = try CgroupTestSupport.tempDir()
        defer { CgroupTestSupport.removeTree(dir) }
        let files = ["memory.max", "memory.swap.max", "pids.max", "cpu.max", "cpu.weight"]
        try CgroupTestSupport.makeFakeCgroup(dir, files: Dictionary(uniqueKeysWithValues: files.map { ($0, "max\n") }))
        try CgroupV2Limits.apply(CgroupLimits(memoryBytes: 128 << 20, pidsMax: 5, cpus: 1.5, cpuWeight: 200), to: dir)
        #expect(try CgroupFS.read(dir + "/memory.max") == "134217728")
        #expect(try CgroupFS.read(dir + "/memory.swap.max") == "0")
        #expect(try CgroupFS.read(dir + "/pids.max") == "5")
        #expect(try CgroupFS.read(dir + "/cpu.max") == "150000 100000")
        #expect(try CgroupFS.read(dir + "/cpu.weight") == "200")
        try CgroupV2Limits.apply(CgroupLimits(pidsMax: 9), to: dir)
        #expect(try CgroupFS.read(dir + "/pids.max") == "9")
        #expect(try CgroupFS.read(dir + "/memory.max") == "134217728", "nil limits leave files alone")
    }

    @Test("memory.events, memory.peak and memory.current on a temp dir")
    func memoryFiles() throws {
        let root = try CgroupTestSupport.tempDir()
        defer { CgroupTestSupport.removeTree(root) }
        try CgroupTestSupport.makeFakeCgroup(root + "/fn", files: [
            "memory.events": "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n",
            "memory.peak": "33554432\n", "memory.current": "4096\n",
        ])
        let backend = CgroupV2Backend(root: root)
        #expect(try backend.existing() == ["fn"])
        let cgroup = try backend.open(name: "fn")
        #expect(try cgroup.oomKillCount() == 2)
        #expect(try cgroup.peakMemoryBytes() == 33_554_432)
        #expect(try cgroup.currentMemoryBytes() == 4096)
        try FileManager.default.removeItem(atPath: root + "/fn/memory.peak")
        #expect(try cgroup.peakMemoryBytes() == nil, "kernels before 5.19 have no memory.peak")
        try CgroupTestSupport.makeFakeCgroup(root + "/fn", files: ["memory.events": "low 0\n"])
        #expect(throws: CgroupError.self) { try cgroup.oomKillCount() }
    }

    @Test("prepare enables only available controllers, top-down; EBUSY moves processes to a leaf")
    func prepareEnablesControllers() throws {
        let own = try CgroupTestSupport.tempDir()
        defer { CgroupTestSupport.removeTree(own) }
        let empty = ["cgroup.controllers": "cpuset cpu io memory pids\n", "cgroup.subtree_control": "cpu\n"]
        try CgroupTestSupport.makeFakeCgroup(own, files: empty.merging(["cgroup.procs": "4242\n"]) { $1 })
        try CgroupTestSupport.makeFakeCgroup(own + "/warren", files: ["cgroup.controllers": "cpu memory pids\n",
                                                                      "cgroup.subtree_control": ""])
        let backend = try CgroupV2Backend.prepare(ownDir: own, subtree: "warren")
        #expect(backend.root == own + "/warren")
        #expect(try CgroupFS.read(own + "/cgroup.subtree_control") == "+memory +pids", "cpu was already on")
        #expect(try CgroupFS.read(own + "/warren/cgroup.subtree_control") == "+memory +pids +cpu")

        // A plain file cannot answer EBUSY: the writer seam plays the kernel's no-internal-processes rule.
        try CgroupTestSupport.makeFakeCgroup(own, files: ["cgroup.subtree_control": ""])
        var writes: [String] = []
        var moved = false
        try CgroupV2Backend.enable(in: own, leafForProcesses: own + "/warren-supervisor") { path, value in
            writes.append("\(path.dropFirst(own.count)) \(value)")
            if path.hasSuffix("/cgroup.subtree_control") && !moved { throw CgroupFS.failure("write", path, EBUSY) }
            if path.hasSuffix("/cgroup.procs") { moved = true }
            try Data(value.utf8).write(to: URL(fileURLWithPath: path))
        }
        #expect(CgroupFS.exists(own + "/warren-supervisor"))
        let move = "/warren-supervisor/cgroup.procs 4242"
        #expect(writes == ["/cgroup.subtree_control +memory +pids +cpu", move, "/cgroup.subtree_control +memory +pids +cpu"])
        #expect(throws: CgroupError.self) {
            try CgroupV2Backend.enable(in: own, leafForProcesses: nil, wanted: ["io"]) { path, _ in
                throw CgroupFS.failure("write", path, EBUSY)
            }
        }
    }
}
