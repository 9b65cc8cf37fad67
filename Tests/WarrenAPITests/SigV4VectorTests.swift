import Foundation
import Testing

@testable import WarrenAPI

/// AWS's published SigV4 test suite (`aws-sig-v4-test-suite`, as vendored by
/// awslabs/aws-c-auth `tests/aws-signing-test-suite/v4/*/header-signed-request.txt`),
/// copied byte for byte. Credentials AKIDEXAMPLE, region us-east-1, service
/// `service`, time 20150830T123600Z.
struct SigV4Vector: Sendable, CustomTestStringConvertible {
    let name: String
    let raw: String
    var testDescription: String { name }

    static let suiteKey = AccessKey(
        accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    /// 2015-08-30T12:36:00Z.
    static let suiteTime = Date(timeIntervalSince1970: 1_440_938_160)

    static var verifier: SigV4Verifier {
        SigV4Verifier(keys: [suiteKey], service: "service", now: { suiteTime })
    }

    /// Parses the suite's raw HTTP text: request line, `Name:value` lines, blank line, body.
    var request: SigV4Request {
        let headEnd = raw.range(of: "\n\n")
        let head = headEnd.map { String(raw[..<$0.lowerBound]) } ?? raw
        let body = headEnd.map { Array(raw[$0.upperBound...].utf8) } ?? []
        var lines = head.split(separator: "\n", omittingEmptySubsequences: false)
        let requestLine = lines.removeFirst().split(separator: " ")
        // The target may contain a space (get-space): everything between method and version.
        let target = requestLine.dropFirst().dropLast().joined(separator: " ")
        let mark = target.firstIndex(of: "?")
        let headers = lines.filter { !$0.isEmpty }.map { line -> (String, String) in
            guard let colon = line.firstIndex(of: ":") else { return (String(line), "") }
            return (String(line[..<colon]), String(line[line.index(after: colon)...]))
        }
        return SigV4Request(
            method: String(requestLine[0]), path: String(target[..<(mark ?? target.endIndex)]),
            query: mark.map { String(target[target.index(after: $0)...]) } ?? "", headers: headers, body: body)
    }

    /// The `Signature=` of the vector, from the header or the query.
    var signature: String {
        guard let range = raw.range(of: "Signature=") else { return "" }
        return String(raw[range.upperBound...].prefix { $0.isHexDigit })
    }
}

extension SigV4Vector {
    static let headerVectors: [SigV4Vector] = [
        SigV4Vector(name: "get-vanilla", raw: #"""
            GET / HTTP/1.1
            Host:example.amazonaws.com
            Authorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31
            X-Amz-Date:20150830T123600Z

            """#),
        SigV4Vector(name: "get-vanilla-query-order-key-case", raw: #"""
            GET /?Param2=value2&Param1=value1 HTTP/1.1
            Host:example.amazonaws.com
            Authorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500
            X-Amz-Date:20150830T123600Z

            """#),
        SigV4Vector(name: "get-vanilla-query-unreserved", raw: #"""
            GET /?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz HTTP/1.1
            Host:example.amazonaws.com
            Authorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197
            X-Amz-Date:20150830T123600Z

            """#),
        SigV4Vector(name: "get-vanilla-utf8-query", raw: #"""
            GET /?ሴ=bar HTTP/1.1
            Host:example.amazonaws.com
            Authorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04
            X-Amz-Date:20150830T123600Z

            """#),
        SigV4Vector(name: "get-header-value-trim", raw: #"""
            GET / HTTP/1.1
            Host:example.amazonaws.com
            My-Header1: value1
            My-Header2: "a   b   c"
            Authorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;my-header2;x-amz-date, Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736
            X-Amz-Date:20150830T123600Z

            """#),
        SigV4Vector(name: "get-header-key-duplicate", raw: #"""
            GET / HTTP/1.1
            Host:example.amazonaws.com
            My-Header1:value2
            My-Header1:value2
            My-Header1:value1
            Authorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea
            X-Amz-Date:20150830T123600Z

            """#),
        SigV4Vector(name: "get-utf8", raw: #"""
            GET /ሴ HTTP/1.1
            Host:example.amazonaws.com
            Authorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85
            X-Amz-Date:20150830T123600Z

            """#),
        SigV4Vector(name: "get-space-normalized", raw: #"""
            GET /example space/ HTTP/1.1
            Host:example.amazonaws.com
            Authorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741
            X-Amz-Date:20150830T123600Z

            """#),
        SigV4Vector(name: "get-slash-dot-slash-normalized", raw: #"""
            GET /./ HTTP/1.1
            Host:example.amazonaws.com
            Authorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31
            X-Amz-Date:20150830T123600Z

            """#),
        SigV4Vector(name: "get-relative-relative-normalized", raw: #"""
            GET /example1/example2/../.. HTTP/1.1
            Host:example.amazonaws.com
            Authorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31
            X-Amz-Date:20150830T123600Z

            """#),
        SigV4Vector(name: "post-vanilla-query", raw: #"""
            POST /?Param1=value1 HTTP/1.1
            Host:example.amazonaws.com
            Authorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11
            X-Amz-Date:20150830T123600Z

            """#),
        SigV4Vector(name: "post-header-key-sort", raw: #"""
            POST / HTTP/1.1
            Host:example.amazonaws.com
            My-Header1:value1
            Authorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c
            X-Amz-Date:20150830T123600Z

            """#),
        SigV4Vector(name: "post-x-www-form-urlencoded", raw: #"""
            POST / HTTP/1.1
            Content-Type:application/x-www-form-urlencoded
            Host:example.amazonaws.com
            Content-Length:13
            x-amz-content-sha256:9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e
            Authorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date, Signature=d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b
            X-Amz-Date:20150830T123600Z

            Param1=value1
            """#),
        SigV4Vector(name: "post-x-www-form-urlencoded-parameters", raw: #"""
            POST / HTTP/1.1
            Content-Type:application/x-www-form-urlencoded; charset=utf-8
            Host:example.amazonaws.com
            Content-Length:13
            x-amz-content-sha256:9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e
            Authorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date, Signature=328d1b9eaadca9f5818ef05e8392801e091653bafec24fcab71e7344e7f51422
            X-Amz-Date:20150830T123600Z

            Param1=value1
            """#),
    ]

    /// `query-signed-request.txt` of the same suite: presigned, `X-Amz-Expires=3600`.
    static let queryVectors: [SigV4Vector] = [
        SigV4Vector(name: "presigned get-vanilla-query-order-key-case", raw: #"""
            GET /?Param2=value2&Param1=value1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=86012e2c9ad4d77369f5d81c11f75158aae4f895a085212cc6d3f923d300bed5 HTTP/1.1
            Host:example.amazonaws.com
            X-Amz-Date:20150830T123600Z

            """#),
        SigV4Vector(name: "presigned get-utf8", raw: #"""
            GET /ሴ?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=10eae3f14a260bd3911cc6d008d3c576d143b05b62f09782a7a4b37f52178e44 HTTP/1.1
            Host:example.amazonaws.com
            X-Amz-Date:20150830T123600Z

            """#),
    ]
}

@Suite("SigV4 AWS test-suite vectors")
struct SigV4VectorTests {
    @Test("the verifier accepts the suite's signed request", arguments: SigV4Vector.headerVectors + SigV4Vector.queryVectors)
    func accepts(vector: SigV4Vector) throws {
        #expect(try SigV4Vector.verifier.verify(vector.request) == "AKIDEXAMPLE")
    }

    @Test("one flipped signature digit is refused", arguments: SigV4Vector.headerVectors + SigV4Vector.queryVectors)
    func refusesFlippedSignature(vector: SigV4Vector) {
        let good = vector.signature
        let flipped = String(good.dropLast()) + (good.last == "0" ? "1" : "0")
        let tampered = SigV4Vector(name: vector.name, raw: vector.raw.replacingOccurrences(of: good, with: flipped))
        #expect(throws: SigV4Error.signatureMismatch) { try SigV4Vector.verifier.verify(tampered.request) }
    }

    @Test("the signer reproduces the suite's Authorization header", arguments: SigV4Vector.headerVectors)
    func signerReproduces(vector: SigV4Vector) {
        let request = vector.request
        let unsigned = request.headers.filter { $0.0.lowercased() != "authorization" }
        let added = SigV4Signer(key: SigV4Vector.suiteKey, region: "us-east-1", service: "service")
            .authorizationHeaders(
                method: request.method, path: request.path, query: request.query, headers: unsigned,
                body: request.body, date: SigV4Vector.suiteTime)
        let expected = request.headers.first { $0.0 == "Authorization" }?.1
        #expect(added.map(\.0) == ["Authorization"])
        #expect(added.first?.1 == expected)
    }

    @Test("get-vanilla: canonical request and string to sign as published")
    func vanillaIntermediates() {
        let canonical = SigV4Canonical.request(
            method: "GET", path: "/", query: [],
            headers: [(name: "host", value: "example.amazonaws.com"), (name: "x-amz-date", value: "20150830T123600Z")],
            signedHeaders: ["host", "x-amz-date"], payloadHash: SigV4Canonical.hexSHA256([]))
        #expect(canonical == """
            GET
            /

            host:example.amazonaws.com
            x-amz-date:20150830T123600Z

            host;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """)
        let stringToSign = SigV4Canonical.stringToSign(
            timestamp: "20150830T123600Z", scope: "20150830/us-east-1/service/aws4_request", canonicalRequest: canonical)
        #expect(stringToSign.hasSuffix("\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"))
    }

    @Test("a Date header stands in for a missing X-Amz-Date; neither is incomplete")
    func dateHeader() throws {
        let headers = [
            (name: "host", value: "example.amazonaws.com"), (name: "date", value: "Sun, 30 Aug 2015 12:36:00 GMT"),
        ]
        let canonical = SigV4Canonical.request(
            method: "GET", path: "/", query: [], headers: headers, signedHeaders: ["date", "host"],
            payloadHash: SigV4Canonical.hexSHA256([]))
        let signature = SigV4Canonical.signature(
            secret: SigV4Vector.suiteKey.secretAccessKey, date: "20150830", region: "us-east-1", service: "service",
            stringToSign: SigV4Canonical.stringToSign(
                timestamp: "20150830T123600Z", scope: "20150830/us-east-1/service/aws4_request",
                canonicalRequest: canonical))
        let authorization =
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            + "SignedHeaders=date;host, Signature=\(signature)"
        var request = SigV4Request(
            method: "GET", path: "/", headers: headers.map { ($0.name, $0.value) } + [("Authorization", authorization)])
        #expect(try SigV4Vector.verifier.verify(request) == "AKIDEXAMPLE")
        request.headers.removeAll { $0.0 == "date" }
        #expect(
            throws: SigV4Error.incomplete(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
        ) { try SigV4Vector.verifier.verify(request) }
    }

    @Test("non-S3 paths are normalised, then encoded once more", arguments: [
        ("", "/"), ("/", "/"), ("//a//b/", "/a/b/"), ("/a/./b/../c", "/a/c"), ("/..", "/"),
        ("/functions/arn%3Aaws%3Alambda/x", "/functions/arn%253Aaws%253Alambda/x"),
        ("/a b/~c+d", "/a%20b/~c%2Bd"), ("/ሴ", "/%E1%88%B4"),
    ])
    func uriPath(raw: String, canonical: String) {
        #expect(SigV4Canonical.uriPath(raw) == canonical)
    }

    @Test("query: decoded, re-encoded per RFC 3986, sorted by name then value")
    func queryCanonicalisation() {
        let parameters = SigV4Canonical.queryParameters("b=2&a=z&a=y&c&d=%2f%7E+x&e=%FF%zz")
        #expect(SigV4Canonical.queryString(parameters) == "a=y&a=z&b=2&c=&d=%2F~%2Bx&e=%FF%25zz")
    }

    @Test("timestamps: basic and HTTP forms parse, impossible days do not")
    func timestamps() {
        #expect(SigV4Time.parseBasic("20150830T123600Z") == 1_440_938_160)
        #expect(SigV4Time.formatBasic(1_440_938_160) == "20150830T123600Z")
        #expect(SigV4Time.parseHTTPDate("Sun, 30 Aug 2015 12:36:00 GMT") == 1_440_938_160)
        #expect(SigV4Time.formatBasic(951_782_400) == "20000229T000000Z")
        for bad in ["20150231T000000Z", "20150830T243600Z", "2015-08-30T12:36:00Z", "20150830T123600", ""] {
            #expect(SigV4Time.parseBasic(bad) == nil, "\(bad)")
        }
    }
}
