import Foundation
import NIOCore
import NIOHTTP1

/// Serves one runtime connection: routes each request, keeps post bodies up to their cap, and
/// answers from the session core.
///
/// A `GET /next` that has nothing to deliver parks a promise in the core and is answered when the
/// supervisor invokes (or closes the session). There is deliberately no read timeout: the runtime
/// long-polls, and a slow runtime only hurts its own invocation, which the supervisor times out.
///
/// Requests come from NIO's decoder (llhttp); responses are encoded here, each as one buffer and
/// one write, since every one is small and whole. Responses go out in request order without
/// NIO's pipelining handler: that one stops reading while a response is pending, which for a
/// parked `/next` meant two `epoll_ctl` calls per invocation; here reading goes on and what a
/// runtime sends behind a parked `/next` (nothing, for any runtime that waits for its answers) is
/// held, up to ``maxHeldParts``, and served once the `/next` is answered.
final class RuntimeAPIHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Request parts (heads, body chunks, ends) a runtime may send behind its own parked `/next`
    /// before the connection is closed; a body chunk is at most one read.
    static let maxHeldParts = 64

    /// The request being read.
    fileprivate struct Request {
        var route: RuntimeAPIRoute
        var version: HTTPVersion
        var keepAlive: Bool
        var errorType: String?
        var contentType: String?
        var declaredLength: Int?
        /// `Lambda-Runtime-Function-Response-Mode` asked for neither `buffered` nor `streaming`.
        var badMode = false
        /// `Lambda-Runtime-Function-Response-Mode: streaming`: a chunked body whose trailers may say
        /// that the function failed part way.
        var streaming = false
        /// Where a streamed body goes as it arrives, when the invocation's caller takes it so.
        var stream: ResponseStream?
        var body: ByteBuffer?
        var received = 0
        /// Set once the body is known to exceed its cap: the answer is decided, the rest is drained.
        var oversize: RuntimeSessionCore.Verdict?
    }

    private let core: RuntimeSessionCore
    private var request: Request?
    /// The core's id for this connection's parked `/next`, so a disconnect can withdraw it.
    private var parkedId: UInt64?
    /// A `/next` is waiting for its answer: later requests on this connection wait in `held`.
    private var awaitingAnswer = false
    private var held = CircularBuffer<HTTPServerRequestPart>(initialCapacity: 0)
    /// The connection is being closed: nothing more is read or answered.
    private var isClosing = false
    /// A streamed response's caller is behind (``ResponseStream/highWater``): the socket is not
    /// read until it catches up; a read the channel asks for meanwhile is asked for then.
    private var readPaused = false
    private var readWanted = false

    init(core: RuntimeSessionCore) {
        self.core = core
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        guard !isClosing else { return }
        if awaitingAnswer || !held.isEmpty {
            guard held.count < Self.maxHeldParts else {
                close(context)
                return
            }
            held.append(part)
            return
        }
        serve(part, context: context)
    }

    private func serve(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head): requestHead(head, context: context)
        case .body(let part): requestBody(part, context: context)
        case .end(let trailers): requestEnd(trailers: trailers, context: context)
        }
    }

    /// Serves what arrived behind an answered `/next`, until another `/next` parks.
    private func serveHeld(context: ChannelHandlerContext) {
        while !awaitingAnswer, !isClosing, let part = held.popFirst() {
            serve(part, context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        isClosing = true
        held.removeAll()
        if let req = request { truncated(req, context: context) }
        request = nil
        if let id = parkedId {
            parkedId = nil
            core.cancelNext(id: id)?.fail(ChannelError.ioOnClosedChannel)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A request that isn't HTTP: answer 400 unless an answer is owed first, then close. Anything
        // else is fatal for this connection only.
        if error is HTTPParserError, !awaitingAnswer, !isClosing {
            var out = context.channel.allocator.buffer(capacity: 80)
            out.writeString("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        }
        close(context)
    }

    /// The connection closed with `req` read only in part. A `/response` or `/error` post that had
    /// not been answered leaves its invocation open: the core fails it unless the runtime exits.
    private func truncated(_ req: Request, context: ChannelHandlerContext) {
        let id: Substring
        let kind: String
        switch req.route {
        case .response(let requestId): (id, kind) = (requestId, "response")
        case .invocationError(let requestId): (id, kind) = (requestId, "error response")
        case .initError, .next, .notFound, .methodNotAllowed: return
        }
        // An oversized post has its answer already.
        guard req.oversize == nil else { return }
        let read = req.declaredLength.map { "\(req.received) of \($0) bytes" } ?? "\(req.received) bytes"
        core.truncated(
            requestId: id, what: "Runtime connection ended after \(read) of its \(kind)",
            streamed: req.stream != nil && req.received > 0, on: context.eventLoop)
    }

    private func close(_ context: ChannelHandlerContext) {
        isClosing = true
        held.removeAll()
        context.close(promise: nil)
    }

    // MARK: Reading

    private func requestHead(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        var req = Request(
            route: RuntimeAPIRoute(method: head.method, uri: head.uri),
            version: head.version,
            keepAlive: head.isKeepAlive
        )
        if req.route.keepsBody {
            req.errorType = head.headers.first(name: "Lambda-Runtime-Function-Error-Type").flatMap(errorType)
            req.contentType = head.headers.first(name: "Content-Type").flatMap(nonEmpty)
            req.declaredLength = head.headers.first(name: "Content-Length").flatMap { Int($0) }
            if case .response = req.route,
                let mode = head.headers.first(name: "Lambda-Runtime-Function-Response-Mode")
            {
                switch mode.lowercased() {
                case "buffered": break
                case "streaming":
                    req.streaming = true
                    if case .response(let id) = req.route { req.stream = core.stream(for: id) }
                default: req.badMode = true
                }
            }
            let cap = req.stream == nil ? RuntimeAPI.maxResponseBytes : RuntimeAPI.maxStreamedBytes
            if !req.badMode, let length = req.declaredLength, length > cap {
                // Decide before reading a byte, so the supervisor's caller isn't kept waiting for the upload.
                req.oversize = overflow(req.route, bytes: length)
                if length > RuntimeAPI.maxDrainedBytes {
                    // More than would ever be read and dropped: answered now, and the connection closed,
                    // so the runtime isn't left waiting for an answer to a body it never finishes.
                    request = nil
                    abort(req, context: context)
                    return
                }
            }
            // `Expect: 100-continue` (curl sends it for larger bodies): ask for the body at once, as
            // Lambda's Go server does, rather than leave the client to wait out its timeout. Not for
            // a body that will be refused: the answer then comes without it.
            if req.oversize == nil, head.version == .http1_1,
                head.headers[canonicalForm: "Expect"].contains(where: { $0.lowercased() == "100-continue" })
            {
                var out = context.channel.allocator.buffer(capacity: 25)
                out.writeStaticString("HTTP/1.1 100 Continue\r\n\r\n")
                context.writeAndFlush(wrapOutboundOut(out), promise: nil)
            }
        }
        request = req
    }

    private func requestBody(_ part: ByteBuffer, context: ChannelHandlerContext) {
        guard var req = request else { return }
        // Take the request out so appending to its body doesn't trigger a copy-on-write of the buffer.
        request = nil
        req.received += part.readableBytes
        if let stream = req.stream, req.oversize == nil {
            if req.received > stream.limit {
                req.stream = nil
                req.oversize = overflow(req.route, bytes: req.received)
            } else if !stream.send(part, resume: resumer(context)) {
                readPaused = true
            }
        } else if !req.route.keepsBody || req.badMode || req.oversize != nil {
            let cap = req.route.keepsBody ? RuntimeAPI.maxDrainedBytes : RuntimeAPI.maxIgnoredBodyBytes
            if req.received > cap {
                abort(req, context: context)
                return
            }
        } else if req.received > RuntimeAPI.maxResponseBytes {
            req.body = nil
            req.oversize = overflow(req.route, bytes: req.received)
        } else if req.body == nil, let length = req.declaredLength, length > part.readableBytes {
            var body = context.channel.allocator.buffer(capacity: length)
            body.writeImmutableBuffer(part)
            req.body = body
        } else if req.body == nil {
            req.body = part
        } else {
            req.body!.writeImmutableBuffer(part)
        }
        request = req
    }

    /// The body went past the drain cap: answer if there's an answer, then drop the connection.
    private func abort(_ req: Request, context: ChannelHandlerContext) {
        if let verdict = req.oversize {
            var closing = req
            closing.keepAlive = false
            replyVerdict(verdict, accepted: (.payloadTooLarge, RuntimeAPIReply.tooLarge), for: closing, context: context)
        } else {
            context.close(promise: nil)
        }
    }

    /// Ends an invocation as too large (or just refuses an oversized init error) and returns the answer.
    private func overflow(_ route: RuntimeAPIRoute, bytes: Int) -> RuntimeSessionCore.Verdict {
        switch route {
        case .response(let id):
            return core.complete(requestId: id, to: "ResponseSent", outcome: .responseTooLarge(bytes: bytes))
        case .invocationError(let id):
            return core.complete(requestId: id, to: "InvocationErrorResponseSent", outcome: .responseTooLarge(bytes: bytes))
        case .initError, .next, .notFound, .methodNotAllowed:
            return .accepted
        }
    }

    /// What a ``ResponseStream`` calls, from any thread, once its caller has caught up.
    private func resumer(_ context: ChannelHandlerContext) -> @Sendable () -> Void {
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        // Always a later turn of the loop: the pause it ends is set after `send` returns.
        return { loop.execute { bound.value.0.resumeReading(context: bound.value.1) } }
    }

    private func resumeReading(context: ChannelHandlerContext) {
        readPaused = false
        if readWanted, !isClosing {
            readWanted = false
            context.read()
        }
    }

    func read(context: ChannelHandlerContext) {
        if readPaused { readWanted = true } else { context.read() }
    }

    // MARK: Answering

    private func requestEnd(trailers: HTTPHeaders?, context: ChannelHandlerContext) {
        guard let req = request else { return }
        request = nil
        switch req.route {
        case .next:
            next(req, context: context)
        case .response(let id), .invocationError(let id):
            post(req, requestId: id, trailers: trailers, context: context)
        case .initError:
            let verdict =
                req.oversize
                ?? core.initError(errorType: req.errorType, body: req.body.map { Array($0.readableBytesView) } ?? [])
            let accepted = req.oversize == nil ? (HTTPResponseStatus.accepted, RuntimeAPIReply.accepted) : (.payloadTooLarge, RuntimeAPIReply.tooLarge)
            replyVerdict(verdict, accepted: accepted, for: req, context: context)
        case .notFound:
            reply(.notFound, RuntimeAPIReply.notFound, for: req, context: context)
        case .methodNotAllowed(let allow):
            reply(.methodNotAllowed, RuntimeAPIReply.methodNotAllowed(allow: allow), for: req, allow: allow, context: context)
        }
    }

    private func post(_ req: Request, requestId: Substring, trailers: HTTPHeaders?, context: ChannelHandlerContext) {
        let isResponse = req.route == .response(requestId: requestId)
        let target = isResponse ? "ResponseSent" : "InvocationErrorResponseSent"
        if let verdict = req.oversize {
            replyVerdict(verdict, accepted: (.payloadTooLarge, RuntimeAPIReply.tooLarge), for: req, context: context)
        } else if req.badMode {
            let outcome = InvocationOutcome.error(
                errorType: "Runtime.InvalidResponseModeHeader",
                body: RuntimeAPIReply.invalidResponseModeOutcome
            )
            let verdict = core.complete(requestId: requestId, to: target, outcome: outcome)
            replyVerdict(verdict, accepted: (.badRequest, RuntimeAPIReply.invalidResponseMode), for: req, context: context)
        } else {
            let body = req.body.map { Array($0.readableBytesView) } ?? []
            var outcome: InvocationOutcome =
                isResponse
                ? .response(body: body, contentType: req.contentType)
                : .error(errorType: req.errorType, body: body)
            // A stream that failed part way says so in its trailers; what it sent before is dropped,
            // as a buffered caller gets the error instead of a response.
            if req.streaming, let failure = trailers.flatMap(Self.streamFailure) { outcome = failure }
            let verdict = core.complete(requestId: requestId, to: target, outcome: outcome)
            replyVerdict(verdict, accepted: (.accepted, RuntimeAPIReply.accepted), for: req, context: context)
        }
    }

    /// The error a streamed response's trailers carry: `Lambda-Runtime-Function-Error-Type` and
    /// `Lambda-Runtime-Function-Error-Body` (base64 of the error JSON; taken as is when not base64).
    static func streamFailure(_ trailers: HTTPHeaders) -> InvocationOutcome? {
        guard let type = trailers.first(name: "Lambda-Runtime-Function-Error-Type").flatMap(errorType) else {
            return nil
        }
        let raw = trailers.first(name: "Lambda-Runtime-Function-Error-Body") ?? ""
        let body = Data(base64Encoded: raw).map { Array($0) } ?? Array(raw.utf8)
        return .error(errorType: type, body: body)
    }

    private func next(_ req: Request, context: ChannelHandlerContext) {
        let eventLoop = context.eventLoop
        switch core.next(makePromise: { eventLoop.makePromise(of: Invocation.self) }) {
        case .deliver(let invocation):
            deliver(invocation, for: req, context: context)
        case .closed(let reason):
            var closing = req
            closing.keepAlive = false
            reply(.internalServerError, RuntimeAPIReply.closed(reason), for: closing, context: context)
        case .invalidTransition(let from):
            reply(.forbidden, RuntimeAPIReply.invalidTransition(from: from, to: "Ready"), for: req, context: context)
        case .parked(let id, let promise):
            parkedId = id
            awaitingAnswer = true
            promise.futureResult.assumeIsolated().whenComplete { result in
                self.parkedId = nil
                self.awaitingAnswer = false
                switch result {
                case .success(let invocation):
                    self.deliver(invocation, for: req, context: context)
                case .failure(RuntimeSessionError.closed(let reason)):
                    var closing = req
                    closing.keepAlive = false
                    self.reply(.internalServerError, RuntimeAPIReply.closed(reason), for: closing, context: context)
                case .failure:
                    return  // The connection went away; nothing to answer.
                }
                self.serveHeld(context: context)
            }
        }
    }

    /// Writes the `/next` answer; if the connection is gone, hands the invocation back to the core.
    private func deliver(_ invocation: Invocation, for req: Request, context: ChannelHandlerContext) {
        let core = self.core
        let requestId = invocation.requestId
        guard context.channel.isActive, !isClosing else {
            core.undeliver(requestId: requestId)
            return
        }
        var out = ResponseEncoder(.ok, for: req, capacity: 512 + invocation.payload.count, allocator: context.channel.allocator)
        out.header("Content-Type", invocation.contentType.flatMap(headerValue) ?? "application/json")
        out.header("Lambda-Runtime-Deadline-Ms", invocation.deadlineMs)
        // Each only when non-empty, as RAPID renders them.
        out.headerIfPresent("Lambda-Runtime-Aws-Request-Id", invocation.requestId)
        out.headerIfPresent("Lambda-Runtime-Invoked-Function-Arn", invocation.invokedFunctionArn)
        out.headerIfPresent("Lambda-Runtime-Trace-Id", invocation.traceId)
        out.headerIfPresent("Lambda-Runtime-Client-Context", invocation.clientContext)
        out.headerIfPresent("Lambda-Runtime-Cognito-Identity", invocation.cognitoIdentity)
        let written = context.eventLoop.makePromise(of: Void.self)
        written.futureResult.assumeIsolated().whenFailure { _ in core.undeliver(requestId: requestId) }
        write(out.finish(body: invocation.payload), for: req, context: context, promise: written)
    }

    private func replyVerdict(
        _ verdict: RuntimeSessionCore.Verdict,
        accepted: (HTTPResponseStatus, String),
        for req: Request,
        context: ChannelHandlerContext
    ) {
        switch verdict {
        case .accepted:
            reply(accepted.0, accepted.1, for: req, context: context)
        case .invalidRequestId:
            reply(.badRequest, RuntimeAPIReply.invalidRequestId, for: req, context: context)
        case .invalidTransition(let from, let to):
            reply(.forbidden, RuntimeAPIReply.invalidTransition(from: from, to: to), for: req, context: context)
        case .closed(let reason):
            var closing = req
            closing.keepAlive = false
            reply(.internalServerError, RuntimeAPIReply.closed(reason), for: closing, context: context)
        }
    }

    private func reply(
        _ status: HTTPResponseStatus,
        _ json: String,
        for req: Request,
        allow: String? = nil,
        context: ChannelHandlerContext
    ) {
        var out = ResponseEncoder(status, for: req, capacity: 192 + json.utf8.count, allocator: context.channel.allocator)
        out.header("Content-Type", "application/json")
        if let allow { out.header("Allow", allow) }
        write(out.finish(body: json.utf8), for: req, context: context)
    }

    /// Writes one whole response and closes afterwards unless the request is keep-alive;
    /// `promise`, if given, learns whether it was written (no future is made otherwise).
    private func write(
        _ response: ByteBuffer, for req: Request, context: ChannelHandlerContext, promise: EventLoopPromise<Void>? = nil
    ) {
        guard !req.keepAlive else {
            context.writeAndFlush(wrapOutboundOut(response), promise: promise)
            return
        }
        isClosing = true
        held.removeAll()
        let written = context.writeAndFlush(wrapOutboundOut(response))
        written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        if let promise { written.cascade(to: promise) }
    }
}

/// One HTTP/1.x response in one buffer: status line, headers, `Content-Length`, the connection
/// header the request's keep-alive calls for, then the body.
///
/// Header names are constants; values are numbers, constants, or passed through ``headerValue(_:)``
/// (control characters become spaces), so none can split the response.
private struct ResponseEncoder {
    private var buffer: ByteBuffer
    private let keepAlive: Bool
    private let http10: Bool

    init(_ status: HTTPResponseStatus, for req: RuntimeAPIHandler.Request, capacity: Int, allocator: ByteBufferAllocator) {
        buffer = allocator.buffer(capacity: capacity)
        keepAlive = req.keepAlive
        http10 = req.version.major == 1 && req.version.minor == 0
        buffer.writeStaticString(http10 ? "HTTP/1.0 " : "HTTP/1.1 ")
        buffer.writeString(String(status.code))
        buffer.writeStaticString(" ")
        buffer.writeString(status.reasonPhrase)
        buffer.writeStaticString("\r\n")
    }

    mutating func header(_ name: StaticString, _ value: String) {
        buffer.writeStaticString(name)
        buffer.writeStaticString(": ")
        buffer.writeString(value)
        buffer.writeStaticString("\r\n")
    }

    mutating func header(_ name: StaticString, _ value: some BinaryInteger) {
        header(name, String(value))
    }

    /// The header, unless `value` is nil or empty.
    mutating func headerIfPresent(_ name: StaticString, _ value: String?) {
        if let value = value.flatMap(headerValue) { header(name, value) }
    }

    /// The finished response, with `body`. (Mutating, not consuming: a consumed copy of the
    /// encoder made the buffer's first write after it copy the whole storage.)
    mutating func finish(body: some Collection<UInt8>) -> ByteBuffer {
        header("Content-Length", body.count)
        if !keepAlive {
            buffer.writeStaticString("Connection: close\r\n")
        } else if http10 {
            buffer.writeStaticString("Connection: keep-alive\r\n")
        }
        buffer.writeStaticString("\r\n")
        buffer.writeBytes(body)
        return buffer
    }
}

private func nonEmpty(_ value: String) -> String? {
    value.isEmpty ? nil : value
}

/// The error type a runtime names (`Lambda-Runtime-Function-Error-Type`): nil when empty; as given
/// when it is a name (1 to 256 printable ASCII characters, no space); else `Runtime.Unknown`, as
/// Lambda replaces an invalid one. It goes into the log's REPORT and INIT_REPORT lines, where a
/// TAB would add a field of its own, and into the metrics' labels.
func errorType(_ value: String) -> String? {
    let value = value.trimmingCharacters(in: [" ", "\t"])
    guard !value.isEmpty else { return nil }
    let utf8 = value.utf8
    guard utf8.count <= 256, utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else { return "Runtime.Unknown" }
    return value
}

/// A header value that can't split the response: control characters become spaces.
///
/// Safe for the JSON headers too, since JSON strings can't hold raw control characters and
/// whitespace between tokens is insignificant.
private func headerValue(_ value: String) -> String? {
    guard !value.isEmpty else { return nil }
    guard value.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { return value }
    return String(String.UnicodeScalarView(value.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : $0 }))
}
