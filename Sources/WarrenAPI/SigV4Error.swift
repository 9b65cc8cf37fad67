/// Why a request failed AWS Signature Version 4 verification.
///
/// Codes and messages are the ones AWS services (Lambda among them) return, so
/// botocore and the aws CLI raise the exceptions their users already know.
/// The code travels in `x-amzn-ErrorType`, the message in the JSON body.
public struct SigV4Error: Error, Equatable, Sendable, CustomStringConvertible {
    private enum Code: String {
        case missingAuthenticationToken = "MissingAuthenticationTokenException"
        case incompleteSignature = "IncompleteSignatureException"
        case invalidSignature = "InvalidSignatureException"
        case unrecognizedClient = "UnrecognizedClientException"
    }

    private let _code: Code

    /// The AWS error code, e.g. `InvalidSignatureException`.
    public var code: String { _code.rawValue }

    /// The human-readable message, worded as AWS words it.
    public let message: String

    /// The HTTP status: 400 for a malformed signature, 403 otherwise.
    public var httpStatus: Int { _code == .incompleteSignature ? 400 : 403 }

    /// `Code: message`, for logs.
    public var description: String { "\(code): \(message)" }

    private init(_ code: Code, _ message: String) {
        self._code = code
        self.message = message
    }

    /// Neither an `Authorization` header nor query-string auth was sent.
    public static let missingAuthenticationToken = SigV4Error(
        .missingAuthenticationToken, "Missing Authentication Token"
    )

    /// The access key id is not one of the configured keys.
    public static let unrecognizedClient = SigV4Error(
        .unrecognizedClient, "The security token included in the request is invalid."
    )

    /// The signature was computed but does not match the one sent.
    public static let signatureMismatch = SigV4Error(
        .invalidSignature,
        "The request signature we calculated does not match the signature you provided. "
            + "Check your AWS Secret Access Key and signing method. "
            + "Consult the service documentation for details."
    )

    /// The auth parameters are malformed or incomplete.
    ///
    /// - Parameter message: What is missing or wrong, as AWS words it.
    public static func incomplete(_ message: String) -> SigV4Error {
        SigV4Error(.incompleteSignature, message)
    }

    /// The auth parameters are well-formed but refused (expired, wrong scope, …).
    ///
    /// - Parameter message: Why, as AWS words it.
    public static func invalid(_ message: String) -> SigV4Error {
        SigV4Error(.invalidSignature, message)
    }
}
