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
