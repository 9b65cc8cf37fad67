import Testing

@testable import WarrenRuntimeAPI

@Suite(.timeLimit(.minutes(1)))
struct RuntimeAPIInitTests {
    @Test func theFirstNextMakesTheRuntimeReady() async throws {
        try await withServer { h in
            #expect(await h.session.state == .started)
            async let ready = h.session.waitForInit()
            let runtime = try await h.connect()
            try await runtime.sendRequest("GET", nextPath)
            #expect(try await ready == .ready)
            #expect(await h.session.state == .idle)
            #expect(try await h.session.waitForInit() == .ready, "asking again after init answers at once")
        }
    }

    @Test func initErrorBeforeTheFirstNextEndsInit() async throws {
        try await withServer { h in
            async let outcome = h.session.waitForInit()
            let runtime = try await h.connect()
            let body = Array(#"{"errorMessage":"no handler","errorType":"Runtime.NoSuchHandler"}"#.utf8)
            let posted = try await runtime.request(
                "POST", initErrorPath, headers: [("Lambda-Runtime-Function-Error-Type", "Runtime.NoSuchHandler")], body: body)
            #expect(posted.status == 202)
            #expect(try await outcome == .initError(errorType: "Runtime.NoSuchHandler", body: body))

            #expect(try await runtime.request("POST", initErrorPath).status == 403)
            #expect(try await runtime.request("GET", nextPath).status == 403)
            await #expect(throws: RuntimeSessionError.self) { try await h.session.invoke(invocation("x")) }
            // The supervisor typically closes the dead instance before asking why it failed.
            await h.session.close(reason: "instance exited")
            #expect(try await h.session.waitForInit() == .initError(errorType: "Runtime.NoSuchHandler", body: body))
        }
    }

    @Test func initErrorAfterTheFirstNextIsForbidden() async throws {
        try await withServer { h in
            let parked = try await h.connect()
            try await parked.sendRequest("GET", nextPath)
            #expect(try await h.session.waitForInit() == .ready)
            let late = try await h.connect()
            let refused = try await late.request("POST", initErrorPath, body: Array("{}".utf8))
            #expect(refused.status == 403)
            #expect(refused.bodyString.contains("State transition from Ready to InitErrorResponseSent failed"))
            #expect(await h.session.state == .idle)
        }
    }

    @Test func closingBeforeInitFailsTheInitWaiter() async throws {
        try await withServer { h in
            let outcome = Task { try await h.session.waitForInit() }
            try await Task.sleep(for: .milliseconds(20))
            await h.session.close(reason: "spawn failed")
            await #expect(throws: RuntimeSessionError.closed("spawn failed")) { try await outcome.value }
        }
    }
}
