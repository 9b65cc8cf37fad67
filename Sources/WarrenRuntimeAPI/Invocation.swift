import NIOCore
import Synchronization

/// One event handed to a runtime by `GET /runtime/invocation/next`.
public struct Invocation: Sendable {
    /// `Lambda-Runtime-Aws-Request-Id`: the invoke's request id (a UUID).
    public var requestId: String
    /// The event bytes, sent verbatim as the `/next` body.
    public var payload: [UInt8]
    /// The payload's `Content-Type`; `nil` sends `application/json`.
    public var contentType: String?
    /// `Lambda-Runtime-Deadline-Ms`: invoke start + function timeout, Unix epoch milliseconds.
    public var deadlineMs: Int64
    /// `Lambda-Runtime-Invoked-Function-Arn`: the ARN exactly as invoked (unqualified, version or alias).
    public var invokedFunctionArn: String
    /// `Lambda-Runtime-Trace-Id`: the X-Ray trace header, if any.
    public var traceId: String?
    /// `Lambda-Runtime-Client-Context`: client context JSON, already base64-decoded.
    public var clientContext: String?
    /// `Lambda-Runtime-Cognito-Identity`: Cognito identity JSON.
    public var cognitoIdentity: String?
    /// Where a response the runtime streams goes as it arrives; nil: it is collected.
    public var stream: ResponseStream?

    /// Creates an invocation; optional headers left `nil` or empty are not sent.
    public init(
        requestId: String,
        payload: [UInt8],
        contentType: String? = nil,
        deadlineMs: Int64,
        invokedFunctionArn: String,
        traceId: String? = nil,
        clientContext: String? = nil,
        cognitoIdentity: String? = nil,
        stream: ResponseStream? = nil
    ) {
        self.requestId = requestId
        self.payload = payload
        self.contentType = contentType
        self.deadlineMs = deadlineMs
        self.invokedFunctionArn = invokedFunctionArn
        self.traceId = traceId
        self.clientContext = clientContext
        self.cognitoIdentity = cognitoIdentity
        self.stream = stream
    }
}

/// The caller's side of an invocation that takes its response as the runtime streams it
/// (InvokeWithResponseStream): told when the invocation starts, then given each chunk of a
/// response the runtime posts in streaming mode, on the runtime's event loop. A buffered
/// response is not sent here: it arrives whole in the outcome.
///
/// Flow control: the caller reports each chunk it has passed on with ``consumed(_:)``. Once more
/// than ``highWater`` bytes are given and not consumed, the Runtime API stops reading the
/// runtime's connection (the runtime's writes then block, as a socket's do), and reads again
/// when the caller is back under ``lowWater``. A caller that goes away calls ``abandon()``: the
/// rest of the response is read and dropped, and the runtime is never held for it.
public final class ResponseStream: Sendable {
    /// Bytes given and not yet consumed past which the runtime's connection stops being read.
    public static let highWater = 1 << 20
    /// Pending bytes at or below which it is read again.
    public static let lowWater = 256 << 10

    /// The most a runtime may stream to this caller; past it the invocation ends as too large.
    public let limit: Int
    private let onStart: @Sendable (_ executedVersion: String, _ requestId: String) -> Void
    private let onChunk: @Sendable (ByteBuffer) -> Void

    private struct Flow {
        var pending = 0
        var abandoned = false
        /// Set while the runtime's connection is not read: called once, when reading may resume.
        var resume: (@Sendable () -> Void)?
    }
    private let flow = Mutex(Flow())

    /// - Parameters:
    ///   - limit: The most the runtime may stream (``RuntimeAPI/maxStreamedBytes`` by default).
    ///   - onStart: The invocation is about to reach its instance.
    ///   - onChunk: A chunk the runtime streamed, in order; report it with ``consumed(_:)`` once
    ///     it has been passed on.
    public init(
        limit: Int = RuntimeAPI.maxStreamedBytes,
        onStart: @escaping @Sendable (_ executedVersion: String, _ requestId: String) -> Void,
        onChunk: @escaping @Sendable (ByteBuffer) -> Void
    ) {
        self.limit = limit
        self.onStart = onStart
        self.onChunk = onChunk
    }

    /// The invocation is about to reach its instance (admitted, the version chosen).
    public func start(executedVersion: String, requestId: String) { onStart(executedVersion, requestId) }

    /// The caller has passed on `bytes` of what it was given.
    public func consumed(_ bytes: Int) {
        let resume = flow.withLock { flow -> (@Sendable () -> Void)? in
            flow.pending = max(0, flow.pending - bytes)
            guard flow.pending <= Self.lowWater, let resume = flow.resume else { return nil }
            flow.resume = nil
            return resume
        }
        resume?()
    }

    /// The caller takes nothing more: chunks are dropped from now on and the runtime is not held.
    public func abandon() {
        let resume = flow.withLock { flow -> (@Sendable () -> Void)? in
            flow.abandoned = true
            flow.pending = 0
            defer { flow.resume = nil }
            return flow.resume
        }
        resume?()
    }

    /// Gives the caller a chunk (or drops it, if the caller has gone). Returns false when the
    /// caller is behind by more than ``highWater``: the sender stops reading until `resume` is
    /// called (once, from any thread).
    func send(_ chunk: ByteBuffer, resume: @escaping @Sendable () -> Void) -> Bool {
        let (deliver, goOn) = flow.withLock { flow -> (Bool, Bool) in
            guard !flow.abandoned else { return (false, true) }
            flow.pending += chunk.readableBytes
            guard flow.pending > Self.highWater else { return (true, true) }
            flow.resume = resume
            return (true, false)
        }
        if deliver { onChunk(chunk) }
        return goOn
    }
}

/// How a runtime finished one invocation.
public enum InvocationOutcome: Sendable, Equatable {
    /// `POST …/{id}/response`: the result bytes and the runtime's `Content-Type` (no bytes when
    /// they were streamed to the invocation's ``ResponseStream``).
    case response(body: [UInt8], contentType: String?)
    /// `POST …/{id}/error`: `errorType` from `Lambda-Runtime-Function-Error-Type`, body verbatim (may be empty).
    ///
    /// A `/response` with an unknown `Lambda-Runtime-Function-Response-Mode` also ends here, as
    /// `Runtime.InvalidResponseModeHeader` with a Lambda-style JSON body; so does a streamed
    /// response whose trailers name an error (`Lambda-Runtime-Function-Error-Type`).
    case error(errorType: String?, body: [UInt8])
    /// The runtime posted more than ``RuntimeAPI/maxResponseBytes`` and got `413`.
    ///
    /// `bytes` is the declared `Content-Length`, or for a chunked body the count read when the
    /// limit was crossed (so: at least `maxResponseBytes + 1`).
    case responseTooLarge(bytes: Int)
}

/// How a runtime's initialisation ended.
public enum InitOutcome: Sendable, Equatable {
    /// The runtime called `GET /next` for the first time.
    case ready
    /// The runtime posted `/runtime/init/error` before its first `/next`.
    case initError(errorType: String?, body: [UInt8])
}

/// Why a ``RuntimeSession`` call failed.
public enum RuntimeSessionError: Error, Sendable, Equatable {
    /// The session was closed (instance died or was destroyed); the string is the close reason.
    case closed(String)
    /// The session was closed (the string is the reason) before any `/next` took the invocation:
    /// the runtime never saw it (it answered the one before and exited), so it may run elsewhere.
    case notDelivered(String)
    /// ``RuntimeSession/invoke(_:)`` was called while another invocation (this request id) was outstanding.
    case busy(String)
    /// The deadline given to ``RuntimeSession/invoke(_:deadline:on:)`` passed before the runtime
    /// answered; the session is closed (the runtime may still be running the event).
    case timedOut
    /// The runtime's connection closed part way through its `/response` or `/error` post, and the
    /// runtime did not exit within the grace that follows; the session is closed. The string says
    /// how much arrived.
    case truncated(String)
}

/// Why ``RuntimeAPIServer/start(listeningSocket:session:group:)`` failed.
public enum RuntimeAPIServerError: Error, Sendable, Equatable {
    /// The group is not a NIOPosix `MultiThreadedEventLoopGroup` (or one of its loops).
    case unsupportedEventLoopGroup(String)
    /// The fd is not a listening TCP socket (errno, or 0 if it is a socket that isn't listening).
    case notAListeningSocket(fd: Int32, errno: Int32)
}
