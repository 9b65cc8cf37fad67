import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import WarrenSupervisor

/// Invoke: `RequestResponse` (200, even when the function fails), `Event`
/// (202, queued), `DryRun` (204).
extension LambdaRoutes {
    func addInvokeRoutes(to router: Router<BasicRequestContext>) {
        let service = service
        router.post("/2015-03-31/functions/{fn}/invocations") { request, context in
            let fn = try Self.function(context, maxLength: 256)
            var invoke = try Self.invokeRequest(request, fn: fn)
            var request = request
            invoke.payload = try Self.payload(await request.collectBody(upTo: LambdaService.maxSyncPayload))
            switch try await service.invoke(invoke) {
            case .ran(let result):
                return Self.response(result)
            case .queued(let requestId):
                return Response(status: .accepted, headers: [.amznRequestId: requestId])
            case .checked(let requestId):
                return Response(status: .noContent, headers: [.amznRequestId: requestId])
            }
        }
    }

    /// The headers and qualifier of an Invoke.
    private static func invokeRequest(_ request: Request, fn: FunctionReference) throws(LambdaError)
        -> InvokeRequest {
        let qualifier = try fn.qualifier(query: query(request, "Qualifier"))
        let typeHeader = request.headers[.amzInvocationType]
        let logType = request.headers[.amzLogType]
        var violations = Violations()
        violations.oneOf(typeHeader, at: "invocationType", ["Event", "RequestResponse", "DryRun"])
        violations.oneOf(logType, at: "logType", ["None", "Tail"])
        try violations.check()
        let type = typeHeader.flatMap(InvocationType.init(rawValue:)) ?? .requestResponse
        return InvokeRequest(name: fn.name, qualifier: qualifier, type: type, logTail: logType == "Tail",
                             clientContext: try clientContext(request.headers[.amzClientContext]), payload: [])
    }

    /// `X-Amz-Client-Context`: base64 of a JSON object, passed on decoded.
    private static func clientContext(_ header: String?) throws(LambdaError) -> String? {
        guard let header, !header.isEmpty else { return nil }
        guard let data = Data(base64Encoded: header),
              (try? JSONSerialization.jsonObject(with: data)) is [String: Any] else {
            throw .invalidContent("Client context must be a valid Base64-encoded JSON object.")
        }
        guard data.count <= LambdaService.maxClientContext else {
            throw .invalidParameter("Client context must be smaller than \(LambdaService.maxClientContext) bytes.")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// The event: JSON, as Lambda requires; an empty body is `{}`.
    private static func payload(_ buffer: ByteBuffer) throws(LambdaError) -> [UInt8] {
        guard buffer.readableBytes > 0 else { return Array("{}".utf8) }
        if let failure = buffer.withUnsafeReadableBytes(JSONSyntax.check) {
            throw .invalidContent("Could not parse request body into json: Could not parse payload into json: "
                + failure.message)
        }
        return Array(buffer: buffer)
    }

    /// 200 with the function's bytes and Lambda's headers.
    private static func response(_ result: InvokeResult) -> Response {
        var headers = HTTPFields()
        headers.reserveCapacity(5)
        headers.append(HTTPField(name: .contentType, value: result.contentType ?? "application/json"))
        headers.append(HTTPField(name: .amznRequestId, value: result.requestId))
        headers.append(HTTPField(name: .amzExecutedVersion, value: result.executedVersion))
        if let error = result.functionError { headers.append(HTTPField(name: .amzFunctionError, value: error)) }
        if let tail = result.logTail { headers.append(HTTPField(name: .amzLogResult, value: tail)) }
        return Response(status: .ok, headers: headers,
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: result.payload)))
    }
}
