import NIOPosix
import Testing

@testable import WarrenRuntimeAPI

@Suite(.timeLimit(.minutes(1)))
struct RuntimeAPIRobustnessTests {
    @Test func aRuntimeThatDisconnectsWhileParkedGetsTheInvocationOnReconnect() async throws {
        try await withServer { h in
            let gone = try await h.connect()
            try await gone.sendRequest("GET", nextPath)
            try await eventually("runtime ready") { await h.session.state == .idle }
            await gone.close()
            try await eventually("parked /next withdrawn") { await h.session.state == .responseSent }

            async let outcome = h.session.invoke(invocation("after-reconnect"))
            let back = try await h.connect()
            let next = try await back.request("GET", nextPath)
            #expect(next.header("Lambda-Runtime-Aws-Request-Id") == "after-reconnect")
            #expect(try await back.request("POST", responsePath("after-reconnect")).status == 202)
            _ = try await outcome
        }
    }

    @Test func requestsPipelinedBehindAParkedNextAreAnsweredAfterItInOrder() async throws {
        try await withServer { h in
            let runtime = try await h.connect()
            // One write: a /next that parks, then two posts behind it (the second for the id the
            // first /next will carry, which this runtime guessed), then another /next.
            let post = "POST \(responsePath("pipelined")) HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\ndone"
            try await runtime.send("GET \(nextPath) HTTP/1.1\r\nHost: x\r\n\r\n"
                + "POST \(responsePath("unknown")) HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
                + post + "GET \(nextPath) HTTP/1.1\r\nHost: x\r\n\r\n")
            try await eventually("runtime parked") { await h.session.state == .idle }
            #expect(runtime.bufferedByteCount == 0)

            let outcome = try await h.session.invoke(invocation("pipelined"))
            #expect(outcome == .response(body: Array("done".utf8), contentType: nil))
            let event = try await runtime.readResponse()
            #expect(event.status == 200 && event.header("Lambda-Runtime-Aws-Request-Id") == "pipelined")
            #expect(try await runtime.readResponse().status == 400)
            #expect(try await runtime.readResponse().status == 202)
            // The last /next parked again behind them, and gets the next event.
            try await eventually("parked again") { await h.session.state == .idle }
            async let second = h.session.invoke(invocation("second"))
            #expect(try await runtime.readResponse().header("Lambda-Runtime-Aws-Request-Id") == "second")
            #expect(try await runtime.request("POST", responsePath("second")).status == 202)
            _ = try await second
        }
    }

    @Test func aRuntimeThatFloodsBehindAParkedNextIsDisconnected() async throws {
        try await withServer { h in
            let flood = try await h.connect()
            var bytes = "GET \(nextPath) HTTP/1.1\r\nHost: x\r\n\r\n"
            for _ in 0..<RuntimeAPIHandler.maxHeldParts { bytes += "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n" }
            try await flood.send(bytes)
            let leftover = await flood.waitForEOF()
            #expect(leftover.isEmpty)
            // The session is unharmed: another connection serves the next invocation.
            try await eventually("parked /next withdrawn") { await h.session.state != .idle }
            let runtime = try await h.connect()
            async let outcome = h.session.invoke(invocation("after-flood"))
            #expect(try await runtime.request("GET", nextPath).status == 200)
            #expect(try await runtime.request("POST", responsePath("after-flood")).status == 202)
            _ = try await outcome
        }
    }

    @Test func aPostCutShortFailsTheInvocationAsTruncatedAndClosesTheSession() async throws {
        try await withServer { h in
            let runtime = try await h.connect()
            let outcome = Task { try await h.session.invoke(invocation("cut")) }
            #expect(try await runtime.request("GET", nextPath).status == 200)
            // A chunked /error: one chunk of 5 bytes, then the connection ends before the last chunk.
            try await runtime.send("POST \(errorPath("cut")) HTTP/1.1\r\nHost: x\r\n"
                + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
            try await Task.sleep(for: .milliseconds(50))
            await runtime.close()
            let what = "Runtime connection ended after 5 bytes of its error response"
            await #expect(throws: RuntimeSessionError.truncated(what)) { try await outcome.value }
            #expect(await h.session.state == .closed)
        }
    }

    /// The session closing within the grace (the runtime's exit) decides the outcome instead.
    @Test func aCloseWithinTheGraceWinsOverTheTruncation() async throws {
        try await withServer { h in
            let runtime = try await h.connect()
            let outcome = Task { try await h.session.invoke(invocation("dying")) }
            #expect(try await runtime.request("GET", nextPath).status == 200)
            try await runtime.send(
                "POST \(responsePath("dying")) HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234")
            await runtime.close()
            // As a dying runtime's exit follows its socket's end.
            await h.session.close(reason: "runtime exited")
            await #expect(throws: RuntimeSessionError.closed("runtime exited")) { try await outcome.value }
        }
    }

    @Test func closeAnswersParkedNextWith500AndFailsTheInvoke() async throws {
        try await withServer { h in
            let busy = try await h.connect()
            let parked = try await h.connect()
            let outcome = Task { try await h.session.invoke(invocation("doomed")) }
            _ = try await busy.request("GET", nextPath)
            try await parked.sendRequest("GET", nextPath)
            try await Task.sleep(for: .milliseconds(50))

            await h.session.close(reason: "instance exited")
            await h.session.close(reason: "second close is ignored")
            await #expect(throws: RuntimeSessionError.closed("instance exited")) { try await outcome.value }
            let answer = try await parked.readResponse()
            #expect(answer.status == 500)
            #expect(answer.bodyString.contains("instance exited"))
            _ = await parked.waitForEOF()
            #expect(try await busy.request("POST", responsePath("doomed")).status == 500)
            #expect(await h.session.state == .closed)

            let fresh = try await h.connect()
            #expect(try await fresh.request("GET", nextPath).status == 500)
            // An invoke of a closed session never reached a runtime.
            await #expect(throws: RuntimeSessionError.notDelivered("instance exited")) {
                try await h.session.invoke(invocation("late"))
            }
        }
    }

    @Test func cancellingAnInvokeClosesTheSession() async throws {
        try await withServer { h in
            let task = Task { try await h.session.invoke(invocation("cancelled")) }
            try await eventually("invoke registered") { await h.session.state == .busy("cancelled") }
            task.cancel()
            // No runtime took it (none called /next): it is said to be undelivered.
            await #expect(throws: RuntimeSessionError.notDelivered("invocation cancelled")) { try await task.value }
            #expect(await h.session.state == .closed)
        }
    }

    @Test func garbageClosesOnlyThatConnection() async throws {
        try await withServer { h in
            let vandal = try await h.connect()
            try await vandal.send([0x16, 0x03, 0x01, 0x00, 0xFF] + Array("\r\nNOT HTTP AT ALL\r\n\r\n".utf8))
            let leftover = await vandal.waitForEOF()
            #expect(leftover.isEmpty || String(decoding: leftover, as: UTF8.self).hasPrefix("HTTP/1.1 400"))

            let runtime = try await h.connect()
            async let outcome = h.session.invoke(invocation("still-fine"))
            #expect(try await runtime.request("GET", nextPath).status == 200)
            #expect(try await runtime.request("POST", responsePath("still-fine")).status == 202)
            _ = try await outcome
        }
    }

    @Test func slowAndExcessConnectionsDontWedgeTheSession() async throws {
        try await withServer { h in
            let slow = try await h.connect()
            try await slow.send("POST \(responsePath("x")) HTTP/1.1\r\nContent-Length: 100\r\n\r\nonly-part")
            var crowd: [RawHTTPClient] = []
            var refused = 0
            for _ in 0..<(RuntimeAPI.maxConnections + 8) {
                // The server may close an excess connection before the
                // client has finished setting it up: that counts as closed.
                if let client = try? await h.connect() { crowd.append(client) } else { refused += 1 }
            }
            try await eventually("excess connections closed") { crowd.filter(\.sawEOF).count + refused >= 8 }
            for client in crowd { await client.close() }
            try await Task.sleep(for: .milliseconds(50))

            let runtime = try await h.connect()
            async let outcome = h.session.invoke(invocation("through"))
            #expect(try await runtime.request("GET", nextPath).status == 200)
            #expect(try await runtime.request("POST", responsePath("through")).status == 202)
            _ = try await outcome
            #expect(slow.bufferedByteCount == 0 && !slow.sawEOF)
        }
    }

    /// A runtime at its limit that closes connections and at once opens new ones gets them: a
    /// closed connection whose end the server has not read yet does not count. (Blocking sockets:
    /// the close and the next connect follow each other at once, as in a runtime.)
    @Test func connectionsClosedJustBeforeDoNotCountAgainstTheLimit() async throws {
        try await withServer { h in
            var held: [BlockingClient] = []
            for _ in 0..<RuntimeAPI.maxConnections {
                let client = try BlockingClient(port: h.port)
                #expect(client.get("/nowhere") == 404)
                held.append(client)
            }
            for round in 0..<20 {
                let closing = held.suffix(RuntimeAPI.maxConnections - 1)
                held.removeLast(closing.count)
                // The server's loops are busy meanwhile: they see the ends and the new connections
                // in one wake-up, as a loop serving other instances does.
                let busy = MultiThreadedEventLoopGroup.singleton.makeIterator().map { loop in
                    loop.submit { usleep(20_000) }
                }
                usleep(2_000)
                for client in closing { client.close() }
                let fresh = try closing.map { _ in try BlockingClient(port: h.port) }
                for future in busy { _ = try await future.get() }
                for client in fresh {
                    #expect(client.get("/nowhere") == 404, "round \(round): a new connection was refused")
                    held.append(client)
                }
                // Each round starts once the server has read the ends of the last one's closes: a
                // loop that other work holds back longer would see one runtime's churn pile up
                // past the bound on ended connections.
                try await eventually("the closed connections counted out") {
                    h.server.openConnections == held.count
                }
            }
            for client in held { client.close() }
        }
    }

    @Test func shutdownClosesTheListenerAndEveryConnection() async throws {
        let (fd, port) = try makeListener()
        let session = RuntimeSession()
        let server = try await RuntimeAPIServer.start(
            listeningSocket: fd, session: session, group: MultiThreadedEventLoopGroup.singleton)
        let parked = try await RawHTTPClient.connect(port: port)
        try await parked.sendRequest("GET", nextPath)
        #expect(try await session.waitForInit() == .ready)

        await server.shutdown()
        await server.shutdown()
        _ = await parked.waitForEOF()
        await #expect(throws: (any Error).self) { _ = try await RawHTTPClient.connect(port: port) }
        await session.close(reason: "test over")
    }

    @Test func startRefusesASocketThatIsNotListening() async throws {
        let (fd, _) = try makeListener(listen: false)
        await #expect(throws: RuntimeAPIServerError.notAListeningSocket(fd: fd, errno: 0)) {
            _ = try await RuntimeAPIServer.start(
                listeningSocket: fd, session: RuntimeSession(), group: MultiThreadedEventLoopGroup.singleton)
        }
    }
}
