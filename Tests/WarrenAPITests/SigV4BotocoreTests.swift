import Foundation
import Testing
import WarrenAPI

/// botocore's own signer (`SigV4Auth`, `SigV4QueryAuth`) against the verifier:
/// what boto3 and the aws CLI send must pass, and each tampering must fail
/// with its AWS code. Needs `python3` with botocore (`pip install boto3`, as
/// `make test` does); without it these tests fail, they do not skip.
@Suite("SigV4 against botocore")
struct SigV4BotocoreTests {
    static let key = AccessKey(accessKeyId: "AKIDBOTOCORE", secretAccessKey: "bOtO/c0re+Secret=Key")
    static let host = "127.0.0.1:9000"

    /// Reads a JSON request spec on stdin, signs it, prints `{"url": …, "headers": [[name, value], …]}`.
    static let script = #"""
        import json, sys
        try:
            from botocore.auth import SigV4Auth, SigV4QueryAuth
            from botocore.awsrequest import AWSRequest
            from botocore.credentials import Credentials
        except ImportError as error:
            sys.stderr.write("botocore is not installed (pip install boto3): %s\n" % error)
            sys.exit(3)
        spec = json.load(sys.stdin)
        request = AWSRequest(method=spec["method"], url=spec["url"], data=spec["body"].encode("utf-8"),
                             headers=spec["headers"])
        credentials = Credentials(spec["akid"], spec["secret"])
        if spec["presign"]:
            SigV4QueryAuth(credentials, "lambda", "us-east-1", expires=300).add_auth(request)
        else:
            SigV4Auth(credentials, "lambda", "us-east-1").add_auth(request)
        print(json.dumps({"url": request.url, "headers": [[k, v] for k, v in request.headers.items()]}))
        """#

    struct Signed: Decodable {
        var url: String
        var headers: [[String]]
    }

    /// Signs with botocore and returns the request as the server would receive it.
    static func botocore(
        _ method: String, _ target: String, body: String = "", headers: [String: String] = [:], presign: Bool = false
    ) throws -> SigV4Request {
        let spec: [String: Any] = [
            "method": method, "url": "http://\(host)\(target)", "body": body, "headers": headers,
            "akid": key.accessKeyId, "secret": key.secretAccessKey, "presign": presign,
        ]
        let output = try runPython(input: JSONSerialization.data(withJSONObject: spec))
        let signed = try JSONDecoder().decode(Signed.self, from: output)
        let target = String(signed.url.dropFirst("http://\(host)".count))
        let mark = target.firstIndex(of: "?")
        // The HTTP client adds Host; botocore signs it from the URL.
        let received = [("Host", host)] + signed.headers.compactMap { $0.count == 2 ? ($0[0], $0[1]) : nil }
        return SigV4Request(
            method: method, path: String(target[..<(mark ?? target.endIndex)]),
            query: mark.map { String(target[target.index(after: $0)...]) } ?? "", headers: received,
            body: Array(body.utf8))
    }

    static func runPython(input: Data) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script]
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        stdin.fileHandleForWriting.write(input)
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        let errors = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try #require(
            process.terminationStatus == 0,
            "python3 + botocore signing failed (exit \(process.terminationStatus)); run `pip install boto3`: \(errors)")
        return output
    }

    static func verifier(offset: TimeInterval = 0, keys: [AccessKey] = [key]) -> SigV4Verifier {
        SigV4Verifier(keys: keys, now: { Date().addingTimeInterval(offset) })
    }

    static let invoke = (
        "POST", "/2015-03-31/functions/my-fn/invocations", #"{"key": "value", "n": [1, 2.5, "ü"]}"#,
        ["Content-Type": "application/json", "X-Amz-Invocation-Type": "RequestResponse", "X-Amz-Log-Type": "Tail"]
    )

    @Test("requests signed by botocore are accepted", arguments: [
        invoke,
        ("GET", "/2015-03-31/functions/?MaxItems=10&Marker=abc", "", [:]),
        (
            "GET", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Amy-fn"
                + "?Qualifier=%24LATEST&Marker=a%20b%2Fc%3D%3D", "", [:]
        ),
        ("PUT", "/2015-03-31/functions/my%20fn~x%2By/./configuration/", #"{"Timeout": 3}"#, ["X-Custom": "  a   b  "]),
        ("DELETE", "/2015-03-31/functions/my-fn", "", ["User-Agent": "Boto3/1.0 Botocore/1.0"]),
    ])
    func accepted(method: String, target: String, body: String, headers: [String: String]) throws {
        let request = try Self.botocore(method, target, body: body, headers: headers)
        #expect(try Self.verifier().verify(request) == Self.key.accessKeyId)
    }

    @Test("URLs presigned by botocore are accepted; a changed parameter is not")
    func presigned() throws {
        let request = try Self.botocore("GET", "/2015-03-31/functions/?MaxItems=10&Marker=a%2Fb", presign: true)
        #expect(request.query.contains("X-Amz-Signature="))
        #expect(try Self.verifier().verify(request) == Self.key.accessKeyId)
        var tampered = request
        tampered.query = request.query.replacingOccurrences(of: "MaxItems=10", with: "MaxItems=11")
        #expect(throws: SigV4Error.signatureMismatch) { try Self.verifier().verify(tampered) }
    }

    @Test("tampered botocore requests are refused with the AWS code")
    func tampered() throws {
        let (method, target, body, headers) = Self.invoke
        let signed = try Self.botocore(method, target, body: body, headers: headers)

        var changedBody = signed
        changedBody.body = Array(body.replacingOccurrences(of: "value", with: "evil").utf8)
        var changedHeader = signed
        changedHeader.headers = signed.headers.map { $0.0 == "X-Amz-Invocation-Type" ? ($0.0, "Event") : $0 }
        var noAuthorization = signed
        noAuthorization.headers.removeAll { $0.0.lowercased() == "authorization" }
        let wrongSecret = [AccessKey(accessKeyId: Self.key.accessKeyId, secretAccessKey: "wrong")]
        let otherKey = [AccessKey(accessKeyId: "AKIDOTHER", secretAccessKey: Self.key.secretAccessKey)]

        let cases: [(String, SigV4Verifier, SigV4Request, String)] = [
            ("body changed", Self.verifier(), changedBody, "InvalidSignatureException"),
            ("header changed", Self.verifier(), changedHeader, "InvalidSignatureException"),
            ("wrong secret", Self.verifier(keys: wrongSecret), signed, "InvalidSignatureException"),
            ("10 minutes old", Self.verifier(offset: 600), signed, "InvalidSignatureException"),
            ("unknown key", Self.verifier(keys: otherKey), signed, "UnrecognizedClientException"),
            ("no Authorization", Self.verifier(), noAuthorization, "MissingAuthenticationTokenException"),
        ]
        for (name, verifier, request, code) in cases {
            do throws(SigV4Error) {
                _ = try verifier.verify(request)
                Issue.record("\(name): accepted")
            } catch {
                #expect(error.code == code, "\(name): \(error)")
                #expect(error.httpStatus == 403, "\(name)")
                if name == "10 minutes old" {
                    #expect(error.message.hasPrefix("Signature expired: "), "\(error.message)")
                }
            }
        }
    }
}
