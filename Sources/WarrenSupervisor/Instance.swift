import Foundation
import Glibc
import NIOCore
import Synchronization
import WarrenRuntimeAPI
import WarrenSandbox

/// One execution environment: a confined process tree with its own cgroup
/// and network namespace, the Runtime API listener inside it, kept warm
/// between invocations of one function version.
///
/// States: provisioning → initializing → idle ⇄ busy → dead. An instance
/// that fails in any way is destroyed, never returned to its pool.
actor Instance {
    enum State: Equatable, Sendable { case provisioning, initializing, idle, busy, dead }

    nonisolated let id: String
    nonisolated let version: FunctionVersion
    nonisolated let config: FunctionConfig
    nonisolated let provisioned: Bool
    nonisolated let createdAt = ContinuousClock.now

    private(set) var state: State = .provisioning
    private(set) var pid: Int32 = 0
    /// The instance's own uid (a slot), given back when it ends.
    private(set) var uid: UInt32?
    private(set) var lastUsed = ContinuousClock.now
    private(set) var frozen = false
    /// Init Duration in ms, reported once, on the first invocation.
    private var pendingInitDuration: Double?
    /// How long init took, in ms.
    private(set) var initDurationMs: Double?
    /// The end of what the runtime printed during an init that failed (the last 4 KB), for the
    /// log tail of the invocation that waited for it.
    private(set) var initOutput: [UInt8] = []
    /// How long a failed init ran, the most memory it used and its phase (for INIT_REPORT and REPORT).
    private(set) var failedInit: FailedInit?

    let session = RuntimeSession()
    let log: InstanceLog
    private var process: SandboxProcess?
    private var cgroup: (any Cgroup)?
    private var server: RuntimeAPIServer?
    private var logChannel: (any Channel)?
    /// The read end of the runtime's stdout+stderr pipe (owned by `logChannel`).
    private var logFD: Int32 = -1
    private var netns: PreparedNetns?
    /// The cgroup's peak-memory file, kept open for the REPORT line of every invocation.
    private var peakMemory = PeakMemoryFile()
    private var exitTask: Task<Termination?, Never>?
    /// The runtime's process has exited (set before the session closes).
    private nonisolated let exited = Flag()
    private var deathReason: String?

    /// Keeps this instance's deadlines, serves its Runtime API and runs this actor: the runtime's
    /// `/response` resumes the invocation on the thread that read it, with no hand-off between
    /// threads on either side of the runtime. Nothing here may block (cgroup polling goes to
    /// the freezer's queue).
    nonisolated let loop: any EventLoop

    nonisolated var unownedExecutor: UnownedSerialExecutor { loop.executor.asUnownedSerialExecutor() }

    init(id: String, version: FunctionVersion, config: FunctionConfig, provisioned: Bool, log: InstanceLog,
         loop: any EventLoop) {
        self.loop = loop
        self.id = id
        self.version = version
        self.config = config
        self.provisioned = provisioned
        self.log = log
    }

    /// What a started sandbox hands to the instance.
    struct Parts: Sendable {
        var process: SandboxProcess
        var cgroup: any Cgroup
        var netns: PreparedNetns
        var logPipe: Int32
        /// Lambda's `INIT_START` line, written to the log before anything the runtime prints
        /// (none where the system log level leaves it out).
        var initStart: String?
    }

    /// Adopts a spawned sandbox, serves its Runtime API and waits for the
    /// runtime's first `/next` (ready) within `initTimeout` seconds, or within the function's
    /// timeout if that is longer (as Lambda, which re-runs an init that outlasts its 10 s within
    /// the first invocation, under the function's timeout); a provisioned instance within
    /// ``provisionedInitLimit``.
    /// - Returns: nil when ready; the failure otherwise (the instance is then dead).
    func start(_ parts: Parts, group: any EventLoopGroup, initTimeout: Double) async -> InvocationFailure? {
        // Provisioned instances initialise ahead of traffic, without Lambda's 10 s cap: up to the
        // longest a function may run.
        let limit = provisioned ? max(initTimeout, Self.provisionedInitLimit) : max(initTimeout, config.timeout)
        // Past Lambda's init phase, an on-demand init runs within its invocation's time.
        let initPhase = !provisioned && limit > initTimeout ? initTimeout : nil
        // Init began when the runtime did, not when this instance took it over (which a busy host
        // can delay by tens of milliseconds: they were missing from Init Duration).
        let began = parts.process.started
        state = .initializing
        // In the file, not in a log tail (collecting starts after it), as Lambda keeps it to CloudWatch.
        if let initStart = parts.initStart { log.line(initStart) }
        log.begin()
        process = parts.process
        cgroup = parts.cgroup
        netns = parts.netns
        pid = parts.process.pid
        peakMemory = PeakMemoryFile(parts.cgroup)
        let session = session
        let exited = exited
        exitTask = Task {
            let ended = try? await parts.process.exited()
            exited.set()
            await session.close(reason: "runtime exited")
            await self.processEnded()
            return ended
        }
        do {
            logChannel = try await log.attach(pipe: parts.logPipe, group: loop)
            logFD = parts.logPipe
            server = try await RuntimeAPIServer.start(listeningSocket: parts.netns.listener, session: session, group: loop)
        } catch {
            if server == nil { close(parts.netns.listener) }
            await destroy(reason: "runtime API: \(error)")
            return .platform("Sandbox.Failure", "Runtime API could not start: \(error)")
        }
        let outcome = await race(seconds: limit) { try await session.waitForInit() }
        switch outcome {
        case .value(.ready):
            _ = log.end()
            state = .idle
            initDurationMs = Self.milliseconds(ContinuousClock.now - began)
            // Provisioned instances initialise ahead of traffic: no
            // invocation reports their init (as Lambda).
            pendingInitDuration = provisioned ? nil : initDurationMs
            lastUsed = .now
            return nil
        case .value(.initError(let errorType, let body)):
            // A runtime exits after its init error (awslambdaric does, flushing what it printed).
            await keepInitOutput(grace: .milliseconds(200), began: began, initPhase: initPhase)
            await destroy(reason: "init error")
            return .function(errorType: errorType, body: body)
        case .timedOut:
            await keepInitOutput(began: began, initPhase: initPhase)
            await destroy(reason: "init timeout")
            return .platform("Sandbox.Timedout", initPhase != nil
                             ? "Task timed out after \(Self.twoDecimals(limit)) seconds"
                             : "Init timed out after \(Self.twoDecimals(limit)) seconds")
        case .failed:
            let failure = await failureAfterClose()
            await keepInitOutput(began: began, initPhase: initPhase)
            await destroy(reason: "runtime exited during init")
            return failure
        }
    }

    /// Runs one invocation. The instance is idle afterwards, or dead. With `tail`, the record
    /// carries the end of the invocation's log (`LogType: Tail`); without, nothing is collected.
    /// - Returns: nil when the instance ended before the invocation reached it (taken from its
    ///   pool, then destroyed by a delete or by its runtime's exit while idle): nothing ran.
    /// `remaining`: the time the invocation has, when less than the function's `timeout` (an init
    /// that outlasted Lambda's 10 s took the rest). Such an init is part of this invocation, as
    /// on Lambda, which runs it again within it: its time is in Duration, with no Init Duration.
    func invoke(_ invocation: Invocation, timeout: Double, remaining: Double? = nil,
                tail: Bool = true) async -> InvocationRecord? {
        guard state != .dead else { return nil }
        precondition(state == .idle, "invoke on an instance that is \(state)")
        state = .busy
        if frozen { await thaw() }
        let started = ContinuousClock.now
        let initWithin = remaining != nil ? pendingInitDuration : nil
        let initDuration = remaining != nil ? nil : pendingInitDuration
        pendingInitDuration = nil
        if tail { log.begin() }
        let platform = PlatformLog(settings: config.logging)
        let start = platform.start(requestId: invocation.requestId, version: version.version)
        if let start { log.lineWithNext(start) }
        // The session keeps the deadline on the loop that serves it: nothing to schedule or cancel
        // per invocation, and no other thread to wake.
        let deadline = NIODeadline.now() + .nanoseconds(Int64(max(0, remaining ?? timeout) * 1e9))
        let outcome: Result<InvocationOutcome, any Error>
        do {
            outcome = .success(try await session.invoke(invocation, deadline: deadline, on: loop))
        } catch {
            outcome = .failure(error)
        }
        if case .failure(RuntimeSessionError.notDelivered(let reason)) = outcome {
            // The runtime ended before any `/next` took the event (it answered the one before and
            // exited), or did not ask for it within the last invocation's timeout: the event never
            // reached it. No START for it here; the caller runs it on another instance.
            if let start { log.withdraw(start) }
            if reason == RuntimeSession.overstayReason, let previous = session.lastAnswered {
                logOverstay(previous.requestId)
            }
            _ = log.end()
            await destroy(reason: deathReason ?? "the runtime exited")
            return nil
        }
        let duration = Self.milliseconds(ContinuousClock.now - started) + (initWithin ?? 0)
        var result: Result<InvocationOutcome, InvocationFailure>
        switch outcome {
        case .success(let value):
            result = .success(value)
        case .failure(RuntimeSessionError.timedOut):
            await kill(reason: "timeout")
            result = .failure(.platform("Sandbox.Timedout", "Task timed out after \(Self.twoDecimals(timeout)) seconds"))
        case .failure(RuntimeSessionError.truncated(let what)):
            // The runtime cut its answer short and lives on: reset, as after a timeout.
            await kill(reason: "truncated response")
            result = .failure(.platform("Runtime.TruncatedResponse", what))
        case .failure:
            result = .failure(await failureAfterClose())
        }
        drainLog()
        let status = failureLine(result, requestId: invocation.requestId)
        let peak = peakMemory.read() ?? ((try? cgroup?.peakMemoryBytes()) ?? nil)
        if let end = platform.end(requestId: invocation.requestId, duration: duration, memory: config.memorySize,
                                  peakBytes: peak, initDuration: initDuration, status: status) {
            log.line(end)
        }
        let tail = log.end()
        lastUsed = .now
        if case .failure = result {
            await destroy(reason: deathReason ?? "invocation failed")
        } else if state == .busy {
            state = .idle
        }
        return InvocationRecord(result: result, durationMs: duration, initDurationMs: initDuration, logTail: tail)
    }

    /// Logs Warren's own failure of an invocation as Lambda does, before END: `Task timed out
    /// after …` (with the time and request id), or `RequestId: … Error: …` and the error type.
    /// - Returns: What REPORT says: a timeout, or an error and its type; a success for a success
    ///   or an error the function reported itself.
    private func failureLine(_ result: Result<InvocationOutcome, InvocationFailure>, requestId: String) -> RunStatus {
        guard case .failure(.platform(let type, let message)) = result else { return .success }
        if type == "Sandbox.Timedout" {
            log.line("\(Self.logTimestamp()) \(requestId) \(message)")
            return .timeout
        }
        log.line("RequestId: \(requestId) Error: \(message)\n\(type)")
        return .error(type)
    }

    /// Freezes the instance once it has been idle for `delay`, its runtime
    /// parked in `/next`. An instance in steady use is never frozen: each
    /// invocation moves `lastUsed` on.
    ///
    /// One timer on the instance's loop at a time: while one is pending,
    /// arming again costs nothing; when it fires it re-arms for `lastUsed +
    /// delay` if the instance was used since. So under steady load an instance
    /// costs one timer per `delay`, not one per invocation. Nonisolated, so the
    /// pool arms it as an invocation ends without a hop to the instance: the
    /// timer is `delay` from now (the instance was just used), and what the
    /// instance is doing is looked at when it fires.
    nonisolated func armFreeze(after delay: Duration) {
        guard freezeTimerPending.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else {
            return
        }
        scheduleFreezeTimer(in: delay, delay: delay)
    }

    private nonisolated func scheduleFreezeTimer(in wait: Duration, delay: Duration) {
        let nanoseconds = wait.components.seconds * 1_000_000_000 + wait.components.attoseconds / 1_000_000_000
        loop.scheduleTask(in: .nanoseconds(max(0, nanoseconds))) {
            Task { await self.freezeTimerFired(delay: delay) }
        }
    }

    private nonisolated let freezeTimerPending = Atomic<Bool>(false)

    private func freezeTimerFired(delay: Duration) async {
        let rested = ContinuousClock.now - lastUsed
        if state == .idle, !frozen, rested < delay {
            scheduleFreezeTimer(in: delay - rested, delay: delay)  // still pending: one timer at a time
            return
        }
        // Busy, starting or dead: the pool arms again when an invocation ends. Idle long enough:
        // freeze (which looks at the state again, and at `frozen`).
        freezeTimerPending.store(false, ordering: .relaxed)
        if state == .idle { await freezeIfIdle() }
    }

    /// Freezes the instance now if it is idle, its runtime parked in `/next`.
    func freezeIfIdle() async {
        guard let cgroup else { return }
        // The runtime parks in /next just after its response: give it a moment.
        for _ in 0..<50 {
            guard state == .idle, !frozen else { return }
            if case .idle = session.currentState { break }
            try? await Task.sleep(nanoseconds: 1_000_000)
        }
        // Decided in one turn of the actor, with no suspension between the checks and `frozen`: an
        // invocation that began during an await above has made the state busy, and one that begins
        // after this turn sees `frozen` and thaws. (Checking before an await and freezing after it
        // froze a runtime in the middle of an invocation, which then timed out.)
        guard state == .idle, !frozen, case .idle = session.currentState else {
            if state == .idle, !frozen, session.currentState == .responseSent { await overstaying() }
            return
        }
        // The freezer is polled until FROZEN: on its own queue, not on a thread of the cooperative
        // pool. A dispatch that arrives meanwhile thaws on the same queue, so after the freeze.
        frozen = true
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Self.freezerQueue.async {
                try? cgroup.freeze()
                done.resume()
            }
        }
    }

    private static let freezerQueue = DispatchQueue(label: "warren.freezer")

    private func logOverstay(_ requestId: String) {
        log.line("RequestId: \(requestId) Error: Runtime did not ask for its next event within the function's "
                 + "timeout after its response; the environment is reset")
    }

    /// The runtime has answered but not asked for its next event. As on Lambda, the invocation's
    /// timeout runs until it does: past it the instance is reset. Before, such a runtime ran on
    /// unfrozen until the idle reclaim (a spinning one used 219 CPU-seconds in 240 s after a
    /// 4 ms invocation), and the next invocation given it waited out its own timeout.
    private func overstaying() async {
        guard let (requestId, deadline) = session.lastAnswered else { return }
        if NIODeadline.now() >= deadline {
            logOverstay(requestId)
            await destroy(reason: RuntimeSession.overstayReason)
        } else if freezeTimerPending.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged {
            // Looked at again at the deadline (or frozen then, if the runtime has asked by then).
            loop.scheduleTask(deadline: deadline) { Task { await self.freezeTimerFired(delay: .zero) } }
        }
    }

    /// Thaws on the freezer's queue, so it always follows a freeze in flight.
    private func thaw() async {
        guard let cgroup else { return }
        let thawed = await withCheckedContinuation { (done: CheckedContinuation<Bool, Never>) in
            Self.freezerQueue.async { done.resume(returning: (try? cgroup.thaw()) != nil) }
        }
        if thawed { frozen = false }
    }

    /// Kills the process tree (the exit task then closes the session).
    private func kill(reason: String) async {
        deathReason = deathReason ?? reason
        if let cgroup { await Self.offLoop { try? cgroup.killAll() } }
    }

    /// Runs blocking cgroup work (kill-all and removal poll the kernel) on
    /// the freezer's queue: never on the event loop this actor runs on.
    private static func offLoop(_ work: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            freezerQueue.async {
                work()
                done.resume()
            }
        }
    }

    /// Ends the instance: kill, reap, remove its cgroup, close its listener,
    /// namespace and log pipe. Idempotent.
    func destroy(reason: String, awaitExit: Bool = true) async {
        guard state != .dead else { return }
        state = .dead
        dead.set()
        deathReason = deathReason ?? reason
        await session.close(reason: reason)
        if frozen { await thaw() }
        if let process {
            process.signal(SIGKILL)
            if let cgroup { await Self.offLoop { try? cgroup.killAll() } }
        }
        if awaitExit { _ = await exitTask?.value }
        await server?.shutdown()
        // What the runtime printed last, up to its end: a line without a newline was held back.
        drainLog()
        log.endPartialLine()
        try? await logChannel?.close()
        logFD = -1
        peakMemory.close()
        if let cgroup { await Self.offLoop { try? cgroup.remove() } }
        if let netns { close(netns.fd) }
        netns = nil
        process = nil
    }

    /// Readable without a hop to the instance: pools check it on every dispatch.
    nonisolated var isDead: Bool { dead.isSet }
    private nonisolated let dead = Flag()

    func setUID(_ uid: UInt32) { self.uid = uid }

    /// The process tree ended on its own while idle (killed from outside,
    /// crashed after its response): the instance is dead. While busy or
    /// initializing, the invocation or init path does this itself.
    private func processEnded() async {
        if state == .idle { await destroy(reason: "runtime exited while idle", awaitExit: false) }
    }

    /// After the session closed: the runtime's own end, or why Warren ended it.
    private func failureAfterClose() async -> InvocationFailure {
        if let deathReason { return .platform("Sandbox.Failure", "instance destroyed: \(deathReason)") }
        return Self.exitFailure(await exitTask?.value)
    }

    /// How long a provisioned instance's init may take: 15 minutes, Lambda's longest timeout.
    static let provisionedInitLimit: Double = 900

    /// Keeps what the runtime printed during a failed init, once the pipe has given it up; waits
    /// up to `grace` first for the runtime to exit on its own, and so to flush its output.
    /// `initPhase`: the seconds of Lambda's init phase, when the init could run on beyond it.
    private func keepInitOutput(grace: Duration = .zero, began: ContinuousClock.Instant, initPhase: Double?) async {
        let end = ContinuousClock.now + grace
        while !exited.isSet, ContinuousClock.now < end { try? await Task.sleep(for: .milliseconds(5)) }
        drainLog()
        log.endPartialLine()
        initOutput = log.end()
        let durationMs = Self.milliseconds(ContinuousClock.now - began)
        failedInit = FailedInit(durationMs: durationMs,
                                peakBytes: peakMemory.read() ?? ((try? cgroup?.peakMemoryBytes()) ?? nil),
                                inInvokePhase: initPhase.map { durationMs > $0 * 1000 } ?? false)
    }

    /// Reads what the runtime's pipe still holds into the log, here and now: what a handler
    /// printed before its response belongs before END, and it is in the pipe by then, but the
    /// log reader may not have had its turn (12 KB printed by a fresh instance: 11 of 64
    /// invocations lost their last lines past END when the reader was given turns instead).
    ///
    /// This actor runs on the loop that serves the pipe's channel, so nothing reads it meanwhile,
    /// and everything the channel read has reached the log. The channel is checked open first:
    /// once closed, its descriptor's number may be another's. At most ``maxDrained`` bytes, so a
    /// runtime that keeps printing does not keep the invocation from ending.
    private func drainLog() {
        guard let logChannel, logFD >= 0, logChannel.eventLoop.inEventLoop, logChannel.isActive else { return }
        var drained = 0
        while drained < Self.maxDrained {
            var available: Int32 = 0
            guard ioctl(logFD, UInt(FIONREAD), &available) == 0, available > 0 else { return }
            let want = min(Int(available), Self.maxDrained - drained)
            var bytes = [UInt8](repeating: 0, count: want)
            let got = bytes.withUnsafeMutableBytes { read(logFD, $0.baseAddress, want) }
            guard got > 0 else { return }
            if got < want { bytes.removeLast(want - got) }
            log.write(bytes)
            drained += got
        }
    }

    /// The most ``drainLog()`` reads at the end of one invocation.
    static let maxDrained = 1 << 20

    /// Bytes the cgroup uses now (nil once the instance is gone).
    func currentMemoryBytes() -> UInt64? {
        (try? cgroup?.currentMemoryBytes()) ?? nil
    }
}
