import Foundation
import Glibc
import Synchronization
import Testing

@testable import WarrenSandbox

/// Helpers shared by the cgroup suites: unique names, processes that join a cgroup, temp dirs.
enum CgroupTestSupport {
    private static let counter = Mutex(0)

    /// A name unique within this test run and across concurrent runs (the pid).
    static func uniqueName(_ prefix: String) -> String {
        let next = counter.withLock { value in
            value += 1
            return value
        }
        return "\(prefix)-\(getpid())-\(next)"
    }

    /// Starts `/bin/sh` that first writes its own pid into every `procsPaths` file (so nothing of
    /// `script` runs outside the cgroup), then runs `script`.
    static func start(joining procsPaths: [String], script: String) throws -> Process {
        let joins = procsPaths.map { "echo $$ > '\($0)'" }.joined(separator: "; ")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "set -e; \(joins); set +e; \(script)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Waits (bounded) until every hierarchy of `cgroup` lists the process
    /// (the shell joins them one after the other); false if it never did.
    static func joined(_ process: Process, _ cgroup: any Cgroup) throws -> Bool {
        try CgroupFS.poll(timeoutSeconds: 2) {
            try cgroup.procsPaths.allSatisfy { try CgroupFS.readPids($0).contains(process.processIdentifier) }
        }
    }

    /// Waits (bounded) until the process has exited.
    static func exited(_ process: Process, within seconds: Double = 5) -> Bool {
        CgroupFS.poll(timeoutSeconds: seconds) { !process.isRunning }
    }

    /// Kills a process that may have escaped the cgroup under test (a failed join), so no test leaks one.
    static func reap(_ process: Process) {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        _ = exited(process, within: 2)
    }

    /// The scheduler state letter of a process (`R`, `S`, `D`, `T` …), for the test log.
    static func state(of pid: Int32) -> String {
        let status = (try? CgroupFS.read("/proc/\(pid)/status")) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("State:") }
        return line.map { String($0.dropFirst(6).trimmingCharacters(in: .whitespaces)) } ?? "?"
    }

    /// The size of a file, 0 if missing.
    static func size(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : 0
    }

    /// Whether the file at `path` stops growing for 300 ms (the writer is frozen).
    static func stopsGrowing(_ path: String) -> Bool {
        let before = size(path)
        usleep(300_000)
        return size(path) == before
    }

    /// Whether the file at `path` grows within 2 s (the writer runs).
    static func grows(_ path: String) -> Bool {
        let before = size(path)
        return CgroupFS.poll(timeoutSeconds: 2) { size(path) > before }
    }

    /// A new empty directory under /tmp.
    static func tempDir() throws -> String {
        var template = Array("/tmp/warren-cgroup-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw CgroupFS.failure("mkdtemp", "/tmp", errno) }
        return String(cString: made)
    }

    /// Creates the files of a fake cgroup directory with the given contents.
    static func makeFakeCgroup(_ dir: String, files: [String: String]) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (name, content) in files {
            try Data(content.utf8).write(to: URL(fileURLWithPath: dir + "/" + name))
        }
    }

    /// Removes a temp tree (never a cgroupfs path: those need rmdir per directory).
    static func removeTree(_ path: String) {
        precondition(path.hasPrefix("/tmp/"), "removeTree is for temp dirs only")
        try? FileManager.default.removeItem(atPath: path)
    }
}

@Suite("Cgroup file helpers")
struct CgroupSupportTests {
    @Test("errors name operation, path and errno; EINTR-free paths read and write")
    func fileHelpers() throws {
        let missing = "/nonexistent-\(getpid())/memory.max"
        let error = try #require(throws: CgroupError.self) { try CgroupFS.write(missing, "1") }
        #expect(error.errno == ENOENT)
        #expect(error.description.hasPrefix("write \(missing): ENOENT"))
        #expect(error.description.contains("memory controller is not enabled"))
        let busy = CgroupFS.failure("write", "/sys/fs/cgroup/memory/x/memory.limit_in_bytes", EBUSY)
        #expect(busy.description.hasPrefix("write /sys/fs/cgroup/memory/x/memory.limit_in_bytes: EBUSY"))
        #expect(CgroupFS.errnoName(EBUSY) == "EBUSY")

        let dir = try CgroupTestSupport.tempDir()
        defer { CgroupTestSupport.removeTree(dir) }
        try CgroupTestSupport.makeFakeCgroup(dir, files: ["pids.max": "max\n", "cgroup.procs": "12\n7\n"])
        try CgroupFS.write(dir + "/pids.max", "5")
        #expect(try CgroupFS.read(dir + "/pids.max") == "5")
        #expect(try CgroupFS.readPids(dir + "/cgroup.procs") == [12, 7])
        #expect(try CgroupFS.readPids(dir + "/gone/cgroup.procs").isEmpty)
        try CgroupFS.rmdir(dir + "/never-existed")  // idempotent removal
        #expect(CgroupFS.keyedValue("low 0\noom 2\noom_kill 1\n", key: "oom_kill") == 1)
        #expect(CgroupFS.keyedValue("oom_kill_disable 0\noom_kill 4\n", key: "oom_kill") == 4)
    }
}
