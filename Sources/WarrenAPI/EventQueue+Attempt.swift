import Foundation
import Synchronization
import WarrenStore
import WarrenSupervisor

extension EventQueue {
    /// An event's async settings, with Lambda's defaults filled in.
    struct Policy {
        var maximumRetryAttempts = 2
        var maximumEventAgeInSeconds = 21600
        var onSuccess: String?
        var onFailure: String?

        init(_ config: EventInvokeConfigRecord?) {
            maximumRetryAttempts = config?.maximumRetryAttempts ?? maximumRetryAttempts
            maximumEventAgeInSeconds = config?.maximumEventAgeInSeconds ?? maximumEventAgeInSeconds
            onSuccess = config?.onSuccess
            onFailure = config?.onFailure
        }
    }

    /// One claimed event: the invocation, then complete, retry or give up.
    func attempt(_ event: QueuedEvent) async {
        let policy = Policy(await eventInvokeConfig(event.function, event.qualifier))
        let deadline = event.enqueuedAt.addingTimeInterval(Double(policy.maximumEventAgeInSeconds))
        // Claims that reached the function, this one included.
        let invokes = event.attempts - event.throttles
        if Date() > deadline {
            return await giveUp(event, .eventAgeExceeded, invokeCount: invokes - 1, response: nil,
                                reason: "older than \(policy.maximumEventAgeInSeconds) s", policy: policy)
        }
        let outcome: Result<InvokeResult, any Error>
        switch await invokeUnlessStopped(event) {
        case .ran(let result):
            outcome = result
        case .notStarted:
            // Stopped before the invocation began: hand the event back now
            // rather than leave it leased; the claim did not reach the function.
            return await settle("hand back", event) { [store] in
                try await store.retry(event.id, nextAttemptAt: Date(), throttled: true)
            }
        case .abandoned:
            // It may still be running: the lease keeps others off it for now.
            return
        }
        if case .success = outcome {
            // It ran, so its slot is free again (see ``slotsMayBeFree()``).
            slotsMayBeFree()
        }
        switch outcome {
        case .success(let result) where result.functionError == nil:
            await succeeded(event, result, invokeCount: invokes, policy: policy)
        case .success(let result):
            await functionFailed(event, result, invokeCount: invokes, deadline: deadline, policy: policy)
        case .failure(let error as SupervisorError) where error.code == .tooManyRequests
            || error.code == .serviceException:
            await throttled(event, error, invokeCount: invokes - 1, deadline: deadline, policy: policy)
        case .failure(let error as SupervisorError):
            // Function or qualifier gone, or the event can never run: Lambda drops it.
            log(dropLine(event, invokeCount: invokes - 1, reason: "\(error)"))
            await settle("fail", event) { [store] in try await store.fail(event.id) }
        case .failure(let error):
            await throttled(event, error, invokeCount: invokes - 1, deadline: deadline, policy: policy)
        }
    }

    private func succeeded(_ event: QueuedEvent, _ result: InvokeResult, invokeCount: Int, policy: Policy) async {
        if let arn = policy.onSuccess {
            let record = destinationRecord(event, .success, invokeCount: invokeCount, response: result)
            if !(await deliver(record, to: arn, for: event)) {
                log("warren: event \(event.requestId) for \(label(event)): OnSuccess record not delivered")
            }
        }
        await settle("complete", event) { [store] in try await store.complete(event.id) }
    }

    /// The `errorType` of an error payload (`{"errorType": "ValueError", …}`), which names the error
    /// better than the runtime's header (awslambdaric sends `Unhandled` there).
    static func errorType(in payload: [UInt8]) -> String? {
        guard payload.count <= 65_536,
              let object = try? JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any],
              let type = object["errorType"] as? String, !type.isEmpty else { return nil }
        return type
    }

    private func functionFailed(_ event: QueuedEvent, _ result: InvokeResult, invokeCount: Int, deadline: Date,
                                policy: Policy) async {
        let type = Self.errorType(in: result.payload) ?? result.errorType ?? result.functionError ?? "Unhandled"
        let reason = "function error \(type)"
        guard invokeCount <= policy.maximumRetryAttempts else {
            return await giveUp(event, .retriesExhausted, invokeCount: invokeCount, response: result,
                                reason: reason, policy: policy)
        }
        let delays = timing.retryDelays
        let delay = delays.isEmpty ? .zero : delays[max(0, min(invokeCount - 1, delays.count - 1))]
        let next = Date().addingTimeInterval(delay.seconds)
        // Lambda gives up as soon as the next retry could not start in time.
        guard next <= deadline else {
            return await giveUp(event, .eventAgeExceeded, invokeCount: invokeCount, response: result,
                                reason: reason, policy: policy)
        }
        await retry(event, at: next, throttled: false)
    }

    private func throttled(_ event: QueuedEvent, _ error: any Error, invokeCount: Int, deadline: Date,
                           policy: Policy) async {
        // Reserved concurrency 0 throttles everything: Lambda sends the event to the failure
        // destination at once, without retries.
        if let error = error as? SupervisorError,
            error.reason == "ReservedFunctionConcurrentInvocationLimitExceeded",
            (try? await store.getFunctionConcurrency(event.function)) == 0
        {
            return await giveUp(event, .zeroReservedConcurrency, invokeCount: invokeCount, response: nil,
                                reason: "the function's reserved concurrency is 0", policy: policy)
        }
        // 1 s, 2 s, 4 s … up to the maximum; `throttles` counts the earlier ones. A back-off that
        // would pass the event's age is cut short: the last try is just before it.
        let doublings = min(event.throttles, 30)
        let delay = min(timing.throttleBackoff * (1 << doublings), timing.maxThrottleBackoff)
        let now = Date()
        let next = min(now.addingTimeInterval(delay.seconds), deadline.addingTimeInterval(-Self.lastTryMargin))
        guard next > now else {
            return await giveUp(event, .eventAgeExceeded, invokeCount: invokeCount, response: nil,
                                reason: "\(error)", policy: policy)
        }
        await retry(event, at: next, throttled: true)
        noteThrottled()  // after the write: a wake before it would not find the event yet
    }

    /// How long before its age runs out a throttled event is tried the last time.
    static let lastTryMargin: TimeInterval = 0.1

    /// Makes the throttled events due now and wakes the loop for them (a store write only when
    /// this queue has throttled events since it last did).
    func wakeThrottled() async {
        guard takeThrottledWaiting() else { return }
        do {
            // As the bookkeeping of an attempt: it must reach the store while the queue stops too.
            if try await Self.uncancelled({ [store] in try await store.wakeThrottled(now: Date()) }) > 0 { wake() }
        } catch {
            log("warren: async queue: waking throttled events failed: \(error)")
        }
    }

    private func retry(_ event: QueuedEvent, at next: Date, throttled: Bool) async {
        await settle("retry", event) { [store] in
            try await store.retry(event.id, nextAttemptAt: next, throttled: throttled)
        }
        scheduled(next)
    }

    /// Out of attempts or age: the `OnFailure` destination gets the record,
    /// or the event is dropped with a log line; the event is kept as failed.
    private func giveUp(_ event: QueuedEvent, _ condition: DestinationRecord.Condition, invokeCount: Int,
                        response: InvokeResult?, reason: String, policy: Policy) async {
        let record = destinationRecord(event, condition, invokeCount: invokeCount, response: response)
        if let arn = policy.onFailure, await deliver(record, to: arn, for: event) {
            return await settle("fail", event) { [store] in try await store.fail(event.id) }
        }
        log(dropLine(event, invokeCount: invokeCount, reason: "\(condition.rawValue) (\(reason))"))
        await settle("fail", event) { [store] in try await store.fail(event.id) }
    }

    /// Queues `record` for a Lambda function destination.
    /// - Returns: False, with a log line, when the ARN names no Lambda
    ///   function (SQS, SNS …), one of another region or account, or the function does not exist.
    private func deliver(_ record: [UInt8], to arn: String, for event: QueuedEvent) async -> Bool {
        guard let target = LambdaDestination(arn: arn) else {
            log("warren: event \(event.requestId) for \(label(event)): destination \(arn) is not a Lambda function;"
                + " Warren delivers only to Lambda functions")
            return false
        }
        guard arn.hasPrefix(arnPrefix) else {
            log("warren: event \(event.requestId) for \(label(event)): destination \(arn) is a function of another "
                + "region or account; Warren delivers only to its own (\(arnPrefix)…)")
            return false
        }
        let store = store
        do {
            _ = try await Self.uncancelled {
                try await store.enqueue(requestId: newRequestId(), function: target.function,
                                        qualifier: target.qualifier, payload: record, at: Date())
            }
        } catch {
            log("warren: event \(event.requestId) for \(label(event)): destination \(arn): \(error)")
            return false
        }
        wake()
        return true
    }

    private func destinationRecord(_ event: QueuedEvent, _ condition: DestinationRecord.Condition,
                                   invokeCount: Int, response: InvokeResult?) -> [UInt8] {
        DestinationRecord(requestId: event.requestId, functionArn: arnPrefix + event.function + ":" + event.qualifier,
                          condition: condition, approximateInvokeCount: invokeCount, requestPayload: event.payload,
                          response: response).json()
    }

    /// Runs a store update of `event`, logging a failure. A vanished event
    /// (its function was deleted, the queue rows with it) is not worth a line.
    private func settle(_ what: String, _ event: QueuedEvent,
                        _ body: @escaping @Sendable () async throws -> Void) async {
        do {
            try await Self.uncancelled(body)
        } catch let error as StoreError where error.code == .notFound {
            return
        } catch {
            log("warren: event \(event.requestId) for \(label(event)): \(what) failed: \(error)")
        }
    }

    /// Runs `body` outside the current task's cancellation: bookkeeping of an
    /// attempt that ended must reach the store even while the queue stops
    /// (GRDB refuses work in a cancelled task).
    private static func uncancelled<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await Task { try await body() }.value
    }

    private func dropLine(_ event: QueuedEvent, invokeCount: Int, reason: String) -> String {
        "warren: event \(event.requestId) for \(label(event)) dropped after \(invokeCount) attempts: \(reason)"
    }

    private func label(_ event: QueuedEvent) -> String {
        event.qualifier == FunctionVersion.latest ? event.function : event.function + ":" + event.qualifier
    }

    /// Invokes, unless the queue stops first. The invocation runs in a task of
    /// its own because ``stop()`` must not wait for it (it may last the
    /// function's whole timeout): once stopped, this returns at once and the
    /// abandoned invocation's result is ignored; the lease brings the event back.
    private func invokeUnlessStopped(_ event: QueuedEvent) async -> OutcomeSlot.Outcome {
        let slot = OutcomeSlot()
        let invoke = invoke
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                guard slot.wait(continuation) else { return }
                Task {
                    do {
                        slot.finish(.ran(.success(try await invoke(event.function, event.qualifier, event.payload,
                                                                   event.requestId))))
                    } catch {
                        slot.finish(.ran(.failure(error)))
                    }
                }
            }
        } onCancel: {
            slot.finish(.abandoned)
        }
    }
}

/// Where an invocation's outcome meets whoever waits for it, once.
private final class OutcomeSlot: Sendable {
    enum Outcome: Sendable {
        case ran(Result<InvokeResult, any Error>)
        /// The queue stopped before the invocation began.
        case notStarted
        /// The queue stopped while the invocation ran.
        case abandoned
    }

    private enum State {
        case idle
        case waiting(CheckedContinuation<Outcome, Never>)
        case done
    }

    private let state = Mutex(State.idle)

    /// Parks `continuation`; false (and resumed with `notStarted`) if the task is already cancelled.
    func wait(_ continuation: CheckedContinuation<Outcome, Never>) -> Bool {
        let parked = state.withLock { state in
            // Checked under the lock `finish` takes, so a cancel is never missed.
            guard !Task.isCancelled else {
                state = .done
                return false
            }
            state = .waiting(continuation)
            return true
        }
        if !parked { continuation.resume(returning: .notStarted) }
        return parked
    }

    /// Resumes the waiter with `outcome`; later calls do nothing.
    func finish(_ outcome: Outcome) {
        let waiter: CheckedContinuation<Outcome, Never>? = state.withLock { state in
            defer { state = .done }
            if case .waiting(let continuation) = state { return continuation }
            return nil
        }
        waiter?.resume(returning: outcome)
    }
}

private extension Duration {
    /// Seconds as a `TimeInterval`, for arithmetic with `Date`.
    var seconds: TimeInterval {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
