import Crypto
import Foundation

/// The canonical request, string to sign and signature of AWS Signature Version 4.
///
/// Follows the AWS "Create a canonical request" rules as botocore implements
/// them, byte for byte: a verifier that differs from the signers in any corner
/// (a `~`, a repeated header, a `..` in a path) rejects honest clients.
enum SigV4Canonical {
    /// The only algorithm SigV4 defines.
    static let algorithm = "AWS4-HMAC-SHA256"

    /// The payload-hash sentinel of requests that do not sign their body.
    static let unsignedPayload = "UNSIGNED-PAYLOAD"

    /// The canonical request: method, URI, query, headers, signed header list, payload hash.
    ///
    /// - Parameters:
    ///   - method: The HTTP method as sent.
    ///   - path: The raw request path, percent-encoded as the client sent it.
    ///   - query: Decoded query parameters; the caller leaves out `X-Amz-Signature`.
    ///   - headers: All request headers with lowercased names, in arrival order.
    ///   - signedHeaders: Lowercased names to sign, sorted.
    ///   - payloadHash: Hex SHA-256 of the body, or `UNSIGNED-PAYLOAD`.
    static func request(
        method: String, path: String, query: [SigV4QueryParameter],
        headers: [(name: String, value: String)], signedHeaders: [String], payloadHash: String
    ) -> String {
        String(decoding: requestBytes(method: method, path: path, query: query, headers: headers,
                                      signedHeaders: signedHeaders, payloadHash: payloadHash), as: UTF8.self)
    }

    /// ``request(method:path:query:headers:signedHeaders:payloadHash:)`` as the bytes that are
    /// hashed, built in one buffer.
    static func requestBytes(
        method: String, path: String, query: [SigV4QueryParameter],
        headers: [(name: String, value: String)], signedHeaders: [String], payloadHash: String
    ) -> [UInt8] {
        let newline = UInt8(ascii: "\n")
        var out: [UInt8] = []
        out.reserveCapacity(256 + path.utf8.count + payloadHash.utf8.count
            + headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 2 })
        for byte in method.utf8 {
            out.append((UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) ? byte - 0x20 : byte)
        }
        out.append(newline)
        appendURIPath(path, to: &out)
        out.append(newline)
        if !query.isEmpty { out += queryString(query).utf8 }
        out.append(newline)
        appendCanonicalHeaders(headers, signed: signedHeaders, to: &out)
        out.append(newline)
        for (index, name) in signedHeaders.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ";")) }
            out += name.utf8
        }
        out.append(newline)
        out += payloadHash.utf8
        return out
    }

    /// The string to sign over a canonical request.
    ///
    /// - Parameters:
    ///   - timestamp: The request time in ISO 8601 basic form.
    ///   - scope: `DATE/REGION/SERVICE/aws4_request`.
    ///   - canonicalRequest: The output of ``request(method:path:query:headers:signedHeaders:payloadHash:)``.
    static func stringToSign(timestamp: String, scope: String, canonicalRequest: String) -> String {
        String(decoding: stringToSign(timestamp: timestamp, scope: scope, canonicalRequest: Array(canonicalRequest.utf8)),
               as: UTF8.self)
    }

    /// The string to sign over the bytes of a canonical request.
    static func stringToSign(timestamp: String, scope: String, canonicalRequest: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(algorithm.utf8.count + timestamp.utf8.count + scope.utf8.count + 67)
        out += algorithm.utf8
        out.append(UInt8(ascii: "\n"))
        out += timestamp.utf8
        out.append(UInt8(ascii: "\n"))
        out += scope.utf8
        out.append(UInt8(ascii: "\n"))
        appendHex(SHA256.hash(data: canonicalRequest), to: &out)
        return out
    }

    /// The lowercase hex signature: HMAC chain `AWS4`+secret → date → region → service → `aws4_request`.
    ///
    /// - Parameters:
    ///   - secret: The secret access key.
    ///   - date: The `YYYYMMDD` of the credential scope.
    ///   - region: The scope's region.
    ///   - service: The scope's service.
    ///   - stringToSign: The output of ``stringToSign(timestamp:scope:canonicalRequest:)``.
    static func signature(
        secret: String, date: String, region: String, service: String, stringToSign: String
    ) -> String {
        signature(key: signingKey(secret: secret, date: date, region: region, service: service),
                  stringToSign: stringToSign)
    }

    /// The derived signing key of one scope (four HMACs): valid for the scope's whole day.
    static func signingKey(secret: String, date: String, region: String, service: String) -> SymmetricKey {
        var key = SymmetricKey(data: Array("AWS4\(secret)".utf8))
        for part in [date, region, service, "aws4_request"] {
            key = SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
        }
        return key
    }

    /// The lowercase hex signature of `stringToSign` under a derived signing key.
    static func signature(key: SymmetricKey, stringToSign: String) -> String {
        String(decoding: signature(key: key, stringToSign: Array(stringToSign.utf8)), as: UTF8.self)
    }

    /// The lowercase hex signature of the bytes of a string to sign.
    static func signature(key: SymmetricKey, stringToSign: [UInt8]) -> [UInt8] {
        signature(keyed: HMAC<SHA256>(key: key), stringToSign: stringToSign)
    }

    /// The same with an HMAC already keyed with the signing key (a copy is updated, not it).
    static func signature(keyed: HMAC<SHA256>, stringToSign: [UInt8]) -> [UInt8] {
        var hmac = keyed
        hmac.update(data: stringToSign)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        appendHex(hmac.finalize(), to: &out)
        return out
    }

    /// The canonical URI of a non-S3 service: dot segments and empty segments removed
    /// (botocore `remove_dot_segments`), then every byte but unreserved ones and `/`
    /// percent-encoded again, so `%3A` as sent becomes `%253A`.
    ///
    /// - Parameter path: The raw path as sent.
    static func uriPath(_ path: String) -> String {
        var out: [UInt8] = []
        appendURIPath(path, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// ``uriPath(_:)`` appended to `out`. A path of plain segments (no `.`/`..`, no empty
    /// segment, only unreserved bytes), as every Lambda path is, is copied as it is.
    static func appendURIPath(_ path: String, to out: inout [UInt8]) {
        let bytes = path.utf8
        guard !bytes.isEmpty else {
            out.append(UInt8(ascii: "/"))
            return
        }
        let slash = UInt8(ascii: "/"), dot = UInt8(ascii: ".")
        var plain = bytes.first == slash
        var previous = slash
        for byte in bytes.dropFirst() {
            guard plain else { break }
            plain = byte == slash ? previous != slash : isUnreserved(byte) && !(byte == dot && previous == slash)
            previous = byte
        }
        if plain {
            out += bytes
            return
        }
        var segments: [Substring.UTF8View] = []
        for segment in bytes.split(separator: slash, omittingEmptySubsequences: true) {
            if segment.count == 1, segment.first == dot { continue }
            if segment.count == 2, segment.allSatisfy({ $0 == dot }) {
                _ = segments.popLast()
            } else {
                segments.append(Substring(segment).utf8)
            }
        }
        var normalised: [UInt8] = []
        normalised.reserveCapacity(bytes.count + 1)
        if bytes.first == slash { normalised.append(slash) }
        for (index, segment) in segments.enumerated() {
            if index > 0 { normalised.append(slash) }
            normalised.append(contentsOf: segment)
        }
        if bytes.last == slash, !segments.isEmpty { normalised.append(slash) }
        appendPercentEncoded(normalised, keepSlash: true, to: &out)
    }

    /// Splits a raw query string into decoded name/value pairs, in order.
    ///
    /// Only `%XX` is decoded; a `+` stays a `+` (SigV4 signers encode spaces as `%20`).
    /// Values stay bytes, so an escape that is not UTF-8 (`%FF`) survives the round trip.
    /// - Parameter rawQuery: The query string without its `?`.
    static func queryParameters(_ rawQuery: String) -> [SigV4QueryParameter] {
        rawQuery.utf8.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            let value = parts.count > 1 ? percentDecode(parts[1]) : []
            return SigV4QueryParameter(name: percentDecode(parts[0]), value: value)
        }
    }

    /// The canonical query: each name and value RFC 3986-encoded, sorted by name then value.
    ///
    /// - Parameter parameters: Decoded pairs, e.g. from ``queryParameters(_:)``.
    static func queryString(_ parameters: [SigV4QueryParameter]) -> String {
        parameters
            .map { (percentEncode($0.name, keepSlash: false), percentEncode($0.value, keepSlash: false)) }
            .sorted { lhs, rhs in
                lhs.0 == rhs.0 ? lhs.1.utf8.lexicographicallyPrecedes(rhs.1.utf8)
                    : lhs.0.utf8.lexicographicallyPrecedes(rhs.0.utf8)
            }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    /// `name:value\n` per signed header; repeated headers joined by `,` in arrival
    /// order, each value trimmed with inner whitespace runs collapsed to one space.
    ///
    /// - Parameters:
    ///   - headers: All headers with lowercased names.
    ///   - signed: Lowercased, sorted names to include.
    static func appendCanonicalHeaders(_ headers: [(name: String, value: String)], signed: [String],
                                       to out: inout [UInt8]) {
        for name in signed {
            out += name.utf8
            out.append(UInt8(ascii: ":"))
            var first = true
            for header in headers where header.name == name {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                appendTrimmed(header.value, to: &out)
            }
            out.append(UInt8(ascii: "\n"))
        }
    }

    /// `text` with ASCII `A`–`Z` lowered, other bytes as they are (header names are ASCII tokens;
    /// `String.lowercased()` applies Unicode's rules, at several times the cost); `text` itself
    /// when it has no upper-case letter.
    static func asciiLowercased(_ text: String) -> String {
        let upper = UInt8(ascii: "A")...UInt8(ascii: "Z")
        guard text.utf8.contains(where: upper.contains) else { return text }
        let count = text.utf8.count
        return String(unsafeUninitializedCapacity: count) { out in
            for (i, byte) in text.utf8.enumerated() { out[i] = upper.contains(byte) ? byte | 0x20 : byte }
            return count
        }
    }

    /// Hex SHA-256 of `bytes`, lowercase.
    static func hexSHA256(_ bytes: [UInt8]) -> String {
        hex(SHA256.hash(data: bytes))
    }

    /// Hex SHA-256 of the bytes in place, lowercase.
    static func hexSHA256(_ bytes: UnsafeRawBufferPointer) -> String {
        hex(SHA256.hash(data: bytes))
    }

    /// Compares two signatures in time that depends only on their lengths.
    ///
    /// - Parameters:
    ///   - expected: The signature computed here.
    ///   - provided: The signature the client sent.
    static func constantTimeEqual(_ expected: [UInt8], _ provided: String) -> Bool {
        guard expected.count == provided.utf8.count else { return false }
        var difference: UInt8 = 0
        for (lhs, rhs) in zip(expected, provided.utf8) {
            difference |= lhs ^ rhs
        }
        return difference == 0
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)
    private static let upperHexDigits = Array("0123456789ABCDEF".utf8)

    /// Digests are read in place (iterating one copies it into an array first).
    private static func hex(_ bytes: some ContiguousBytes) -> String {
        bytes.withUnsafeBytes { raw in
            String(unsafeUninitializedCapacity: raw.count * 2) { out in
                for (index, byte) in raw.enumerated() {
                    out[2 * index] = hexDigits[Int(byte >> 4)]
                    out[2 * index + 1] = hexDigits[Int(byte & 0x0F)]
                }
                return raw.count * 2
            }
        }
    }

    private static func appendHex(_ bytes: some ContiguousBytes, to out: inout [UInt8]) {
        bytes.withUnsafeBytes { raw in
            out.reserveCapacity(out.count + raw.count * 2)
            for byte in raw {
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0F)])
            }
        }
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "_"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// RFC 3986 encoding: unreserved bytes (and `/` if asked) kept, all others `%XX` uppercase.
    static func percentEncode(_ bytes: some Sequence<UInt8>, keepSlash: Bool) -> String {
        var out: [UInt8] = []
        appendPercentEncoded(bytes, keepSlash: keepSlash, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    static func appendPercentEncoded(_ bytes: some Sequence<UInt8>, keepSlash: Bool, to out: inout [UInt8]) {
        for byte in bytes {
            if isUnreserved(byte) || (keepSlash && byte == UInt8(ascii: "/")) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(upperHexDigits[Int(byte >> 4)])
                out.append(upperHexDigits[Int(byte & 0x0F)])
            }
        }
    }

    /// Decodes `%XX`; a malformed escape is kept literally (and so re-encoded as `%25`).
    static func percentDecode(_ text: some Collection<UInt8>) -> [UInt8] {
        let bytes = Array(text)
        guard bytes.contains(UInt8(ascii: "%")) else { return bytes }
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
                let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
            {
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return out
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// Appends `value` trimmed, with ASCII whitespace runs collapsed to one space
    /// (Python `' '.join(value.split())`).
    private static func appendTrimmed(_ value: String, to out: inout [UInt8]) {
        var pendingSpace = false
        var wrote = false
        for byte in value.utf8 {
            if byte == 0x20 || (0x09...0x0D).contains(byte) {
                pendingSpace = wrote
            } else {
                if pendingSpace { out.append(0x20) }
                pendingSpace = false
                wrote = true
                out.append(byte)
            }
        }
    }
}

/// One query parameter, percent-decoded, as bytes.
struct SigV4QueryParameter: Sendable {
    var name: [UInt8]
    var value: [UInt8]

    /// The name as text, for comparing with the `X-Amz-*` auth parameter names.
    var nameText: String { String(decoding: name, as: UTF8.self) }

    /// The value as text.
    var valueText: String { String(decoding: value, as: UTF8.self) }
}
