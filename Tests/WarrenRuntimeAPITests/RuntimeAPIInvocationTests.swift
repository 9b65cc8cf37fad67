import Foundation
import Synchronization
import NIOCore
import Testing

@testable import WarrenRuntimeAPI

@Suite(.timeLimit(.minutes(1)))
struct RuntimeAPIInvocationTests {
    @Test func nextCarriesEveryHeaderAndResponseCompletesTheInvoke() async throws {
        try await withServer { h in
            let runtime = try await h.connect()
            let event = Invocation(
                requestId: "8476a536-e9f4-11e8-9739-2dfe598c3fcd",
                payload: Array(#"{"key":"value"}"#.utf8),
                contentType: "application/x-custom",
                deadlineMs: 1_542_409_706_888,
                invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:f:7",
                traceId: "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
                clientContext: #"{"client":{"app_title":"t"}}"#,
                cognitoIdentity: #"{"cognitoIdentityId":"a","cognitoIdentityPoolId":"b"}"#
            )
            async let outcome = h.session.invoke(event)
            let next = try await runtime.request("GET", nextPath)
            #expect(next.status == 200)
            #expect(next.body == event.payload)
            #expect(next.header("Lambda-Runtime-Aws-Request-Id") == event.requestId)
            #expect(next.header("Lambda-Runtime-Deadline-Ms") == "1542409706888")
            #expect(next.header("Lambda-Runtime-Invoked-Function-Arn") == event.invokedFunctionArn)
            #expect(next.header("Lambda-Runtime-Trace-Id") == event.traceId)
            #expect(next.header("Lambda-Runtime-Client-Context") == event.clientContext)
            #expect(next.header("Lambda-Runtime-Cognito-Identity") == event.cognitoIdentity)
            #expect(next.header("Content-Type") == "application/x-custom")
            #expect(await h.session.state == .busy(event.requestId))

            let posted = try await runtime.request(
                "POST", responsePath(event.requestId), headers: [("Content-Type", "text/plain")], body: Array("hi".utf8))
            #expect(posted.status == 202)
            #expect(posted.bodyString == #"{"status":"OK"}"#)
            #expect(try await outcome == .response(body: Array("hi".utf8), contentType: "text/plain"))
            #expect(await h.session.state == .responseSent)
            try await runtime.sendRequest("GET", nextPath)
            try await eventually("runtime parked again") { await h.session.state == .idle }
        }
    }

    @Test func optionalHeadersAreOmittedAndContentTypeDefaultsToJSON() async throws {
        try await withServer { h in
            let runtime = try await h.connect()
            var event = invocation("r1")
            event.traceId = ""
            async let outcome = h.session.invoke(event)
            let next = try await runtime.request("GET", nextPath)
            #expect(next.header("Content-Type") == "application/json")
            #expect(next.header("Lambda-Runtime-Trace-Id") == nil)
            #expect(next.header("Lambda-Runtime-Client-Context") == nil)
            #expect(next.header("Lambda-Runtime-Cognito-Identity") == nil)
            _ = try await runtime.request("POST", responsePath("r1"))
            #expect(try await outcome == .response(body: [], contentType: nil))
        }
    }

    @Test func controlCharactersInHeaderValuesCantSplitTheResponse() async throws {
        try await withServer { h in
            let runtime = try await h.connect()
            var event = invocation("cc")
            event.clientContext = "{\r\n\"custom\":{\"a\":1}}"
            async let outcome = h.session.invoke(event)
            let next = try await runtime.request("GET", nextPath)
            #expect(next.status == 200)
            #expect(next.header("Lambda-Runtime-Client-Context") == #"{  "custom":{"a":1}}"#)
            _ = try await runtime.request("POST", responsePath("cc"))
            _ = try await outcome
        }
    }

    @Test func nextParksUntilTheSupervisorInvokes() async throws {
        try await withServer { h in
            let runtime = try await h.connect()
            try await runtime.sendRequest("GET", nextPath)
            try await eventually("runtime ready") { await h.session.state == .idle }
            try await Task.sleep(for: .milliseconds(150))
            #expect(runtime.bufferedByteCount == 0, "a /next with no invocation must not be answered")

            async let outcome = h.session.invoke(invocation("parked-1"))
            let next = try await runtime.readResponse()
            #expect(next.status == 200)
            #expect(next.header("Lambda-Runtime-Aws-Request-Id") == "parked-1")
            _ = try await runtime.request("POST", responsePath("parked-1"), body: Array("ok".utf8))
            #expect(try await outcome == .response(body: Array("ok".utf8), contentType: nil))
        }
    }

    @Test func errorPostCarriesTypeHeaderAndBodyVerbatim() async throws {
        try await withServer { h in
            let runtime = try await h.connect()
            async let first = h.session.invoke(invocation("e1"))
            _ = try await runtime.request("GET", nextPath)
            let body = Array(#"{"errorMessage":"boom","errorType":"Exception","stackTrace":[]}"#.utf8)
            let posted = try await runtime.request(
                "POST", errorPath("e1"), headers: [("Lambda-Runtime-Function-Error-Type", "Function.Boom")], body: body)
            #expect(posted.status == 202)
            #expect(try await first == .error(errorType: "Function.Boom", body: body))

            async let second = h.session.invoke(invocation("e2"))
            _ = try await runtime.request("GET", nextPath)
            #expect(try await runtime.request("POST", errorPath("e2")).status == 202)
            #expect(try await second == .error(errorType: nil, body: []))

            // A type that is not a name (a TAB would add a field to REPORT; 300 bytes) is Lambda's
            // Runtime.Unknown; the body is still verbatim.
            for (id, type) in [("e3", "Tab\there"), ("e4", String(repeating: "A", count: 300)), ("e5", "two words"),
                               ("e6", " Runtime.Spaced ")] {
                async let third = h.session.invoke(invocation(id))
                _ = try await runtime.request("GET", nextPath)
                let posted = try await runtime.request(
                    "POST", errorPath(id), headers: [("Lambda-Runtime-Function-Error-Type", type)], body: body)
                #expect(posted.status == 202)
                let expected = type == " Runtime.Spaced " ? "Runtime.Spaced" : "Runtime.Unknown"
                #expect(try await third == .error(errorType: expected, body: body), "\(type)")
            }
        }
    }

    @Test func aPostThatExpects100ContinueIsAskedForItsBody() async throws {
        try await withServer { h in
            let runtime = try await h.connect()
            async let outcome = h.session.invoke(invocation("expecting"))
            #expect(try await runtime.request("GET", nextPath).status == 200)
            try await runtime.send("POST \(responsePath("expecting")) HTTP/1.1\r\nHost: x\r\n"
                + "Expect: 100-continue\r\nContent-Length: 5\r\n\r\n")
            // Without the interim answer, curl waits a second before it sends the body.
            #expect(try await runtime.readResponse().status == 100)
            try await runtime.send("hello")
            #expect(try await runtime.readResponse().status == 202)
            #expect(try await outcome == .response(body: Array("hello".utf8), contentType: nil))
        }
    }

    @Test func unknownRequestIdIsRejectedWith400AndTheInvokeStaysOpen() async throws {
        try await withServer { h in
            let runtime = try await h.connect()
            async let outcome = h.session.invoke(invocation("good"))
            _ = try await runtime.request("GET", nextPath)
            for path in [responsePath("bad"), errorPath("bad")] {
                let rejected = try await runtime.request("POST", path, body: Array("x".utf8))
                #expect(rejected.status == 400)
                #expect(rejected.bodyString == #"{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}"#)
            }
            #expect(await h.session.state == .busy("good"))
            #expect(try await runtime.request("POST", responsePath("good"), body: Array("y".utf8)).status == 202)
            #expect(try await outcome == .response(body: Array("y".utf8), contentType: nil))
        }
    }

    @Test func secondPostForTheSameIdIsAnInvalidStateTransition() async throws {
        try await withServer { h in
            let runtime = try await h.connect()
            async let outcome = h.session.invoke(invocation("once"))
            _ = try await runtime.request("GET", nextPath)
            #expect(try await runtime.request("POST", responsePath("once")).status == 202)
            _ = try await outcome
            let again = try await runtime.request("POST", responsePath("once"))
            #expect(again.status == 403)
            #expect(again.bodyString.contains(#""errorType":"InvalidStateTransition""#))
            #expect(again.bodyString.contains("State transition from ResponseSent to ResponseSent failed for runtime."))
            #expect(try await runtime.request("POST", errorPath("once")).status == 403)
            #expect(await h.session.state == .responseSent)
        }
    }

    @Test func oversizedResponseGets413AndEndsTheInvokeAsTooLarge() async throws {
        try await withServer { h in
            let runtime = try await h.connect()
            async let outcome = h.session.invoke(invocation("big"))
            _ = try await runtime.request("GET", nextPath)
            let body = [UInt8](repeating: 0x61, count: RuntimeAPI.maxResponseBytes + 1)
            let rejected = try await runtime.request("POST", responsePath("big"), body: body)
            #expect(rejected.status == 413)
            #expect(
                rejected.bodyString
                    == #"{"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).","errorType":"RequestEntityTooLarge"}"#
            )
            #expect(try await outcome == .responseTooLarge(bytes: 6_291_557))

            // The connection survives, and a body of exactly the limit is accepted.
            async let next = h.session.invoke(invocation("limit"))
            _ = try await runtime.request("GET", nextPath)
            let exact = [UInt8](repeating: 0x62, count: RuntimeAPI.maxResponseBytes)
            #expect(try await runtime.request("POST", responsePath("limit"), body: exact).status == 202)
            #expect(try await next == .response(body: exact, contentType: nil))
        }
    }

    /// A declared length past what would ever be drained is answered at once, before its body:
    /// a runtime that sends part of it and waits gets its 413 rather than nothing.
    @Test func aDeclaredLengthPastTheDrainCapIsAnswered413AtOnce() async throws {
        try await withServer { h in
            let runtime = try await h.connect()
            async let outcome = h.session.invoke(invocation("huge"))
            _ = try await runtime.request("GET", nextPath)
            try await runtime.send("POST \(responsePath("huge")) HTTP/1.1\r\nHost: x\r\n"
                + "Content-Length: 99999999999\r\n\r\n" + String(repeating: "a", count: 1000))
            let rejected = try await runtime.readResponse()
            #expect(rejected.status == 413)
            #expect(rejected.bodyString.contains(#""errorType":"RequestEntityTooLarge""#))
            #expect(try await outcome == .responseTooLarge(bytes: 99_999_999_999))
            // The connection is closed; the runtime's next /next on a new one is served.
            #expect(await runtime.waitForEOF().isEmpty)
            let again = try await h.connect()
            async let next = h.session.invoke(invocation("after"))
            #expect(try await again.request("GET", nextPath).status == 200)
            #expect(try await again.request("POST", responsePath("after"), body: Array("ok".utf8)).status == 202)
            #expect(try await next == .response(body: Array("ok".utf8), contentType: nil))
        }
    }

    @Test func oversizedChunkedResponseIsCutOffAtTheLimit() async throws {
        try await withServer { h in
            let runtime = try await h.connect()
            async let outcome = h.session.invoke(invocation("chunky"))
            _ = try await runtime.request("GET", nextPath)
            try await runtime.send(
                "POST \(responsePath("chunky")) HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            let chunk = Array("100000\r\n".utf8) + [UInt8](repeating: 0x63, count: 0x100000) + Array("\r\n".utf8)
            for _ in 0..<7 { try await runtime.send(chunk) }
            // The supervisor learns as soon as the limit is crossed, before the upload ends.
            guard case .responseTooLarge(let bytes) = try await outcome else {
                Issue.record("expected responseTooLarge")
                return
            }
            #expect(bytes > RuntimeAPI.maxResponseBytes)
            try await runtime.send("0\r\n\r\n")
            #expect(try await runtime.readResponse().status == 413)
        }
    }

    @Test func anUnknownResponseModeIsRefusedAndFailsTheInvoke() async throws {
        try await withServer { h in
            let runtime = try await h.connect()
            async let outcome = h.session.invoke(invocation("s1"))
            _ = try await runtime.request("GET", nextPath)
            let refused = try await runtime.request(
                "POST", responsePath("s1"), headers: [("Lambda-Runtime-Function-Response-Mode", "trickle")],
                body: Array("x".utf8))
            #expect(refused.status == 400)
            #expect(refused.bodyString.contains(#""errorType":"InvalidFunctionResponseMode""#))
            guard case .error(let type, _) = try await outcome else {
                Issue.record("expected an error outcome")
                return
            }
            #expect(type == "Runtime.InvalidResponseModeHeader")
        }
    }

    /// A streamed response (chunked, the mode header, the error trailers announced) arrives whole.
    @Test func aStreamedResponseIsCollected() async throws {
        try await withServer { h in
            let runtime = try await h.connect()
            async let outcome = h.session.invoke(invocation("st"))
            _ = try await runtime.request("GET", nextPath)
            try await runtime.send("POST \(responsePath("st")) HTTP/1.1\r\nHost: x\r\n"
                + "Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n"
                + "Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n"
                + "Content-Type: text/plain\r\n\r\n")
            for part in ["one ", "two ", "three"] {
                try await runtime.send(String(part.utf8.count, radix: 16) + "\r\n" + part + "\r\n")
            }
            try await runtime.send("0\r\n\r\n")
            #expect(try await runtime.readResponse().status == 202)
            #expect(try await outcome == .response(body: Array("one two three".utf8), contentType: "text/plain"))
        }
    }

    /// A caller that takes the response as it comes gets each chunk as it is read, not the whole in
    /// the outcome; a buffered response still arrives whole; past the stream's limit, 413.
    @Test func aStreamedResponseGoesToTheInvocationsStream() async throws {
        try await withServer { h in
            let runtime = try await h.connect()
            let caller = StreamCaller(limit: 2 << 20)
            var streamed = invocation("to")
            streamed.stream = caller.stream
            async let outcome = h.session.invoke(streamed)
            _ = try await runtime.request("GET", nextPath)
            try await runtime.send("POST \(responsePath("to")) HTTP/1.1\r\nHost: x\r\n"
                + "Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "5\r\nfirst\r\n")
            for _ in 0..<200 where caller.received.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
            #expect(caller.received == Array("first".utf8), "the chunk came before the body's end")
            try await runtime.send("6\r\nsecond\r\n0\r\n\r\n")
            #expect(try await runtime.readResponse().status == 202)
            #expect(try await outcome == .response(body: [], contentType: nil))
            #expect(caller.received == Array("firstsecond".utf8))

            var buffered = invocation("bu")
            buffered.stream = caller.stream
            async let whole = h.session.invoke(buffered)
            _ = try await runtime.request("GET", nextPath)
            #expect(try await runtime.request("POST", responsePath("bu"), body: Array("all".utf8)).status == 202)
            #expect(try await whole == .response(body: Array("all".utf8), contentType: nil))

            var big = invocation("big")
            big.stream = caller.stream
            async let tooBig = h.session.invoke(big)
            _ = try await runtime.request("GET", nextPath)
            try await runtime.send("POST \(responsePath("big")) HTTP/1.1\r\nHost: x\r\n"
                + "Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n\r\n")
            let chunk = Array("100000\r\n".utf8) + [UInt8](repeating: 0x63, count: 0x100000) + Array("\r\n".utf8)
            for _ in 0..<3 { try await runtime.send(chunk) }
            guard case .responseTooLarge(let bytes) = try await tooBig else {
                Issue.record("expected responseTooLarge")
                return
            }
            #expect(bytes > caller.stream.limit)
            try await runtime.send("0\r\n\r\n")
            #expect(try await runtime.readResponse().status == 413)
        }
    }

    /// After `GET /next` has the invocation `id`: posts a streamed response of 4 MiB in a task and
    /// returns once the caller has been given more than the high-water mark (or after 3 s).
    private func uploadUntilHeld(_ runtime: RawHTTPClient, id: String, caller: StreamCaller) async throws
        -> Task<Void, any Error>
    {
        _ = try await runtime.request("GET", nextPath)
        try await runtime.send("POST \(responsePath(id)) HTTP/1.1\r\nHost: x\r\n"
            + "Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n\r\n")
        let chunk = Array("40000\r\n".utf8) + [UInt8](repeating: 0x73, count: 0x40000) + Array("\r\n".utf8)
        let upload = Task { for _ in 0..<16 { try await runtime.send(chunk) } }
        for _ in 0..<300 where caller.receivedCount <= ResponseStream.highWater {
            try await Task.sleep(for: .milliseconds(10))
        }
        return upload
    }

    /// Flow control: a caller that takes nothing holds the runtime's upload at about
    /// `ResponseStream.highWater`; once it takes what it has, the rest comes.
    @Test func aSlowCallerHoldsTheRuntime() async throws {
        try await withServer { h in
            let runtime = try await h.connect()
            let caller = StreamCaller(consuming: false)
            var slow = invocation("slow")
            slow.stream = caller.stream
            async let outcome = h.session.invoke(slow)
            let upload = try await uploadUntilHeld(runtime, id: "slow", caller: caller)
            try await Task.sleep(for: .milliseconds(300))
            let held = caller.receivedCount
            #expect(held > ResponseStream.highWater, "it was given up to the high-water mark")
            #expect(held < ResponseStream.highWater + (512 << 10), "and no more while it took nothing: \(held)")
            caller.consuming = true
            caller.takeAll()
            try await upload.value
            try await runtime.send("0\r\n\r\n")
            #expect(try await runtime.readResponse().status == 202)
            #expect(try await outcome == .response(body: [], contentType: nil))
            #expect(caller.receivedCount == 16 << 18)
        }
    }

    /// A caller that leaves releases the runtime: the rest is read and dropped.
    @Test func aLeavingCallerReleasesTheRuntime() async throws {
        try await withServer { h in
            let runtime = try await h.connect()
            let leaving = StreamCaller(consuming: false)
            var left = invocation("left")
            left.stream = leaving.stream
            async let outcome = h.session.invoke(left)
            let rest = try await uploadUntilHeld(runtime, id: "left", caller: leaving)
            leaving.stream.abandon()
            try await rest.value
            try await runtime.send("0\r\n\r\n")
            #expect(try await runtime.readResponse().status == 202)
            #expect(try await outcome == .response(body: [], contentType: nil))
            #expect(leaving.receivedCount < ResponseStream.highWater + (512 << 10), "nothing given after it left")
        }
    }

    /// A stream that fails part way names the error in its trailers: the invocation fails with it.
    @Test func aStreamsErrorTrailersFailTheInvoke() async throws {
        try await withServer { h in
            let runtime = try await h.connect()
            async let outcome = h.session.invoke(invocation("sf"))
            _ = try await runtime.request("GET", nextPath)
            let error = #"{"errorMessage":"broke","errorType":"Stream.Broken"}"#
            try await runtime.send("POST \(responsePath("sf")) HTTP/1.1\r\nHost: x\r\n"
                + "Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n"
                + "Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\r\n"
                + "4\r\npart\r\n0\r\nLambda-Runtime-Function-Error-Type: Stream.Broken\r\n"
                + "Lambda-Runtime-Function-Error-Body: \(Data(error.utf8).base64EncodedString())\r\n\r\n")
            #expect(try await runtime.readResponse().status == 202)
            #expect(try await outcome == .error(errorType: "Stream.Broken", body: Array(error.utf8)))
        }
    }

    @Test func bufferedResponseModeIsAccepted() async throws {
        try await withServer { h in
            let runtime = try await h.connect()
            async let outcome = h.session.invoke(invocation("b1"))
            _ = try await runtime.request("GET", nextPath)
            let posted = try await runtime.request(
                "POST", responsePath("b1"), headers: [("Lambda-Runtime-Function-Response-Mode", "buffered")])
            #expect(posted.status == 202)
            #expect(try await outcome == .response(body: [], contentType: nil))
        }
    }

    @Test func secondConcurrentNextGetsOnlyTheFollowingInvocation() async throws {
        try await withServer { h in
            let first = try await h.connect()
            let second = try await h.connect()
            async let one = h.session.invoke(invocation("one"))
            #expect(try await first.request("GET", nextPath).header("Lambda-Runtime-Aws-Request-Id") == "one")
            try await second.sendRequest("GET", nextPath)
            try await Task.sleep(for: .milliseconds(150))
            #expect(second.bufferedByteCount == 0, "a /next while busy must park, not get a second invocation")
            #expect(try await first.request("POST", responsePath("one")).status == 202)
            _ = try await one

            async let two = h.session.invoke(invocation("two"))
            #expect(try await second.readResponse().header("Lambda-Runtime-Aws-Request-Id") == "two")
            #expect(try await second.request("POST", responsePath("two")).status == 202)
            _ = try await two
            #expect(first.bufferedByteCount == 0)
        }
    }

    @Test func aSecondConcurrentInvokeThrowsBusy() async throws {
        try await withServer { h in
            let pending = Task { try await h.session.invoke(invocation("first")) }
            try await eventually("first invoke registered") { await h.session.state == .busy("first") }
            await #expect(throws: RuntimeSessionError.busy("first")) {
                try await h.session.invoke(invocation("second"))
            }
            await h.session.close(reason: "done")
            // Closed before any /next took it: undelivered, so a supervisor may run it elsewhere.
            await #expect(throws: RuntimeSessionError.notDelivered("done")) { try await pending.value }
        }
    }

    @Test func unknownPathsAre404AndWrongMethodsAre405() async throws {
        try await withServer { h in
            let runtime = try await h.connect()
            for path in ["\(RuntimeAPI.prefix)/runtime/nope", "/2020-01-01/extension/event/next", "/", "\(RuntimeAPI.prefix)/runtime/invocation//response"] {
                let answer = try await runtime.request("GET", path)
                #expect(answer.status == 404, "\(path)")
                #expect(answer.header("Content-Type") == "application/json")
            }
            let wrong = try await runtime.request("POST", nextPath, body: Array("x".utf8))
            #expect(wrong.status == 405)
            #expect(wrong.header("Allow") == "GET")
            #expect(try await runtime.request("GET", responsePath("x")).status == 405)
            #expect(await h.session.state == .started, "none of these counts as the first /next")
        }
    }
}

extension RuntimeAPIInvocationTests {
    /// Once bytes of a streamed answer reached the caller, a cut answer is not made whole by a
    /// post again (the caller would get the first bytes and then a whole other answer): it is
    /// refused, streams nothing, and the invocation fails as truncated.
    @Test func aStreamedAnswerCutShortIsNotCompletedByAnotherPost() async throws {
        try await withServer { h in
            let runtime = try await h.connect()
            let caller = StreamCaller()
            var streamed = invocation("cut")
            streamed.stream = caller.stream
            let outcome = Task { try await h.session.invoke(streamed) }
            _ = try await runtime.request("GET", nextPath)
            let head = "POST \(responsePath("cut")) HTTP/1.1\r\nHost: x\r\n"
                + "Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n\r\n"
            try await runtime.send(head + "8\r\nPARTIAL-\r\n")
            for _ in 0..<200 where caller.received.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
            await runtime.close()
            let again = try await h.connect()
            try await again.send(head + "5\r\nwhole\r\n0\r\n\r\n")
            #expect(try await again.readResponse().status == 403)
            let buffered = try await again.request("POST", responsePath("cut"), body: Array("whole".utf8))
            #expect(buffered.status == 403)
            await #expect(throws: RuntimeSessionError.self) { try await outcome.value }
            #expect(caller.received == Array("PARTIAL-".utf8))
        }
    }
}

/// The caller's side of a streamed invocation in these tests: collects what it is given and
/// reports it consumed at once, or holds it until told.
private final class StreamCaller: Sendable {
    private struct State {
        var received: [UInt8] = []
        var unreported = 0
        var consuming: Bool
    }
    private let state: Mutex<State>
    private let box = Mutex<ResponseStream?>(nil)

    init(limit: Int = RuntimeAPI.maxStreamedBytes, consuming: Bool = true) {
        state = Mutex(State(consuming: consuming))
        let stream = ResponseStream(limit: limit, onStart: { _, _ in }, onChunk: { [weak self] chunk in
            guard let self else { return }
            let report = self.state.withLock { state -> Int in
                state.received += chunk.readableBytesView
                guard state.consuming else {
                    state.unreported += chunk.readableBytes
                    return 0
                }
                return chunk.readableBytes
            }
            if report > 0 { self.stream.consumed(report) }
        })
        box.withLock { $0 = stream }
    }

    var stream: ResponseStream { box.withLock { $0! } }
    var received: [UInt8] { state.withLock { $0.received } }
    var receivedCount: Int { state.withLock { $0.received.count } }
    var consuming: Bool {
        get { state.withLock { $0.consuming } }
        set { state.withLock { $0.consuming = newValue } }
    }

    /// Reports everything held so far as consumed.
    func takeAll() {
        let held = state.withLock { state -> Int in
            defer { state.unreported = 0 }
            return state.unreported
        }
        stream.consumed(held)
    }
}
