import Foundation
import WarrenRuntimeAPI
import WarrenStore
import WarrenSupervisor

/// What an Invoke request asks for, as its headers say.
struct InvokeRequest: Sendable {
    var name: String
    var qualifier: String?
    var type: InvocationType
    var logTail: Bool
    /// `X-Amz-Client-Context`, already base64-decoded.
    var clientContext: String?
    var payload: [UInt8]
    /// InvokeWithResponseStream's: where the start and a streamed response go.
    var stream: ResponseStream?
}

/// How an Invoke was answered.
enum InvokeOutcome: Sendable {
    /// It ran (200), possibly failing in the function.
    case ran(InvokeResult)
    /// It was queued durably (202) under this request id.
    case queued(requestId: String)
    /// It would have run (204).
    case checked(requestId: String)
}

extension LambdaService {
    /// Largest synchronous payload (6 MB), request and response.
    static let maxSyncPayload = 6_291_456
    /// Largest `Event` payload (1 MB).
    static let maxEventPayload = 1_048_576
    /// Largest `X-Amz-Client-Context`, in bytes of base64.
    static let maxClientContext = 3583

    /// Invoke. `RequestResponse` runs in the supervisor; `Event` is written
    /// to the durable queue and the queue worker woken; `DryRun` checks
    /// that the function and qualifier exist.
    /// - Throws: ``LambdaError``, or the supervisor's error (404, 413, 429 …).
    func invoke(_ request: InvokeRequest) async throws -> InvokeOutcome {
        switch request.type {
        case .requestResponse:
            return .ran(try await invokeSync(request))
        case .event:
            guard request.payload.count <= Self.maxEventPayload else {
                throw LambdaError.tooLarge("\(request.payload.count) byte payload is too large for the Event "
                    + "invocation type (limit \(Self.maxEventPayload) bytes)")
            }
            _ = try await supervisor.function(request.name, qualifier: request.qualifier)
            let requestId = newRequestId()
            _ = try await store.enqueue(requestId: requestId, function: request.name,
                                        qualifier: request.qualifier ?? FunctionVersion.latest,
                                        payload: request.payload, at: Date())
            onEnqueue?()
            return .queued(requestId: requestId)
        case .dryRun:
            let result = try await supervisor.invoke(request.name, qualifier: request.qualifier, payload: [],
                                                     type: .dryRun)
            return .checked(requestId: result.requestId)
        }
    }

    private func invokeSync(_ request: InvokeRequest) async throws -> InvokeResult {
        let start = ContinuousClock.now
        let hook = invokeHook
        func report(_ result: InvokeResult?, _ error: SupervisorError?) {
            guard let hook else { return }
            let elapsed = ContinuousClock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            hook.call(InvocationMetric(function: request.name, qualifier: request.qualifier, result: result,
                                       error: error, seconds: seconds))
        }
        do {
            let result = try await supervisor.invoke(
                request.name, qualifier: request.qualifier, payload: request.payload, type: .requestResponse,
                logTail: request.logTail, clientContext: request.clientContext, stream: request.stream)
            report(result, nil)
            return result
        } catch let error as SupervisorError {
            report(nil, error)
            throw error
        }
    }
}
