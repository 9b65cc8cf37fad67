import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import WarrenAPI
import WarrenStore
import WarrenSupervisor

/// The Lambda API tests: one real SQLite store, one real supervisor and the
/// C echo runtime as a provided.al2023 `bootstrap`, per test. Serialized:
/// each test starts real instances on a two-core machine.
@Suite("Lambda REST API", .serialized)
enum LambdaAPI {}

/// One HTTP answer, read.
struct APIResponse {
    var status: HTTPResponse.Status
    var headers: HTTPFields
    var body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:] }
    func header(_ name: String) -> String? { HTTPField.Name(name).flatMap { headers[$0] } }
    var errorType: String? { header("x-amzn-ErrorType") }
    /// `message` or `Message`, as botocore reads it.
    var message: String? { (json["message"] ?? json["Message"]) as? String }
    /// `field` of every entry of the list `list`: `strings("Functions", "FunctionName")`.
    func strings(_ list: String, _ field: String) -> [String] {
        (json[list] as? [[String: Any]])?.compactMap { $0[field] as? String } ?? []
    }
}

enum Fixture {
    static let repo = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let role = "arn:aws:iam::123456789012:role/warren-test"
    static let arnPrefix = "arn:aws:lambda:us-east-1:000000000000:function:"

    /// A zip holding `bootstrap` (the echo runtime) and, optionally, a file of `padding` random bytes.
    static func echoZip(padding: Int = 0, marker: String = "") throws -> [UInt8] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("warren-zip-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let runtime = try #require(Bundle.module.url(forResource: "echo-runtime", withExtension: nil))
        try FileManager.default.copyItem(at: runtime, to: dir.appendingPathComponent("bootstrap"))
        try FileManager.default.setAttributes([.posixPermissions: 0o755],
                                              ofItemAtPath: dir.appendingPathComponent("bootstrap").path)
        var files = ["bootstrap"]
        if !marker.isEmpty {
            try Data(marker.utf8).write(to: dir.appendingPathComponent("marker.txt"))
            files.append("marker.txt")
        }
        if padding > 0 {
            // Random, so the zip is as large as the file.
            var generator = SystemRandomNumberGenerator()
            let words = (0..<(padding + 7) / 8).map { _ in generator.next() as UInt64 }
            let bytes = words.withUnsafeBytes { Data($0.prefix(padding)) }
            try bytes.write(to: dir.appendingPathComponent("padding.bin"))
            files.append("padding.bin")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/zip")
        process.currentDirectoryURL = dir
        process.arguments = ["-q", "-X", "code.zip"] + files
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return [UInt8](try Data(contentsOf: dir.appendingPathComponent("code.zip")))
    }

    /// A CreateFunction body for the echo runtime.
    static func createBody(_ name: String, zip: [UInt8], extra: [String: Any] = [:]) -> [String: Any] {
        var body: [String: Any] = [
            "FunctionName": name, "Runtime": "provided.al2023", "Handler": "echo", "Role": role,
            "Code": ["ZipFile": Data(zip).base64EncodedString()], "Timeout": 5,
        ]
        for (key, value) in extra { body[key] = value }
        return body
    }

    /// Runs `body` against a router over a fresh service in a fresh state
    /// directory; shuts the supervisor down and removes the directory after.
    ///
    /// With `fastPath`, the router runs behind a live HTTP server with the Invoke fast path in
    /// front of it (as `warren serve` runs it), counting the Invokes it answered there.
    static func withAPI(
        stateDirectory: URL? = nil, accountLimit: Int = 20, unreservedMinimum: Int = 2,
        verifier: SigV4Verifier? = nil, fastPath: InvokeFastPath.Counter? = nil,
        _ body: @Sendable (LambdaService, any TestClientProtocol) async throws -> Void
    ) async throws {
        let state = stateDirectory ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("warren-api-\(UUID().uuidString)")
        let service = try makeService(state: state, accountLimit: accountLimit, unreservedMinimum: unreservedMinimum)
        do {
            try await service.load()
            let router = makeLambdaRouter(service: service, verifier: verifier)
            if let fastPath {
                let settings = InvokeFastPath.Settings(service: service, verifier: verifier, serverName: "warren",
                                                       taken: fastPath)
                let app = Application(
                    router: router,
                    server: .lambda(handlers: { [InvokeFastPath(settings)] }),
                    configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "warren"))
                try await app.test(.live) { client in try await body(service, client) }
            } else {
                let app = Application(router: router)
                try await app.test(.router) { client in try await body(service, client) }
            }
        } catch {
            await service.shutdown()
            if stateDirectory == nil { try? FileManager.default.removeItem(at: state) }
            throw error
        }
        await service.shutdown()
        if stateDirectory == nil { try? FileManager.default.removeItem(at: state) }
    }

    static func makeService(state: URL, accountLimit: Int = 20, unreservedMinimum: Int = 2) throws -> LambdaService {
        var config = Supervisor.Configuration(
            home: repo, stateDirectory: state.path,
            admission: Admission.Settings(accountLimit: accountLimit, unreservedMinimum: unreservedMinimum))
        config.preparedNamespaces = 1
        return try LambdaService(stateDirectory: state, supervisor: Supervisor(config))
    }
}

extension TestClientProtocol {
    /// Sends one request; `json` is encoded as the body.
    func call(_ method: HTTPRequest.Method, _ path: String, json: [String: Any]? = nil, raw: [UInt8]? = nil,
              headers: HTTPFields = [:]) async throws -> APIResponse {
        var body: ByteBuffer?
        if let json { body = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json)) }
        if let raw { body = ByteBuffer(bytes: raw) }
        return try await execute(uri: path, method: method, headers: headers, body: body) { response in
            APIResponse(status: response.status, headers: response.headers, body: Array(buffer: response.body))
        }
    }

    /// Creates an echo function; expects 201.
    @discardableResult
    func createEcho(_ name: String, extra: [String: Any] = [:], marker: String = "") async throws -> APIResponse {
        let response = try await call(.post, "/2015-03-31/functions",
                                      json: Fixture.createBody(name, zip: try Fixture.echoZip(marker: marker),
                                                               extra: extra))
        #expect(response.status == .created, "\(response.text)")
        return response
    }

    /// Invokes synchronously with a JSON payload.
    func invoke(_ function: String, _ payload: String, qualifier: String? = nil,
                headers: HTTPFields = [:]) async throws -> APIResponse {
        let encoded = qualifier.map { $0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0 }
        let query = encoded.map { "?Qualifier=\($0)" } ?? ""
        return try await call(.post, "/2015-03-31/functions/\(function)/invocations\(query)", raw: Array(payload.utf8),
                              headers: headers)
    }
}

/// Expects a Lambda error: status, `x-amzn-ErrorType`, optionally the message.
func expectError(_ response: APIResponse, _ status: HTTPResponse.Status, _ type: String, _ message: String? = nil,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(response.status == status, "\(response.text)", sourceLocation: sourceLocation)
    #expect(response.errorType == type, "\(response.text)", sourceLocation: sourceLocation)
    #expect(response.header("x-amzn-RequestId")?.count == 36, sourceLocation: sourceLocation)
    if let message { #expect(response.message == message, sourceLocation: sourceLocation) }
}
