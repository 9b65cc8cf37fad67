import Foundation
import Glibc
import HTTPTypes
import HummingbirdTesting
import Testing
@testable import WarrenAPI

extension LambdaAPI {
    /// The Invoke fast path in front of the router (`warren serve`'s pipeline), over real HTTP.
    @Suite("Invoke fast path")
    struct InvokeFastPathTests {
        /// A byte-level HTTP/1.1 client: what goes on the wire is what the test wrote.
        final class Wire: @unchecked Sendable {  // used by one test at a time
            let fd: Int32
            private var buffer: [UInt8] = []

            init(port: Int) throws {
                fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                var addr = sockaddr_in()
                addr.sin_family = sa_family_t(AF_INET)
                addr.sin_port = in_port_t(UInt16(port).bigEndian)
                addr.sin_addr.s_addr = inet_addr("127.0.0.1")
                let rc = withUnsafePointer(to: &addr) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
                try #require(rc == 0, "connect: errno \(errno)")
                var timeout = timeval(tv_sec: 30, tv_usec: 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            }

            deinit { close(fd) }

            func send(_ text: String) {
                let bytes = Array(text.utf8)
                var sent = 0
                while sent < bytes.count {
                    let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    guard n > 0 else { return }
                    sent += n
                }
            }

            typealias Answer = (status: Int, headers: [(String, String)], body: String)

            /// Sends `request`, then reads its response.
            func response(after request: String) async -> Answer? {
                send(request)
                return await response()
            }

            /// The next response, read on a dispatch thread: a blocking read on one of Swift
            /// Concurrency's few threads could starve the server under test.
            func response() async -> Answer? {
                await withCheckedContinuation { (done: CheckedContinuation<Answer?, Never>) in
                    DispatchQueue.global().async { done.resume(returning: self.read()) }
                }
            }

            /// One Content-Length-framed response; nil if the connection closed first.
            private func read() -> Answer? {
                while true {
                    if let end = buffer.firstRange(of: Array("\r\n\r\n".utf8))?.upperBound {
                        let lines = String(decoding: buffer[..<end], as: UTF8.self).split(separator: "\r\n")
                        let status = Int(lines[0].split(separator: " ")[1]) ?? 0
                        let headers = lines.dropFirst().map { line -> (String, String) in
                            let colon = line.firstIndex(of: ":")!
                            return (line[..<colon].lowercased(),
                                    line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
                        }
                        let length = Int(headers.first { $0.0 == "content-length" }?.1 ?? "0") ?? 0
                        while buffer.count < end + length { if !fill() { return nil } }
                        let body = String(decoding: buffer[end..<(end + length)], as: UTF8.self)
                        buffer.removeFirst(end + length)
                        return (status, headers, body)
                    }
                    if !fill() { return nil }
                }
            }

            private func fill() -> Bool {
                var chunk = [UInt8](repeating: 0, count: 65536)
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                guard n > 0 else { return false }
                buffer += chunk[..<n]
                return true
            }
        }

        static func invoke(_ fn: String, _ body: String, headers: [String] = [], query: String = "") -> String {
            "POST /2015-03-31/functions/\(fn)/invocations\(query) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                + headers.map { $0 + "\r\n" }.joined() + "Content-Length: \(body.utf8.count)\r\n\r\n" + body
        }

        static let getFunction = "GET /2015-03-31/functions/echo HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

        @Test("the Date header in RFC 9110's form")
        func httpDate() {
            #expect(HTTPDate.format(784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
            #expect(HTTPDate.format(0) == "Thu, 01 Jan 1970 00:00:00 GMT")
            #expect(HTTPDate.format(1_795_788_000) == "Fri, 27 Nov 2026 14:00:00 GMT")
        }

        @Test("answers exactly as the router does: status, body and headers, for every kind of Invoke")
        func sameAnswersAsTheRouter() async throws {
            let taken = InvokeFastPath.Counter()
            try await Fixture.withAPI(fastPath: taken) { _, client in
                try await client.createEcho("echo")
                let wire = try Wire(port: try #require(client.port))
                // "%65cho" is "echo" percent-encoded: the same function, by way of the router.
                let cases: [(String, String, [String], String)] = [
                    ("echo", #"{"hello":"warren"}"#, [], ""),
                    ("echo", #"{"error":1}"#, ["X-Amz-Log-Type: Tail"], ""),
                    ("echo", "{}", ["X-Amz-Invocation-Type: Event"], ""),
                    ("echo", "{}", ["X-Amz-Invocation-Type: DryRun"], "?Qualifier=%24LATEST"),
                    ("nope", "{}", [], ""),
                ]
                let varying: Set<String> = ["x-amzn-requestid", "date", "x-amz-log-result"]
                for (fn, body, headers, query) in cases {
                    let routed = "%" + String(fn.utf8.first!, radix: 16) + fn.dropFirst()
                    wire.send(Self.invoke(fn, body, headers: headers, query: query))
                    let fast = try #require(await wire.response())
                    wire.send(Self.invoke(routed, body, headers: headers, query: query))
                    let router = try #require(await wire.response())
                    #expect(fast.status == router.status, "\(fn) \(headers)")
                    #expect(fast.body == router.body, "\(fn) \(headers)")
                    #expect(fast.headers.map(\.0) == router.headers.map(\.0), "\(fn) \(headers)")
                    for ((name, value), (_, other)) in zip(fast.headers, router.headers) where !varying.contains(name) {
                        #expect(value == other, "\(name) of \(fn) \(headers)")
                    }
                }
                #expect(taken.value == cases.count)
            }
        }

        @Test("what fails a check, or asks to close, is answered by the router")
        func failuresAndClosesGoToTheRouter() async throws {
            let key = AccessKey(accessKeyId: "AKIDFAST", secretAccessKey: "fast-secret")
            let taken = InvokeFastPath.Counter()
            try await Fixture.withAPI(verifier: SigV4Verifier(keys: [key]), fastPath: taken) { _, client in
                let wire = try Wire(port: try #require(client.port))
                wire.send(Self.invoke("echo", "{}"))  // unsigned
                let unsigned = try #require(await wire.response())
                #expect(unsigned.status == 403, "\(unsigned.body)")
                #expect(taken.value == 0)
                // Signed as botocore signs: taken here (the function does not exist: 404).
                let path = "/2015-03-31/functions/echo/invocations"
                let headers = [("Host", "127.0.0.1"), ("Content-Type", "application/json")]
                let auth = SigV4Signer(key: key).authorizationHeaders(method: "POST", path: path, headers: headers,
                                                                      body: Array("{}".utf8))
                wire.send(Self.invoke("echo", "{}", headers: (headers.dropFirst() + auth).map { "\($0): \($1)" }))
                let signed = try #require(await wire.response())
                #expect(signed.status == 404, "\(signed.body)")
                #expect(taken.value == 1)
            }
            let unsignedTaken = InvokeFastPath.Counter()
            try await Fixture.withAPI(fastPath: unsignedTaken) { _, client in
                let taken = unsignedTaken
                try await client.createEcho("echo")
                let wire = try Wire(port: try #require(client.port))
                wire.send(Self.invoke("echo", "not json"))
                #expect(try #require(await wire.response()).status == 400)
                wire.send(Self.invoke("echo", "{}", headers: ["X-Amz-Invocation-Type: Later"]))
                #expect(try #require(await wire.response()).status == 400)
                // A repeated header is judged by the router, on its values joined ("Event, Event").
                let twice = ["X-Amz-Invocation-Type: Event", "x-amz-invocation-type: Event"]
                wire.send(Self.invoke("echo", "{}", headers: twice))
                #expect(try #require(await wire.response()).status == 400)
                #expect(taken.value == 0)
                wire.send(Self.invoke("echo", #"{"a":1}"#, headers: ["Connection: close"]))
                let closing = try #require(await wire.response())
                #expect(closing.status == 200 && closing.body == #"{"a":1}"#)
                #expect(await wire.response() == nil, "the connection is closed after Connection: close")
                #expect(taken.value == 0)
            }
        }

        @Test("bad bytes behind a fast Invoke get their 400 after its answer; a cut one goes to the router")
        func badBytesAndHalfSentRequests() async throws {
            let taken = InvokeFastPath.Counter()
            try await Fixture.withAPI(fastPath: taken) { _, client in
                try await client.createEcho("echo")
                let port = try #require(client.port)
                let wire = try Wire(port: port)
                wire.send(Self.invoke("echo", #"{"n":1}"#) + "NOT HTTP AT ALL\r\n\r\n")
                let first = try #require(await wire.response())
                #expect(first.status == 200 && first.body == #"{"n":1}"#)
                #expect(await wire.response()?.status == 400)
                #expect(await wire.response() == nil, "closed after the 400")
                // Head and part of the body, then the client stops sending: the router's answer to
                // a cut request (a 400: its body ended early), and the connection ends, no hang.
                let half = try Wire(port: port)
                let request = Self.invoke("echo", #"{"n":2}"#)
                half.send(String(request.dropLast(3)))
                shutdown(half.fd, Int32(SHUT_WR))
                let cut = await half.response()
                #expect(cut?.status == 400 && cut?.body.contains("stream ended") == true, "\(String(describing: cut))")
                #expect(cut?.headers.contains { $0 == ("x-amzn-errortype", "InvalidRequestContentException") } == true)
                #expect(await half.response() == nil)
                #expect(taken.value == 1)
            }
        }

        @Test("pipelined requests are answered in order, on both sides of a fast Invoke")
        func pipelinedRequestsKeepTheirOrder() async throws {
            let taken = InvokeFastPath.Counter()
            try await Fixture.withAPI(fastPath: taken) { _, client in
                try await client.createEcho("echo")
                let wire = try Wire(port: try #require(client.port))
                // One write: two Invokes (the second held until the first is answered, then taken
                // too), a request for the router, and an Invoke that arrives while the router
                // still owes its answer (so it goes to the router as well).
                wire.send(Self.invoke("echo", #"{"n":1}"#) + Self.invoke("echo", #"{"n":2}"#) + Self.getFunction
                          + Self.invoke("echo", #"{"n":3}"#))
                var answers: [String] = []
                for _ in 0..<4 {
                    let response = try #require(await wire.response(), "after \(answers)")
                    #expect(response.status == 200)
                    answers.append(response.body.contains("FunctionName") ? "get" : response.body)
                }
                #expect(answers == [#"{"n":1}"#, #"{"n":2}"#, "get", #"{"n":3}"#])
                #expect(taken.value == 2)
                // The connection goes on serving afterwards, on the fast path again.
                wire.send(Self.invoke("echo", #"{"n":4}"#))
                #expect(try #require(await wire.response()).body == #"{"n":4}"#)
                #expect(taken.value == 3)
            }
        }

        @Test("requests sent while an Invoke runs, in writes of their own, wait for its answer")
        func requestsDuringARunningInvoke() async throws {
            let taken = InvokeFastPath.Counter()
            try await Fixture.withAPI(fastPath: taken) { _, client in
                try await client.createEcho("echo")
                let wire = try Wire(port: try #require(client.port))
                #expect(try #require(await wire.response(after: Self.invoke("echo", #"{"n":0}"#))).status == 200)
                // The connection reads on while the first runs (it waits a second), so what comes
                // in meanwhile is held: first a lone Invoke, then a GET and an Invoke in one write.
                wire.send(Self.invoke("echo", #"{"sleep":1,"n":1}"#))
                try await Task.sleep(for: .milliseconds(200))
                wire.send(Self.invoke("echo", #"{"n":2}"#))
                try await Task.sleep(for: .milliseconds(200))
                wire.send(Self.getFunction + Self.invoke("echo", #"{"n":3}"#))
                var answers: [String] = []
                for _ in 0..<3 {
                    let response = try #require(await wire.response(), "after \(answers)")
                    #expect(response.status == 200)
                    answers.append(response.body.contains("FunctionName") ? "get" : response.body)
                }
                #expect(answers == [#"{"sleep":1,"n":1}"#, #"{"n":2}"#, "get"])
                #expect(try #require(await wire.response()).body == #"{"n":3}"#)
                #expect(taken.value == 3, "n 0, 1 and 2 on the fast path; 3 arrived while the router owed an answer")
            }
        }
    }
}
