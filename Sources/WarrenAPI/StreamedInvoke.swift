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

    init(_ request: InvokeRequest, service: LambdaService) {
        let (events, continuation) = AsyncStream<Event>.makeStream()
        iterator = events.makeAsyncIterator()
        var request = request
        request.stream = ResponseStream(
            onStart: { version, requestId in continuation.yield(.started(version: version, requestId: requestId)) },
            onChunk: { chunk in continuation.yield(.chunk(chunk)) })
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

    func next() async -> Event? {
        await iterator.next()
    }

    /// Writes the events after `.started` as event stream messages, each chunk as it comes.
    func send(to writer: inout any ResponseBodyWriter) async throws {
        while let event = await next() {
            var body = ByteBuffer()
            switch event {
            case .started: continue  // again, after an instance that ended before the invocation reached it
            case .chunk(let chunk): LambdaRoutes.appendChunks(chunk.readableBytesView, to: &body)
            case .done(.ran(let result)): LambdaRoutes.appendEnd(of: result, to: &body)
            case .done: LambdaRoutes.appendComplete([:], to: &body)
            case .failed(let error):
                let failure = LambdaError(error)
                LambdaRoutes.appendComplete(["ErrorCode": failure.type, "ErrorDetails": failure.message], to: &body)
            }
            try await writer.write(body)
        }
        try await writer.finish(nil)
    }
}
