import Foundation
import Glibc
import NIOCore
import NIOPosix
import Synchronization
import WarrenRuntimeAPI
import WarrenSandbox

extension Supervisor {
    /// Largest synchronous payload (Invoke API).
    static let maxSyncPayload = 6_291_456
    /// Largest asynchronous payload.
    static let maxEventPayload = 1_048_576

    /// Invokes a function the way Lambda's Invoke does. `requestId` lets an
    /// async event keep its id across retries; a new one is made otherwise.
    /// - Throws: `SupervisorError`: not found, too large, or throttled
    ///   (`TooManyRequestsException` with the Lambda `Reason`).
    /// With a `stream` (RequestResponse only), the caller is told when the invocation starts and
    /// gets a response the runtime streams as it arrives; the result then carries no payload.
    public nonisolated func invoke(
        _ name: String, qualifier: String? = nil, payload: [UInt8], type: InvocationType = .requestResponse,
        logTail: Bool = false, clientContext: String? = nil, requestId: String? = nil, stream: ResponseStream? = nil
    ) async throws -> InvokeResult {
        // The caller's loop, read here, before the hop to the supervisor: the actor's code runs on
        // whichever loop drains it, which under contention is not the one that read the request.
        try await invoke(name, qualifier: qualifier, payload: payload, type: type, logTail: logTail,
                         clientContext: clientContext, requestId: requestId, stream: stream, near: localLoop())
    }

    private func invoke(
        _ name: String, qualifier: String?, payload: [UInt8], type: InvocationType, logTail: Bool,
        clientContext: String?, requestId: String?, stream: ResponseStream?, near here: (any EventLoop)?
    ) async throws -> InvokeResult {
        guard !shuttingDown else { throw SupervisorError(.serviceException, "Warren is shutting down") }
        guard let record = functions[name] else { throw notFound(name) }
        let ids = Self.invocationIds()
        let version = try resolve(record, name: name, qualifier: qualifier, roll: ids.roll)
        let limit = type == .event ? Self.maxEventPayload : Self.maxSyncPayload
        guard payload.count <= limit else {
            throw SupervisorError(.requestTooLarge, type == .event
                ? "\(payload.count) byte payload is too large for the Event invocation type (limit \(limit) bytes)"
                : "Request must be smaller than \(limit) bytes for the InvokeFunction operation")
        }
        let requestId = requestId ?? ids.requestId
        switch type {
        case .dryRun:
            return InvokeResult(statusCode: 204, payload: [], executedVersion: version, requestId: requestId)
        case .event:
            Task {
                _ = try? await self.run(name, version: version, qualifier: qualifier, payload: payload,
                                        requestId: requestId, traceId: ids.traceId, logTail: false,
                                        clientContext: nil, near: here)
            }
            return InvokeResult(statusCode: 202, payload: [], executedVersion: version, requestId: requestId)
        case .requestResponse:
            return try await run(name, version: version, qualifier: qualifier, payload: payload,
                                 requestId: requestId, traceId: ids.traceId, logTail: logTail,
                                 clientContext: clientContext, stream: stream, near: here)
        }
    }

    /// Admission, an instance (warm or new, preferably served by `here`), the invocation, the
    /// instance back.
    func run(
        _ name: String, version: String, qualifier: String?, payload: [UInt8], requestId: String,
        traceId: String, logTail: Bool, clientContext: String?, stream: ResponseStream? = nil,
        near here: (any EventLoop)?
    ) async throws -> InvokeResult {
        guard var record = functions[name] else { throw notFound(name) }
        var config = version == FunctionVersion.latest ? record.latest : record.versions[version]!
        let lease = try admission.lease(name, version: version, memoryMB: config.memorySize)
        defer { admission.release(lease) }
        let fv = FunctionVersion(name, version)
        var pool = pool(for: fv)
        let provisioned = lease.kind == .provisioned
        // An instance can end between leaving its pool and the invocation reaching it (a delete,
        // its runtime's exit while idle or before its next `/next`), and an update can retire the
        // pool an instance was starting for: another is taken or started, a few times, with the
        // configuration of now.
        for attempt in 0..<8 {
            if attempt > 0 {
                guard !shuttingDown else { throw SupervisorError(.serviceException, "Warren is shutting down") }
                guard let now = functions[name] else { throw notFound(name) }
                guard let current = version == FunctionVersion.latest ? now.latest : now.versions[version] else {
                    throw SupervisorError(.resourceNotFound, "Function not found: \(arn(name, version))")
                }
                (record, config, pool) = (now, current, self.pool(for: fv))
            }
            let instance: Instance
            var remaining: Double?
            if let idle = await takeIdle(pool, provisioned: provisioned, near: here, memoryMB: config.memorySize) {
                instance = idle
            } else {
                guard await makeRoom(config.memorySize) else {
                    throw SupervisorError(.tooManyRequests, "Rate Exceeded.", reason: "ConcurrentInvocationLimitExceeded")
                }
                switch await startInstance(fv, config: config, provisioned: provisioned, pool: pool, loop: here) {
                case .success(let started):
                    instance = started
                    // An init that outlasted Lambda's 10 s is run within this invocation there: what
                    // it took is taken from the invocation's timeout.
                    let initSeconds = (await started.initDurationMs ?? 0) / 1000
                    if initSeconds > configuration.initTimeout { remaining = max(0.001, config.timeout - initSeconds) }
                case .failure where !shuttingDown && functions[name] != nil && pools[fv] !== pool:
                    continue  // retired by an update while it started: start one of the new configuration
                case .failure(let failure):
                    return failed(failure.failure, requestId: requestId, version: version, log: record.log,
                                  logTail: logTail, initOutput: failure.initOutput, initRun: failure.initRun,
                                  config: config)
                }
            }
            let invocation = Invocation(
                requestId: requestId, payload: payload, contentType: "application/json",
                deadlineMs: Int64(Date().timeIntervalSince1970 * 1000 + (remaining ?? config.timeout) * 1000),
                invokedFunctionArn: qualifier.map { arn(name, $0) } ?? record.arn, traceId: traceId,
                clientContext: clientContext, stream: stream)
            stream?.start(executedVersion: version, requestId: requestId)
            let ran = await instance.invoke(invocation, timeout: config.timeout, remaining: remaining, tail: logTail)
            await keepOrDestroy(instance, pool: pool, fv: fv)
            if let ran { return result(ran, requestId: requestId, version: version, logTail: logTail) }
        }
        return failed(.platform("Sandbox.Failure", "every instance ended before the invocation reached it"),
                      requestId: requestId, version: version, log: record.log, logTail: logTail, config: config)
    }

    /// A warm instance for an invocation whose request was read on `loop`: one served by that
    /// loop, else one served by another loop, except that (on demand, while the memory budget
    /// has room and another of the pool's instances is busy) none is taken while `loop` serves
    /// fewer of the pool's instances than that one's loop: the caller starts one on `loop`. An
    /// instance on another loop costs each of its invocations two wake-ups of another thread
    /// (the delivery and the answer); under concurrent load this keeps the instances spread as
    /// the connections are, without starting more than the loops are short of. Calls that come
    /// one at a time reuse the warm instance wherever it is. `nil`: start one (the caller makes
    /// room).
    private func takeIdle(_ pool: InstancePool, provisioned: Bool, near loop: (any EventLoop)?,
                          memoryMB: Int) async -> Instance? {
        let balance = loop != nil && !provisioned && admission.canClaimMemory(memoryMB)
        return await pool.takeIdle(provisioned: provisioned, near: loop, balance: balance)
    }

    private func result(_ record: InvocationRecord, requestId: String, version: String, logTail: Bool) -> InvokeResult {
        var result = InvokeResult(statusCode: 200, payload: [], executedVersion: version, requestId: requestId,
                                  logTail: logTail ? Data(record.logTail).base64EncodedString() : nil)
        result.durationMs = record.durationMs
        result.initDurationMs = record.initDurationMs
        switch record.result {
        case .success(.response(let body, let contentType)):
            result.payload = body
            result.contentType = contentType
        case .success(.error(let errorType, let body)):
            result.payload = InvocationFailure.function(errorType: errorType, body: body).payload(requestId: requestId)
            result.functionError = "Unhandled"
            result.errorType = errorType ?? "Runtime.Unknown"
        case .success(.responseTooLarge):
            result.payload = InvocationFailure.json([
                "errorType": "Function.ResponseSizeTooLarge",
                "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
            ])
            result.functionError = "Unhandled"
            result.errorType = "Function.ResponseSizeTooLarge"
        case .failure(let failure):
            result.payload = failure.payload(requestId: requestId)
            result.functionError = "Unhandled"
            result.errorType = failure.errorType
        }
        return result
    }

    /// A cold start that failed before the invocation reached the runtime. The log tail holds what
    /// the runtime printed during its init (a traceback, say), as the file does before START.
    /// With `initRun`, Lambda's `INIT_REPORT` line comes first (the init's duration, its phase,
    /// its status), and REPORT has Lambda's fields for the init that failed: its duration (billed
    /// as such), the memory size and the most it used.
    private func failed(_ failure: InvocationFailure, requestId: String, version: String, log: FunctionLog,
                        logTail: Bool, initOutput: [UInt8] = [],
                        initRun: FailedInit? = nil, config: FunctionConfig) -> InvokeResult {
        let status = RunStatus(failure)
        let platform = PlatformLog(settings: config.logging)
        let lines = [
            initRun.flatMap {
                platform.initReport(durationMs: $0.durationMs, phase: $0.inInvokePhase ? "invoke" : "init",
                                    status: status, provisioned: false)
            },
            platform.start(requestId: requestId, version: version),
            platform.end(requestId: requestId, duration: initRun?.durationMs, memory: config.memorySize,
                         peakBytes: initRun?.peakBytes, initDuration: nil, status: status),
        ].compactMap { $0 }
        let line = lines.map { $0 + "\n" }.joined()
        log.append(Array(line.utf8))
        let tail = logTail ? Data((initOutput + line.utf8).suffix(4096)).base64EncodedString() : nil
        var result = InvokeResult(statusCode: 200, payload: failure.payload(requestId: requestId),
                                  functionError: "Unhandled", executedVersion: version, requestId: requestId,
                                  logTail: tail)
        result.errorType = failure.errorType
        result.durationMs = initRun?.durationMs ?? 0
        return result
    }

    /// Claims `mb` of the memory budget for a new instance, destroying idle
    /// on-demand instances (least recently used first) while it is short.
    /// False when even that cannot free enough: the caller throttles.
    func makeRoom(_ mb: Int) async -> Bool {
        while !admission.claimMemory(mb) {
            var oldest: (Instance, InstancePool, ContinuousClock.Instant)?
            for pool in pools.values {
                guard let candidate = pool.leastRecentlyUsedIdle() else { continue }
                let used = await candidate.lastUsed
                if oldest == nil || used < oldest!.2 { oldest = (candidate, pool, used) }
            }
            guard let (victim, pool, _) = oldest, await pool.evict(victim) else { return false }
        }
        return true
    }

    func pool(for fv: FunctionVersion) -> InstancePool {
        if let pool = pools[fv] { return pool }
        let admission = admission
        let uids = uidSlots
        let pool = InstancePool(version: fv) { instance, uid in
            admission.returnMemory(instance.config.memorySize)
            if let uid { uids.give(uid) }
        }
        pools[fv] = pool
        return pool
    }

    /// The supervisor's event loop this code runs on, if it runs on one: when Swift Concurrency
    /// runs on the server's loops (`warren serve`), an invocation prefers an instance served by
    /// the loop that read its request.
    nonisolated func localLoop() -> (any EventLoop)? {
        guard let current = MultiThreadedEventLoopGroup.currentEventLoop,
            loops.contains(where: { $0 === current })
        else { return nil }
        return current
    }

    /// Starts an instance on `loop` (else the group's next) and waits until its runtime is ready.
    func startInstance(
        _ fv: FunctionVersion, config: FunctionConfig, provisioned: Bool, pool: InstancePool,
        loop: (any EventLoop)? = nil
    ) async -> Result<Instance, StartFailure> {
        guard let record = functions[fv.functionName], pools[fv] === pool else {
            admission.returnMemory(config.memorySize)  // claimed by makeRoom for this instance
            return .failure(.platform("Sandbox.Failure", "the function was deleted"))
        }
        instanceCounter += 1
        starting += 1
        defer { starting -= 1 }
        let id = "\(instancePrefix)\(instanceCounter)"
        let log = InstanceLog(record.log, logging: config.logging)
        let instance = Instance(id: id, version: fv, config: config, provisioned: provisioned, log: log,
                                loop: loop ?? group.next())
        pool.add(instance)
        guard let uid = uidSlots.take() else {
            await instance.destroy(reason: "no free uid")
            await pool.forget(instance)
            return .failure(.platform("Sandbox.Failure", "all \(UIDRange.size) uids of this server's range are in use"))
        }
        await instance.setUID(uid)
        do {
            let parts = try await spawn(id: id, uid: uid, config: config, version: fv.version, provisioned: provisioned)
            if shuttingDown || instance.isDead || pools[fv] !== pool {
                // shutdown() (or a delete) ran while this sandbox was being
                // made: nothing owns it yet, so take it down here, cgroup and all.
                await Self.discard(parts)
                await pool.forget(instance)
                return .failure(.platform("Sandbox.Failure",
                                          shuttingDown ? "Warren is shutting down" : "the function was deleted"))
            }
            if let failure = await instance.start(parts, group: group, initTimeout: configuration.initTimeout) {
                await pool.forget(instance)
                return .failure(StartFailure(failure: failure, initOutput: await instance.initOutput,
                                             initRun: await instance.failedInit))
            }
            return .success(instance)
        } catch {
            await instance.destroy(reason: "spawn failed")
            await pool.forget(instance)
            return .failure(StartFailure(failure: Self.spawnFailure(error, code: config.codeDirectory)))
        }
    }

    /// Lambda's `Runtime.InvalidEntrypoint` when the function's own program in `/var/task` cannot
    /// be run (missing, not executable, its interpreter missing, not a program), in Lambda's words;
    /// `Sandbox.Failure` for the rest, which is Warren's.
    static func spawnFailure(_ error: any Error, code: String) -> InvocationFailure {
        let task = "/var/task/"
        guard case SpawnError.childSetup(.exec, let errno, let program?) = error, program.hasPrefix(task),
              [ENOENT, EACCES, ENOEXEC, ENOTDIR, ELOOP].contains(errno) else {
            return .platform("Sandbox.Failure", "\(error)")
        }
        if errno == ENOENT, !FileManager.default.fileExists(atPath: code + "/" + program.dropFirst(task.count)) {
            return .platform("Runtime.InvalidEntrypoint", "Couldn't find valid bootstrap(s): [\(program)]")
        }
        let reason = String(cString: strerror(errno))  // "Permission denied": Lambda's is lowercase
        return .platform("Runtime.InvalidEntrypoint",
                         "fork/exec \(program): " + reason.prefix(1).lowercased() + reason.dropFirst())
    }

    /// Kills and removes a sandbox no instance adopted.
    static func discard(_ parts: Instance.Parts) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                try? parts.cgroup.killAll()
                parts.process.signal(SIGKILL)
                _ = try? parts.process.wait()
                try? parts.cgroup.remove()
                close(parts.netns.fd)
                close(parts.logPipe)
                done.resume()
            }
        }
    }

    private func spawn(id: String, uid: UInt32, config: FunctionConfig, version: String,
                       provisioned: Bool) async throws -> Instance.Parts {
        let runtime = try catalog.runtime(config.runtime)
        let cgroup = try cgroups.create(name: id, limits: CgroupLimits(
            memoryBytes: UInt64(config.memorySize) << 20, pidsMax: 1024,
            cpuWeight: max(1, min(10_000, config.memorySize * 100 / 1769))))
        do {
            let prepared = try await netns.next()
            let (logRead, logWrite) = try makePipe()
            defer { close(logWrite) }
            let env = InstanceEnvironment.make(config: config, version: version, runtime: runtime,
                                               provisioned: provisioned, region: configuration.region)
            var spec = SandboxSpec(
                argv: runtime.entrypoint, environment: env, rootfs: runtime.rootfs,
                binds: [BindMount(source: config.codeDirectory, destination: "/var/task")],
                tmpSizeMB: config.ephemeralStorage, hostname: "warren", uid: uid, gid: uid,
                seccomp: filter, cgroup: cgroup, stdin: .null, stdout: .fd(logWrite), stderr: .fd(logWrite),
                cwd: runtime.workdir, network: .namespace(fd: prepared.fd))
            // A runtime woken by its `/next` answer then waits for the loop that wrote it to block
            // (or takes the other CPU) instead of preempting it: two context switches fewer per
            // invocation on a busy host, and the loop serves its other connections meanwhile.
            spec.batchScheduling = true
            let process: SandboxProcess
            do {
                process = try await SpawnThread.shared.spawn(spec)
            } catch {
                close(prepared.fd); close(prepared.listener); close(logRead)
                throw error
            }
            let initStart = PlatformLog(settings: config.logging).initStart(
                runtime: runtime, region: configuration.region, function: config.functionName, version: version,
                provisioned: provisioned, memoryMB: config.memorySize)
            return Instance.Parts(process: process, cgroup: cgroup, netns: prepared, logPipe: logRead,
                                  initStart: initStart)
        } catch {
            try? cgroup.remove()
            throw error
        }
    }

    /// An X-Ray trace header, `Root=1-<8 hex time>-<24 hex>;Parent=<16 hex>;Sampled=0`, its 160
    /// random bits drawn from `seed` (SplitMix64): trace ids must be unique, not secret, and each
    /// draw of the system generator is a system call here.
    static func traceId(seed: UInt64) -> String {
        var state = seed
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let time = UInt64(UInt32(truncatingIfNeeded: Int(Date().timeIntervalSince1970)))
        let root = (next(), next())
        let parent = next()
        // 74 bytes written in place: one allocation, not one per piece.
        return String(unsafeUninitializedCapacity: 74) { out in
            var at = 0
            Hex.put("Root=1-", into: out, at: &at)
            Hex.put(time, digits: 8, into: out, at: &at)
            Hex.put("-", into: out, at: &at)
            Hex.put(root.0 >> 32, digits: 8, into: out, at: &at)
            Hex.put(root.1, digits: 16, into: out, at: &at)
            Hex.put(";Parent=", into: out, at: &at)
            Hex.put(parent, digits: 16, into: out, at: &at)
            Hex.put(";Sampled=0", into: out, at: &at)
            return at
        }
    }

    /// A new request id, a trace header and an alias-routing roll (uniform in 0..<1) from 32 random
    /// bytes of the kernel's generator, drawn 256 at a time (one `getentropy` per eight
    /// invocations): each draw of `SystemRandomNumberGenerator` is a system call of its own
    /// (`UUID().uuidString.lowercased()` alone took about 6 µs here). None of these is a secret;
    /// each must only be unique.
    static func invocationIds() -> (requestId: String, traceId: String, roll: Double) {
        let words = entropy.withLock { $0.next() }
        let roll = Double(words.3 >> 11) * 0x1p-53
        return (uuidString(words.0, words.1), traceId(seed: words.2), roll)
    }

    private static let entropy = Mutex(EntropyPool())

    /// A random (version 4, RFC 4122 variant) UUID from 128 random bits, in the lowercase
    /// 8-4-4-4-12 form of `UUID().uuidString.lowercased()`.
    static func uuidString(_ high: UInt64, _ low: UInt64) -> String {
        let high = high & ~0xF000 | 0x4000
        let low = low & ~(0xC000 << 48) | (0x8000 << 48)
        return String(unsafeUninitializedCapacity: 36) { out in
            var at = 0
            Hex.put(high >> 32, digits: 8, into: out, at: &at)
            Hex.put("-", into: out, at: &at)
            Hex.put(high >> 16, digits: 4, into: out, at: &at)
            Hex.put("-", into: out, at: &at)
            Hex.put(high, digits: 4, into: out, at: &at)
            Hex.put("-", into: out, at: &at)
            Hex.put(low >> 48, digits: 4, into: out, at: &at)
            Hex.put("-", into: out, at: &at)
            Hex.put(low, digits: 12, into: out, at: &at)
            return at
        }
    }
}

enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// Writes the low `count` hex digits of `value` at `at` and moves `at` past them.
    static func put(_ value: UInt64, digits count: Int, into out: UnsafeMutableBufferPointer<UInt8>, at: inout Int) {
        for i in 0..<count {
            out[at + count - 1 - i] = digits[Int((value >> (4 * UInt64(i))) & 0xF)]
        }
        at += count
    }

    /// Writes ASCII `text` at `at` and moves `at` past it.
    static func put(_ text: StaticString, into out: UnsafeMutableBufferPointer<UInt8>, at: inout Int) {
        for byte in UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount) {
            out[at] = byte
            at += 1
        }
    }
}

/// Random words from the kernel, fetched in blocks of 256 bytes (`getentropy`'s largest).
struct EntropyPool {
    private var block = [UInt64](repeating: 0, count: 32)
    private var used = 32

    /// The next 32 random bytes, as four words.
    mutating func next() -> (UInt64, UInt64, UInt64, UInt64) {
        if used == block.count {
            let filled = block.withUnsafeMutableBytes { getentropy($0.baseAddress, $0.count) == 0 }
            if !filled {  // not expected for 256 bytes; stay correct anyway
                var generator = SystemRandomNumberGenerator()
                for i in block.indices { block[i] = generator.next() }
            }
            used = 0
        }
        defer { used += 4 }
        return (block[used], block[used + 1], block[used + 2], block[used + 3])
    }
}
