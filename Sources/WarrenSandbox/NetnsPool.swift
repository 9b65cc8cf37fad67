import CWarrenSandbox
import Foundation
import Glibc
import Synchronization

/// Network namespaces made ahead of time, one per instance and never
/// shared (a shared one would let instances reach each other over
/// loopback).
///
/// A new network namespace is the most expensive part of a cold start
/// (about 600 us of latency here, DESIGN.md "Where the time goes"); a
/// dedicated thread creates them, with `lo` up, off the critical path, and
/// the spawning child only `setns()`es into one.
package final class NetnsPool: Sendable {
    private let ready = Mutex<[Int32]>([])
    private let wake = DispatchSemaphore(value: 0)
    private let target: Int

    /// Starts the filler thread, which keeps `target` namespaces ready.
    package init(target: Int) {
        self.target = max(1, target)
        let thread = Thread { [self] in fill() }
        thread.name = "warren-netns"
        thread.start()
        wake.signal()
    }

    /// A ready namespace's descriptor, owned by the caller from now on; nil
    /// when none is ready (the caller then asks clone() for a new one).
    package func take() -> Int32? {
        let fd = ready.withLock { $0.popLast() }
        wake.signal()
        return fd
    }

    /// Namespaces ready now.
    package var count: Int { ready.withLock { $0.count } }

    private func fill() {
        while true {
            wake.wait()
            while count < target {
                let fd = wrn_netns_create()
                guard fd >= 0 else { break }  // retried on the next wake
                ready.withLock { $0.append(fd) }
            }
        }
    }
}
