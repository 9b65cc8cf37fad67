import Foundation
import Glibc
import Testing
@testable import WarrenSandbox

/// Uid ranges are leased host-wide: two leases never share a range while both live, a lease ends
/// with its holder, and a range another process holds is skipped.
@Suite struct UIDRangeTests {
    /// A directory of its own, so the leases of the servers other tests start are not in the way.
    func withDirectory(_ body: (String) throws -> Void) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("warren-uids-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try body(dir + "/uids")
    }

    @Test func twoLeasesNeverShareARangeAndAReleasedOneIsTakenAgain() throws {
        try withDirectory { dir in
            var first: UIDRange? = try UIDRange.lease(preferring: 7, directory: dir)
            let second = try UIDRange.lease(preferring: 7, directory: dir)
            #expect(first?.index == 7 && first?.base == UIDRange.first + 7 * UIDRange.size)
            #expect(second.index == 8, "the held range was skipped")
            first = nil
            let third = try UIDRange.lease(preferring: 7, directory: dir)
            #expect(third.index == 7, "the range was freed with its lease")
            withExtendedLifetime(second) {}
        }
    }

    @Test func theLastRangeWrapsToTheFirst() throws {
        try withDirectory { dir in
            let last = try UIDRange.lease(preferring: UIDRange.count - 1, directory: dir)
            let next = try UIDRange.lease(preferring: -1, directory: dir)
            #expect(last.index == UIDRange.count - 1)
            #expect(next.index == 0)
        }
    }

    /// Another process's lock (`flock(1)` holding range 3) is what a lease skips; its end frees it.
    @Test func aRangeAnotherProcessHoldsIsSkipped() throws {
        try withDirectory { dir in
            _ = try UIDRange.lease(preferring: 0, directory: dir)  // makes the directory; freed at once
            let holder = Process()
            holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
            // `cat` holds it until its stdin closes: then both end, leaving nothing behind.
            holder.arguments = ["--exclusive", "\(dir)/3", "cat"]
            let stdin = Pipe()
            holder.standardInput = stdin
            try holder.run()
            defer {
                try? stdin.fileHandleForWriting.close()
                holder.waitUntilExit()
            }
            var held = false
            for _ in 0..<200 where !held {
                let probe = open("\(dir)/3", O_RDONLY | O_CLOEXEC)
                held = probe >= 0 && flock(probe, LOCK_EX | LOCK_NB) != 0
                if probe >= 0 { close(probe) }
                if !held { usleep(10_000) }
            }
            #expect(held, "flock(1) did not take the lock")
            let lease = try UIDRange.lease(preferring: 3, directory: dir)
            #expect(lease.index == 4)
        }
    }

    @Test func theLockFileIsNotInherited() throws {
        try withDirectory { dir in
            let lease = try UIDRange.lease(preferring: 11, directory: dir)
            let fds = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").compactMap { Int32($0) }
            let ours = fds.filter { fd in
                (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)")) == "\(dir)/11"
            }
            #expect(ours.count == 1)
            for fd in ours { #expect(fcntl(fd, F_GETFD) & FD_CLOEXEC != 0) }
            withExtendedLifetime(lease) {}
        }
    }

    /// An entry that is no lockable regular file is skipped, not fatal: a directory, a dangling
    /// symlink (never followed, its target never made), a FIFO.
    @Test func entriesThatAreNoRegularFileAreSkipped() throws {
        try withDirectory { dir in
            _ = try UIDRange.lease(preferring: 0, directory: dir)  // makes the directory
            try FileManager.default.createDirectory(atPath: "\(dir)/20", withIntermediateDirectories: false)
            let target = dir + "-target"
            #expect(symlink(target, "\(dir)/21") == 0)
            #expect(mkfifo("\(dir)/22", 0o600) == 0)
            let lease = try UIDRange.lease(preferring: 20, directory: dir)
            #expect(lease.index == 23)
            #expect(!FileManager.default.fileExists(atPath: target))
        }
    }

    /// A directory others may write to (or not this user's) is refused: anyone could take or
    /// swap the lock files in it.
    @Test func aDirectoryOthersCanWriteIsRefused() throws {
        try withDirectory { dir in
            _ = try UIDRange.lease(preferring: 0, directory: dir)
            #expect(chmod(dir, 0o777) == 0)
            #expect(throws: SystemError.self) { _ = try UIDRange.lease(directory: dir) }
            let link = dir + "-link"
            #expect(chmod(dir, 0o700) == 0 && symlink(dir, link) == 0)
            defer { unlink(link) }
            #expect(throws: SystemError.self) { _ = try UIDRange.lease(directory: link) }
        }
    }
}
