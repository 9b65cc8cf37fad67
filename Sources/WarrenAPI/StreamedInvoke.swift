import Hummingbird
import NIOCore
import WarrenRuntimeAPI

/// One InvokeWithResponseStream in flight: the invoke runs in its own task, and what it reports
/// (it started, each chunk a runtime streams, its end) is read in order by one consumer: the
/// route reads the first event to choose its answer, then the response body reads the rest.
///
/// `@unchecked Sendable`: the iterator is only ever used by one task at a time, the route's and
/// then the body writer's, which runs after the route has returned.
final class StreamedInvoke: @unchecked Sendable {
    enum Event: Sendable {
        /// Admitted, the version chosen, an instance about to get it: the answer's headers.
        case started(version: String, requestId: String)
        case chunk(ByteBuffer)
        case done(InvokeOutcome)
        case failed(any Error)
    }

    private var iterator: AsyncStream<Event>.Iterator
    /// Told what the caller has been sent (flow control), and when it is gone.
    private let stream: ResponseStream

    init(_ request: InvokeRequest, service: LambdaService) {
        let (events, continuation) = AsyncStream<Event>.makeStream()
        iterator = events.makeAsyncIterator()
        stream = ResponseStream(
            onStart: { version, requestId in continuation.yield(.started(version: version, requestId: requestId)) },
            onChunk: { chunk in continuation.yield(.chunk(chunk)) })
        var request = request
        request.stream = stream
        // The invocation runs to its end even if the caller goes away, as on Lambda.
        Task {
            do {
                continuation.yield(.done(try await service.invoke(request)))
            } catch {
                continuation.yield(.failed(error))
            }
            continuation.finish()
        }
    }

    /// An answer that is not streamed (an error, DryRun), or one whose caller left, holds the
    /// runtime for nothing: what it streams from now on is dropped.
    deinit {
        stream.abandon()
    }

    func next() async -> Event? {
        await iterator.next()
    }

    /// Writes the events after `.started` as event stream messages, each chunk as it comes.
    func send(to writer: inout any ResponseBodyWriter) async throws {
        while let event = await next() {
            var body = ByteBuffer()
            var consumed = 0
            switch event {
            case .started: continue  // again, after an instance that ended before the invocation reached it
            case .chunk(let chunk):
                LambdaRoutes.appendChunks(chunk.readableBytesView, to: &body)
                consumed = chunk.readableBytes
            case .done(.ran(let result)): LambdaRoutes.appendEnd(of: result, to: &body)
            case .done: LambdaRoutes.appendComplete([:], to: &body)
            case .failed(let error):
                let failure = LambdaError(error)
                LambdaRoutes.appendComplete(["ErrorCode": failure.type, "ErrorDetails": failure.message], to: &body)
            }
            do {
                try await writer.write(body)
            } catch {
                stream.abandon()
                throw error
            }
            // Taken by the channel: Hummingbird's writer waits while the channel is not writable, so
            // what is consumed here is no longer held in memory on the caller's account.
            if consumed > 0 { stream.consumed(consumed) }
        }
        try await writer.finish(nil)
    }
}
