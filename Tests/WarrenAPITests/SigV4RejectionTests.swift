import Foundation
import Testing
import WarrenAPI

/// Each way a request can fail, with the code, status and message AWS uses.
@Suite("SigV4 rejections")
struct SigV4RejectionTests {
    static let key = AccessKey(accessKeyId: "AKIDWARREN", secretAccessKey: "warren-secret/with+chars")
    /// 2015-08-30T12:36:00Z.
    static let signedAt = Date(timeIntervalSince1970: 1_440_938_160)
    static let path = "/2015-03-31/functions/my-fn/invocations"
    static let body = Array(#"{"key":"value"}"#.utf8)

    static func verifier(offset: TimeInterval = 0, keys: [AccessKey] = [key]) -> SigV4Verifier {
        SigV4Verifier(keys: keys, now: { signedAt.addingTimeInterval(offset) })
    }

    /// A POST signed by `key` at `signedAt`, with extra headers signed too.
    static func signed(
        key: AccessKey = key, service: String = "lambda", extra: [(String, String)] = [], body: [UInt8] = body
    ) -> SigV4Request {
        let headers = [("Host", "127.0.0.1:9000"), ("Content-Type", "application/json")] + extra
        let auth = SigV4Signer(key: key, region: "eu-west-3", service: service)
            .authorizationHeaders(method: "POST", path: path, headers: headers, body: body, date: signedAt)
        return SigV4Request(method: "POST", path: path, headers: headers + auth, body: body)
    }

    @Test("a correctly signed request yields its key id and region")
    func accepted() throws {
        let result = try Self.verifier().verifyDetailed(Self.signed())
        #expect(result.accessKeyId == "AKIDWARREN")
        #expect(result.region == "eu-west-3")
        #expect(try Self.verifier().verify(Self.signed(body: [])) == "AKIDWARREN")
    }

    @Test("one verifier keeps judging each request alone: its cached keyed HMAC is copied, never changed")
    func reusedScope() async {
        let verifier = Self.verifier()
        var forged = Self.signed()
        forged.body = Array(#"{"key":"forged"}"#.utf8)
        let requests = [Self.signed(), forged, Self.signed(body: []), Self.signed(extra: [("X-Trace", "1")])]
        let verdicts = await withTaskGroup(of: [Bool].self) { group in
            for _ in 0..<4 {
                group.addTask {
                    (0..<50).flatMap { _ in requests.map { (try? verifier.verify($0)) != nil } }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(verdicts.count == 4)
        for run in verdicts { #expect(run == Array(repeating: [true, false, true, true], count: 50).flatMap { $0 }) }
    }

    @Test("no Authorization header and no query auth → 403 MissingAuthenticationTokenException")
    func missing() {
        let request = SigV4Request(method: "GET", path: "/2015-03-31/functions", headers: [("Host", "h")])
        #expect(throws: SigV4Error.missingAuthenticationToken) { try Self.verifier().verify(request) }
        #expect(SigV4Error.missingAuthenticationToken.code == "MissingAuthenticationTokenException")
        #expect(SigV4Error.missingAuthenticationToken.httpStatus == 403)
        #expect(SigV4Error.missingAuthenticationToken.message == "Missing Authentication Token")
    }

    @Test("malformed Authorization headers → 400 IncompleteSignatureException", arguments: [
        "Bearer abc",
        "AWS4-HMAC-SHA256 Credential=AKIDWARREN/20150830/us-east-1/lambda/aws4_request, SignedHeaders=host",
        "AWS4-HMAC-SHA256 Credential=AKIDWARREN/20150830/lambda/aws4_request, SignedHeaders=host, Signature=00",
    ])
    func incomplete(authorization: String) {
        var request = Self.signed()
        request.headers.removeAll { $0.0 == "Authorization" }
        request.headers.append(("Authorization", authorization))
        do throws(SigV4Error) {
            _ = try Self.verifier().verify(request)
            Issue.record("accepted \(authorization)")
        } catch {
            #expect(error.code == "IncompleteSignatureException")
            #expect(error.httpStatus == 400)
        }
    }

    @Test("the missing parts are named as AWS names them")
    func incompleteMessage() {
        var request = Self.signed()
        request.headers.removeAll { $0.0 == "Authorization" }
        request.headers.append(("Authorization", "AWS4-HMAC-SHA256 SignedHeaders=host"))
        #expect(
            throws: SigV4Error.incomplete(
                "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter."
            )
        ) { try Self.verifier().verify(request) }
    }

    @Test("an unknown access key → 403 UnrecognizedClientException")
    func unknownKey() {
        let stranger = AccessKey(accessKeyId: "AKIDSTRANGER", secretAccessKey: Self.key.secretAccessKey)
        #expect(throws: SigV4Error.unrecognizedClient) { try Self.verifier().verify(Self.signed(key: stranger)) }
        #expect(SigV4Error.unrecognizedClient.message == "The security token included in the request is invalid.")
    }

    @Test("a wrong secret, body or signed header → 403 InvalidSignatureException")
    func mismatch() {
        let wrongSecret = AccessKey(accessKeyId: Self.key.accessKeyId, secretAccessKey: "not-the-secret")
        var body = Self.signed()
        body.body = Array(#"{"key":"other"}"#.utf8)
        var header = Self.signed(extra: [("X-Amz-Invocation-Type", "RequestResponse")])
        header.headers = header.headers.map { $0.0 == "X-Amz-Invocation-Type" ? ($0.0, "Event") : $0 }
        var added = Self.signed()
        added.headers.append(("Content-Type", "text/plain"))
        for request in [Self.signed(key: wrongSecret), body, header, added] {
            #expect(throws: SigV4Error.signatureMismatch) { try Self.verifier().verify(request) }
        }
        #expect(SigV4Error.signatureMismatch.code == "InvalidSignatureException")
        #expect(SigV4Error.signatureMismatch.message.hasPrefix("The request signature we calculated does not match"))
    }

    @Test("older than 5 minutes → Signature expired, with AWS's wording")
    func expired() {
        let message =
            "Signature expired: 20150830T123600Z is now earlier than 20150830T124100Z (20150830T124600Z - 5 min.)"
        #expect(throws: SigV4Error.invalid(message)) { try Self.verifier(offset: 600).verify(Self.signed()) }
        #expect(throws: Never.self) { try Self.verifier(offset: 299).verify(Self.signed()) }
    }

    @Test("more than 5 minutes ahead → Signature not yet current")
    func future() {
        let message =
            "Signature not yet current: 20150830T123600Z is still later than 20150830T123100Z "
            + "(20150830T122600Z + 5 min.)"
        #expect(throws: SigV4Error.invalid(message)) { try Self.verifier(offset: -600).verify(Self.signed()) }
    }

    @Test("a scope for another service is refused")
    func wrongService() {
        #expect(throws: SigV4Error.invalid("Credential should be scoped to correct service: 'lambda'. ")) {
            try Self.verifier().verify(Self.signed(service: "s3"))
        }
    }

    @Test("a scope for another region is refused once the server has one")
    func wrongRegion() throws {
        let verifier = SigV4Verifier(keys: [Self.key], region: "us-east-1", now: { Self.signedAt })
        #expect(throws: SigV4Error.invalid("Credential should be scoped to a valid region. ")) {
            try verifier.verify(Self.signed())  // scoped to eu-west-3
        }
        let matching = SigV4Verifier(keys: [Self.key], region: "eu-west-3", now: { Self.signedAt })
        #expect(try matching.verify(Self.signed()) == "AKIDWARREN")
    }

    @Test("host must be signed")
    func hostUnsigned() {
        let headers = [("X-Amz-Meta", "1")]
        let auth = SigV4Signer(key: Self.key).authorizationHeaders(
            method: "GET", path: "/", headers: headers, date: Self.signedAt)
        let request = SigV4Request(method: "GET", path: "/", headers: headers + auth + [("Host", "h")])
        #expect(throws: SigV4Error.incomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")) {
            try Self.verifier().verify(request)
        }
    }

    @Test("x-amz-content-sha256 must match the body; UNSIGNED-PAYLOAD is refused (its signature covers no body)")
    func contentSHA256() throws {
        let mismatch = SigV4Error.invalid(
            "The provided 'x-amz-content-sha256' header does not match what was computed.")
        let wrong = Self.signed(extra: [("X-Amz-Content-Sha256", String(repeating: "0", count: 64))])
        #expect(throws: mismatch) { try Self.verifier().verify(wrong) }
        // Validly signed, with the body it was signed with or with another: neither passes.
        for literal in ["UNSIGNED-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"] {
            var request = Self.signed(extra: [("X-Amz-Content-Sha256", literal)], body: [])
            #expect(throws: mismatch) { try Self.verifier().verify(request) }
            request.body = Array("anything".utf8)
            #expect(throws: mismatch) { try Self.verifier().verify(request) }
        }
        // The header with the body's own hash (any case) passes.
        let emptySHA256 = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
        let declared = Self.signed(extra: [("X-Amz-Content-Sha256", emptySHA256)], body: [])
        #expect(try Self.verifier().verify(declared) == "AKIDWARREN")
        // A caller-supplied body hash is used instead of hashing the body.
        var hashed = Self.signed(body: [])
        hashed.body = Array("ignored".utf8)
        hashed.bodySHA256 = emptySHA256
        #expect(try Self.verifier().verify(hashed) == "AKIDWARREN")
    }

    @Test("presigned URLs: accepted within X-Amz-Expires, refused after, never together with Authorization")
    func presigned() throws {
        let signer = SigV4Signer(key: Self.key)
        let query = signer.presignedQuery(
            method: "GET", path: "/2015-03-31/functions/", query: "MaxItems=10&Marker=a%2Fb%3D%3D", host: "h:9000",
            expires: 60, date: Self.signedAt)
        let request = SigV4Request(method: "GET", path: "/2015-03-31/functions/", query: query, headers: [("host", "h:9000")])
        #expect(try Self.verifier(offset: 60).verify(request) == "AKIDWARREN")
        #expect(throws: SigV4Error.invalid(
            "Signature expired: 20150830T123600Z is now earlier than 20150830T123601Z (20150830T123701Z - 1 min.)")
        ) { try Self.verifier(offset: 61).verify(request) }
        var tampered = request
        tampered.query = query.replacingOccurrences(of: "MaxItems=10", with: "MaxItems=50")
        #expect(throws: SigV4Error.signatureMismatch) { try Self.verifier().verify(tampered) }
        var both = request
        both.headers.append(("Authorization", "AWS4-HMAC-SHA256 Credential=x"))
        #expect(throws: (any Error).self) { try Self.verifier().verify(both) }
        var tooLong = request
        tooLong.query = query.replacingOccurrences(of: "X-Amz-Expires=60", with: "X-Amz-Expires=604801")
        do throws(SigV4Error) {
            _ = try Self.verifier().verify(tooLong)
            Issue.record("accepted X-Amz-Expires beyond a week")
        } catch {
            #expect(error.code == "IncompleteSignatureException")
        }
    }
}
