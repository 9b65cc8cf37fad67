import CWarrenSandbox
import Foundation
import Glibc
import Testing
@testable import WarrenSandbox

/// Each step that can be made to fail is reported by name, with its subject.
@Suite(.serialized)
struct SpawnStepTests {
    @Test func theSwiftStepsMirrorTheCEnum() {
        var names = Set<String>()
        for step in SpawnStep.allCases {
            #expect(step.name != "unknown", "SpawnStep.\(step) (\(step.rawValue)) has no C name")
            names.insert(step.name)
        }
        #expect(names.count == SpawnStep.allCases.count, "two steps share a name")
        #expect(String(cString: wrn_step_name(SpawnStep.allCases.last!.rawValue + 1)) == "unknown",
                "the C enum has a step the Swift enum lacks")
    }

    func failure(_ spec: SandboxSpec) -> SpawnError? {
        do {
            let process = try SpawnThread.shared.spawn(spec)
            process.signal(SIGKILL)
            _ = try? process.wait()
            return nil
        } catch let error as SpawnError {
            return error
        } catch {
            return nil
        }
    }

    @Test func aMissingRootfsFailsAtBindRoot() {
        var spec = Fixture.probeSpec(["exit", "0"])
        spec.rootfs = "/nonexistent-rootfs"
        let error = failure(spec)
        #expect(error == .childSetup(step: .bindRoot, errno: ENOENT, subject: "/nonexistent-rootfs"))
        #expect(error?.description.hasPrefix("bind-root /nonexistent-rootfs: ENOENT") == true)
    }

    @Test func aMissingMountPointFailsAtMountNamingThePathInside() {
        var spec = Fixture.probeSpec(["exit", "0"])
        spec.binds.append(BindMount(source: "/tmp", destination: "/no-such-dir"))
        #expect(failure(spec)?.description.hasPrefix("mount /no-such-dir: ENOENT") == true)
    }

    @Test func aMissingBindSourceFailsAtMount() {
        var spec = Fixture.probeSpec(["exit", "0"])
        spec.binds = [BindMount(source: "/nonexistent-code", destination: "/var/task")]
        #expect(failure(spec) == .childSetup(step: .mount, errno: ENOENT, subject: "/var/task"))
    }

    @Test func aMissingProgramFailsAtExec() {
        let spec = Fixture.probeSpec([])
        var missing = spec
        missing.argv = ["/var/task/no-such-program"]
        #expect(failure(missing) == .childSetup(step: .exec, errno: ENOENT, subject: "/var/task/no-such-program"))
        var notExecutable = spec
        notExecutable.argv = ["/etc/passwd"]
        #expect(failure(notExecutable) == .childSetup(step: .exec, errno: EACCES, subject: "/etc/passwd"))
    }

    @Test func badIdentityAndLimitsFailAtTheirSteps() {
        var hostname = Fixture.probeSpec(["exit", "0"])
        hostname.hostname = String(repeating: "h", count: 100)
        #expect(failure(hostname) == .childSetup(step: .hostname, errno: EINVAL, subject: hostname.hostname))
        var rlimit = Fixture.probeSpec(["exit", "0"])
        rlimit.rlimits = [Rlimit(Int32(RLIMIT_NOFILE.rawValue), soft: 10, hard: 5)]
        #expect(failure(rlimit) == .childSetup(step: .rlimit, errno: EINVAL, subject: "resource 7"))
        var cwd = Fixture.probeSpec(["exit", "0"])
        cwd.cwd = "/nonexistent"
        #expect(failure(cwd) == .childSetup(step: .chdir, errno: ENOENT, subject: "/nonexistent"))
    }

    @Test func rootIsRefusedBeforeAnythingRuns() {
        var spec = Fixture.probeSpec(["exit", "0"])
        spec.uid = 0
        #expect(failure(spec) == .invalidSpec("the payload never runs as uid or gid 0"))
    }

    @Test func aFailedSpawnLeavesNoDescriptor() throws {
        let before = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count
        var spec = Fixture.probeSpec([])
        spec.argv = ["/var/task/no-such-program"]
        for _ in 0..<20 { _ = failure(spec) }
        let after = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count
        // Other suites run beside this one and open descriptors of their
        // own; a leak here would grow by one or more per failed spawn.
        #expect(after - before < 20, "descriptors leaked: \(before) → \(after)")
    }
}
