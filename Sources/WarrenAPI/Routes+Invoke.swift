import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import WarrenRuntimeAPI
import WarrenSupervisor

/// Invoke: `RequestResponse` (200, even when the function fails), `Event`
/// (202, queued), `DryRun` (204).
extension LambdaRoutes {
    func addInvokeRoutes(to router: Router<BasicRequestContext>) {
        let service = service
        router.post("/2015-03-31/functions/{fn}/invocations") { request, context in
            let fn = try function(context, maxLength: 256)
            var invoke = try Self.invokeRequest(request.headers, qualifier: Self.query(request, "Qualifier"), fn: fn)
            var request = request
            invoke.payload = try Self.payload(await request.collectBody(upTo: LambdaService.maxSyncPayload))
            return Self.answer(try await service.invoke(invoke)).response
        }
        router.post("/2021-11-15/functions/{fn}/response-streaming-invocations") { request, context in
            let fn = try function(context, maxLength: 256)
            var invoke = try Self.invokeRequest(request.headers, qualifier: Self.query(request, "Qualifier"), fn: fn)
            guard invoke.type != .event else {
                throw Violations.single("Event", at: "invocationType",
                                        "Member must satisfy enum value set: [RequestResponse, DryRun]")
            }
            var request = request
            invoke.payload = try Self.payload(await request.collectBody(upTo: LambdaService.maxSyncPayload))
            guard invoke.type == .requestResponse else {
                return Self.streamedAnswer(try await service.invoke(invoke)).response  // DryRun: 204
            }
            let events = StreamedInvoke(invoke, service: service)
            switch await events.next() {
            case .started(let version, let requestId):
                return Response(status: .ok, headers: Self.streamHeaders(version: version, requestId: requestId),
                                body: ResponseBody { writer in try await events.send(to: &writer) })
            case .done(let outcome): return Self.streamedAnswer(outcome).response
            case .failed(let error): throw error
            case .chunk, nil: throw LambdaError.service("the invocation streamed before it started")
            }
        }
    }

    /// Largest `PayloadChunk` event of a streamed answer.
    static let maxChunk = 256 * 1024

    /// InvokeWithResponseStream's answer when the invocation ended before it started (an instance
    /// that could not start) or did not run (DryRun): its payload as `PayloadChunk` events, then
    /// `InvokeComplete`, in one body.
    static func streamedAnswer(_ outcome: InvokeOutcome) -> LambdaAnswer {
        guard case .ran(let result) = outcome else { return answer(outcome) }
        var body = ByteBuffer()
        appendEnd(of: result, to: &body)
        return LambdaAnswer(status: .ok, headers: streamHeaders(version: result.executedVersion,
                                                                requestId: result.requestId), body: body)
    }

    static func streamHeaders(version: String, requestId: String) -> HTTPFields {
        var headers = HTTPFields()
        headers.append(HTTPField(name: .contentType, value: "application/vnd.amazon.eventstream"))
        headers.append(HTTPField(name: .amznRequestId, value: requestId))
        headers.append(HTTPField(name: .amzExecutedVersion, value: version))
        return headers
    }

    /// The events that end a streamed answer: a buffered response's payload as `PayloadChunk`s
    /// (a streamed one has none left), then `InvokeComplete`, with `ErrorCode` and `ErrorDetails`
    /// when the function failed and `LogResult` when the tail was asked for.
    static func appendEnd(of result: InvokeResult, to body: inout ByteBuffer) {
        var complete: [String: String] = [:]
        if let error = result.functionError {
            complete["ErrorCode"] = error
            complete["ErrorDetails"] = String(decoding: result.payload, as: UTF8.self)
        } else {
            appendChunks(result.payload[...], to: &body)
        }
        if let tail = result.logTail { complete["LogResult"] = tail }
        appendComplete(complete, to: &body)
    }

    static func appendChunks(_ payload: some Collection<UInt8>, to body: inout ByteBuffer) {
        var rest = payload[...]
        while !rest.isEmpty {
            let chunk = rest.prefix(maxChunk)
            EventStream.appendEvent("PayloadChunk", contentType: "application/octet-stream", payload: chunk, to: &body)
            rest = rest.dropFirst(chunk.count)
        }
    }

    static func appendComplete(_ fields: [String: String], to body: inout ByteBuffer) {
        let json = (try? JSONEncoder().encode(fields)).map { Array($0) } ?? Array("{}".utf8)
        EventStream.appendEvent("InvokeComplete", contentType: "application/json", payload: json, to: &body)
    }

    /// The headers and qualifier of an Invoke (`qualifier`: the `Qualifier` query parameter).
    static func invokeRequest(_ headers: HTTPFields, qualifier: String?, fn: FunctionReference) throws(LambdaError)
        -> InvokeRequest {
        try invokeRequest(invocationType: headers[.amzInvocationType], logType: headers[.amzLogType],
                          clientContext: headers[.amzClientContext], qualifier: qualifier, fn: fn)
    }

    /// The same from the three header values (`X-Amz-Invocation-Type`, `X-Amz-Log-Type`,
    /// `X-Amz-Client-Context`), however the caller found them.
    static func invokeRequest(
        invocationType typeHeader: String?, logType: String?, clientContext: String?, qualifier: String?,
        fn: FunctionReference
    ) throws(LambdaError) -> InvokeRequest {
        let qualifier = try fn.qualifier(query: qualifier)
        var violations = Violations()
        violations.oneOf(typeHeader, at: "invocationType", ["Event", "RequestResponse", "DryRun"])
        violations.oneOf(logType, at: "logType", ["None", "Tail"])
        try violations.check()
        let type = typeHeader.flatMap(InvocationType.init(rawValue:)) ?? .requestResponse
        return InvokeRequest(name: fn.name, qualifier: qualifier, type: type, logTail: logType == "Tail",
                             clientContext: try decodedClientContext(clientContext), payload: [])
    }

    /// `X-Amz-Client-Context`: base64 of a JSON object, at most 3,583 bytes of base64 (Lambda's limit is
    /// on the encoded text), passed on decoded.
    private static func decodedClientContext(_ header: String?) throws(LambdaError) -> String? {
        guard let header, !header.isEmpty else { return nil }
        guard header.utf8.count <= LambdaService.maxClientContext else {
            throw .invalidParameter("Client context must be smaller than \(LambdaService.maxClientContext) bytes.")
        }
        guard let data = Data(base64Encoded: header),
              (try? JSONSerialization.jsonObject(with: data)) is [String: Any] else {
            throw .invalidContent("Client context must be a valid Base64-encoded JSON object.")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// The event: JSON, as Lambda requires; an empty body is `{}`.
    static func payload(_ buffer: ByteBuffer) throws(LambdaError) -> [UInt8] {
        guard buffer.readableBytes > 0 else { return Array("{}".utf8) }
        if let failure = buffer.withUnsafeReadableBytes(JSONSyntax.check) {
            throw .invalidContent("Could not parse request body into json: Could not parse payload into json: "
                + failure.message)
        }
        return Array(buffer: buffer)
    }

    /// The answer to an Invoke: 200 with the function's bytes and Lambda's headers, 202 for a
    /// queued event, 204 for a dry run.
    static func answer(_ outcome: InvokeOutcome) -> LambdaAnswer {
        switch outcome {
        case .ran(let result):
            var headers = HTTPFields()
            headers.reserveCapacity(8)  // and Content-Length, Date, Server
            headers.append(HTTPField(name: .contentType, value: result.contentType ?? "application/json"))
            headers.append(HTTPField(name: .amznRequestId, value: result.requestId))
            headers.append(HTTPField(name: .amzExecutedVersion, value: result.executedVersion))
            if let error = result.functionError { headers.append(HTTPField(name: .amzFunctionError, value: error)) }
            if let tail = result.logTail { headers.append(HTTPField(name: .amzLogResult, value: tail)) }
            return LambdaAnswer(status: .ok, headers: headers, body: ByteBuffer(bytes: result.payload))
        case .queued(let requestId):
            return LambdaAnswer(status: .accepted, headers: [.amznRequestId: requestId])
        case .checked(let requestId):
            return LambdaAnswer(status: .noContent, headers: [.amznRequestId: requestId])
        }
    }
}
