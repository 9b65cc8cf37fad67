import Foundation
import Glibc
import NIOCore
import NIOPosix
import Synchronization
import WarrenPolicy

/// A function's log file (`logs/<function>.log`), appended by every
/// instance of every version: CloudWatch's log group, on disk.
///
/// Bounded: once the file reaches ``maxBytes`` it is renamed `<function>.log.1` (replacing an
/// older one) and a new file begun, so a function that prints without end costs at most about
/// twice that on disk, not the host's disk.
public final class FunctionLog: Sendable {
    /// The size past which a function's log file is rotated, by default.
    public static let defaultMaxBytes = 64 << 20

    public let path: String
    public let maxBytes: Int
    private struct File {
        var fd: Int32
        var size: Int
    }
    /// Held across each write: a rotation must not close the descriptor a write is using.
    private let file: Mutex<File>

    /// Opens (creating) the file for appending.
    public init(path: String, maxBytes: Int = FunctionLog.defaultMaxBytes) throws {
        self.path = path
        self.maxBytes = max(1, maxBytes)
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw SupervisorError(.serviceException, "open log \(path): errno \(errno)") }
        var info = stat()
        let size = fstat(fd, &info) == 0 ? Int(info.st_size) : 0
        file = Mutex(File(fd: fd, size: size))
    }

    deinit { file.withLock { _ = close($0.fd) } }

    /// One append: O_APPEND keeps concurrent writers' records whole; a record is never split
    /// across a rotation.
    func append(_ bytes: [UInt8]) {
        file.withLock { file in
            var done = 0
            while done < bytes.count {
                let n = bytes.withUnsafeBytes { write(file.fd, $0.baseAddress! + done, $0.count - done) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                done += n
            }
            file.size += done
            if file.size >= maxBytes { rotate(&file) }
        }
    }

    /// `path` becomes `path.1` and a new file is begun; if either step fails, writing goes on
    /// where it was (and the next append tries again).
    private func rotate(_ file: inout File) {
        guard rename(path, path + ".1") == 0 else { return }
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { return }
        close(file.fd)
        file = File(fd: fd, size: 0)
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
    private struct Held {
        /// Output after the last newline, not yet in the file.
        var partial: [UInt8] = []
        /// A line of Warren's that goes out with the next write (see ``lineWithNext(_:)``); its
        /// buffer also gathers each write to the file.
        var line: [UInt8] = []
        /// The partial line began before the tail being collected (it belongs before its START).
        var partialPredatesTail = false
        /// With a log level: the level of a line longer than ``maxPartialLine``, judged from its
        /// start when its first part was written, for the parts still to come.
        var longLineLevel: ApplicationLogLevel?

        /// Empties ``line``, keeping its buffer unless a long runtime line grew it.
        mutating func emptyLine() {
            line.removeAll(keepingCapacity: line.capacity <= 4096)
        }
    }

    private let log: FunctionLog
    private let current = Mutex<[UInt8]?>(nil)
    private let held = Mutex(Held())
    /// With JSON logging: the application log level, below which the runtime's lines are left out.
    private let minimumLevel: ApplicationLogLevel?
    static let maxPartialLine = 64 * 1024

    init(_ log: FunctionLog, logging: LoggingSettings = LoggingSettings()) {
        self.log = log
        minimumLevel = logging.json ? ApplicationLogLevel(logging.applicationLogLevel) : nil
    }

    /// The runtime's output, as the pipe delivers it.
    func write(_ bytes: [UInt8]) {
        if let minimumLevel { return writeFiltered(bytes, minimumLevel) }
        // Appended under the lock, so the file keeps the order of write() and line().
        let ended = held.withLock { held -> [UInt8] in
            held.partial.append(contentsOf: bytes)
            if let last = held.partial.lastIndex(of: UInt8(ascii: "\n")) {
                held.line.append(contentsOf: held.partial[...last])
                log.append(held.line)
                held.emptyLine()
                held.partial.removeSubrange(...last)
            } else if held.partial.count > Self.maxPartialLine {
                return flush(&held)
            }
            return []
        }
        collect(bytes)
        collect(ended)
    }

    /// With JSON logging, as Lambda filters a function's output by its application log level:
    /// each whole line goes to the file and the tail only at that level or above (a JSON object's
    /// `"level"`; INFO for any other line). A partial line waits for its end, or for Warren's next
    /// line, to be judged.
    private func writeFiltered(_ bytes: [UInt8], _ minimum: ApplicationLogLevel) {
        let kept = held.withLock { held -> [UInt8] in
            held.partial.append(contentsOf: bytes)
            if let last = held.partial.lastIndex(of: UInt8(ascii: "\n")) {
                var written: [UInt8] = []
                var tail: [UInt8] = []
                let lines = held.partial[...last].split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
                for (index, line) in lines.dropLast().enumerated() {
                    let level = index == 0 ? held.longLineLevel ?? ApplicationLogLevel(line: line)
                        : ApplicationLogLevel(line: line)
                    guard level >= minimum else { continue }
                    written.append(contentsOf: line)
                    written.append(UInt8(ascii: "\n"))
                    // A line begun before the tail is the previous invocation's, as in the file.
                    if index > 0 || !held.partialPredatesTail {
                        tail.append(contentsOf: line)
                        tail.append(UInt8(ascii: "\n"))
                    }
                }
                held.partial.removeSubrange(...last)
                held.partialPredatesTail = false
                held.longLineLevel = nil
                if !written.isEmpty {
                    held.line.append(contentsOf: written)
                    log.append(held.line)
                    held.emptyLine()
                }
                return tail
            } else if held.partial.count > Self.maxPartialLine {
                // Cut as in Text, the parts judged alike: by the level the line's start names.
                let level = held.longLineLevel ?? ApplicationLogLevel(start: held.partial[...])
                held.longLineLevel = level
                return flush(&held, level: level)
            }
            return []
        }
        collect(kept)
    }

    /// One of Warren's lines (START, END, REPORT): after what the runtime
    /// left without a newline, which then ends the runtime's line.
    func line(_ text: String) {
        let line = Self.bytes(text)
        // The tail gets the newline that ends the runtime's partial line too, as the file does.
        collect(held.withLock { flush(&$0, then: line) }, ending: true)
        collect(line)
    }

    /// A line that reaches the file, in its place, with the next write: the runtime's next whole
    /// line or Warren's next line. START goes so: for an invocation that prints nothing, START,
    /// END and REPORT are one write instead of two.
    func lineWithNext(_ text: String) {
        let line = Self.bytes(text)
        let ended = held.withLock { held -> [UInt8] in
            let ended = held.partial.isEmpty ? [] : flush(&held)
            held.line += line
            return ended
        }
        collect(ended, ending: true)
        collect(line)
    }

    /// Ends the runtime's partial line, if any, with a newline, in the file and in the tail (what
    /// a runtime printed without one before it failed its init).
    func endPartialLine() {
        collect(held.withLock { held in held.partial.isEmpty ? [] : flush(&held) }, ending: true)
    }

    /// Takes back a line given to ``lineWithNext(_:)`` that has not reached the file yet (START of
    /// an invocation that never reached the runtime); true if it was still held.
    @discardableResult
    func withdraw(_ text: String) -> Bool {
        let line = Self.bytes(text)
        return held.withLock { held in
            guard held.line.count >= line.count, held.line.suffix(line.count).elementsEqual(line) else { return false }
            held.line.removeLast(line.count)
            return true
        }
    }

    /// Writes everything held, the runtime's partial line ended with a newline (unless the log
    /// level leaves it out), then `more`, gathered in the held line's buffer (kept from one
    /// invocation to the next).
    /// - Returns: What the tail still lacks of the partial line: its newline (the tail has the rest
    ///   already), or with a log level the whole line, which the tail got none of; nothing if none.
    @discardableResult
    private func flush(_ held: inout Held, then more: [UInt8] = [], level: ApplicationLogLevel? = nil) -> [UInt8] {
        var lacking: [UInt8] = []
        if !held.partial.isEmpty {
            let kept = minimumLevel.map {
                (level ?? held.longLineLevel ?? ApplicationLogLevel(line: held.partial[...])) >= $0
            } ?? true
            if kept {
                held.line.append(contentsOf: held.partial)
                held.line.append(UInt8(ascii: "\n"))
                if minimumLevel == nil {
                    lacking = Self.newline
                } else if !held.partialPredatesTail {
                    lacking = held.partial + Self.newline
                }
            }
            held.partial.removeAll()
            held.partialPredatesTail = false
            if level == nil { held.longLineLevel = nil }
        }
        held.line.append(contentsOf: more)
        if !held.line.isEmpty { log.append(held.line) }
        held.emptyLine()
        return lacking
    }

    private static let newline: [UInt8] = [UInt8(ascii: "\n")]

    /// `text` and a newline, as bytes: one allocation.
    private static func bytes(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count + 1)
        bytes.append(contentsOf: text.utf8)
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    /// Adds to the tail of the invocation in progress. `ending`: `bytes` end a line of the
    /// runtime's, whose newline alone has no place at the head of a tail that has none of the line
    /// (printed before the invocation began).
    private func collect(_ bytes: [UInt8], ending: Bool = false) {
        guard !bytes.isEmpty else { return }
        current.withLock { buffer in
            guard buffer != nil else { return }
            if ending, buffer!.isEmpty, bytes == Self.newline { return }
            buffer!.append(contentsOf: bytes)
            // Only the tail is ever returned; keep memory bounded.
            if buffer!.count > 64 * 1024 { buffer!.removeFirst(buffer!.count - 8 * 1024) }
        }
    }

    /// Starts collecting this invocation's output.
    func begin() {
        held.withLock { $0.partialPredatesTail = !$0.partial.isEmpty }
        current.withLock { $0 = [] }
    }

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

/// Lambda's application log levels, in order; Python's `WARNING` and `CRITICAL` are WARN and FATAL.
enum ApplicationLogLevel: Int, Comparable {
    case trace, debug, info, warn, error, fatal

    /// The configured level; INFO, Lambda's default, for none or one it does not know.
    init(_ name: String?) {
        switch name?.uppercased() {
        case "TRACE": self = .trace
        case "DEBUG": self = .debug
        case "WARN", "WARNING": self = .warn
        case "ERROR": self = .error
        case "FATAL", "CRITICAL": self = .fatal
        default: self = .info
        }
    }

    /// The level of one line of output: a JSON object's `"level"`, INFO for any other line or level
    /// (strict JSON: Foundation's parser takes a trailing comma).
    init(line: ArraySlice<UInt8>) {
        var text = line
        if text.last == UInt8(ascii: "\r") { text.removeLast() }
        let start = text.firstIndex { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") } ?? text.endIndex
        guard start < text.endIndex, text[start] == UInt8(ascii: "{"),
              let level = jsonObjectString(Array(text[start...]), key: "level") else {
            self = .info
            return
        }
        self.init(level)
    }

    /// The level the start of a line too long to hold names: the first `"level": "…"` of a line
    /// that begins as a JSON object; INFO otherwise.
    init(start: ArraySlice<UInt8>) {
        let bytes = Array(start)
        let key = Array(#""level""#.utf8)
        guard bytes.first(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }) == UInt8(ascii: "{"),
              let found = bytes.firstRange(of: key) else {
            self = .info
            return
        }
        var at = found.upperBound
        func skipSpace() {
            while at < bytes.count, bytes[at] == UInt8(ascii: " ") || bytes[at] == UInt8(ascii: "\t") { at += 1 }
        }
        skipSpace()
        guard at < bytes.count, bytes[at] == UInt8(ascii: ":") else { self = .info; return }
        at += 1
        skipSpace()
        guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") else { self = .info; return }
        let valueStart = at + 1
        guard let end = bytes[valueStart...].firstIndex(of: UInt8(ascii: "\"")) else { self = .info; return }
        self.init(String(decoding: bytes[valueStart..<end], as: UTF8.self))
    }

    static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}
