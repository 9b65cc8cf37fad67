import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import WarrenAPI

/// The middleware in a router: refuses with AWS's error shape, passes the body on.
@Suite("SigV4 middleware")
struct SigV4MiddlewareTests {
    static let key = AccessKey(accessKeyId: "AKIDWARREN", secretAccessKey: "warren-secret")
    static let path = "/2015-03-31/functions/my-fn/invocations"
    static let payload = #"{"key":"value"}"#

    /// A router whose one route echoes the body it receives.
    static func app(maxBodySize: Int = SigV4Middleware<BasicRequestContext>.defaultMaxBodySize) -> some ApplicationProtocol {
        let router = Router()
        router.middlewares.add(
            SigV4Middleware(
                verifier: SigV4Verifier(keys: [key]), maxBodySize: maxBodySize, exemptPaths: ["/metrics"]))
        router.post("/2015-03-31/functions/{name}/invocations") { request, _ -> ByteBuffer in
            try await request.body.collect(upTo: 1 << 20)
        }
        router.get("/metrics") { _, _ in "metrics" }
        return Application(router: router)
    }

    /// Headers for `body` POSTed to `path`, signed for `host` now.
    static func signedHeaders(host: String, body: String, key: AccessKey = key) -> HTTPFields {
        var fields: HTTPFields = [.contentType: "application/json"]
        let auth = SigV4Signer(key: key).authorizationHeaders(
            method: "POST", path: path, headers: [("host", host), ("content-type", "application/json")],
            body: Array(body.utf8))
        for (name, value) in auth {
            if let name = HTTPField.Name(name) { fields[name] = value }
        }
        return fields
    }

    @Test("a signed request reaches the route with its body intact")
    func passesBody() async throws {
        try await Self.app().test(.router) { client in
            let headers = Self.signedHeaders(host: "localhost", body: Self.payload)
            try await client.execute(
                uri: Self.path, method: .post, headers: headers, body: ByteBuffer(string: Self.payload)
            ) { response in
                #expect(response.status == .ok)
                #expect(String(decoding: response.body.readableBytesView, as: UTF8.self) == Self.payload)
            }
        }
    }

    @Test("over real HTTP/1.1 the Host header is signed and checked")
    func liveHTTP() async throws {
        try await Self.app().test(.live) { client in
            let headers = Self.signedHeaders(host: "localhost", body: Self.payload)
            try await client.execute(
                uri: Self.path, method: .post, headers: headers, body: ByteBuffer(string: Self.payload)
            ) { response in
                #expect(response.status == .ok)
                #expect(String(decoding: response.body.readableBytesView, as: UTF8.self) == Self.payload)
            }
            let otherHost = Self.signedHeaders(host: "evil.example", body: Self.payload)
            try await client.execute(
                uri: Self.path, method: .post, headers: otherHost, body: ByteBuffer(string: Self.payload)
            ) { response in
                #expect(response.status == .forbidden)
            }
        }
    }

    @Test("refusals carry status, x-amzn-ErrorType, x-amzn-RequestId and a JSON message")
    func refusals() async throws {
        let stranger = AccessKey(accessKeyId: "AKIDSTRANGER", secretAccessKey: "x")
        let cases: [(HTTPFields, String, String)] = [
            ([:], "MissingAuthenticationTokenException", "Missing Authentication Token"),
            (
                Self.signedHeaders(host: "localhost", body: "tampered"), "InvalidSignatureException",
                SigV4Error.signatureMismatch.message
            ),
            (
                Self.signedHeaders(host: "localhost", body: Self.payload, key: stranger),
                "UnrecognizedClientException", "The security token included in the request is invalid."
            ),
        ]
        try await Self.app().test(.router) { client in
            for (headers, code, message) in cases {
                try await client.execute(
                    uri: Self.path, method: .post, headers: headers, body: ByteBuffer(string: Self.payload)
                ) { response in
                    #expect(response.status == .forbidden)
                    #expect(response.headers[HTTPField.Name("x-amzn-ErrorType")!] == code)
                    #expect(response.headers[HTTPField.Name("x-amzn-RequestId")!]?.count == 36)
                    #expect(response.headers[.contentType] == "application/json")
                    let json = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: String]
                    #expect(json == ["message": message])
                }
            }
        }
    }

    @Test("a body over the bound is refused with 413 before verification")
    func tooLarge() async throws {
        try await Self.app(maxBodySize: 8).test(.router) { client in
            let headers = Self.signedHeaders(host: "localhost", body: Self.payload)
            try await client.execute(
                uri: Self.path, method: .post, headers: headers, body: ByteBuffer(string: Self.payload)
            ) { response in
                #expect(response.status == .contentTooLarge)
                #expect(response.headers[HTTPField.Name("x-amzn-ErrorType")!] == "RequestEntityTooLargeException")
            }
        }
    }

    @Test("exempt paths are served without a signature")
    func exempt() async throws {
        try await Self.app().test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(decoding: response.body.readableBytesView, as: UTF8.self) == "metrics")
            }
        }
    }
}
