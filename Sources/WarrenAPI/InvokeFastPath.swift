import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTP1
import Synchronization

/// An answer of the Lambda API: status, headers and body. The router wraps it in a Hummingbird
/// `Response`; the Invoke fast path writes it to the channel itself.
struct LambdaAnswer: Sendable {
    var status: HTTPResponse.Status
    var headers: HTTPFields
    var body = ByteBuffer()

    var response: Response {
        Response(status: status, headers: headers, body: ResponseBody(byteBuffer: body))
    }
}

/// Serves `Invoke` from the HTTP channel's pipeline, in front of Hummingbird's router (and of
/// the conversion to swift-http-types that the router's requests go through: see
/// ``LambdaHTTPChannel``).
///
/// An Invoke is most of what a Lambda API server answers, and each one already costs three
/// HTTP exchanges (the client's, the runtime's `/next` and `/response`). Through the router it
/// also crosses Hummingbird's async request and body streams and three middlewares: about
/// sixty Swift Concurrency jobs per request here, against a handful on this path. This handler
/// takes an Invoke whose head and body are in (a body of at most 1 MB with a Content-Length),
/// checks it exactly as the route does (SigV4, then the route's own parsing of the function
/// name, qualifier, headers and JSON payload), calls the same ``LambdaService/invoke(_:)`` and
/// writes the route's answer with the headers the application adds (`Content-Length`,
/// `Date`, `Server`). Anything else goes on to the router untouched, and so does an Invoke
/// that fails a check: the router then answers it with its error, so every error keeps one
/// source. A request is taken only when no earlier one on the connection is still being
/// answered by the router, and requests pipelined behind a fast Invoke are held (bounded) until
/// its answer is written: answers leave in request order.
final class InvokeFastPath: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum Phase {
        case idle
        /// An Invoke's head is in (and its `{fn}`, read from the path once); its body is being
        /// gathered here.
        case collecting(HTTPRequestHead, fn: Substring, ByteBuffer)
        /// The current request goes to the router, part by part.
        case passing
        /// An Invoke is running; its answer is written from here.
        case invoking
    }

    /// What this handler needs from the server.
    struct Settings: Sendable {
        var service: LambdaService
        var verifier: SigV4Verifier?
        var serverName: String?
        /// Counts the Invokes answered here (the rest went to the router).
        var taken = Counter()
    }

    final class Counter: Sendable {
        private let count = Atomic<Int>(0)
        func add() { count.add(1, ordering: .relaxed) }
        var value: Int { count.load(ordering: .relaxed) }
    }

    /// Bodies larger than this go to the router (which hashes large ones off the event loop).
    static let bodyLimit = largeBody
    /// Parts of pipelined requests held behind a running Invoke; more closes the connection.
    /// (No further read is asked of the socket once parts are held: what is held is what one
    /// read gave.)
    static let heldLimit = 256

    private let settings: Settings
    private var phase = Phase.idle
    /// Requests handed to the router whose answers have not all passed back through here.
    private var routerAnswersDue = 0
    private var held: [HTTPServerRequestPart] = []
    /// Quiesce, input-closed and errors that arrived while an Invoke ran: passed on after it,
    /// so the router's side neither closes the connection nor answers an error before it.
    private var heldEvents: [HeldEvent] = []
    private enum HeldEvent { case event(Any), error(any Error) }
    /// A read the channel asked for while an Invoke ran; asked for after it.
    private var readHeld = false

    init(_ settings: Settings) {
        self.settings = settings
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if case .invoking = phase {
            guard held.count < Self.heldLimit else {
                context.close(promise: nil)
                return
            }
            held.append(part)
            return
        }
        process(part, context: context)
    }

    private func process(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch (part, phase) {
        case (.head(let head), .idle):
            if routerAnswersDue == 0, let fn = Self.candidate(head) {
                phase = .collecting(head, fn: fn, context.channel.allocator.buffer(capacity: 0))
            } else {
                pass(part, context: context)
            }
        case (.body(let chunk), .collecting(let head, let fn, var body)):
            phase = .idle  // the buffer is appended to in place, not copied
            if body.readableBytes + chunk.readableBytes <= Self.bodyLimit {
                // A body that came in one piece (nearly all) is kept as the decoder gave it: a
                // view of the read, no copy.
                if body.readableBytes == 0 { body = chunk } else { body.writeImmutableBuffer(chunk) }
                phase = .collecting(head, fn: fn, body)
            } else {
                replay(head, body, context: context)
                context.fireChannelRead(wrapInboundOut(part))
            }
        case (.end(let trailers), .collecting(let head, let fn, let body)):
            if trailers == nil, let invoke = prepare(head, fn: fn, body) {
                settings.taken.add()
                phase = .invoking
                start(invoke, context: context)
            } else {
                replay(head, body, context: context)
                context.fireChannelRead(wrapInboundOut(part))
                phase = .idle
            }
        case (.end, .passing):
            context.fireChannelRead(wrapInboundOut(part))
            phase = .idle
        case (.head, _):
            pass(part, context: context)
        default:
            context.fireChannelRead(wrapInboundOut(part))
        }
        releaseEvents(context: context)
    }

    /// Hands a request (from its head) to the router.
    private func pass(_ head: HTTPServerRequestPart, context: ChannelHandlerContext) {
        routerAnswersDue += 1
        phase = .passing
        context.fireChannelRead(wrapInboundOut(head))
    }

    /// Hands a gathered request to the router after all; the caller forwards the part in hand.
    private func replay(_ head: HTTPRequestHead, _ body: ByteBuffer, context: ChannelHandlerContext) {
        pass(.head(head), context: context)
        if body.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(.body(body))) }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // Only the router's answers pass here (this handler's own start at its context), the 400
        // for bad bytes among them, which no request passed on had asked for.
        if case .end = unwrapOutboundIn(data) { routerAnswersDue = max(0, routerAnswersDue - 1) }
        context.write(data, promise: promise)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The router's side would close an idle connection (quiesce) or finish it (input closed)
        // while an Invoke it never saw is still to be answered.
        if Self.isInputClosed(event) { giveUpCollecting(context: context) }
        if isBusy, event is ChannelShouldQuiesceEvent || Self.isInputClosed(event) {
            heldEvents.append(.event(event))
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        giveUpCollecting(context: context)
        if isBusy { heldEvents.append(.error(error)) } else { context.fireErrorCaught(error) }
    }

    /// A request being gathered will not be completed (bad bytes, input closed): the router
    /// gets what came of it, and the error or the end after it.
    private func giveUpCollecting(context: ChannelHandlerContext) {
        guard case .collecting(let head, _, let body) = phase else { return }
        replay(head, body, context: context)
    }

    /// Backpressure: once parts are held behind a running Invoke (the client pipelines), no more
    /// bytes are read until it is answered. A client that waits for each answer sends nothing
    /// meanwhile, so its reads go on: pausing them would cost two `epoll_ctl` per request.
    func read(context: ChannelHandlerContext) {
        if case .invoking = phase, !held.isEmpty { readHeld = true } else { context.read() }
    }

    /// An Invoke of this handler's is being gathered, runs, or has requests held behind it.
    private var isBusy: Bool {
        switch phase {
        case .collecting, .invoking: true
        case .idle, .passing: !held.isEmpty
        }
    }

    /// Passes on the events held while busy, once no longer.
    private func releaseEvents(context: ChannelHandlerContext) {
        guard !heldEvents.isEmpty, !isBusy else { return }
        let events = heldEvents
        heldEvents = []
        for held in events {
            switch held {
            case .event(let event): context.fireUserInboundEventTriggered(event)
            case .error(let error): context.fireErrorCaught(error)
            }
        }
    }

    private static func isInputClosed(_ event: Any) -> Bool {
        if case .inputClosed? = event as? ChannelEvent { return true }
        return false
    }

    /// The `{fn}` of an HTTP/1.1 POST to `/2015-03-31/functions/{fn}/invocations` with a
    /// Content-Length within the bound, no `Expect` and no `Connection: close` (the router's loop
    /// closes after those); nil for any other request.
    private static func candidate(_ head: HTTPRequestHead) -> Substring? {
        guard head.method == .POST, head.version == .http1_1, let fn = functionComponent(of: head.uri) else {
            return nil
        }
        var length: Int?
        for header in head.headers {  // one pass, not a scan per name
            if headerNamed(header.name, "content-length") {
                length = Int(header.value)
            } else if headerNamed(header.name, "expect") {
                return nil
            } else if headerNamed(header.name, "connection"), header.value.lowercased().contains("close") {
                return nil
            }
        }
        guard let length, length <= bodyLimit else { return nil }
        return fn
    }

    /// `X-Amz-Invocation-Type`, `X-Amz-Log-Type` and `X-Amz-Client-Context`; nil if one is
    /// repeated (the router then answers what their values joined together say).
    private static func invokeHeaders(_ headers: HTTPHeaders) -> (type: String?, log: String?, context: String?)? {
        var type: String?
        var log: String?
        var context: String?
        for header in headers {
            if headerNamed(header.name, "x-amz-invocation-type") {
                guard type == nil else { return nil }
                type = header.value
            } else if headerNamed(header.name, "x-amz-log-type") {
                guard log == nil else { return nil }
                log = header.value
            } else if headerNamed(header.name, "x-amz-client-context") {
                guard context == nil else { return nil }
                context = header.value
            }
        }
        return (type, log, context)
    }

    private static let pathPrefix = Array("/2015-03-31/functions/".utf8)
    private static let pathSuffix = Array("/invocations".utf8)

    /// `{fn}` of a `/2015-03-31/functions/{fn}/invocations` target (before any `?`), if `{fn}`
    /// needs no percent-decoding (ARNs with encoded colons take the router). Compared as bytes.
    private static func functionComponent(of target: String) -> Substring? {
        let bytes = target.utf8
        let end = bytes.firstIndex(of: UInt8(ascii: "?")) ?? bytes.endIndex
        let path = bytes[..<end]
        guard path.count > pathPrefix.count + pathSuffix.count, path.starts(with: pathPrefix),
              path.suffix(pathSuffix.count).elementsEqual(pathSuffix) else { return nil }
        let fn = path.dropFirst(pathPrefix.count).dropLast(pathSuffix.count)
        guard !fn.contains(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "%") }) else { return nil }
        return Substring(fn)
    }

    /// The Invoke the request asks for if it passes every check the router makes; nil sends it
    /// to the router, which answers the failure.
    private func prepare(_ head: HTTPRequestHead, fn component: Substring, _ body: ByteBuffer) -> InvokeRequest? {
        let (path, query) = SigV4Middleware<BasicRequestContext>.split(head.uri)
        if let verifier = settings.verifier {
            var signed = SigV4Middleware<BasicRequestContext>.sigV4Request(head, path: path, query: query)
            signed.bodySHA256 = body.withUnsafeReadableBytes { SigV4Canonical.hexSHA256($0) }
            guard (try? verifier.verify(signed)) != nil else { return nil }
        }
        guard let fn = try? FunctionReference(path: String(component), maxLength: 256),
              (try? fn.checkReachable(from: settings.service.arn)) != nil,
              let headers = Self.invokeHeaders(head.headers) else { return nil }
        let qualifier = query.isEmpty ? nil : URI(head.uri).queryParameters["Qualifier"].map(String.init)
        guard var invoke = try? LambdaRoutes.invokeRequest(
                invocationType: headers.type, logType: headers.log, clientContext: headers.context,
                qualifier: qualifier, fn: fn),
              let payload = try? LambdaRoutes.payload(body) else { return nil }
        invoke.payload = payload
        return invoke
    }

    /// Runs the invocation; its answer is written on the channel's loop. The task starts on
    /// this thread, now (up to its first suspension: the hand-over to the instance), not at the
    /// loop's next turn; an answer known at once (not found, throttled) is written before this
    /// returns.
    private func start(_ invoke: InvokeRequest, context: ChannelHandlerContext) {
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        let service = settings.service
        Task.immediate {
            let answer: LambdaAnswer
            do {
                answer = LambdaRoutes.answer(try await service.invoke(invoke))
            } catch {
                answer = LambdaError(error).answer
            }
            if loop.inEventLoop {
                bound.value.0.finish(answer, context: bound.value.1)
            } else {
                loop.execute { bound.value.0.finish(answer, context: bound.value.1) }
            }
        }
    }

    /// Writes the answer as the application would (its headers, then `Content-Length`, `Date`
    /// and `Server`), then takes up what arrived meanwhile.
    private func finish(_ answer: LambdaAnswer, context: ChannelHandlerContext) {
        var head = answer.http1Head(extra: 2)
        head.headers.add(name: "Date", value: HTTPDate.now)
        if let server = settings.serverName { head.headers.add(name: "Server", value: server) }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if answer.body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(answer.body))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        phase = .idle
        let parts = held
        held = []
        for part in parts {
            if case .invoking = phase { held.append(part) } else { process(part, context: context) }
        }
        // Outside a read cycle: the router's side takes in what it was given at read-complete.
        if !parts.isEmpty { context.fireChannelReadComplete() }
        releaseEvents(context: context)
        if readHeld, !isBusy {
            readHeld = false
            context.read()
        }
    }
}

/// The `Date` header (RFC 9110's IMF-fixdate), formatted once per second.
enum HTTPDate {
    private static let cache = Mutex<(second: Int, text: String)>((-1, ""))
    private static let days = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]  // 1970-01-01 was a Thursday
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static var now: String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        let second = spec.tv_sec
        return cache.withLock { cached in
            if cached.second != second { cached = (second, format(second)) }
            return cached.text
        }
    }

    /// `Sun, 06 Nov 1994 08:49:37 GMT` for seconds since the epoch.
    static func format(_ epochSeconds: Int) -> String {
        var t = time_t(epochSeconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(days[Int(epochSeconds / 86_400 % 7)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) "
            + "\(parts.tm_year + 1900) \(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
