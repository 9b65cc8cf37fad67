import Foundation
import Glibc
import Testing
@testable import WarrenSandbox

/// The sweep that removes cgroups of dead Warren processes.
@Suite(.serialized)
struct CgroupSweepTests {
    @Test func aZombieOwnerCountsAsGoneAndALiveOneDoesNot() throws {
        #expect(CgroupSweep.isRunning(getpid()))
        var pid: pid_t = 0
        var argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
        defer { argv.forEach { free($0) } }
        #expect(posix_spawn(&pid, "/bin/true", nil, nil, &argv, environ) == 0)
        // Not reaped yet: a zombie, which kill(pid, 0) still calls alive.
        var waited = false
        for _ in 0..<200 where !waited {
            let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            waited = stat.contains(") Z")
            if !waited { usleep(5_000) }
        }
        #expect(waited, "child never became a zombie")
        #expect(kill(pid, 0) == 0)
        #expect(!CgroupSweep.isRunning(pid))
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        #expect(!CgroupSweep.isRunning(pid))
    }

    @Test func orphansAreRemovedAndLiveOwnersKept() throws {
        let backend = Fixture.backend
        let live = try backend.create(name: "sweep-\(getpid())-a", limits: CgroupLimits())
        defer { try? live.remove() }
        let dead = try backend.create(name: "sweep-999999999-b", limits: CgroupLimits())
        defer { try? dead.remove() }
        CgroupSweep.removeOrphans(backend, prefix: "sweep-")
        let left = try backend.existing()
        #expect(left.contains(live.name))
        #expect(!left.contains(dead.name))
    }
}
