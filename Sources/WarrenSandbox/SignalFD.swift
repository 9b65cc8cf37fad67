import CWarrenSandbox
import Glibc

/// Signals delivered as a readable descriptor instead of to handlers, so
/// that an interrupted caller cleans up on its own thread like on any
/// other end (the way `warren run` handles Ctrl-C).
package final class SignalFD {
    /// Poll it for POLLIN.
    package let fd: Int32

    /// Blocks `signals` in the calling thread (and the threads it starts
    /// later) and opens the descriptor.
    package init(_ signals: [Int32]) throws {
        fd = try syscall("signalfd") { wrn_signalfd(signals, Int32(signals.count)) }
    }

    deinit { close(fd) }

    /// The next pending signal, nil if none.
    package func next() -> Int32? {
        let signal = wrn_signalfd_read(fd)
        return signal > 0 ? signal : nil
    }
}
