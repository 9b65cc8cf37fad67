import NIOCore
import NIOHTTP1

/// Serves one runtime connection: routes each request, keeps post bodies up to their cap, and
/// answers from the session core.
///
/// A `GET /next` that has nothing to deliver parks a promise in the core and is answered when the
/// supervisor invokes (or closes the session). There is deliberately no read timeout: the runtime
/// long-polls, and a slow runtime only hurts its own invocation, which the supervisor times out.
final class RuntimeAPIHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// The request being read.
    private struct Request {
        var route: RuntimeAPIRoute
        var version: HTTPVersion
        var keepAlive: Bool
        var errorType: String?
        var contentType: String?
        var declaredLength: Int?
        /// `Lambda-Runtime-Function-Response-Mode` asked for something other than `buffered`.
        var badMode = false
        var body: ByteBuffer?
        var received = 0
        /// Set once the body is known to exceed its cap: the answer is decided, the rest is drained.
        var oversize: RuntimeSessionCore.Verdict?
    }

    private let core: RuntimeSessionCore
    private var request: Request?
    /// The core's id for this connection's parked `/next`, so a disconnect can withdraw it.
    private var parkedId: UInt64?

    init(core: RuntimeSessionCore) {
        self.core = core
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): requestHead(head)
        case .body(let part): requestBody(part, context: context)
        case .end: requestEnd(context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let id = parkedId {
            parkedId = nil
            core.cancelNext(id: id)?.fail(ChannelError.ioOnClosedChannel)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Protocol errors were already answered by HTTPServerProtocolErrorHandler; anything else is fatal
        // for this connection only.
        context.close(promise: nil)
    }

    // MARK: Reading

    private func requestHead(_ head: HTTPRequestHead) {
        var req = Request(
            route: RuntimeAPIRoute(method: head.method, uri: head.uri),
            version: head.version,
            keepAlive: head.isKeepAlive
        )
        if req.route.keepsBody {
            req.errorType = head.headers.first(name: "Lambda-Runtime-Function-Error-Type").flatMap(nonEmpty)
            req.contentType = head.headers.first(name: "Content-Type").flatMap(nonEmpty)
            req.declaredLength = head.headers.first(name: "Content-Length").flatMap { Int($0) }
            if case .response = req.route,
                let mode = head.headers.first(name: "Lambda-Runtime-Function-Response-Mode"),
                mode.lowercased() != "buffered"
            {
                req.badMode = true
            } else if let length = req.declaredLength, length > RuntimeAPI.maxResponseBytes {
                // Decide before reading a byte, so the supervisor's caller isn't kept waiting for the upload.
                req.oversize = overflow(req.route, bytes: length)
            }
        }
        request = req
    }

    private func requestBody(_ part: ByteBuffer, context: ChannelHandlerContext) {
        guard var req = request else { return }
        // Take the request out so appending to its body doesn't trigger a copy-on-write of the buffer.
        request = nil
        req.received += part.readableBytes
        if !req.route.keepsBody || req.badMode || req.oversize != nil {
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

    // MARK: Answering

    private func requestEnd(context: ChannelHandlerContext) {
        guard let req = request else { return }
        request = nil
        switch req.route {
        case .next:
            next(req, context: context)
        case .response(let id), .invocationError(let id):
            post(req, requestId: id, context: context)
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

    private func post(_ req: Request, requestId: Substring, context: ChannelHandlerContext) {
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
            let outcome: InvocationOutcome =
                isResponse
                ? .response(body: body, contentType: req.contentType)
                : .error(errorType: req.errorType, body: body)
            let verdict = core.complete(requestId: requestId, to: target, outcome: outcome)
            replyVerdict(verdict, accepted: (.accepted, RuntimeAPIReply.accepted), for: req, context: context)
        }
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
            promise.futureResult.assumeIsolated().whenComplete { result in
                self.parkedId = nil
                switch result {
                case .success(let invocation):
                    self.deliver(invocation, for: req, context: context)
                case .failure(RuntimeSessionError.closed(let reason)):
                    var closing = req
                    closing.keepAlive = false
                    self.reply(.internalServerError, RuntimeAPIReply.closed(reason), for: closing, context: context)
                case .failure:
                    break  // The connection went away; nothing to answer.
                }
            }
        }
    }

    /// Writes the `/next` answer; if the connection is gone, hands the invocation back to the core.
    private func deliver(_ invocation: Invocation, for req: Request, context: ChannelHandlerContext) {
        let core = self.core
        let requestId = invocation.requestId
        guard context.channel.isActive else {
            core.undeliver(requestId: requestId)
            return
        }
        var headers = HTTPHeaders()
        headers.reserveCapacity(9)
        headers.add(name: "Content-Type", value: invocation.contentType.flatMap(headerValue) ?? "application/json")
        headers.add(name: "Content-Length", value: String(invocation.payload.count))
        headers.add(name: "Lambda-Runtime-Deadline-Ms", value: String(invocation.deadlineMs))
        // Each only when non-empty, as RAPID renders them.
        func addIfPresent(_ name: String, _ value: String?) {
            if let value = value.flatMap(headerValue) { headers.add(name: name, value: value) }
        }
        addIfPresent("Lambda-Runtime-Aws-Request-Id", invocation.requestId)
        addIfPresent("Lambda-Runtime-Invoked-Function-Arn", invocation.invokedFunctionArn)
        addIfPresent("Lambda-Runtime-Trace-Id", invocation.traceId)
        addIfPresent("Lambda-Runtime-Client-Context", invocation.clientContext)
        addIfPresent("Lambda-Runtime-Cognito-Identity", invocation.cognitoIdentity)
        if !req.keepAlive { headers.add(name: "Connection", value: "close") }
        var body = context.channel.allocator.buffer(capacity: invocation.payload.count)
        body.writeBytes(invocation.payload)
        let written = write(HTTPResponseHead(version: req.version, status: .ok, headers: headers), body, req, context)
        written.whenFailure { _ in core.undeliver(requestId: requestId) }
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
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(json.utf8.count))
        if let allow { headers.add(name: "Allow", value: allow) }
        if !req.keepAlive { headers.add(name: "Connection", value: "close") }
        let body = context.channel.allocator.buffer(string: json)
        _ = write(HTTPResponseHead(version: req.version, status: status, headers: headers), body, req, context)
    }

    /// Writes one whole response and closes afterwards unless the request is keep-alive.
    private func write(
        _ head: HTTPResponseHead,
        _ body: ByteBuffer,
        _ req: Request,
        _ context: ChannelHandlerContext
    ) -> EventLoopFuture<Void>.Isolated {
        var head = head
        if req.keepAlive, req.version.major == 1, req.version.minor == 0 {
            head.headers.add(name: "Connection", value: "keep-alive")
        }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated()
        if !req.keepAlive {
            written.whenComplete { _ in context.close(promise: nil) }
        }
        return written
    }
}

private func nonEmpty(_ value: String) -> String? {
    value.isEmpty ? nil : value
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
