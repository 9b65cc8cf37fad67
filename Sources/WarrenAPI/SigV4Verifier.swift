import Crypto
import Foundation
import Synchronization

/// One access key pair from the operator's config file.
public struct AccessKey: Sendable, Equatable {
    /// The public half, e.g. `AKIDEXAMPLE`; sent in every request's credential scope.
    public var accessKeyId: String
    /// The shared secret; never sent, only used to derive signing keys.
    public var secretAccessKey: String

    /// Creates a key pair.
    ///
    /// - Parameters:
    ///   - accessKeyId: The public id.
    ///   - secretAccessKey: The secret.
    public init(accessKeyId: String, secretAccessKey: String) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
    }
}

/// A request as it arrived, independent of any HTTP framework.
public struct SigV4Request: Sendable {
    /// The HTTP method, e.g. `POST`.
    public var method: String
    /// The raw path as sent, still percent-encoded, without the query.
    public var path: String
    /// The raw query string as sent, without the `?`; empty if none.
    public var query: String
    /// Headers as received, in order; repeated names allowed, any case.
    /// Must include `host` (HTTP/1 `Host` or HTTP/2 `:authority`).
    public var headers: [(String, String)]
    /// Lowercase hex SHA-256 of the body if the caller already has it; `nil` → computed from ``body``.
    public var bodySHA256: String?
    /// The body bytes.
    public var body: [UInt8]

    /// Creates a request.
    ///
    /// - Parameters:
    ///   - method: The HTTP method.
    ///   - path: The raw, percent-encoded path.
    ///   - query: The raw query string without `?`.
    ///   - headers: Headers as received.
    ///   - bodySHA256: The body's hex SHA-256, if known.
    ///   - body: The body bytes.
    public init(
        method: String, path: String, query: String = "", headers: [(String, String)],
        bodySHA256: String? = nil, body: [UInt8] = []
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.bodySHA256 = bodySHA256
        self.body = body
    }
}

/// Verifies AWS Signature Version 4 (`AWS4-HMAC-SHA256`) on incoming requests,
/// in the `Authorization` header or as a presigned query string.
///
/// The service in the credential scope must match, and so must the region
/// when one is configured (without one, any region is accepted).
/// Checks run in the order AWS reports them: form, scope, key, clock, payload,
/// signature, so a client sees the same exception it would see from AWS.
public struct SigV4Verifier: Sendable {
    private let secrets: [String: String]
    private let service: String
    private let region: String?
    private let maxSkewSeconds: Int64
    private let now: @Sendable () -> Date
    /// Derived keys by scope: each client reuses one scope all day.
    private let signingKeys = SigningKeyCache()

    /// Creates a verifier.
    ///
    /// - Parameters:
    ///   - keys: The accepted key pairs; a later duplicate id replaces an earlier one.
    ///   - service: The SigV4 service name clients sign for (`lambda`).
    ///   - region: The region requests must be scoped to; nil accepts any.
    ///   - maxSkew: How far `X-Amz-Date` may be from the local clock, either way.
    ///   - now: The clock; tests pass a fixed one.
    public init(
        keys: [AccessKey], service: String = "lambda", region: String? = nil, maxSkew: Duration = .seconds(300),
        now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.secrets = Dictionary(keys.map { ($0.accessKeyId, $0.secretAccessKey) }, uniquingKeysWith: { $1 })
        self.service = service
        self.region = region
        self.maxSkewSeconds = max(0, maxSkew.components.seconds)
        self.now = now
    }

    /// Verifies the request's signature.
    ///
    /// - Parameter request: The request as received.
    /// - Returns: The access key id that signed the request.
    /// - Throws: ``SigV4Error`` with the AWS code and message for the first check that fails.
    public func verify(_ request: SigV4Request) throws(SigV4Error) -> String {
        try verifyDetailed(request).accessKeyId
    }

    /// Verifies the request and returns what it was signed with.
    ///
    /// - Parameter request: The request as received.
    /// - Returns: The access key id and the credential scope's region.
    /// - Throws: ``SigV4Error`` as ``verify(_:)``.
    public func verifyDetailed(_ request: SigV4Request) throws(SigV4Error) -> (accessKeyId: String, region: String) {
        let (headers, decoded, parameters, secret, timestamp) = try checkedHead(request)
        var query = decoded
        if parameters.expires != nil {
            query.removeAll { $0.nameText == "X-Amz-Signature" }
        }
        let payload = try payloadHash(request, headers: headers)
        let canonical = SigV4Canonical.requestBytes(
            method: request.method, path: request.path, query: query, headers: headers,
            signedHeaders: parameters.signedHeaders, payloadHash: payload
        )
        let stringToSign = SigV4Canonical.stringToSign(
            timestamp: timestamp, scope: parameters.scope, canonicalRequest: canonical)
        let keyed = signingKeys.keyed(
            accessKeyId: parameters.accessKeyId, secret: secret, date: parameters.scopeDate,
            region: parameters.region, service: parameters.service)
        let expected = SigV4Canonical.signature(keyed: keyed, stringToSign: stringToSign)
        guard SigV4Canonical.constantTimeEqual(expected, parameters.signature) else { throw .signatureMismatch }
        return (parameters.accessKeyId, parameters.region)
    }

    /// Checks what a request's head alone decides: an auth mechanism, its scope, a known key and a
    /// current time; everything but the payload hash and the signature itself.
    /// - Throws: ``SigV4Error`` as ``verify(_:)`` would for the same head.
    public func checkHead(_ request: SigV4Request) throws(SigV4Error) {
        _ = try checkedHead(request)
    }

    /// The head's checks; the lowercased headers, decoded query, auth parameters (with their
    /// timestamp), the key's secret and the request time.
    private func checkedHead(_ request: SigV4Request) throws(SigV4Error) -> (
        headers: [(name: String, value: String)], query: [SigV4QueryParameter], parameters: SigV4Parameters,
        secret: String, timestamp: String
    ) {
        // Names arriving lowercase (HTTP/2, swift-http-types) are copied, not re-cased.
        let headers = request.headers.map { header in
            (name: SigV4Canonical.asciiLowercased(header.0), value: header.1)
        }
        let query = SigV4Canonical.queryParameters(request.query)
        var parameters = try authParameters(headers: headers, query: query)
        try checkScope(parameters)
        guard let secret = secrets[parameters.accessKeyId] else { throw .unrecognizedClient }
        let timestamp = try requestTime(parameters, headers: headers)
        parameters.timestamp = timestamp
        return (headers, query, parameters, secret, timestamp)
    }

    /// Picks header or query auth; exactly one must be present.
    private func authParameters(
        headers: [(name: String, value: String)], query: [SigV4QueryParameter]
    ) throws(SigV4Error) -> SigV4Parameters {
        let authorization = headers.filter { $0.name == "authorization" }
        let presigned = query.contains {
            ["X-Amz-Algorithm", "X-Amz-Signature", "X-Amz-Credential"].contains($0.nameText)
        }
        switch (authorization.count, presigned) {
        case (0, false):
            throw .missingAuthenticationToken
        case (0, true):
            return try .fromQuery(query)
        case (1, false):
            return try .fromAuthorization(authorization[0].value)
        default:
            throw .incomplete(
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter "
                    + "or the Authorization header should be specified")
        }
    }

    /// Service, terminator and `host` signing: the parts of the scope AWS insists on.
    private func checkScope(_ parameters: SigV4Parameters) throws(SigV4Error) {
        guard parameters.service == service else {
            throw .invalid("Credential should be scoped to correct service: '\(service)'. ")
        }
        if let region, parameters.region != region {
            throw .invalid("Credential should be scoped to a valid region. ")
        }
        guard parameters.terminator == "aws4_request" else {
            throw .invalid(
                "Credential should be scoped with a valid terminator: 'aws4_request', not '\(parameters.terminator)'. ")
        }
        guard parameters.signedHeaders.contains("host") else {
            throw .incomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
        }
    }

    /// The request time in basic ISO 8601 form, checked against the clock and the scope date.
    private func requestTime(
        _ parameters: SigV4Parameters, headers: [(name: String, value: String)]
    ) throws(SigV4Error) -> String {
        let (timestamp, seconds) = try timestampAndSeconds(parameters, headers: headers)
        guard timestamp.hasPrefix(parameters.scopeDate) else {
            throw .invalid(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                    + "'\(parameters.scopeDate)' != '\(timestamp.prefix(8))', from '\(timestamp)'.")
        }
        let clock = Int64(now().timeIntervalSince1970.rounded(.down))
        let earliest = clock - (parameters.expires ?? maxSkewSeconds)
        if seconds < earliest {
            let window = Self.describe(parameters.expires ?? maxSkewSeconds)
            throw .invalid(
                "Signature expired: \(timestamp) is now earlier than \(SigV4Time.formatBasic(earliest)) "
                    + "(\(SigV4Time.formatBasic(clock)) - \(window).)")
        }
        if seconds > clock + maxSkewSeconds {
            throw .invalid(
                "Signature not yet current: \(timestamp) is still later than "
                    + "\(SigV4Time.formatBasic(clock + maxSkewSeconds)) "
                    + "(\(SigV4Time.formatBasic(clock)) + \(Self.describe(maxSkewSeconds)).)")
        }
        return timestamp
    }

    /// `X-Amz-Date` (query, then header), else the `Date` header converted to basic form.
    private func timestampAndSeconds(
        _ parameters: SigV4Parameters, headers: [(name: String, value: String)]
    ) throws(SigV4Error) -> (String, Int64) {
        let amzDate = parameters.timestamp ?? headers.first { $0.name == "x-amz-date" }?.value
        if let amzDate {
            guard let seconds = SigV4Time.parseBasic(amzDate) else {
                throw .incomplete(
                    "Date must be in ISO-8601 'basic format'. Got '\(amzDate)'. "
                        + "See http://en.wikipedia.org/wiki/ISO_8601")
            }
            return (amzDate, seconds)
        }
        guard let date = headers.first(where: { $0.name == "date" })?.value else {
            throw .incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
        }
        guard let seconds = SigV4Time.parseHTTPDate(date) else {
            throw .incomplete(
                "Date header must be an RFC 7231 date, e.g. 'Sun, 30 Aug 2015 12:36:00 GMT'. Got '\(date)'.")
        }
        return (SigV4Time.formatBasic(seconds), seconds)
    }

    /// The payload hash that enters the canonical request.
    ///
    /// A declared `x-amz-content-sha256` is used as sent (botocore does the same) but must equal
    /// the body's hash. `UNSIGNED-PAYLOAD` (and S3's streaming forms) is refused: AWS takes it from
    /// S3's clients alone, every SDK signs a Lambda request's body, and a signature that does not
    /// cover the body would let whoever sees the request replay it with another body while the
    /// signature is valid (5 minutes; Warren listens on plain HTTP).
    private func payloadHash(
        _ request: SigV4Request, headers: [(name: String, value: String)]
    ) throws(SigV4Error) -> String {
        let computed =
            request.bodySHA256.map(SigV4Canonical.asciiLowercased) ?? SigV4Canonical.hexSHA256(request.body)
        guard let declared = headers.first(where: { $0.name == "x-amz-content-sha256" })?.value else {
            return computed
        }
        let trimmed = declared.trimmingCharacters(in: .whitespaces)
        guard SigV4Canonical.asciiLowercased(trimmed) == computed else {
            throw .invalid("The provided 'x-amz-content-sha256' header does not match what was computed.")
        }
        return trimmed
    }

    /// `5 min.` or `90 sec.`, as AWS prints the allowed window.
    private static func describe(_ seconds: Int64) -> String {
        seconds % 60 == 0 ? "\(seconds / 60) min" : "\(seconds) sec"
    }
}

/// Signing keys already derived, by access key and scope. Bounded: a flood of
/// scopes (each must still name a known key and today's date) empties it.
///
/// What is kept is an HMAC already keyed with the derived key: its inner and outer pads
/// absorbed, two of the four SHA-256 blocks of a short signature, and the key's padding and
/// copies, made once per scope rather than per request.
final class SigningKeyCache: Sendable {
    /// Keyed by the scope's parts as they are: no key string built per request.
    private struct Scope: Hashable {
        let accessKeyId: String
        let date: String
        let region: String
        let service: String
    }

    /// A keyed HMAC is never mutated in the cache: a caller updates its own copy, and the
    /// hashers' states are copy-on-write, so the first update of a copy copies them. The one in
    /// the cache may then be handed to any thread.
    private struct SharedHMAC: @unchecked Sendable { let hmac: HMAC<SHA256> }

    private let keys = Mutex<[Scope: SharedHMAC]>([:])
    private static let capacity = 256

    func keyed(accessKeyId: String, secret: String, date: String, region: String, service: String) -> HMAC<SHA256> {
        let scope = Scope(accessKeyId: accessKeyId, date: date, region: region, service: service)
        if let shared = keys.withLock({ $0[scope] }) { return shared.hmac }
        let key = SigV4Canonical.signingKey(secret: secret, date: date, region: region, service: service)
        let hmac = HMAC<SHA256>(key: key)
        keys.withLock { keys in
            if keys.count >= Self.capacity { keys.removeAll(keepingCapacity: true) }
            keys[scope] = SharedHMAC(hmac: hmac)
        }
        return hmac
    }
}
