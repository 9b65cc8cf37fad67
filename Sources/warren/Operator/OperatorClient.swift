import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import WarrenAPI

/// The server's base URL, split the way requests and signatures need it.
struct Endpoint: Equatable {
    /// `http://host:port` plus any base path, without a trailing `/`.
    var base: String
    /// The path prefix requests are sent under (`""` normally).
    var basePath: String
    /// The `Host` header: `host[:port]`, brackets around IPv6.
    var hostHeader: String

    /// - Throws: ``OperatorError`` (`input`) when `text` is not an http(s) URL with a host.
    init(_ text: String) throws(OperatorError) {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let rawHost = url.host, !rawHost.isEmpty, url.query == nil, Self.portIsValid(in: text)
        else {
            throw .input("--endpoint wants a URL like \(ConnectionOptions.defaultEndpoint), got '\(text)'")
        }
        let host = rawHost.hasPrefix("[") || !rawHost.contains(":") ? rawHost : "[\(rawHost)]"
        let defaultPort = scheme == "https" ? 443 : 80
        hostHeader = url.port.map { $0 == defaultPort ? host : "\(host):\($0)" } ?? host
        var path = URLComponents(url: url, resolvingAgainstBaseURL: false)?.percentEncodedPath ?? ""
        while path.hasSuffix("/") { path.removeLast() }
        basePath = path
        base = "\(scheme)://\(hostHeader)\(path)"
    }

    /// Whether the URL's port, if it spells one, is 1…65535 (`URL` reads one past 2^64 as none).
    private static func portIsValid(in text: String) -> Bool {
        guard let authority = text.split(separator: "://", maxSplits: 1).last?
            .prefix(while: { !"/?#".contains($0) })
        else { return false }
        let hostEnd = authority.lastIndex(of: "]") ?? authority.startIndex
        guard let colon = authority[hostEnd...].lastIndex(of: ":") else { return true }
        let port = authority[authority.index(after: colon)...]
        guard !port.isEmpty, port.allSatisfy(\.isASCII), port.allSatisfy(\.isNumber), let number = Int(port) else {
            return false
        }
        return (1...65535).contains(number)
    }
}

/// One answer of the server: status, headers and the whole body.
struct APIResponse: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var body: [UInt8]

    func header(_ name: String) -> String? { headers.first(name: name) }

    /// The body as a JSON object.
    /// - Throws: ``OperatorError`` (`api`) if it is not one.
    func object() throws(OperatorError) -> [String: Any] {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else {
            throw .api("InvalidResponse", "HTTP \(status) with a body that is not a JSON object: "
                + String(decoding: body.prefix(200), as: UTF8.self))
        }
        return object
    }
}

/// A SigV4-signing client of Warren's REST API (AsyncHTTPClient).
struct OperatorClient {
    let endpoint: Endpoint
    let signer: SigV4Signer
    let http: HTTPClient
    let output: OperatorOutput

    /// Longest any request may take: the longest function timeout (900 s) plus slack.
    static let requestTimeout: TimeAmount = .seconds(960)
    /// Largest response read: a sync invoke answers at most 6 MB, logs at most 1 MiB.
    static let maxResponse = 16 << 20

    /// Runs `body` with a client for `options`, shutting the client down afterwards.
    static func with(_ options: ConnectionOptions, _ body: (OperatorClient) async throws -> Void) async throws {
        var configuration = HTTPClient.Configuration(timeout: .init(connect: .seconds(10)))
        // Fail at once when nothing listens, rather than retrying until the connect timeout.
        configuration.connectionPool.retryConnectionEstablishment = false
        let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        let client = OperatorClient(
            endpoint: try Endpoint(options.resolvedEndpoint),
            signer: SigV4Signer(key: options.key, region: options.region), http: http, output: options.output)
        do {
            try await body(client)
        } catch {
            try? await http.shutdown()
            throw error
        }
        try await http.shutdown()
    }

    /// Sends one signed request and reads the whole answer.
    ///
    /// - Parameters:
    ///   - method: The HTTP method.
    ///   - path: The percent-encoded path under the endpoint, starting with `/`.
    ///   - query: Query parameters, encoded here.
    ///   - headers: Extra headers, all signed.
    ///   - json: A JSON object for the body (sent as `application/json`).
    ///   - body: Raw body bytes, used when `json` is nil.
    /// - Returns: A 2xx response.
    /// - Throws: ``OperatorError``: `api` for a 4xx/5xx, `unreachable` when no exchange happened.
    func send(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], headers: [(String, String)] = [],
        json: [String: Any]? = nil, body: [UInt8] = []
    ) async throws(OperatorError) -> APIResponse {
        var bytes = body
        var headers = [("host", endpoint.hostHeader)] + headers
        if let json {
            bytes = Array(try Self.encode(json))
            headers.append(("content-type", "application/json"))
        }
        let queryString = query.map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }.joined(separator: "&")
        headers += signer.authorizationHeaders(
            method: method.rawValue, path: endpoint.basePath + path, query: queryString, headers: headers, body: bytes)
        var request = HTTPClientRequest(url: endpoint.base + path + (queryString.isEmpty ? "" : "?" + queryString))
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if !bytes.isEmpty || method == .POST || method == .PUT { request.body = .bytes(ByteBuffer(bytes: bytes)) }

        let response: APIResponse
        do {
            let answer = try await http.execute(request, timeout: Self.requestTimeout)
            let buffer = try await answer.body.collect(upTo: Self.maxResponse)
            response = APIResponse(status: Int(answer.status.code), headers: answer.headers, body: Array(buffer: buffer))
        } catch {
            throw .unreachable(endpoint.base, Self.reason(error))
        }
        guard (200..<300).contains(response.status) else { throw Self.apiError(response) }
        return response
    }

    /// Every page of a Lambda list operation (`Marker` in, `NextMarker` out), items of `key` concatenated.
    func list(_ path: String, key: String, query: [(String, String)] = []) async throws(OperatorError) -> [Any] {
        var items: [Any] = []
        var marker: String?
        repeat {
            let page = try await send(.GET, path, query: query + (marker.map { [("Marker", $0)] } ?? [])).object()
            items += page[key] as? [Any] ?? []
            marker = (page["NextMarker"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        } while marker != nil
        return items
    }

    /// `/2015-03-31/functions/{name}` with `name` encoded as one path segment.
    static func functionPath(_ name: String, _ api: String = "2015-03-31") -> String {
        "/\(api)/functions/\(encode(name))"
    }

    /// Percent-encodes everything but RFC 3986's unreserved characters (`:` becomes `%3A`).
    static func encode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    /// Compact JSON for a request body.
    static func encode(_ object: [String: Any]) throws(OperatorError) -> Data {
        do {
            return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        } catch {
            throw .input("cannot encode the request: \(error)")
        }
    }

    /// `<ErrorType>: <message>` from `x-amzn-ErrorType` and the body's `message`/`Message`, as botocore reads them.
    static func apiError(_ response: APIResponse) -> OperatorError {
        let object = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any]
        let header = response.header("x-amzn-ErrorType").map { String($0.prefix { $0 != ":" }) }
        let type = header ?? object?["__type"] as? String ?? "HTTP \(response.status)"
        var message = object?["message"] as? String ?? object?["Message"] as? String
            ?? String(decoding: response.body.prefix(300), as: UTF8.self)
        if let reason = object?["Reason"] as? String { message += " (\(reason))" }
        return .api(type, message.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// What went wrong on the wire, as one short phrase.
    static func reason(_ error: any Error) -> String {
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)).lowercased() }
        if let connection = error as? NIOConnectionError {
            if let first = connection.connectionErrors.first { return reason(first.error) }
            if connection.dnsAAAAError != nil || connection.dnsAError != nil { return "cannot resolve \(connection.host)" }
        }
        if let client = error as? HTTPClientError {
            switch client {
            case .connectTimeout: return "connect timed out"
            case .deadlineExceeded, .readTimeout: return "no answer in time"
            case .remoteConnectionClosed: return "the server closed the connection"
            default: return "\(client)"
            }
        }
        return "\(error)"
    }
}
