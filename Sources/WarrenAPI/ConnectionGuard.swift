import Glibc
import HTTPTypes
import NIOCore
import NIOHTTPTypes
import Synchronization

/// Bounds the Lambda API's connections, first in each one's pipeline (after HTTP decoding): how
/// many are open at once, and how long one may stay open with no request in progress.
///
/// Without these, anyone who can reach the port, signed or not, could hold connections until the
/// process runs out of file descriptors, and then neither signed requests nor instances would
/// get one. A connection over ``Limits/maxConnections`` is answered 429 (`TooManyRequests`,
/// `CallerRateLimitExceeded`, which boto3 retries) and closed at once. A connection is closed
/// once ``Limits/idleTimeout`` has passed since it last read a request part or wrote the end of
/// an answer, unless a request it has read whole is still being answered (an Invoke runs up to
/// its function's timeout): so an idle keep-alive connection, a half-sent header and a body that
/// stalls each end there, as a load balancer in front of Lambda would end them.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// Shared by every connection of one server.
    final class Limits: Sendable {
        let maxConnections: Int
        let idleTimeout: TimeAmount
        private let open = Atomic<Int>(0)

        init(maxConnections: Int, idleTimeout: TimeAmount) {
            self.maxConnections = maxConnections
            self.idleTimeout = idleTimeout
        }

        /// Connections open now (refused ones count until they are closed).
        var openConnections: Int { open.load(ordering: .relaxed) }
        fileprivate func opened() -> Int { open.wrappingAdd(1, ordering: .relaxed).newValue }
        fileprivate func closed() { open.subtract(1, ordering: .relaxed) }

        /// Half the process's file-descriptor limit: the rest is for instances, logs and the store.
        static var defaultMaxConnections: Int {
            var limit = rlimit()
            guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 4096 }
            // RLIM_INFINITY is the largest value: capped like any large limit.
            return max(16, Int(min(limit.rlim_cur, 1 << 20)) / 2)
        }
    }

    private let limits: Limits
    private var counted = false
    /// Over the limit: answered 429 and closed; nothing it sends is read.
    private var refused = false
    private var answeredRefusal = false
    /// Requests whose head was read and whose answer's end has not been written.
    private var inProgress = 0
    /// A request's head was read and its end not yet.
    private var reading = false
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
        case .head:
            inProgress += 1
            reading = true
        case .body:
            break
        case .end:
            reading = false
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            inProgress = max(0, inProgress - 1)
            lastActive = .now()
        }
        context.write(data, promise: promise)
    }

    private func schedule(at deadline: NIODeadline, context: ChannelHandlerContext) {
        timer = context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(deadline: deadline) {
            self.timer = nil
            self.check(context: context)
        }
    }

    private func check(context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        let due = lastActive + limits.idleTimeout
        if inProgress > 0 && !reading {
            // An answer is being made; the operation's own limit bounds it.
            schedule(at: .now() + limits.idleTimeout, context: context)
        } else if NIODeadline.now() >= due {
            context.close(promise: nil)
        } else {
            schedule(at: due, context: context)
        }
    }

    private func refuse(context: ChannelHandlerContext) {
        guard !answeredRefusal else { return }
        answeredRefusal = true
        var error = LambdaError(429, "TooManyRequestsException",
                                "Too many connections: this server keeps at most \(limits.maxConnections) open",
                                reason: "CallerRateLimitExceeded").answer
        error.headers[.contentLength] = String(error.body.readableBytes)
        error.headers[.connection] = "close"
        context.write(wrapOutboundOut(.head(HTTPResponse(status: error.status, headerFields: error.headers))),
                      promise: nil)
        context.write(wrapOutboundOut(.body(error.body)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolatedUnsafeUnchecked().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
