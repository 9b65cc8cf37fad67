import CWarrenSandbox
import Foundation
import Glibc
import Testing
@testable import WarrenSandbox

/// The confinement of DESIGN.md, proven from inside by the static probe.
@Suite(.serialized)
struct SandboxTests {
    @Test func everyConfinementPropertyHoldsInside() throws {
        // A listener on the host's loopback, which the sandbox must not reach.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &addr) { p in
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                try syscall("bind") { bind(listener, sa, len) }
                try syscall("listen") { listen(listener, 8) }
                try syscall("getsockname") { getsockname(listener, sa, &len) }
            }
        }
        let port = UInt16(bigEndian: addr.sin_port)
        let cgroup = try Fixture.cgroup()
        defer { try? cgroup.remove() }
        let (ended, out, err) = try Fixture.run(Fixture.probeSpec(
            ["confinement", "--host-port", String(port), "--hostname", "probe-host"], cgroup: cgroup))
        #expect(!out.contains("FAIL"), "\(out)\n\(err)")
        for check in ["uid_nonzero", "caps_Bnd", "no_new_privs", "seccomp_filter", "pid_namespace", "net_only_lo",
                      "readonly_root", "readonly_var_task", "tmp_writable", "no_sys", "init_mem_unreadable",
                      "deny_mount", "deny_bpf", "deny_kexec_load"] {
            #expect(out.contains("ok \(check)\n"), "probe did not report ok \(check):\n\(out)")
        }
        #expect(ended.status == .exited(0), "\(out)\n\(err)")
    }

    @Test func batchSchedulingReachesThePayloadAndIsOffByDefault() throws {
        var batch = Fixture.probeSpec(["sched"])
        batch.batchScheduling = true
        let (ended, out, err) = try Fixture.run(batch)
        #expect(ended.status == .exited(0), "\(out)\n\(err)")
        #expect(out == "sched=batch\n", "\(out)\n\(err)")
        let (_, plain, _) = try Fixture.run(Fixture.probeSpec(["sched"]))
        #expect(plain == "sched=other\n")
    }

    @Test func tmpIsWritableUpToItsSizeOnly() throws {
        let cgroup = try Fixture.cgroup()
        defer { try? cgroup.remove() }
        let (ended, out, _) = try Fixture.run(Fixture.probeSpec(["tmpfill"], cgroup: cgroup, tmpSizeMB: 8))
        let written = out.split(separator: "\n").first { $0.hasPrefix("tmp_written_mb ") }
            .flatMap { Int($0.split(separator: " ")[1]) }
        #expect(written != nil && written! <= 8 && written! >= 6, "\(out)")
        #expect(out.contains("ok tmp_limited"), "\(out)")
        #expect(ended.status == .exited(0))
    }

    @Test func memoryOverTheLimitEndsInAnOOMKill() throws {
        let cgroup = try Fixture.cgroup(CgroupLimits(memoryBytes: 32 << 20, pidsMax: 16))
        defer { try? cgroup.remove() }
        let (ended, out, _) = try Fixture.run(Fixture.probeSpec(["oom", "256"], cgroup: cgroup))
        #expect(ended.oomKilled, "\(ended) \(out)")
        #expect(ended.status == .signaled(SIGKILL))
        #expect((ended.peakMemoryBytes ?? 0) > 16 << 20)
    }

    /// Loopback TCP buffers are kernel memory outside the process's pages: the instance's memory
    /// limit bounds them too (cgroup v1 counts them only under `memory.kmem.tcp.limit_in_bytes`;
    /// before, a 128 MB function queued 1,174 MB, all charged to the host). A cgroup that counts
    /// them with the rest (v2) may OOM-kill instead.
    @Test func socketBuffersCountAgainstTheMemoryLimit() throws {
        let cgroup = try Fixture.cgroup(CgroupLimits(memoryBytes: 32 << 20, pidsMax: 16))
        defer { try? cgroup.remove() }
        let (ended, out, _) = try Fixture.run(Fixture.probeSpec(["sockfill", "256"], cgroup: cgroup))
        let line = out.split(separator: "\n").first { $0.hasPrefix("sock_queued_mb ") }
        let queued = line.flatMap { Int($0.split(separator: " ")[1]) }
        if !ended.oomKilled {
            #expect(queued != nil && queued! <= 40, "\(out)")
            #expect(ended.status == .exited(0), "\(ended) \(out)")
        }
    }

    @Test func aForkBombStopsAtThePidsLimit() throws {
        let cgroup = try Fixture.cgroup(CgroupLimits(memoryBytes: 64 << 20, pidsMax: 20))
        defer { try? cgroup.remove() }
        let (ended, out, _) = try Fixture.run(Fixture.probeSpec(["forkbomb"], cgroup: cgroup))
        let forks = out.split(separator: "\n").first { $0.hasPrefix("forks ") }.flatMap { Int($0.dropFirst(6)) }
        #expect(forks != nil && forks! < 20, "\(out)")
        #expect(out.contains("EAGAIN"), "\(out)")
        #expect(ended.status == .exited(0))
    }

    @Test func twoInstancesCannotSeeEachOther() throws {
        // The first instance keeps a marker in its /tmp and stays alive.
        var spec = Fixture.probeSpec([])
        spec.argv = ["/bin/sh", "-c", "echo a > /tmp/marker-a && exec sleep 30"]
        let first = try SpawnThread.shared.spawn(spec)
        defer { first.signal(SIGKILL); _ = try? first.wait() }
        usleep(200_000)
        #expect(!first.hasExited(), "the first instance should still run")
        let (read, _, _) = try Fixture.run(Fixture.probeSpec(["tmpread", "marker-a"]))
        #expect(read.status == .exited(1), "a second instance saw the first one's /tmp")
        let (_, ps, _) = try Fixture.run(Fixture.probeSpec(["ps"]))
        let pids = ps.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Int($0) }
        #expect(Set(pids) == [1, 2], "visible pids: \(ps)")
    }

    /// Every sandbox of a runtime shares its rootfs directory, and every instance of a function (and
    /// every function with the same zip) its code directory; an inotify watch inside one must not
    /// see another open and read files there (which modules another function imports, and when).
    /// Each sandbox's root and code are overlays of its own; binds of the shared directories
    /// reported them.
    @Test(arguments: [("/etc", "/etc/os-release /etc/passwd"), ("/var/task", "/var/task/probe")])
    func aWatchInsideOneSandboxSeesNoOtherSandboxsAccesses(directory: String, files: String) throws {
        let watcher = try SpawnThread.shared.spawn(Fixture.probeSpec(["inotify", directory, "1000"]))
        defer { watcher.signal(SIGKILL); _ = try? watcher.wait() }
        var head = [UInt8](repeating: 0, count: 6)
        #expect(read(watcher.stdout!, &head, 6) == 6 && head == Array("ready\n".utf8), "the watch was not set")
        var reader = Fixture.probeSpec([])
        reader.argv = ["/bin/sh", "-c", "cat \(files) > /dev/null"]
        #expect(try Fixture.run(reader).0.status == .exited(0))
        let out = Pipes.drain(watcher.stdout!, watcher.stderr!).0
        #expect(try watcher.wait()?.status == .exited(0))
        #expect(out.contains("seen 0\n"), "another sandbox's reads were seen: \(out)")
        let own = out.split(separator: "\n").first { $0.hasPrefix("own ") }.flatMap { Int($0.dropFirst(4)) }
        #expect((own ?? 0) > 0, "the sandbox's own read was not seen (inotify does not work here): \(out)")
        #expect(Fixture.hostMounts().contains("/run/warren/empty-layer") == false)
    }

    /// Where the kernel refuses an overlay of a directory (here one it cannot stack on: procfs'
    /// `/proc/sys`), the read-only bind it replaces is made instead: the sandbox still starts.
    @Test func aDirectoryTheKernelWillNotOverlayIsBound() throws {
        var spec = Fixture.probeSpec([])
        spec.binds = [BindMount(source: "/proc/sys", destination: "/var/task")]
        spec.argv = ["/bin/sh", "-c", "test -d /var/task/kernel && grep ' /var/task ' /proc/self/mountinfo"]
        let (ended, out, err) = try Fixture.run(spec)
        #expect(ended.status == .exited(0), "\(out)\(err)")
        #expect(out.contains(" ro,") && !out.contains("overlay"), "\(out)")
    }

    @Test func initReapsOrphansAndReportsThePayloadsStatus() throws {
        let (ended, out, _) = try Fixture.run(Fixture.probeSpec(["zombies"]))
        #expect(out.contains("zombies 0"), "\(out)")
        #expect(ended.status == .exited(0))
        #expect(try Fixture.run(Fixture.probeSpec(["exit", "42"])).0.status == .exited(42))
        #expect(try Fixture.run(Fixture.probeSpec(["signal", "SEGV"])).0.status == .signaled(SIGSEGV))
    }

    @Test func sigtermIsForwardedToThePayload() throws {
        let process = try SpawnThread.shared.spawn(Fixture.probeSpec(["sleep", "30"]))
        usleep(100_000)
        process.signal(SIGTERM)
        let ended = try process.wait(timeoutMilliseconds: 5000)
        #expect(ended?.status == .signaled(SIGTERM))
    }

    @Test func theRootfsAndBindMountsNeverAppearOnTheHost() throws {
        let before = Fixture.hostMounts()
        let process = try SpawnThread.shared.spawn(Fixture.probeSpec(["sleep", "30"]))
        let during = Fixture.hostMounts()
        process.signal(SIGKILL)
        _ = try process.wait()
        #expect(before == during)
        #expect(!during.contains(Fixture.rootfs))
    }
}

/// The provided.al2023 rootfs runs what a custom runtime's bootstrap can be.
@Suite(.serialized)
struct RootfsTests {
    /// A bootstrap directory bound at /var/task, removed afterwards.
    func withTask(_ body: (String) throws -> Void) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("warren-task-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try syscall("chmod \(dir)") { chmod(dir, 0o755) }
        try body(dir)
    }

    func run(_ dir: String, _ argv: [String]) throws -> (Termination, String) {
        var spec = Fixture.probeSpec([])
        spec.binds = [BindMount(source: dir, destination: "/var/task")]
        spec.argv = argv
        let (ended, out, err) = try Fixture.run(spec)
        return (ended, out + err)
    }

    @Test func aDynamicallyLinkedCProgramRuns() throws {
        try withTask { dir in
            try "#include <stdio.h>\nint main(void){puts(\"dynamic hello\");return 0;}\n"
                .write(toFile: dir + "/hello.c", atomically: true, encoding: .utf8)
            let cc = Process()
            cc.executableURL = URL(fileURLWithPath: "/usr/bin/cc")
            cc.arguments = ["-o", dir + "/hello", dir + "/hello.c"]
            try cc.run()
            cc.waitUntilExit()
            try #require(cc.terminationStatus == 0)
            let (ended, out) = try run(dir, ["/var/task/hello"])
            #expect(out == "dynamic hello\n")
            #expect(ended.status == .exited(0))
        }
    }

    @Test func aShellScriptBootstrapRuns() throws {
        try withTask { dir in
            try "#!/bin/sh\necho \"script $(id -u) in $PWD\"\n".write(toFile: dir + "/bootstrap", atomically: true, encoding: .utf8)
            try syscall("chmod") { chmod(dir + "/bootstrap", 0o755) }
            let (ended, out) = try run(dir, ["/var/task/bootstrap"])
            #expect(out == "script 100777 in /\n")
            #expect(ended.status == .exited(0))
        }
    }

    @Test func aStaticProgramRuns() throws {
        let (ended, out, _) = try Fixture.run(Fixture.probeSpec(["exit", "7"]))
        #expect(out.isEmpty)
        #expect(ended.status == .exited(7))
    }
}
