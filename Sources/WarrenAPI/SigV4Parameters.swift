/// The SigV4 auth parameters of one request, from either the `Authorization`
/// header or the presigned query string (`X-Amz-*`).
struct SigV4Parameters: Sendable {
    /// The access key id from the credential scope.
    var accessKeyId: String
    /// The scope's `YYYYMMDD`; the signing key is derived from it.
    var scopeDate: String
    /// The scope's region: any is accepted and reported.
    var region: String
    /// The scope's service, checked against the verifier's.
    var service: String
    /// The scope's last element, which must be `aws4_request`.
    var terminator: String
    /// Lowercased, sorted signed header names.
    var signedHeaders: [String]
    /// The hex signature the client sent.
    var signature: String
    /// The request time from `X-Amz-Date` (query for presigned, header otherwise);
    /// `nil` if the header form relies on the `Date` header instead.
    var timestamp: String?
    /// Seconds a presigned URL stays valid; `nil` for header auth.
    var expires: Int64?

    /// `DATE/REGION/SERVICE/aws4_request`, as it enters the string to sign.
    var scope: String { "\(scopeDate)/\(region)/\(service)/\(terminator)" }

    /// The largest `X-Amz-Expires` AWS accepts: seven days.
    static let maxExpires: Int64 = 604_800

    /// Parses `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
    ///
    /// - Parameter header: The `Authorization` header value.
    /// - Throws: `IncompleteSignatureException` naming every missing part.
    static func fromAuthorization(_ header: String) throws(SigV4Error) -> SigV4Parameters {
        // On the UTF-8 view throughout: every byte that matters here is ASCII, and Character
        // iteration (grapheme breaking) cost more than the rest of the verification.
        let space = UInt8(ascii: " ")
        let trimmed = header.utf8.drop { $0 == space }
        let algorithm = trimmed.prefix { $0 != space }
        guard algorithm.elementsEqual(SigV4Canonical.algorithm.utf8) else {
            throw .incomplete(
                "Unsupported AWS 'algorithm': '\(Substring(algorithm))'. Use '\(SigV4Canonical.algorithm)'.")
        }
        // The three fields by name, compared as bytes (a dictionary hashed every name and value).
        var credential: String?
        var signature: String?
        var signed: String?
        Substring(trimmed[algorithm.endIndex...]).utf8.forEachPiece(separatedBy: UInt8(ascii: ",")) { item in
            // A name and a value, each at least one byte (as `split(separator: "=", maxSplits: 1)`).
            guard let equals = item.firstIndex(of: UInt8(ascii: "=")), equals != item.startIndex,
                item.index(after: equals) != item.endIndex
            else { return }
            let name = Substring(item[..<equals]).trimmingSpaces
            let value = Substring(item[item.index(after: equals)...]).trimmingSpaces
            // The last of a repeated name wins, as it did.
            switch name {
            case "Credential": credential = value
            case "Signature": signature = value
            case "SignedHeaders": signed = value
            default: return
            }
        }
        guard let credential, let signature, let signed else {
            let missing = [("Credential", credential), ("Signature", signature), ("SignedHeaders", signed)]
                .filter { $0.1 == nil }.map(\.0)
            throw .incomplete(missing.map { "Authorization header requires '\($0)' parameter." }.joined(separator: " "))
        }
        return try make(credential: credential, signedHeaders: signed, signature: signature, timestamp: nil)
    }

    /// Parses presigned query-string auth.
    ///
    /// - Parameter query: The decoded query parameters.
    /// - Throws: `IncompleteSignatureException` naming every missing parameter or a bad `X-Amz-Expires`.
    static func fromQuery(_ query: [SigV4QueryParameter]) throws(SigV4Error) -> SigV4Parameters {
        var fields: [String: String] = [:]
        for parameter in query where parameter.nameText.hasPrefix("X-Amz-") {
            fields[parameter.nameText] = parameter.valueText
        }
        let required = ["Algorithm", "Credential", "Signature", "SignedHeaders", "Date", "Expires"]
            .map { "X-Amz-\($0)" }
        let missing = required.filter { fields[$0] == nil }
        guard missing.isEmpty, let credential = fields["X-Amz-Credential"], let signature = fields["X-Amz-Signature"],
            let signed = fields["X-Amz-SignedHeaders"], let timestamp = fields["X-Amz-Date"],
            let expiresText = fields["X-Amz-Expires"]
        else {
            let text = missing.map { "AWS query-string parameters must include '\($0)'." }.joined(separator: " ")
            throw .incomplete(text + " Re-examine the query-string parameters.")
        }
        guard fields["X-Amz-Algorithm"] == SigV4Canonical.algorithm else {
            throw .incomplete("X-Amz-Algorithm only supports '\(SigV4Canonical.algorithm)'.")
        }
        guard let expires = Int64(expiresText), expires > 0, expires <= maxExpires else {
            throw .incomplete(
                "X-Amz-Expires must be a positive number of seconds no greater than \(maxExpires) (one week).")
        }
        var parameters = try make(
            credential: credential, signedHeaders: signed, signature: signature, timestamp: timestamp)
        parameters.expires = expires
        return parameters
    }

    private static func make(
        credential: String, signedHeaders: String, signature: String, timestamp: String?
    ) throws(SigV4Error) -> SigV4Parameters {
        var scope: [String] = []
        scope.reserveCapacity(5)
        Substring(credential).utf8.forEachPiece(separatedBy: UInt8(ascii: "/"), omittingEmpty: false) {
            scope.append(String(Substring($0)))
        }
        guard scope.count == 5, scope.allSatisfy({ !$0.isEmpty }) else {
            throw .incomplete(
                "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
                    + "got '\(credential)'")
        }
        var names: [String] = []
        names.reserveCapacity(8)
        Substring(signedHeaders).utf8.forEachPiece(separatedBy: UInt8(ascii: ";")) { name in
            names.append(SigV4Canonical.asciiLowercased(Substring(name).trimmingSpaces))
        }
        names.sort()
        names.removeDuplicatesInSortedOrder()
        return SigV4Parameters(
            accessKeyId: scope[0], scopeDate: scope[1], region: scope[2], service: scope[3], terminator: scope[4],
            signedHeaders: names, signature: signature, timestamp: timestamp, expires: nil
        )
    }
}

extension Array where Element: Equatable {
    /// Drops each element equal to the one before it: on a sorted array, the set of its elements.
    fileprivate mutating func removeDuplicatesInSortedOrder() {
        var kept = 0
        for index in indices where kept == 0 || self[index] != self[kept - 1] {
            self[kept] = self[index]
            kept += 1
        }
        removeSubrange(kept...)
    }
}

extension Substring.UTF8View {
    /// Calls `body` with each piece between separators, in order, as `split(separator:)` would
    /// return them (empty pieces left out unless asked for), without building the array.
    fileprivate func forEachPiece(
        separatedBy separator: UInt8, omittingEmpty: Bool = true, _ body: (Substring.UTF8View) throws -> Void
    ) rethrows {
        var start = startIndex
        while true {
            let end = self[start...].firstIndex(of: separator) ?? endIndex
            if !omittingEmpty || start != end { try body(self[start..<end]) }
            guard end != endIndex else { return }
            start = index(after: end)
        }
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs (on the UTF-8 view: no per-character work).
    fileprivate var trimmingSpaces: String {
        let bytes = utf8
        let isBlank = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        guard let first = bytes.firstIndex(where: { !isBlank($0) }) else { return "" }
        let last = bytes.lastIndex(where: { !isBlank($0) })!
        return String(Substring(bytes[first...last]))
    }
}
