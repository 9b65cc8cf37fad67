import Foundation
import Synchronization
import Testing
@testable import WarrenAPI
import WarrenStore
import WarrenSupervisor

/// The async queue against a real SQLite store and a real supervisor running
/// the C echo runtime (`static/echo-runtime.c`).
@Suite(.serialized)
struct EventQueueTests {
    typealias Record = [String: Any]

    @Test func aSuccessCompletesAndGoesToTheOnSuccessFunction() async throws {
        try await QueueHarness.with { h in
            try await h.deploy("echo")
            try await h.deploy("sink")
            try await h.store.putEventInvokeConfig(EventInvokeConfigRecord(
                function: "echo", qualifier: "$LATEST", onSuccess: h.arn("sink")))
            let queue = h.queue()
            queue.start()
            let event = try await h.enqueue(queue, "echo", #"{"hello":[1,"x"]}"#)
            let record = try await h.destinationRecord(for: event)
            await queue.stop()

            #expect(try await h.store.queuedEvent(event.id) == nil, "completed events leave the queue")
            #expect(await h.starts("echo", event.requestId) == 1)
            let context = try #require(record["requestContext"] as? Record)
            #expect(context["condition"] as? String == "Success")
            #expect(context["requestId"] as? String == event.requestId)
            #expect(context["functionArn"] as? String == h.arn("echo") + ":$LATEST")
            #expect(context["approximateInvokeCount"] as? Int == 1)
            #expect((record["requestPayload"] as? Record)?["hello"] as? [Any] != nil)
            #expect((record["responsePayload"] as? Record)?.keys.sorted() == ["hello"])
            let response = try #require(record["responseContext"] as? Record)
            #expect(response["statusCode"] as? Int == 200 && response["executedVersion"] as? String == "$LATEST")
            #expect(response["functionError"] == nil)
            #expect(try await queue.stats() == QueueStats(pending: 0, failed: 0, oldestEnqueuedAt: nil))
            #expect(h.logLines.isEmpty, "\(h.logLines)")
        }
    }

    @Test func oneFunctionsSlowBacklogDoesNotHoldUpAnothersEvents() async throws {
        try await QueueHarness.with { h in
            try await h.deploy("slow")
            try await h.deploy("quick")
            // Two slots, at most one per function: the second slow event waits and the quick one
            // takes the other slot, so it ends first. (Sharing the slots as they came, both slow
            // events took them and the quick one ended after the first of them.)
            let queue = h.queue(concurrency: 2, perFunction: 1)
            let slow = [try await h.enqueue(queue, "slow", #"{"sleep":2}"#),
                        try await h.enqueue(queue, "slow", #"{"sleep":2}"#)]
            let quick = try await h.enqueue(queue, "quick", #"{"n":1}"#)
            queue.start()
            try await h.eventually("every event run") {
                let slowDone = try await h.store.queuedEvent(slow[1].id) == nil
                let quickDone = try await h.store.queuedEvent(quick.id) == nil
                return slowDone && quickDone
            }
            await queue.stop()
            #expect(h.runOrder == [quick.requestId, slow[0].requestId, slow[1].requestId])
        }
    }

    @Test(arguments: [nil, 0, 1] as [Int?])
    func aFunctionErrorIsRetriedThenGoesToTheOnFailureFunction(maximumRetryAttempts: Int?) async throws {
        let runs = (maximumRetryAttempts ?? 2) + 1
        try await QueueHarness.with { h in
            // Fails by its handler, not its payload: the echoing sink gets
            // the payload inside the record and must not fail on it.
            try await h.deploy("failing", handler: "init-error")
            try await h.deploy("sink")
            try await h.store.putEventInvokeConfig(EventInvokeConfigRecord(
                function: "failing", qualifier: "$LATEST", maximumRetryAttempts: maximumRetryAttempts,
                onFailure: h.arn("sink")))
            let queue = h.queue()
            queue.start()
            let event = try await h.enqueue(queue, "failing", #"{"n":1}"#)
            let record = try await h.destinationRecord(for: event)
            await queue.stop()

            // Every attempt ran in the function, with the event's request id.
            #expect(await h.starts("failing", event.requestId) == runs)
            #expect(await h.invocations("failing").allSatisfy { $0 == event.requestId })
            #expect(try await h.store.queuedEvent(event.id)?.state == .failed)
            let context = try #require(record["requestContext"] as? Record)
            #expect(context["condition"] as? String == "RetriesExhausted")
            #expect(context["approximateInvokeCount"] as? Int == runs)
            #expect((record["requestPayload"] as? Record)?["n"] as? Int == 1)
            #expect((record["responseContext"] as? Record)?["functionError"] as? String == "Unhandled")
            #expect((record["responsePayload"] as? Record)?["errorType"] as? String == "InitError", "\(record)")
            #expect(h.logLines.isEmpty, "a delivered event is not dropped: \(h.logLines)")
        }
    }

    @Test func anEventThatCannotBeRetriedInTimeIsDroppedWithALogLine() async throws {
        try await QueueHarness.with { h in
            try await h.deploy("aging")
            try await h.store.putEventInvokeConfig(EventInvokeConfigRecord(
                function: "aging", qualifier: "$LATEST", maximumEventAgeInSeconds: 60))
            var timing = QueueHarness.fast
            // Lambda's delays: the first retry would start after the event's
            // 60 s age, so Lambda gives up at once (as observed with AWS).
            timing.retryDelays = [.seconds(60), .seconds(120)]
            let queue = h.queue(timing)
            queue.start()
            let event = try await h.enqueue(queue, "aging", #"{"error":1}"#)
            try await h.eventually("the event to fail") { try await h.store.queuedEvent(event.id)?.state == .failed }
            await queue.stop()

            #expect(await h.starts("aging", event.requestId) == 1)
            #expect(h.logLines.count == 1)
            #expect(h.logLines.first?.hasPrefix(
                "warren: event \(event.requestId) for aging dropped after 1 attempts: EventAgeExceeded") == true,
                "\(h.logLines)")
            // The error the payload names, not the runtime's header (`Function.TestError`).
            #expect(h.logLines.first?.contains("function error TestError") == true, "\(h.logLines)")
            #expect(try await queue.stats() == QueueStats(pending: 0, failed: 1, oldestEnqueuedAt: nil))
        }
    }

    @Test func aThrottledEventIsRetriedUntilItAgesOutWithoutRunning() async throws {
        try await QueueHarness.with { h in
            try await h.deploy("throttled")
            try await h.deploy("sink")
            // Reserved concurrency 1, held by a synchronous invocation for 3 s: every attempt of
            // the event in that time is throttled.
            let holder = try await h.holdTheOnlySlot("throttled", seconds: 3)
            try await h.store.putEventInvokeConfig(EventInvokeConfigRecord(
                function: "throttled", qualifier: "$LATEST", maximumRetryAttempts: 0, maximumEventAgeInSeconds: 1,
                onFailure: h.arn("sink")))
            let queue = h.queue()
            queue.start()
            let event = try await h.enqueue(queue, "throttled", #"{"n":1}"#)
            let record = try await h.destinationRecord(for: event)
            await queue.stop()
            _ = try await holder.value

            // Throttles use up no attempts (MaximumRetryAttempts is 0): only the age ends them.
            let failed = try #require(try await h.store.queuedEvent(event.id))
            #expect(failed.state == .failed && failed.throttles == failed.attempts - 1,
                    "\(failed)")
            #expect(await h.starts("throttled", event.requestId) == 0)
            let context = try #require(record["requestContext"] as? Record)
            #expect(context["condition"] as? String == "EventAgeExceeded")
            #expect(context["approximateInvokeCount"] as? Int == 0)
            #expect(record["responseContext"] == nil && record["responsePayload"] == nil)
        }
    }

    /// Events throttled while the account's free slots are busy take one as soon as it is free, not
    /// at the end of a back-off that doubled meanwhile (Lambda's 1 s, 2 s, 4 s …). With two slots,
    /// twelve events of a second each took about 31 s before (8 had run after 12 s), as the
    /// back-off grew; now about 6.
    @Test func throttledEventsTakeAFreedSlotAtOnce() async throws {
        try await QueueHarness.with { h in
            try await h.deploy("hog")
            try await h.deploy("many")
            // The account's 20, less 18 reserved for another function: 2 slots for `many`.
            try await h.reserve("hog", 18)
            let queue = h.queue(QueueHarness.lambdaTiming)
            queue.start()
            var events: [QueuedEvent] = []
            for n in 0..<12 { events.append(try await h.enqueue(queue, "many", #"{"sleep":1,"n":\#(n)}"#)) }
            let start = ContinuousClock.now
            while ContinuousClock.now - start < .seconds(20), h.runOrder.count < events.count {
                try await Task.sleep(for: .milliseconds(50))
            }
            await queue.stop()
            #expect(Set(h.runOrder) == Set(events.map(\.requestId)),
                    "\(h.runOrder.count) of 12 ran in 20 s (two slots, a second each)")
            let throttled = try await h.store.queuedEvent(events[0].id)
            #expect(throttled == nil, "\(String(describing: throttled))")
        }
    }

    /// A throttled event whose next back-off would pass its age gets a last try just before it,
    /// rather than being given up at once: here the slot frees after 2 s, the back-off after the
    /// second throttle would end at 3 s, the age at 3 s; before, it was dropped after 1 s.
    @Test func aThrottledEventGetsALastTryBeforeItsAgeRunsOut() async throws {
        try await QueueHarness.with { h in
            try await h.deploy("late")
            let holder = try await h.holdTheOnlySlot("late", seconds: 2)
            try await h.store.putEventInvokeConfig(EventInvokeConfigRecord(
                function: "late", qualifier: "$LATEST", maximumRetryAttempts: 0, maximumEventAgeInSeconds: 3))
            let queue = h.queue(QueueHarness.lambdaTiming)
            queue.start()
            let event = try await h.enqueue(queue, "late", #"{"n":1}"#)
            try await h.eventually("the event to be settled") { try await h.store.queuedEvent(event.id) == nil }
            await queue.stop()
            _ = try await holder.value
            #expect(await h.starts("late", event.requestId) == 1, "\(h.logLines)")
        }
    }

    @Test func reservedConcurrencyZeroSendsTheEventToItsFailureDestinationAtOnce() async throws {
        try await QueueHarness.with { h in
            // Lambda's defaults otherwise: 2 retries, 6 hours. None of it applies.
            let (queue, event) = try await h.zeroConcurrencyEvent(onFailure: h.arn("sink"))
            let record = try await h.destinationRecord(for: event)
            await queue.stop()

            let failed = try #require(try await h.store.queuedEvent(event.id))
            #expect(failed.state == .failed && failed.attempts == 1, "one claim, no retries: \(failed)")
            #expect(await h.starts("zero", event.requestId) == 0)
            let context = try #require(record["requestContext"] as? Record)
            #expect(context["condition"] as? String == "ZeroReservedConcurrency")
            #expect(context["approximateInvokeCount"] as? Int == 0)
            #expect((record["requestPayload"] as? Record)?["n"] as? Int == 1)
            #expect(record["responseContext"] == nil && record["responsePayload"] == nil)
            #expect(h.logLines.isEmpty, "a delivered event is not dropped: \(h.logLines)")
        }
    }

    /// A destination named by another region's or account's ARN is not the local function of
    /// that name: the record is dropped with a log line, the local function never runs.
    @Test(arguments: ["arn:aws:lambda:eu-west-1:000000000000:function:sink",
                      "arn:aws:lambda:us-east-1:111111111111:function:sink"])
    func aDestinationOfAnotherRegionOrAccountIsNotDeliveredHere(destination: String) async throws {
        try await QueueHarness.with { h in
            let (queue, event) = try await h.zeroConcurrencyEvent(onFailure: destination)
            try await h.eventually("the event to fail") { try await h.store.queuedEvent(event.id)?.state == .failed }
            try await h.eventually("the drop's log lines") { h.logLines.count == 2 }
            await queue.stop()
            #expect(h.logLines.first?.contains("destination \(destination) is a function of another region or account")
                    == true, "\(h.logLines)")
            #expect(await h.invocations("sink").isEmpty)
        }
    }

    @Test func anEventInFlightWhenAQueueStopsIsRunAgainByTheNextAfterItsLease() async throws {
        try await QueueHarness.with(initTimeout: 60) { h in
            // The first process's function never finishes its init.
            try await h.deploy("slow", handler: "init-hang")
            var timing = QueueHarness.fast
            timing.lease = .seconds(1)
            let first = h.queue(timing)
            first.start()
            let event = try await h.enqueue(first, "slow", #"{"n":1}"#)
            try await h.eventually("the first attempt to start") { await h.supervisor.instances().count == 1 }
            // Stops at once: the running invocation is abandoned, its event stays leased.
            await first.stop()
            let leased = try #require(try await h.store.queuedEvent(event.id))
            #expect(leased.state == .inFlight && leased.attempts == 1, "\(leased)")
            await h.supervisor.shutdown()

            // The next process, with a fixed function, over the same store.
            let next = try h.newSupervisor()
            try await next.createFunction(h.functionConfig("slow", handler: "echo"))
            let second = h.queue(timing, supervisor: next)
            second.start()
            try await h.eventually("the event to complete") { try await h.store.queuedEvent(event.id) == nil }
            await second.stop()
            #expect(await h.starts("slow", event.requestId, supervisor: next) == 1)
            #expect(try await second.stats().pending == 0)
            #expect(h.logLines.isEmpty, "\(h.logLines)")
        }
    }

    @Test func theDestinationRecordEmbedsJSONAndQuotesTheRest() throws {
        var response = InvokeResult(statusCode: 200, payload: Array(#"{"a":1.50}"#.utf8), executedVersion: "3",
                                    requestId: "r")
        response.functionError = "Unhandled"
        let record = EventQueue.DestinationRecord(
            requestId: "r\"1", functionArn: "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST",
            condition: .retriesExhausted, approximateInvokeCount: 3, requestPayload: Array("not json".utf8),
            response: response, timestamp: Date(timeIntervalSince1970: 1_700_000_000.25))
        let text = String(decoding: record.json(), as: UTF8.self)
        #expect(text == #"{"version":"1.0","timestamp":"2023-11-14T22:13:20.250Z","requestContext":{"requestId":"r\"1","#
            + #""functionArn":"arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST","condition":"RetriesExhausted","#
            + #""approximateInvokeCount":3},"requestPayload":"not json","responseContext":{"statusCode":200,"#
            + #""executedVersion":"3","functionError":"Unhandled"},"responsePayload":{"a":1.50}}"#)
        #expect(EventQueue.DestinationRecord.embedded([]) == Array("null".utf8))
    }

    @Test func onlyLambdaFunctionARNsAreDestinations() {
        func parse(_ arn: String) -> [String]? {
            EventQueue.LambdaDestination(arn: arn).map { [$0.function, $0.qualifier] }
        }
        #expect(parse("arn:aws:lambda:us-east-1:000000000000:function:sink") == ["sink", "$LATEST"])
        #expect(parse("arn:aws:lambda:eu-west-1:123456789012:function:sink:live") == ["sink", "live"])
        #expect(parse("arn:aws:sqs:us-east-1:000000000000:queue") == nil)
        #expect(parse("arn:aws:lambda:us-east-1:000000000000:function:") == nil)
        #expect(parse("arn:aws:lambda:us-east-1:000000000000:function:sink:") == nil)
        #expect(parse("sink") == nil)
    }
}

/// A store and a supervisor in a temp dir, functions that run the echo
/// runtime in both, and what the queue logged.
final class QueueHarness: Sendable {
    static let repo = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// Short delays for tests; Lambda's shape (doubling back-off, growing retry delays).
    static let fast: EventQueue.Timing = {
        var timing = EventQueue.Timing()
        timing.retryDelays = [.milliseconds(100), .milliseconds(200)]
        timing.throttleBackoff = .milliseconds(50)
        timing.maxThrottleBackoff = .milliseconds(200)
        timing.pollInterval = .milliseconds(50)
        return timing
    }()

    /// Lambda's delays (1 s doubling after a throttle), with a quick poll.
    static let lambdaTiming: EventQueue.Timing = {
        var timing = EventQueue.Timing()
        timing.pollInterval = .milliseconds(50)
        return timing
    }()

    let dir: URL
    let store: SQLiteStore
    let supervisor: Supervisor
    let code: CodeArtifact
    private let initTimeout: Double
    /// Lines the queue logged; each invocation's function, request id and response; the supervisors.
    private let state = Mutex((log: [String](), runs: [(function: String, requestId: String, response: [UInt8])](),
                               supervisors: [Supervisor]()))

    private init(initTimeout: Double) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("warren-queue-\(UUID().uuidString)")
        store = try SQLiteStore(directory: dir.appendingPathComponent("store"))
        let runtime = try #require(Bundle.module.url(forResource: "echo-runtime", withExtension: nil))
        code = try store.code.add(zip: storedZip("bootstrap", Array(try Data(contentsOf: runtime))))
        self.initTimeout = initTimeout
        supervisor = try Self.supervisor(in: dir, initTimeout: initTimeout)
        state.withLock { $0.supervisors.append(supervisor) }
    }

    /// Runs `body`, then shuts every supervisor down and removes the files.
    static func with(initTimeout: Double = 10, _ body: (QueueHarness) async throws -> Void) async throws {
        let harness = try QueueHarness(initTimeout: initTimeout)
        do {
            try await body(harness)
        } catch {
            await harness.shutdown()
            throw error
        }
        await harness.shutdown()
    }

    private static func supervisor(in dir: URL, initTimeout: Double) throws -> Supervisor {
        var config = Supervisor.Configuration(
            home: repo, stateDirectory: dir.appendingPathComponent("supervisor-\(UUID().uuidString)").path,
            admission: Admission.Settings(accountLimit: 20, unreservedMinimum: 2))
        config.preparedNamespaces = 2
        config.initTimeout = initTimeout
        return try Supervisor(config)
    }

    /// Another supervisor (the next process), shut down with the harness.
    func newSupervisor() throws -> Supervisor {
        let next = try Self.supervisor(in: dir, initTimeout: initTimeout)
        state.withLock { $0.supervisors.append(next) }
        return next
    }

    private func shutdown() async {
        for supervisor in state.withLock({ $0.supervisors }) { await supervisor.shutdown() }
        try? store.close()
        try? FileManager.default.removeItem(at: dir)
    }

    func functionConfig(_ name: String, handler: String = "echo") -> FunctionConfig {
        FunctionConfig(functionName: name, runtime: "provided.al2023", handler: handler, timeout: 10,
                       codeDirectory: code.directory.path)
    }

    /// Creates the function in the store and in the first supervisor.
    func deploy(_ name: String, handler: String = "echo") async throws {
        _ = try await store.createFunction(FunctionRecord(
            name: name, runtime: "provided.al2023", handler: handler, role: "arn:aws:iam::000000000000:role/r",
            timeout: 10, codeSha256: code.sha256, codeSize: code.size))
        try await supervisor.createFunction(functionConfig(name, handler: handler))
    }

    func arn(_ name: String) -> String { "arn:aws:lambda:us-east-1:000000000000:function:\(name)" }

    /// A queue over the store that invokes through `supervisor` (the first by default).
    func queue(_ timing: EventQueue.Timing = QueueHarness.fast, supervisor: Supervisor? = nil,
               concurrency: Int = 32, perFunction: Int = 8) -> EventQueue {
        let target = supervisor ?? self.supervisor
        let store = store
        return EventQueue(
            store: store,
            invoke: { [self] function, qualifier, payload, requestId in
                let result = try await target.invoke(function, qualifier: qualifier, payload: payload,
                                                     requestId: requestId)
                state.withLock { $0.runs.append((function, requestId, result.payload)) }
                return result
            },
            eventInvokeConfig: { function, qualifier in
                try? await store.getEventInvokeConfig(function, qualifier: qualifier)
            },
            log: { [self] line in state.withLock { $0.log.append(line) } },
            concurrency: concurrency, perFunction: perFunction, timing: timing)
    }

    /// Reserves 1 for `name` and holds it with a synchronous invocation of `seconds`; returns
    /// once that runs.
    func holdTheOnlySlot(_ name: String, seconds: Int) async throws -> Task<InvokeResult, any Error> {
        try await reserve(name, 1)
        let supervisor = supervisor
        let holder = Task { try await supervisor.invoke(name, payload: Array(#"{"sleep":\#(seconds)}"#.utf8)) }
        try await eventually("the holder to run") { supervisor.admission.concurrentExecutions == 1 }
        return holder
    }

    /// Reserves `count` for `name` in the supervisor and the store, as the service does.
    func reserve(_ name: String, _ count: Int) async throws {
        try await supervisor.putFunctionConcurrency(name, count)
        try await store.putFunctionConcurrency(name, reserved: count)
    }

    /// What the API does for an `Event` invoke: enqueue, then wake the queue.
    func enqueue(_ queue: EventQueue, _ function: String, _ payload: String) async throws -> QueuedEvent {
        let event = try await store.enqueue(requestId: UUID().uuidString.lowercased(), function: function,
                                            qualifier: "$LATEST", payload: Array(payload.utf8), at: Date())
        queue.wake()
        return event
    }

    var logLines: [String] { state.withLock { $0.log } }

    /// Request ids in the order their invocations ended.
    var runOrder: [String] { state.withLock { $0.runs.map(\.requestId) } }

    /// Functions `zero` (reserved concurrency 0, its failures sent to `onFailure`) and `sink`, a
    /// started queue, and one event for `zero`, which can only fail.
    func zeroConcurrencyEvent(onFailure: String) async throws -> (EventQueue, QueuedEvent) {
        try await deploy("zero")
        try await deploy("sink")
        try await reserve("zero", 0)
        try await store.putEventInvokeConfig(EventInvokeConfigRecord(
            function: "zero", qualifier: "$LATEST", onFailure: onFailure))
        let queue = queue()
        queue.start()
        return (queue, try await enqueue(queue, "zero", #"{"n":1}"#))
    }

    /// The function's log file, as the supervisor wrote it.
    func functionLog(_ name: String, supervisor: Supervisor? = nil) async -> String {
        let path = await (supervisor ?? self.supervisor).configuration.stateDirectory + "/logs/\(name).log"
        return (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }

    /// Request ids of the invocations that started in the function, in order.
    func invocations(_ name: String, supervisor: Supervisor? = nil) async -> [String] {
        await functionLog(name, supervisor: supervisor).split(separator: "\n").compactMap { line in
            guard line.hasPrefix("START RequestId: ") else { return nil }
            return line.dropFirst("START RequestId: ".count).split(separator: " ").first.map(String.init)
        }
    }

    /// How often `requestId` started in the function.
    func starts(_ name: String, _ requestId: String, supervisor: Supervisor? = nil) async -> Int {
        await invocations(name, supervisor: supervisor).filter { $0 == requestId }.count
    }

    /// The record the `sink` function received for `event`. The sink runs
    /// the echo runtime, so its response is the record it was invoked with.
    func destinationRecord(for event: QueuedEvent) async throws -> [String: Any] {
        var found: (requestId: String, record: [String: Any])?
        try await eventually("a destination record for \(event.requestId)") {
            found = state.withLock { $0.runs }.lazy.filter { $0.function == "sink" }.compactMap { run in
                let json = try? JSONSerialization.jsonObject(with: Data(run.response)) as? [String: Any]
                guard let json, (json["requestContext"] as? [String: Any])?["requestId"] as? String
                    == event.requestId else { return nil }
                return (run.requestId, json)
            }.first
            return found != nil
        }
        let (sinkRequest, record) = try #require(found)
        #expect(await starts("sink", sinkRequest) == 1, "the sink ran once with the record")
        #expect(record["version"] as? String == "1.0" && record["timestamp"] is String)
        return record
    }

    /// Polls `condition` every 50 ms for up to 60 s.
    func eventually(_ what: String, _ condition: () async throws -> Bool) async throws {
        let end = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < end {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("timed out waiting for \(what)")
        throw CancellationError()
    }
}

/// A zip of one executable file, stored (not compressed), made by "Unix" so
/// the exec bit survives extraction: what `zip` makes of a `bootstrap`.
private func storedZip(_ name: String, _ contents: [UInt8]) -> [UInt8] {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in contents {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    crc = ~crc
    var out: [UInt8] = []
    func u16(_ value: Int) { out += [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF)] }
    func u32(_ value: UInt32) { for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8(value >> shift & 0xFF)) } }
    let size = UInt32(contents.count)
    let nameBytes = Array(name.utf8)
    // Local header: signature, version 2.0, no flags, stored, 1980-01-01 00:00.
    u32(0x0403_4B50); u16(20); u16(0); u16(0); u16(0); u16(0x21)
    u32(crc); u32(size); u32(size); u16(nameBytes.count); u16(0)
    out += nameBytes + contents
    let directoryOffset = UInt32(out.count)
    // Central directory: made by Unix 3.0, mode 0100755 in the external attributes.
    u32(0x0201_4B50); u16(0x031E); u16(20); u16(0); u16(0); u16(0); u16(0x21)
    u32(crc); u32(size); u32(size); u16(nameBytes.count); u16(0); u16(0); u16(0); u16(0)
    u32(0o100755 << 16); u32(0)
    out += nameBytes
    let directorySize = UInt32(out.count) - directoryOffset
    u32(0x0605_4B50); u16(0); u16(0); u16(1); u16(1); u32(directorySize); u32(directoryOffset); u16(0)
    return out
}
