import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOPosix
import Synchronization

/// The Lambda REST API and Warren's own routes on one router.
///
/// Middleware, outermost first: Lambda's error shape and `x-amzn-RequestId`
/// on every response; the body limits (6 MB for Invoke, a 50 MB zip in
/// base64 for code uploads); SigV4 when `verifier` is given. Routes the
/// caller adds afterwards get the same middleware; `/metrics` is exempt
/// from SigV4, so `router.get("/metrics")` serves without a signature.
/// - Parameters:
///   - service: The service the routes call.
///   - verifier: Checks SigV4 signatures; `nil` serves every request unsigned.
/// - Returns: The router, ready for an `Application`.
public func makeLambdaRouter(service: LambdaService, verifier: SigV4Verifier?) -> Router<BasicRequestContext> {
    let router = Router()
    router.middlewares.add(LambdaResponseMiddleware())
    router.middlewares.add(LambdaBodyLimit())
    if let verifier {
        router.middlewares.add(SigV4Middleware(verifier: verifier, maxBodySize: LambdaBodyLimit<BasicRequestContext>
            .codeUploadLimit, exemptPaths: LambdaRoutes.unsignedPaths))
    }
    let routes = LambdaRoutes(service: service)
    routes.addFunctionRoutes(to: router)
    routes.addAliasRoutes(to: router)
    routes.addInvokeRoutes(to: router)
    routes.addConcurrencyRoutes(to: router)
    routes.addEventInvokeConfigRoutes(to: router)
    routes.addTagRoutes(to: router)
    routes.addPolicyRoutes(to: router)
    routes.addWarrenRoutes(to: router)
    return router
}

/// The handlers; one extension per operation group.
struct LambdaRoutes: Sendable {
    let service: LambdaService

    /// Paths served without a signature: Prometheus scrapes `/metrics` unsigned.
    static let unsignedPaths: Set<String> = ["/metrics"]

    /// The `{fn}` path parameter, of a function this server may hold (see
    /// ``FunctionReference/checkReachable(from:)``).
    func function(_ context: some RequestContext, maxLength: Int = 140) throws(LambdaError) -> FunctionReference {
        let reference = try FunctionReference(path: context.parameters.get("fn") ?? "", maxLength: maxLength)
        try reference.checkReachable(from: service.arn)
        return reference
    }

    /// A query parameter, percent-decoded.
    static func query(_ request: Request, _ name: String) -> String? {
        request.uri.queryParameters[name[...]].map(String.init)
    }

    /// `MaxItems` and friends.
    static func integer<Value: FixedWidthInteger>(_ request: Request, _ name: String, field: String,
                                                  as type: Value.Type = Int.self) throws(LambdaError) -> Value? {
        guard let text = query(request, name) else { return nil }
        guard let value = Value(text) else {
            throw Violations.single(text, at: field, "Member must be a number")
        }
        return value
    }

    /// The JSON body as `T`; an empty body reads as `{}`.
    static func body<T: Decodable & Sendable>(_ request: Request, as type: T.Type) async throws -> T {
        var request = request
        let buffer = try await request.collectBody(upTo: LambdaBodyLimit<BasicRequestContext>.codeUploadLimit)
        let data = buffer.readableBytes == 0 ? Data("{}".utf8) : Data(buffer: buffer)
        do {
            // A code upload is up to ~70 MB of base64: checked and decoded off the event loop.
            return try await offLoop(bytes: data.count) {
                // Strict JSON first (Foundation's decoder also takes trailing commas, comments and a BOM).
                if let fault = data.withUnsafeBytes(JSONSyntax.check) {
                    throw LambdaError.invalidContent("Could not parse request body into json: \(fault.message)")
                }
                return try JSONDecoder().decode(T.self, from: data)
            }
        } catch {
            throw LambdaError(error)
        }
    }

    /// A JSON answer.
    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let data = try encoder.encode(value)
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// An empty answer (204 for deletes).
    static func empty(_ status: HTTPResponse.Status = .noContent) -> Response {
        Response(status: status)
    }
}

/// Lambda's answers for everything that fails, and `x-amzn-RequestId` on
/// every response: thrown ``LambdaError``s and the errors of the layers
/// below become Lambda's error shape; an unknown path is 404
/// `UnknownOperationException`.
struct LambdaResponseMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound || error.status == .methodNotAllowed {
            response = LambdaError(error.status.code, "UnknownOperationException",
                                   "Unknown operation \(request.method) \(request.uri.path)").response()
        } catch let error as any HTTPResponseError where !(error is LambdaError) {
            response = try error.response(from: request, context: context)
        } catch {
            response = LambdaError(error).response()
        }
        if response.headers[.amznRequestId] == nil {
            response.headers[.amznRequestId] = newRequestId()
        }
        return response
    }
}

/// Reads the body before anything else does, within the operation's
/// limit: Invoke 6 MB, CreateFunction and UpdateFunctionCode a 50 MB zip
/// in base64 with its JSON, anything else 6 MB. Over it: 413
/// `RequestEntityTooLargeException` with Lambda's message.
struct LambdaBodyLimit<Context: RequestContext>: RouterMiddleware {
    /// A 50 MB zip is 70 MB in base64; the rest is the JSON around it.
    static var codeUploadLimit: Int { 72 * 1024 * 1024 }

    /// Code uploads larger than ``largeBody`` read and unpacked at once. Each takes about three
    /// times its size in memory meanwhile (a 49 MB zip: 163 MB; 16 at once: 1.2 GB); the others
    /// wait their turn unread, so their clients wait to send.
    static var maxLargeUploads: Int { 4 }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response {
        let (limit, operation) = Self.limit(method: request.method, path: request.uri.path)
        let length = request.headers[.contentLength].flatMap { Int($0) }
        if let length, length > limit {
            throw LambdaError.tooLarge(Self.message(limit, operation))
        }
        guard operation == nil, length.map({ $0 > largeBody }) ?? true else {
            return try await collected(request, limit: limit, operation: operation, context: context, next: next)
        }
        await LargeUploads.gate.enter()
        defer { LargeUploads.gate.leave() }
        return try await collected(request, limit: limit, operation: operation, context: context, next: next)
    }

    private func collected(
        _ request: Request, limit: Int, operation: String?, context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var request = request
        do {
            _ = try await request.collectBody(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw LambdaError.tooLarge(Self.message(limit, operation))
        }
        return try await next(request, context)
    }

    /// The limit of a request and the operation its 413 message names (nil: a code upload).
    static func limit(method: HTTPRequest.Method, path: String) -> (Int, String?) {
        // Compared as bytes: String's hasSuffix works by Character, on every request.
        var path = Substring(path).utf8
        if path.last == UInt8(ascii: "/") { path = path.dropLast() }
        let sync = LambdaService.maxSyncPayload
        if method == .post, path.hasSuffix("/invocations") { return (sync, "InvokeFunction operation") }
        if (method == .post && path.elementsEqual("/2015-03-31/functions".utf8))
            || (method == .put && path.hasSuffix("/code")) {
            return (codeUploadLimit, nil)
        }
        return (sync, "operation")
    }

    /// Lambda's 413 message, made only when a request is refused.
    static func message(_ limit: Int, _ operation: String?) -> String {
        guard let operation else { return "Zipped size must be smaller than 52428800 bytes" }
        return "Request must be smaller than \(limit) bytes for the \(operation)"
    }
}

/// The turns of large code uploads (see ``LambdaBodyLimit``), across connections.
private enum LargeUploads {
    static let gate = Gate(permits: LambdaBodyLimit<BasicRequestContext>.maxLargeUploads)
}

/// At most `permits` holders at once; the others wait, in turn.
final class Gate: Sendable {
    private struct State {
        var free: Int
        var waiting: [CheckedContinuation<Void, Never>] = []
    }

    private let state: Mutex<State>

    init(permits: Int) {
        state = Mutex(State(free: permits))
    }

    /// Returns once a permit is this caller's.
    func enter() async {
        await withCheckedContinuation { (turn: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                guard s.free > 0 else {
                    s.waiting.append(turn)
                    return false
                }
                s.free -= 1
                return true
            }
            if now { turn.resume() }
        }
    }

    /// Gives the permit back, to the longest waiting caller if any.
    func leave() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard !s.waiting.isEmpty else {
                s.free += 1
                return nil
            }
            return s.waiting.removeFirst()
        }
        next?.resume()
    }
}

extension Substring.UTF8View {
    fileprivate func hasSuffix(_ suffix: StaticString) -> Bool {
        let tail = UnsafeBufferPointer(start: suffix.utf8Start, count: suffix.utf8CodeUnitCount)
        return count >= tail.count && self.suffix(tail.count).elementsEqual(tail)
    }
}

/// Bodies larger than this are hashed and decoded on NIO's thread pool.
let largeBody = 1 << 20

/// Runs CPU-heavy work on a large body (hashing, JSON decoding) on NIO's thread pool when the
/// body is larger than ``largeBody``: under `warren serve` tasks run on the event loops, and
/// hundreds of milliseconds of decoding would stall every connection of that loop.
func offLoop<T: Sendable>(bytes: Int, _ work: @escaping @Sendable () throws -> T) async throws -> T {
    guard bytes > largeBody else { return try work() }
    return try await NIOThreadPool.singleton.runIfActive(work)
}
