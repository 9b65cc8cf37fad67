import CWarrenSandbox
import Foundation
import Glibc
import Synchronization

/// Turns "a pidfd became readable" into a resumed continuation, on one
/// dedicated thread, so that no task blocks a thread of the cooperative
/// pool in waitpid().
package final class ExitWatcher: Sendable {
    package static let shared = ExitWatcher()

    private struct State {
        var waiting: [Int32: [CheckedContinuation<Void, Never>]] = [:]
    }

    private let state = Mutex(State())
    /// Written to wake the thread when the set of pidfds changes.
    private let wakeRead: Int32
    private let wakeWrite: Int32

    private init() {
        var p: [Int32] = [-1, -1]
        precondition(wrn_pipe_cloexec(&p) == 0, "pipe2 for the exit watcher")
        (wakeRead, wakeWrite) = (p[0], p[1])
        _ = fcntl(wakeRead, F_SETFL, O_NONBLOCK)
        let thread = Thread { [self] in loop() }
        thread.name = "warren-exits"
        thread.start()
    }

    /// Returns once `pidfd` is readable (its process exited).
    package func exited(_ pidfd: Int32) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            state.withLock { $0.waiting[pidfd, default: []].append(continuation) }
            var byte: UInt8 = 1
            _ = write(wakeWrite, &byte, 1)
        }
    }

    private func loop() {
        var drain = [UInt8](repeating: 0, count: 64)
        while true {
            let fds = state.withLock { Array($0.waiting.keys) }
            var polls = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
                + fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            guard poll(&polls, nfds_t(polls.count), -1) > 0 else { continue }
            if polls[0].revents != 0 { _ = read(wakeRead, &drain, drain.count) }
            let ready = polls.dropFirst().filter { $0.revents != 0 }.map(\.fd)
            let resumed = state.withLock { s in ready.flatMap { s.waiting.removeValue(forKey: $0) ?? [] } }
            resumed.forEach { $0.resume() }
        }
    }
}

extension SandboxProcess {
    /// Waits, without blocking a thread, until the sandbox ended; then reaps it.
    package func exited() async throws -> Termination {
        if pidfd >= 0 { await ExitWatcher.shared.exited(pidfd) }
        return try wait()!
    }
}
