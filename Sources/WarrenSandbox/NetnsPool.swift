import CWarrenSandbox
import Foundation
import Glibc
import Synchronization

/// A network namespace made ahead of time: its descriptor and, when the
/// pool was asked for one, a socket listening inside it.
package struct PreparedNetns: Sendable {
    /// An fd of the namespace (`/proc/thread-self/ns/net`).
    package let fd: Int32
    /// A TCP socket listening on 127.0.0.1:port inside the namespace, or -1.
    package let listener: Int32
}

/// Network namespaces made ahead of time, one per instance and never
/// shared (a shared one would let instances reach each other over
/// loopback).
///
/// A new network namespace is the most expensive part of a cold start
/// (about 600 us of latency here, DESIGN.md "Where the time goes"); a
/// dedicated thread creates them, with `lo` up and optionally the Runtime
/// API listener bound inside, off the critical path. The spawning child
/// only `setns()`es into one.
package final class NetnsPool: Sendable {
    private let ready = Mutex<[PreparedNetns]>([])
    private let failure = Mutex<Int32?>(nil)
    private let wake = DispatchSemaphore(value: 0)
    private let target: Int
    private let listenPort: UInt16

    /// Starts the filler thread, which keeps `target` namespaces ready.
    /// - Parameter listenPort: when not 0, each namespace gets a socket
    ///   listening on 127.0.0.1:listenPort inside it.
    package init(target: Int, listenPort: UInt16 = 0) {
        self.target = max(1, target)
        self.listenPort = listenPort
        let thread = Thread { [self] in fill() }
        thread.name = "warren-netns"
        thread.start()
        wake.signal()
    }

    /// A ready namespace, owned by the caller from now on (close both
    /// descriptors); nil when none is ready.
    package func takePrepared() -> PreparedNetns? {
        let netns = ready.withLock { $0.popLast() }
        wake.signal()
        return netns
    }

    /// A ready namespace's descriptor (closing its listener, if any).
    package func take() -> Int32? {
        guard let netns = takePrepared() else { return nil }
        if netns.listener >= 0 { close(netns.listener) }
        return netns.fd
    }

    /// The next namespace, waiting (without blocking a thread) for the
    /// filler when none is ready.
    /// - Throws: `SystemError` when the filler cannot create namespaces.
    package func next() async throws -> PreparedNetns {
        for _ in 0..<25_000 {
            if let netns = takePrepared() { return netns }
            if let err = failure.withLock({ $0 }) {
                throw SystemError("create network namespace", errno: err)
            }
            try await Task.sleep(nanoseconds: 200_000)
        }
        throw SystemError("create network namespace (timed out)", errno: ETIMEDOUT)
    }

    /// Namespaces ready now.
    package var count: Int { ready.withLock { $0.count } }

    private func fill() {
        while true {
            wake.wait()
            while count < target {
                var listener: Int32 = -1
                let fd = wrn_netns_create(listenPort, &listener)
                guard fd >= 0 else {  // retried on the next wake
                    let err = errno
                    failure.withLock { $0 = err }
                    break
                }
                failure.withLock { $0 = nil }
                ready.withLock { $0.append(PreparedNetns(fd: fd, listener: listener)) }
            }
        }
    }
}
