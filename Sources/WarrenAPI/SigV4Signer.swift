import Foundation

/// Signs requests with AWS Signature Version 4, for Warren's own clients
/// (the `warren` CLI, the benchmark load generator, tests).
///
/// It shares the canonicalisation with ``SigV4Verifier``, so it proves nothing
/// about interoperability on its own; the AWS test vectors and botocore do that.
public struct SigV4Signer: Sendable {
    private let key: AccessKey
    private let region: String
    private let service: String

    /// Creates a signer.
    ///
    /// - Parameters:
    ///   - key: The key pair to sign with.
    ///   - region: The region for the credential scope (Warren accepts any).
    ///   - service: The SigV4 service name.
    public init(key: AccessKey, region: String = "us-east-1", service: String = "lambda") {
        self.key = key
        self.region = region
        self.service = service
    }

    /// Signs a request in the `Authorization` header.
    ///
    /// Every header in `headers` is signed; it must contain `host`. `X-Amz-Date`
    /// is added unless present. A `X-Amz-Content-Sha256` header, if given, is
    /// signed as the payload hash instead of hashing `body`.
    /// - Parameters:
    ///   - method: The HTTP method.
    ///   - path: The raw, percent-encoded path as it will be sent.
    ///   - query: The raw query string as it will be sent, without `?`.
    ///   - headers: The headers that will be sent.
    ///   - body: The body bytes.
    ///   - date: The signing time.
    /// - Returns: The headers to add: `X-Amz-Date` (if it was missing) and `Authorization`.
    public func authorizationHeaders(
        method: String, path: String, query: String = "", headers: [(String, String)], body: [UInt8] = [],
        date: Date = Date()
    ) -> [(String, String)] {
        var added: [(String, String)] = []
        var all = headers.map { (name: $0.0.lowercased(), value: $0.1) }
        var timestamp = SigV4Time.formatBasic(Int64(date.timeIntervalSince1970.rounded(.down)))
        if let existing = all.first(where: { $0.name == "x-amz-date" }) {
            timestamp = existing.value
        } else {
            all.append((name: "x-amz-date", value: timestamp))
            added.append(("X-Amz-Date", timestamp))
        }
        let signedHeaders = Array(Set(all.map(\.name))).sorted()
        // As botocore: a declared x-amz-content-sha256 (e.g. UNSIGNED-PAYLOAD) is the payload hash.
        let payloadHash =
            all.first { $0.name == "x-amz-content-sha256" }?.value ?? SigV4Canonical.hexSHA256(body)
        let canonical = SigV4Canonical.request(
            method: method, path: path, query: SigV4Canonical.queryParameters(query), headers: all,
            signedHeaders: signedHeaders, payloadHash: payloadHash)
        let scope = scope(timestamp)
        let signature = sign(canonical, timestamp: timestamp, scope: scope)
        let credential = "\(key.accessKeyId)/\(scope)"
        added.append((
            "Authorization",
            "\(SigV4Canonical.algorithm) Credential=\(credential), "
                + "SignedHeaders=\(signedHeaders.joined(separator: ";")), Signature=\(signature)"
        ))
        return added
    }

    /// Presigns a request: returns the query string to send instead of `query`.
    ///
    /// Only `host` is signed; the payload hash is that of `body`, as botocore's
    /// `SigV4QueryAuth` does for non-S3 services.
    /// - Parameters:
    ///   - method: The HTTP method.
    ///   - path: The raw, percent-encoded path.
    ///   - query: The raw query string without `?`.
    ///   - host: The `Host` header value the request will carry.
    ///   - body: The body bytes.
    ///   - expires: Seconds the URL stays valid (1 to 604800).
    ///   - date: The signing time.
    /// - Returns: `query` with the `X-Amz-*` auth parameters and the signature appended.
    public func presignedQuery(
        method: String, path: String, query: String = "", host: String, body: [UInt8] = [],
        expires: Int = 3600, date: Date = Date()
    ) -> String {
        let timestamp = SigV4Time.formatBasic(Int64(date.timeIntervalSince1970.rounded(.down)))
        let scope = scope(timestamp)
        let auth = [
            ("X-Amz-Algorithm", SigV4Canonical.algorithm),
            ("X-Amz-Credential", "\(key.accessKeyId)/\(scope)"),
            ("X-Amz-Date", timestamp),
            ("X-Amz-Expires", String(expires)),
            ("X-Amz-SignedHeaders", "host"),
        ].map { "\($0.0)=\(SigV4Canonical.percentEncode($0.1.utf8, keepSlash: false))" }
        let signedQuery = ((query.isEmpty ? [] : [query]) + auth).joined(separator: "&")
        let canonical = SigV4Canonical.request(
            method: method, path: path, query: SigV4Canonical.queryParameters(signedQuery),
            headers: [(name: "host", value: host)], signedHeaders: ["host"],
            payloadHash: SigV4Canonical.hexSHA256(body))
        return signedQuery + "&X-Amz-Signature=" + sign(canonical, timestamp: timestamp, scope: scope)
    }

    private func scope(_ timestamp: String) -> String {
        "\(timestamp.prefix(8))/\(region)/\(service)/aws4_request"
    }

    private func sign(_ canonical: String, timestamp: String, scope: String) -> String {
        SigV4Canonical.signature(
            secret: key.secretAccessKey, date: String(timestamp.prefix(8)), region: region, service: service,
            stringToSign: SigV4Canonical.stringToSign(timestamp: timestamp, scope: scope, canonicalRequest: canonical))
    }
}
