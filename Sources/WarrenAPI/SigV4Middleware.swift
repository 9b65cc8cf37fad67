import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1

/// Refuses every request that is not signed with AWS Signature Version 4 by a
/// configured key, before any route runs, with the AWS error a client expects.
///
/// The body is collected (bounded) because SigV4 signs its hash; the collected
/// body is put back on the request, so handlers read it as usual.
public struct SigV4Middleware<Context: RequestContext>: RouterMiddleware {
    /// The default body bound: Lambda's 6 MB invoke payload plus headroom.
    public static var defaultMaxBodySize: Int { 7 * 1024 * 1024 }

    private let verifier: SigV4Verifier
    private let maxBodySize: Int
    private let exemptPaths: Set<String>

    /// Creates the middleware.
    ///
    /// - Parameters:
    ///   - verifier: Checks signatures against the configured keys.
    ///   - maxBodySize: The largest body collected for hashing; larger → 413.
    ///   - exemptPaths: Exact paths served without auth (e.g. `/metrics`); empty by default.
    public init(verifier: SigV4Verifier, maxBodySize: Int = defaultMaxBodySize, exemptPaths: Set<String> = []) {
        self.verifier = verifier
        self.maxBodySize = maxBodySize
        self.exemptPaths = exemptPaths
    }

    /// Verifies the request; passes it on with its body re-attached, or answers the AWS error.
    ///
    /// - Parameters:
    ///   - request: The incoming request.
    ///   - context: The request context.
    ///   - next: The rest of the chain.
    /// - Returns: The next responder's response, or a 4xx AWS error response.
    /// - Throws: Whatever `next` throws, or a body stream error.
    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let (path, query) = Self.split(request.head.path ?? "/")
        if !exemptPaths.isEmpty, exemptPaths.contains(path) {
            return try await next(request, context)
        }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: maxBodySize)
        } catch is NIOTooManyBytesError {
            return Self.errorResponse(
                status: .contentTooLarge, code: "RequestEntityTooLargeException",
                message: "Request must be smaller than \(maxBodySize) bytes for the operation")
        }
        // The verifier needs only the body's hash: taken from the buffer, not from a copy of it.
        var signed = Self.sigV4Request(request.head, path: path, query: query)
        signed.bodySHA256 = try await offLoop(bytes: body.readableBytes) {
            body.withUnsafeReadableBytes { SigV4Canonical.hexSHA256($0) }
        }
        do throws(SigV4Error) {
            _ = try verifier.verify(signed)
        } catch {
            return Self.errorResponse(
                status: HTTPResponse.Status(code: error.httpStatus), code: error.code, message: error.message)
        }
        return try await next(request, context)
    }

    /// The framework-independent view of a request head.
    ///
    /// HTTP/1 `Host` arrives as the request's authority (swift-http-types moves it
    /// out of the header fields), so it is put back as a `host` header.
    /// - Parameters:
    ///   - head: The request head.
    ///   - path: Its raw path (its target split once, by the caller).
    ///   - query: Its raw query, without the `?`.
    static func sigV4Request(_ head: HTTPRequest, path: String, query: String) -> SigV4Request {
        var headers: [(String, String)] = []
        headers.reserveCapacity(head.headerFields.count + 1)
        if let authority = head.authority {
            headers.append(("host", authority))
        }
        for field in head.headerFields {
            headers.append((field.name.canonicalName, field.value))
        }
        return SigV4Request(method: head.method.rawValue, path: path, query: query, headers: headers)
    }

    /// The same view of an HTTP/1 head, as NIO's decoder gives it: `Host` among the headers, each
    /// header as sent.
    static func sigV4Request(_ head: HTTPRequestHead, path: String, query: String) -> SigV4Request {
        var headers: [(String, String)] = []
        headers.reserveCapacity(head.headers.count)
        for header in head.headers { headers.append((header.name, header.value)) }
        return SigV4Request(method: head.method.rawValue, path: path, query: query, headers: headers)
    }

    /// Splits a request target into raw path and raw query.
    static func split(_ target: String) -> (path: String, query: String) {
        // On the UTF-8 view: a search by Character breaks graphemes, on every request.
        guard let mark = target.utf8.firstIndex(of: UInt8(ascii: "?")) else { return (target, "") }
        return (String(target[..<mark]), String(target[target.utf8.index(after: mark)...]))
    }

    /// An AWS JSON error: status, `x-amzn-ErrorType`, `x-amzn-RequestId`, body `{"message": …}`.
    ///
    /// - Parameters:
    ///   - status: The HTTP status.
    ///   - code: The AWS error code.
    ///   - message: The message for the body.
    static func errorResponse(status: HTTPResponse.Status, code: String, message: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.amznErrorType] = code
        headers[.amznRequestId] = newRequestId()
        // Encoding one String field cannot fail; the fallback only keeps this non-throwing.
        let body = (try? JSONEncoder().encode(SigV4ErrorBody(message: message))) ?? Data(#"{"message":null}"#.utf8)
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// The JSON body of an auth error; botocore reads `message`.
private struct SigV4ErrorBody: Encodable {
    var message: String
}

extension SigV4Error: HTTPResponseError {
    /// The HTTP status of this error.
    public var status: HTTPResponse.Status { HTTPResponse.Status(code: httpStatus) }

    /// The AWS JSON error response, so routes may also `throw` a ``SigV4Error``.
    ///
    /// - Parameters:
    ///   - request: The request that failed.
    ///   - context: Its context.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        SigV4Middleware<BasicRequestContext>.errorResponse(status: status, code: code, message: message)
    }
}
