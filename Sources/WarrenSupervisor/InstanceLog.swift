import Foundation
import Glibc
import NIOCore
import NIOPosix
import Synchronization

/// A function's log file (`logs/<function>.log`), appended by every
/// instance of every version: CloudWatch's log group, on disk.
public final class FunctionLog: Sendable {
    public let path: String
    private let fd: Int32

    /// Opens (creating) the file for appending.
    public init(path: String) throws {
        self.path = path
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw SupervisorError(.serviceException, "open log \(path): errno \(errno)") }
    }

    deinit { close(fd) }

    /// One append: O_APPEND keeps concurrent writers' records whole.
    func append(_ bytes: [UInt8]) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            done += n
        }
    }
}

/// Routes one instance's output to its function's log and to the buffer of
/// the invocation in progress (for `LogType: Tail`).
///
/// Several instances share one file, so only whole lines go to it: a
/// runtime's output is held back up to its last newline (at most 64 KB), and
/// Warren's own lines first flush what is held, so no line of one instance
/// is ever cut by another's.
final class InstanceLog: Sendable {
    private let log: FunctionLog
    private let current = Mutex<[UInt8]?>(nil)
    /// Output after the last newline, not yet in the file.
    private let partial = Mutex<[UInt8]>([])
    static let maxPartialLine = 64 * 1024

    init(_ log: FunctionLog) {
        self.log = log
    }

    /// The runtime's output, as the pipe delivers it.
    func write(_ bytes: [UInt8]) {
        // Appended under the lock, so the file keeps the order of write() and line().
        partial.withLock { held in
            held.append(contentsOf: bytes)
            if let last = held.lastIndex(of: UInt8(ascii: "\n")) {
                log.append(Array(held[...last]))
                held.removeSubrange(...last)
            } else if held.count > Self.maxPartialLine {
                log.append(held + [UInt8(ascii: "\n")])
                held.removeAll()
            }
        }
        collect(bytes)
    }

    /// One of Warren's lines (START, END, REPORT): after what the runtime
    /// left without a newline, which then ends the runtime's line.
    func line(_ text: String) {
        let line = Array((text + "\n").utf8)
        partial.withLock { held in
            log.append(held.isEmpty ? line : held + [UInt8(ascii: "\n")] + line)
            held.removeAll()
        }
        collect(line)
    }

    /// Adds to the tail of the invocation in progress.
    private func collect(_ bytes: [UInt8]) {
        current.withLock { buffer in
            guard buffer != nil else { return }
            buffer!.append(contentsOf: bytes)
            // Only the tail is ever returned; keep memory bounded.
            if buffer!.count > 64 * 1024 { buffer!.removeFirst(buffer!.count - 8 * 1024) }
        }
    }

    /// Starts collecting this invocation's output.
    func begin() { current.withLock { $0 = [] } }

    /// Stops collecting; returns the last 4 KB (`X-Amz-Log-Result` is its base64).
    func end() -> [UInt8] {
        current.withLock { buffer -> [UInt8] in
            defer { buffer = nil }
            return Array((buffer ?? []).suffix(4096))
        }
    }

    /// Reads the instance's stdout+stderr pipe on the event loop.
    func attach(pipe fd: Int32, group: any EventLoopGroup) async throws -> any Channel {
        try await NIOPipeBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(LogReader(self))
                }
            }
            .takingOwnershipOfDescriptor(input: fd).get()
    }
}

private final class LogReader: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    private let log: InstanceLog

    init(_ log: InstanceLog) {
        self.log = log
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if let bytes = buffer.readBytes(length: buffer.readableBytes) { log.write(bytes) }
    }
}
