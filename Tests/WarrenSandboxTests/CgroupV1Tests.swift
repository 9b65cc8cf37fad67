import Foundation
import Glibc
import Testing

@testable import WarrenSandbox

/// cgroup v1 for real on this host's hierarchies, under this process's own cgroups.
@Suite("Cgroup v1 (real hierarchies)", .serialized)
struct CgroupV1Tests {
    /// A backend under `<own cgroup>/warren-test-v1-<pid>` in each hierarchy, found by the real probe.
    static func withBackend(_ body: (CgroupV1Backend) throws -> Void) throws {
        let layout = CgroupLayout(
            mountinfo: try CgroupFS.read("/proc/self/mountinfo"),
            procSelfCgroup: try CgroupFS.read("/proc/self/cgroup"))
        let choice = try CgroupProbe.choose(layout: layout, subtree: "warren-test-v1-\(getpid())") { _ in nil }
        guard case .v1(let hierarchies) = choice else {
            Issue.record("this host has no v1 memory, pids, cpu and freezer hierarchies")
            return
        }
        let backend = CgroupV1Backend(hierarchies: hierarchies)
        defer {
            for dir in backend.parentDirs { try? CgroupFS.rmdir(dir) }
            for dir in backend.parentDirs { #expect(!CgroupFS.exists(dir), "leftover \(dir)") }
        }
        try body(backend)
    }

    /// Creates a cgroup and removes it when `body` returns or throws.
    static func withCgroup(
        _ backend: CgroupV1Backend, limits: CgroupLimits = CgroupLimits(), _ body: (CgroupV1) throws -> Void
    ) throws {
        let cgroup = try backend.create(name: CgroupTestSupport.uniqueName("v1"), limits: limits)
        defer { #expect(throws: Never.self) { try cgroup.remove() } }
        try body(try #require(cgroup as? CgroupV1))
    }

    @Test("create writes the limits; existing, open and an idempotent remove")
    func createAndRemove() throws {
        try Self.withBackend { backend in
            let limits = CgroupLimits(memoryBytes: 64 << 20, pidsMax: 7, cpus: 0.5, cpuWeight: 50)
            try Self.withCgroup(backend, limits: limits) { cgroup in
                let dirs = cgroup.directories
                let read = { (controller: String, file: String) in
                    try CgroupFS.readTrimmed(try #require(dirs[controller]) + "/" + file)
                }
                #expect(try read("memory", "memory.limit_in_bytes") == "67108864")
                #expect(try read("memory", "memory.memsw.limit_in_bytes") == "67108864")
                #expect(try read("memory", "memory.use_hierarchy") == "1")
                #expect(CgroupFS.keyedValue(try read("memory", "memory.oom_control"), key: "oom_kill_disable") == 0)
                #expect(try read("pids", "pids.max") == "7")
                #expect(try read("cpu", "cpu.cfs_period_us") == "100000")
                #expect(try read("cpu", "cpu.cfs_quota_us") == "50000")
                #expect(try read("cpu", "cpu.shares") == "512")
                #expect(cgroup.procsPaths.count == 4)
                #expect(try backend.existing() == [cgroup.name])
                let reopened = try backend.open(name: cgroup.name)
                #expect(reopened.procsPaths == cgroup.procsPaths)
                #expect(try cgroup.oomKillCount() == 0)
                #expect(try cgroup.currentMemoryBytes() != nil)
                try cgroup.remove()
                for dir in dirs.values { #expect(!CgroupFS.exists(dir)) }
                try reopened.remove()  // idempotent
                #expect(try backend.existing().isEmpty)
                #expect(throws: CgroupError.self) { try backend.open(name: cgroup.name) }
            }
        }
    }

    @Test("a process joins; pids, freeze (stops it), thaw, killAll, remove")
    func processLifecycle() throws {
        try Self.withBackend { backend in
            try Self.withCgroup(backend) { cgroup in
                let output = try CgroupTestSupport.tempDir()
                defer { CgroupTestSupport.removeTree(output) }
                let ticks = output + "/ticks"
                let process = try CgroupTestSupport.start(
                    joining: cgroup.procsPaths, script: "while :; do echo x >> \(ticks); sleep 0.02; done")
                defer { CgroupTestSupport.reap(process) }
                #expect(try CgroupTestSupport.joined(process, cgroup))
                #expect(try cgroup.pids().contains(process.processIdentifier))
                for path in cgroup.procsPaths {
                    #expect(try CgroupFS.readPids(path).contains(process.processIdentifier), "\(path)")
                }
                #expect(CgroupTestSupport.grows(ticks))

                try cgroup.freeze()
                let state = try CgroupFS.readTrimmed(try #require(cgroup.directories["freezer"]) + "/freezer.state")
                #expect(state == "FROZEN")
                print("v1: frozen shell is in state \(CgroupTestSupport.state(of: process.processIdentifier))")
                #expect(CgroupTestSupport.stopsGrowing(ticks))
                try cgroup.thaw()
                #expect(CgroupTestSupport.grows(ticks))

                try cgroup.killAll()
                #expect(try cgroup.pids().isEmpty)
                #expect(CgroupTestSupport.exited(process))
                #expect(process.terminationReason == .uncaughtSignal)
                #expect(process.terminationStatus == SIGKILL)
            }
        }
    }

    @Test("killAll also kills a frozen cgroup full of children")
    func killFrozenTree() throws {
        try Self.withBackend { backend in
            try Self.withCgroup(backend) { cgroup in
                let process = try CgroupTestSupport.start(
                    joining: cgroup.procsPaths, script: "for i in 1 2 3 4 5; do sleep 30 & done; exec sleep 30")
                defer { CgroupTestSupport.reap(process) }
                #expect(try CgroupFS.poll(timeoutSeconds: 2) { try cgroup.pids().count == 6 })
                try cgroup.freeze()
                try cgroup.killAll()
                #expect(try cgroup.pids().isEmpty)
                #expect(CgroupTestSupport.exited(process))
            }
        }
    }

    @Test("32 MiB limit, 200 MiB allocation: OOM kill counted, peak near the limit")
    func outOfMemory() throws {
        try Self.withBackend { backend in
            let limit: UInt64 = 32 << 20
            try Self.withCgroup(backend, limits: CgroupLimits(memoryBytes: limit)) { cgroup in
                // tail keeps a line that never ends in memory: 200 MiB of zeroes and no newline.
                let process = try CgroupTestSupport.start(
                    joining: cgroup.procsPaths, script: "head -c 200M /dev/zero | tail > /dev/null")
                defer { CgroupTestSupport.reap(process) }
                #expect(CgroupTestSupport.exited(process, within: 20))
                #expect(process.terminationStatus != 0)
                let kills = try cgroup.oomKillCount()
                let peak = try #require(try cgroup.peakMemoryBytes())
                print("v1 OOM: oom_kill \(kills), peak \(peak) bytes of a \(limit)-byte limit")
                #expect(kills >= 1)
                #expect(peak > limit * 3 / 4 && peak <= limit)
            }
        }
    }

    @Test("pids.max 5: forking a 6th task fails")
    func pidsLimit() throws {
        try Self.withBackend { backend in
            try Self.withCgroup(backend, limits: CgroupLimits(pidsMax: 5)) { cgroup in
                let output = try CgroupTestSupport.tempDir()
                defer { CgroupTestSupport.removeTree(output) }
                let errors = output + "/stderr"
                let script = "exec 2>\(errors); i=0; while [ $i -lt 20 ]; do sleep 30 & i=$((i+1)); done; exec sleep 30"
                let process = try CgroupTestSupport.start(joining: cgroup.procsPaths, script: script)
                defer { CgroupTestSupport.reap(process) }
                #expect(CgroupFS.poll(timeoutSeconds: 5) {
                    ((try? CgroupFS.read(errors)) ?? "").contains("fork")
                })
                let message = (try? CgroupFS.read(errors)) ?? ""
                print("v1 pids: the shell said \(message.debugDescription)")
                #expect(try cgroup.pids().count <= 5)
                let events = try CgroupFS.read(try #require(cgroup.directories["pids"]) + "/pids.events")
                #expect((CgroupFS.keyedValue(events, key: "max") ?? 0) >= 1)
                // Foundation reports the shell's exit only once its background sleeps are gone.
                try cgroup.killAll()
                #expect(CgroupTestSupport.exited(process))
            }
        }
    }

    @Test("bad names and failed writes leave nothing behind")
    func failuresCleanUp() throws {
        try Self.withBackend { backend in
            #expect(throws: CgroupError.self) { try backend.create(name: "../escape", limits: CgroupLimits()) }
            #expect(throws: CgroupError.self) { try backend.create(name: "x", limits: CgroupLimits(cpuWeight: 0)) }
            try Self.withCgroup(backend) { cgroup in
                let error = try #require(throws: CgroupError.self) {
                    try backend.create(name: cgroup.name, limits: CgroupLimits())
                }
                #expect(error.errno == EEXIST)
            }
            #expect(try backend.existing().isEmpty)
        }
        // A hierarchy without memory.oom_control (a plain directory) fails after the mkdirs.
        let fake = try CgroupTestSupport.tempDir()
        defer { CgroupTestSupport.removeTree(fake) }
        let backend = CgroupV1Backend(hierarchies: ["memory": fake + "/memory", "pids": fake + "/pids"])
        let error = try #require(throws: CgroupError.self) {
            try backend.create(name: "half", limits: CgroupLimits(memoryBytes: 1 << 20))
        }
        #expect(error.description.hasPrefix("read \(fake)/memory/half/memory.oom_control: ENOENT"))
        #expect(!CgroupFS.exists(fake + "/memory/half") && !CgroupFS.exists(fake + "/pids/half"))
    }
}
