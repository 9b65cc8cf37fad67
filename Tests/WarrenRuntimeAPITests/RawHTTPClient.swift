#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import WarrenRuntimeAPI

/// A parsed HTTP/1.1 response as the raw client saw it.
struct RawResponse {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: [UInt8]

    var bodyString: String { String(decoding: body, as: UTF8.self) }

    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

enum RawClientError: Error { case closedBeforeResponse, malformedResponse(String) }

/// A byte-level HTTP client on NIO: what goes on the wire is exactly what the test wrote, so it can
/// send garbage, pipeline, half-send, or stop mid-body, which no real client library allows.
final class RawHTTPClient: Sendable {
    private let channel: any Channel
    private let inbox: Inbox

    private init(channel: any Channel, inbox: Inbox) {
        self.channel = channel
        self.inbox = inbox
    }

    static func connect(port: Int) async throws -> RawHTTPClient {
        let inbox = Inbox()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(InboxHandler(inbox: inbox))
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
        return RawHTTPClient(channel: channel, inbox: inbox)
    }

    /// Bytes received and not yet consumed as a response.
    var bufferedByteCount: Int { inbox.state.withLock { $0.bytes.count } }

    /// Whether the server closed the connection.
    var sawEOF: Bool { inbox.state.withLock { $0.eof } }

    func send(_ bytes: [UInt8]) async throws {
        var buffer = channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        try await channel.writeAndFlush(buffer)
    }

    func send(_ text: String) async throws {
        try await send(Array(text.utf8))
    }

    /// Sends one request with `Content-Length` (HTTP/1.1, keep-alive).
    func sendRequest(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = []) async throws {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if method != "GET" || !body.isEmpty { head += "Content-Length: \(body.count)\r\n" }
        try await send(Array((head + "\r\n").utf8) + body)
    }

    func request(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = []) async throws -> RawResponse {
        try await sendRequest(method, path, headers: headers, body: body)
        return try await readResponse()
    }

    /// Waits for one complete response (`Content-Length` framed, as the server always sends).
    func readResponse() async throws -> RawResponse {
        while true {
            let (response, seen, eof) = try inbox.state.withLock { s -> (RawResponse?, Int, Bool) in
                guard let (response, used) = try parse(s.bytes) else { return (nil, s.bytes.count, s.eof) }
                s.bytes.removeFirst(used)
                return (response, used, s.eof)
            }
            if let response { return response }
            if eof { throw RawClientError.closedBeforeResponse }
            await inbox.waitForMore(than: seen)
        }
    }

    /// Waits until the server closes the connection; returns whatever bytes were left unread.
    func waitForEOF() async -> [UInt8] {
        while true {
            let (count, eof) = inbox.state.withLock { ($0.bytes.count, $0.eof) }
            if eof { return inbox.state.withLock { $0.bytes } }
            await inbox.waitForMore(than: count)
        }
    }

    func close() async {
        try? await channel.close()
    }
}

/// Parses one response at the front of `bytes`: the response and the bytes it used, or nil if incomplete.
private func parse(_ bytes: [UInt8]) throws -> (RawResponse, Int)? {
    guard bytes.count >= 4,
        let end = (0...(bytes.count - 4)).first(where: {
            bytes[$0] == 13 && bytes[$0 + 1] == 10 && bytes[$0 + 2] == 13 && bytes[$0 + 3] == 10
        })
    else { return nil }
    let lines = String(decoding: bytes[..<end], as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: false)
    let statusParts = lines[0].split(separator: " ")
    guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
        throw RawClientError.malformedResponse(String(lines[0]))
    }
    var headers: [(name: String, value: String)] = []
    for line in lines.dropFirst() {
        guard let colon = line.firstIndex(of: ":") else { continue }
        headers.append((String(line[..<colon]), String(line[line.index(after: colon)...].drop { $0 == " " })))
    }
    let length = headers.first { $0.name.lowercased() == "content-length" }.flatMap { Int($0.value) } ?? 0
    let bodyStart = end + 4
    guard bytes.count >= bodyStart + length else { return nil }
    return (RawResponse(status: status, headers: headers, body: Array(bytes[bodyStart..<bodyStart + length])), bodyStart + length)
}

/// Received bytes plus one waiter, shared between the NIO handler and the test task.
final class Inbox: Sendable {
    struct State {
        var bytes: [UInt8] = []
        var eof = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    let state = Mutex(State())

    func waitForMore(than count: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { s in
                if s.bytes.count != count || s.eof { return true }
                s.waiter = continuation
                return false
            }
            if ready { continuation.resume() }
        }
    }

    func append(_ buffer: ByteBuffer?) {
        let waiter = state.withLock { s in
            if let buffer { s.bytes.append(contentsOf: buffer.readableBytesView) } else { s.eof = true }
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }
}

private final class InboxHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let inbox: Inbox

    init(inbox: Inbox) { self.inbox = inbox }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        inbox.append(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        inbox.append(nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// A blocking loopback client: one request at a time, its calls made at once on the calling
/// thread (no event loop between a close and the next connect, as in a runtime's own code).
final class BlockingClient {
    private var fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard fd >= 0, connected == 0 else {
            let error = errno
            if fd >= 0 { _ = Glibc.close(fd) }
            throw SocketSetupError.failed("connect", error)
        }
    }

    /// `GET path` and the status of its answer; nil if the connection ended first.
    func get(_ path: String) -> Int? {
        let request = Array("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) })
            == request.count else { return nil }
        var answer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !answer.contains(10) {
            let count = chunk.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return nil }
            answer += chunk[..<count]
        }
        let line = String(decoding: answer.prefix { $0 != 13 }, as: UTF8.self).split(separator: " ")
        return line.count >= 2 ? Int(line[1]) : nil
    }

    func close() {
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
    }

    deinit { close() }
}
