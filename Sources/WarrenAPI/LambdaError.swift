import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1
import WarrenStore
import WarrenSupervisor

/// A refused Lambda API request, as Lambda answers it: a status, the error
/// type in `x-amzn-ErrorType` and a JSON body botocore turns into the
/// exception its users know.
///
/// Every error of the layers below (``StoreError``, ``CodeError``,
/// ``SupervisorError``) is mapped here, in ``init(_:)``, and nowhere else.
public struct LambdaError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The HTTP status code.
    public var statusCode: Int
    /// Lambda's error type, e.g. `ResourceNotFoundException`.
    public var type: String
    /// The message for the body.
    public var message: String
    /// `Reason` of a throttle (429 only).
    public var reason: String?

    /// - Parameters:
    ///   - statusCode: The HTTP status.
    ///   - type: The `x-amzn-ErrorType`.
    ///   - message: The body's message.
    ///   - reason: A throttle's `Reason`.
    public init(_ statusCode: Int, _ type: String, _ message: String, reason: String? = nil) {
        self.statusCode = statusCode
        self.type = type
        self.message = message
        self.reason = reason
    }

    public var description: String { "\(statusCode) \(type): \(message)" }

    /// Maps any error of the layers below to Lambda's answer; anything
    /// unexpected becomes a 500 `ServiceException`.
    /// - Parameter error: The error thrown by the store, the code store or the supervisor.
    public init(_ error: any Error) {
        switch error {
        case let error as LambdaError:
            self = error
        case let error as StoreError:
            self.init(Self.status(of: error.code), error.code.lambdaErrorType, error.message)
        case let error as CodeError:
            self.init(error.reason == .zippedTooLarge ? 413 : 400, error.lambdaErrorType, error.message)
        case let error as SupervisorError:
            self.init(Self.status(of: error.code), error.code.rawValue, error.message, reason: error.reason)
        case is DecodingError:
            self = .invalidContent(Self.describe(decoding: error))
        case let error as HTTPParserError:
            // The request's own bytes (e.g. a body cut short of its Content-Length): the
            // client's fault, not the service's.
            self.init(400, "InvalidRequestContentException", "Could not read the request: \(error.debugDescription)")
        default:
            self = .service("\(error)")
        }
    }

    private static func status(of code: StoreError.Code) -> Int {
        switch code {
        case .notFound, .provisionedConfigNotFound: 404
        case .conflict: 409
        case .preconditionFailed: 412
        default: 400
        }
    }

    private static func status(of code: SupervisorError.Code) -> Int {
        switch code {
        case .resourceNotFound: 404
        case .resourceConflict: 409
        case .invalidParameterValue: 400
        case .tooManyRequests: 429
        case .requestTooLarge: 413
        case .serviceException: 500
        }
    }

    private static func describe(decoding error: any Error) -> String {
        let detail: String
        switch error as? DecodingError {
        case .typeMismatch(let type, let context)?:
            detail = "\(context.codingPath.map(\.stringValue).joined(separator: ".")): expected \(type)"
        case .valueNotFound(_, let context)?:
            detail = "\(context.codingPath.map(\.stringValue).joined(separator: ".")): value missing"
        case .dataCorrupted(let context)?:
            // Bodies pass a strict syntax check first, so Foundation's "not valid JSON" here means a
            // value it cannot represent: a number that does not fit the member's type (1.5 or 2^63
            // for an integer), or a string escape of an unpaired surrogate (\ud800).
            let what = context.debugDescription == "The given data was not valid JSON."
                ? "a number that does not fit the member's type, or a string with an unpaired surrogate escape"
                : context.debugDescription
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            detail = path.isEmpty ? what : "\(path): \(what)"
        default:
            detail = "\(error)"
        }
        return "Could not parse request body into json: \(detail)"
    }

    // MARK: Lambda's error types

    /// 400 `ValidationException`: a shape constraint of the API model failed.
    static func validation(_ message: String) -> LambdaError { LambdaError(400, "ValidationException", message) }
    /// 400 `InvalidParameterValueException`.
    static func invalidParameter(_ message: String) -> LambdaError {
        LambdaError(400, "InvalidParameterValueException", message)
    }
    /// 400 `InvalidRequestContentException`: the body is not the JSON the operation takes.
    static func invalidContent(_ message: String) -> LambdaError {
        LambdaError(400, "InvalidRequestContentException", message)
    }
    /// 404 `ResourceNotFoundException`.
    static func notFound(_ message: String) -> LambdaError { LambdaError(404, "ResourceNotFoundException", message) }
    /// 409 `ResourceConflictException`.
    static func conflict(_ message: String) -> LambdaError { LambdaError(409, "ResourceConflictException", message) }
    /// 413 `RequestEntityTooLargeException`.
    static func tooLarge(_ message: String) -> LambdaError {
        LambdaError(413, "RequestEntityTooLargeException", message)
    }
    /// 500 `ServiceException`.
    static func service(_ message: String) -> LambdaError { LambdaError(500, "ServiceException", message) }

    /// The 400 Lambda answers when a function-level operation names a version or alias.
    static let functionOnly = invalidParameter(
        "This operation is permitted on Lambda functions only. Aliases and versions do not support this operation. "
            + "Please specify either a function name or an unqualified function ARN.")
}

extension LambdaError: HTTPResponseError {
    /// The HTTP status of this error.
    public var status: HTTPResponse.Status { HTTPResponse.Status(code: statusCode) }

    /// The error response: `x-amzn-ErrorType`, a fresh `x-amzn-RequestId`,
    /// `Retry-After` on a throttle, and `{"Type","message"|"Message","Reason"?}`.
    /// - Parameters:
    ///   - request: The request that failed.
    ///   - context: Its context.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        response()
    }

    /// The error response, without a request at hand.
    func response() -> Response { answer.response }

    /// The error answer, for the router and for the Invoke fast path alike.
    var answer: LambdaAnswer {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.amznErrorType] = type
        headers[.amznRequestId] = newRequestId()
        if statusCode == 429 { headers[.retryAfter] = "1" }
        return LambdaAnswer(status: status, headers: headers, body: ByteBuffer(bytes: body))
    }

    /// Lambda's error body. ResourceNotFound, Service and ResourceInUse
    /// exceptions spell the message with a capital M, as the model does.
    var body: [UInt8] {
        let capital: Set<String> = ["ResourceNotFoundException", "ServiceException", "ResourceInUseException"]
        var fields = ["Type": statusCode >= 500 ? "Service" : "User"]
        fields[capital.contains(type) ? "Message" : "message"] = message
        if let reason { fields["Reason"] = reason }
        // A [String: String] always encodes; the fallback only keeps this non-throwing.
        let data = (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])) ?? Data("{}".utf8)
        return [UInt8](data)
    }
}

extension HTTPField.Name {
    static let amznErrorType = Self("x-amzn-ErrorType")!
    static let amznRequestId = Self("x-amzn-RequestId")!
    static let amzInvocationType = Self("X-Amz-Invocation-Type")!
    static let amzLogType = Self("X-Amz-Log-Type")!
    static let amzLogResult = Self("X-Amz-Log-Result")!
    static let amzClientContext = Self("X-Amz-Client-Context")!
    static let amzFunctionError = Self("X-Amz-Function-Error")!
    static let amzExecutedVersion = Self("X-Amz-Executed-Version")!
    static let warrenNextOffset = Self("X-Warren-Next-Offset")!
    static let warrenLogFile = Self("X-Warren-Log-File")!
}

/// A request id: a lower-case UUID, like Lambda's.
func newRequestId() -> String {
    UUID().uuidString.lowercased()
}
