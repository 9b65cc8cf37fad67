import Glibc
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1
import Synchronization

/// Bounds the Lambda API's connections, first in each one's pipeline (after HTTP decoding): how
/// many are open at once, and how long one may stay open with no request in progress.
///
/// Without these, anyone who can reach the port, signed or not, could hold connections until the
/// process runs out of file descriptors, and then neither signed requests nor instances would
/// get one. A connection over ``Limits/maxConnections`` is answered 429 (`TooManyRequests`,
/// `CallerRateLimitExceeded`, which boto3 retries) and closed at once. A connection is closed
/// once ``Limits/idleTimeout`` has passed since it last read a request part or finished writing
/// an answer, unless a request it has read whole is still being answered (an Invoke runs up to
/// its function's timeout; a large answer is still queued for a slow reader): so an idle
/// keep-alive connection, a half-sent header and a body that stalls each end there, as a load
/// balancer in front of Lambda would end them. A body still
/// arriving at that check (a byte at a time resets the idle time) goes on only if its request's
/// head would pass the signature check (known key, scope, current time; the signature itself
/// covers the body): an unsigned trickle is answered with its auth error and closed. A signed one
/// must then keep arriving at ``minimumBodyRate`` bytes a second at least, measured from one
/// check to the next (each an idle time apart at least): slower, it is answered 408 and closed,
/// so that a client with a key cannot hold connections by trickling bodies.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// Shared by every connection of one server.
    final class Limits: Sendable {
        let maxConnections: Int
        let idleTimeout: TimeAmount
        /// Checks the head of a request whose body is still arriving at an idle check; nil: no auth.
        let verifier: SigV4Verifier?
        /// Paths served without a signature.
        let unsignedPaths: Set<String>
        private let open = Atomic<Int>(0)

        init(maxConnections: Int, idleTimeout: TimeAmount, verifier: SigV4Verifier? = nil,
             unsignedPaths: Set<String> = []) {
            self.maxConnections = maxConnections
            self.idleTimeout = idleTimeout
            self.verifier = verifier
            self.unsignedPaths = unsignedPaths
        }

        /// Connections open now (refused ones count until they are closed).
        var openConnections: Int { open.load(ordering: .relaxed) }
        fileprivate func opened() -> Int { open.wrappingAdd(1, ordering: .relaxed).newValue }
        fileprivate func closed() { open.subtract(1, ordering: .relaxed) }

        /// A quarter of the process's file-descriptor limit: the rest is for instances (16 descriptors each),
        /// logs and the store.
        static var defaultMaxConnections: Int {
            var limit = rlimit()
            guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
            // RLIM_INFINITY is the largest value: capped like any large limit.
            return max(16, Int(min(limit.rlim_cur, 1 << 20)) / 4)
        }
    }

    private let limits: Limits
    private var counted = false
    /// Over the limit: answered 429 and closed; nothing it sends is read.
    private var refused = false
    private var answeredRefusal = false
    /// Requests whose head was read and whose answer's end has not been written.
    private var inProgress = 0
    /// The head of the request being read (its end not read yet).
    private var reading: HTTPRequestHead?
    /// Its head passed ``SigV4Verifier/checkHead(_:)`` (checked once, at the first idle check).
    private var readingChecked = false
    /// Body bytes of it read so far, and how many there were, and when, at the last idle check.
    private var readingBytes = 0
    private var progressMark: (bytes: Int, at: NIODeadline)?

    /// How the answer to each request read is framed, oldest first (one per head read, taken by
    /// the head of its answer).
    private var framing = CircularBuffer<Framing>()
    private enum Framing { case http11, http10(keepAlive: Bool) }
    /// The answer being written has no length (a stream) to an HTTP/1.0 client: its end is the
    /// connection's.
    private var closeAfterAnswer = false

    /// The least rate, in bytes a second, at which a body still arriving at an idle check must go
    /// on arriving (a 56 kbit/s modem sends 7,000).
    static let minimumBodyRate = 1024
    private var lastActive = NIODeadline.now()
    private var timer: Scheduled<Void>?

    init(_ limits: Limits) {
        self.limits = limits
    }

    func handlerAdded(context: ChannelHandlerContext) {
        counted = true
        guard limits.opened() <= limits.maxConnections else {
            refused = true
            // An accepted connection is added to before it is active: answered once it is.
            if context.channel.isActive { refuse(context: context) }
            return
        }
        lastActive = .now()
        schedule(at: lastActive + limits.idleTimeout, context: context)
    }

    func channelActive(context: ChannelHandlerContext) {
        if refused { refuse(context: context) }
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        if counted {
            counted = false
            limits.closed()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        lastActive = .now()
        switch unwrapInboundIn(data) {
        case .head(var head):
            if let coding = Self.unsupportedCoding(head) {
                answer(LambdaError(501, "NotImplemented", "Transfer-Encoding \(coding) is not supported: only chunked"),
                       context: context)
                return
            }
            inProgress += 1
            framing.append(head.version == .http1_0 ? .http10(keepAlive: head.isKeepAlive) : .http11)
            reading = head
            readingChecked = false
            readingBytes = 0
            progressMark = nil
            let rewritten = Self.closesAfterAnswer(&head)
            if Self.expectsContinue(head) {
                // The body is asked for only when the head would pass the signature check (known
                // key, scope, time): a client without a key gets its 403 now, not after its upload.
                if let failure = unsigned(head) {
                    answer(failure, context: context)
                    return
                }
                let interim = HTTPResponseHead(version: .http1_1, status: .continue)
                context.writeAndFlush(wrapOutboundOut(.head(interim)), promise: nil)
            }
            if rewritten {
                context.fireChannelRead(wrapInboundOut(.head(head)))
                return
            }
        case .body(let chunk):
            readingBytes += chunk.readableBytes
        case .end:
            reading = nil
        }
        context.fireChannelRead(data)
    }

    /// A `Transfer-Encoding` other than `chunked` alone (`gzip, chunked`, say), which the decoder
    /// would take as chunked and pass on still coded: answered 501, as RFC 9112 asks.
    private static func unsupportedCoding(_ head: HTTPRequestHead) -> String? {
        for header in head.headers where headerNamed(header.name, "transfer-encoding") {
            let value = header.value.trimmingCharacters(in: .whitespaces)
            if !headerNamed(value, "chunked") { return value }
        }
        return nil
    }

    /// A request that ends its connection (HTTP/1.0 without keep-alive, `Connection: Close` in any
    /// case or list) gets the exact `Connection: close` the router's loop looks for, so that the
    /// connection closes after the answer; true if `head` was changed.
    private static func closesAfterAnswer(_ head: inout HTTPRequestHead) -> Bool {
        guard !head.isKeepAlive, head.headers["Connection"] != ["close"] else { return false }
        head.headers.replaceOrAdd(name: "Connection", value: "close")
        return true
    }

    /// `Expect: 100-continue` on an HTTP/1.1 request whose body fits its operation's limit: the
    /// client is told to send it now (curl would wait a second), as Go's server does when a
    /// handler reads the body. A body over the limit gets its 413 without it.
    private static func expectsContinue(_ head: HTTPRequestHead) -> Bool {
        guard head.version == .http1_1,
              head.headers[canonicalForm: "Expect"].contains(where: { headerNamed(String($0), "100-continue") })
        else { return false }
        let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let method: HTTPRequest.Method = head.method == .POST ? .post : head.method == .PUT ? .put : .get
        var (limit, _) = LambdaBodyLimit<BasicRequestContext>.limit(method: method, path: String(path))
        // An Event invoke's payload has the smaller limit of the queue.
        if head.headers.first(name: "X-Amz-Invocation-Type").map({ headerNamed($0, "event") }) == true {
            limit = min(limit, LambdaService.maxEventPayload)
        }
        let length = head.headers.first(name: "Content-Length").flatMap { Int($0) }
        return length.map { $0 <= limit } ?? true
    }

    /// The server is stopping: a request whose head is in and whose body is not would hold the
    /// stop up to the idle timeout (60 s by default), waiting for bytes that may never come. Its
    /// connection is closed at once; requests read whole are answered, as Hummingbird does.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent, reading != nil {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head):
            if head.status.code >= 200, case .http10(let keepAlive)? = framing.popFirst() {
                frameForHTTP10(&head, keepAlive: keepAlive)
                context.write(wrapOutboundOut(.head(head)), promise: promise)
            } else {
                context.write(data, promise: promise)
            }
        case .body:
            context.write(data, promise: promise)
        case .end where !closeAfterAnswer && context.channel.isWritable:
            answered()
            context.write(data, promise: promise)
        case .end:
            // A large answer is still queued for a slow reader: it is in progress until written.
            // A stream to an HTTP/1.0 client ends with the connection once written.
            let closing = closeAfterAnswer
            closeAfterAnswer = false
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.assumeIsolatedUnsafeUnchecked().whenComplete { result in
                self.answered()
                promise?.completeWith(result)
                if closing { context.close(promise: nil) }
            }
            context.write(data, promise: written)
        }
    }

    /// An answer to an HTTP/1.0 request: one with a length says `Connection: keep-alive` when the
    /// client asked for it (an HTTP/1.0 client that sent it, `ab -k` say, reuses the connection
    /// only when the answer says so); one without (a response stream) cannot be chunked for such
    /// a client and ends with the connection, as RFC 9112 has it: an HTTP/1.0 head (so that the
    /// encoder adds no chunked coding), `Connection: close`, and the close after its end.
    private func frameForHTTP10(_ head: inout HTTPResponseHead, keepAlive: Bool) {
        if !head.status.mayHaveResponseBody || head.headers.contains(name: "Content-Length") {
            if keepAlive { head.headers.replaceOrAdd(name: "Connection", value: "keep-alive") }
            return
        }
        head.version = .http1_0
        head.headers.remove(name: "Transfer-Encoding")
        head.headers.replaceOrAdd(name: "Connection", value: "close")
        closeAfterAnswer = true
    }

    private func answered() {
        inProgress = max(0, inProgress - 1)
        lastActive = .now()
    }

    private func schedule(at deadline: NIODeadline, context: ChannelHandlerContext) {
        timer = context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(deadline: deadline) {
            self.timer = nil
            self.check(context: context)
        }
    }

    private func check(context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        if let head = reading, !readingChecked, let failure = unsigned(head) {
            // A body still arriving after an idle period holds a connection only for a signed request
            // (the signature itself covers the body, so it is checked once the body is in).
            answer(failure, context: context)
            return
        }
        readingChecked = reading != nil
        if reading != nil, let failure = tooSlow() {
            answer(failure, context: context)
            return
        }
        let due = lastActive + limits.idleTimeout
        if inProgress > 0 && reading == nil {
            // An answer is being made; the operation's own limit bounds it.
            schedule(at: .now() + limits.idleTimeout, context: context)
        } else if NIODeadline.now() >= due {
            context.close(promise: nil)
        } else {
            schedule(at: due, context: context)
        }
    }

    /// The 408 for a body that arrived more slowly than ``minimumBodyRate`` since the last idle
    /// check at which it was arriving (an idle time ago at least); nil if it keeps up, or at the
    /// first such check, which starts the measure.
    private func tooSlow() -> LambdaError? {
        let now = NIODeadline.now()
        guard let mark = progressMark else {
            progressMark = (readingBytes, now)
            return nil
        }
        let seconds = Double((now - mark.at).nanoseconds) / 1e9
        guard seconds >= Double(limits.idleTimeout.nanoseconds) / 1e9 else { return nil }
        let arrived = readingBytes - mark.bytes
        guard Double(arrived) < Double(Self.minimumBodyRate) * seconds else {
            progressMark = (readingBytes, now)
            return nil
        }
        return LambdaError(408, "RequestTimeoutException",
                           "The request body arrived too slowly: \(arrived) bytes in \(Int(seconds)) s, "
                           + "at least \(Self.minimumBodyRate) bytes a second are needed")
    }

    /// Why `head` would be refused by the signature check, if it would.
    ///
    /// Judged on the head as the router sees it (converted as the codec behind this handler
    /// converts it: an absolute-form target becomes its path), so that the unsigned paths and
    /// the signed headers are the router's. Only at an idle check, never per request.
    private func unsigned(_ head: HTTPRequestHead) -> LambdaError? {
        guard let verifier = limits.verifier,
              let request = try? HTTPRequest(head, secure: false, splitCookie: false) else { return nil }
        let (path, query) = SigV4Middleware<BasicRequestContext>.split(request.path ?? "/")
        guard !limits.unsignedPaths.contains(path) else { return nil }
        do throws(SigV4Error) {
            try verifier.checkHead(SigV4Middleware<BasicRequestContext>.sigV4Request(request, path: path, query: query))
            return nil
        } catch {
            return LambdaError(error.httpStatus, error.code, error.message)
        }
    }

    private func refuse(context: ChannelHandlerContext) {
        answer(LambdaError(429, "TooManyRequestsException",
                           "Too many connections: this server keeps at most \(limits.maxConnections) open",
                           reason: "CallerRateLimitExceeded"), context: context)
    }

    /// Answers `error` and closes the connection; nothing more it sends is read.
    private func answer(_ failure: LambdaError, context: ChannelHandlerContext) {
        guard !answeredRefusal else { return }
        answeredRefusal = true
        refused = true
        let error = failure.answer
        var head = error.http1Head(extra: 1)
        head.headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(error.body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolatedUnsafeUnchecked().whenComplete { _ in
            // A lingering close: the answer and a FIN first, while what the client still sends is
            // read and dropped, so that the close that follows does not reset the answer away.
            context.close(mode: .output, promise: nil)
            context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: Self.linger) {
                context.close(promise: nil)
            }
        }
    }

    /// How long a refused connection is read (and dropped) after its answer, before it is closed.
    static let linger = TimeAmount.seconds(2)
}
