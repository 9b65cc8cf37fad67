import Foundation

/// Provisioned concurrency of one version (or alias), as Lambda reports it.
public struct ProvisionedConcurrency: Sendable, Equatable {
    public enum Status: String, Sendable { case inProgress = "IN_PROGRESS", ready = "READY", failed = "FAILED" }
    public var requested: Int
    public var available: Int
    public var allocated: Int
    public var status: Status
    public var statusReason: String?
}

/// What runs now, for `warren instances`.
public struct InstanceInfo: Sendable {
    public var id: String
    public var functionName: String
    public var version: String
    public var state: String
    public var pid: Int32
    public var provisioned: Bool
    public var frozen: Bool
    public var ageSeconds: Double
    /// Bytes the instance's cgroup uses now, when the kernel says.
    public var memoryBytes: UInt64?
    public var memorySize: Int
}

extension Supervisor {
    /// Sets provisioned concurrency on a published version or an alias (IN_PROGRESS → READY as
    /// its instances finish init). With `wait`, returns once the instances are started; without,
    /// at once: the caller starts them with ``replenishProvisioned()`` when it is ready to wait.
    public func putProvisionedConcurrency(_ name: String, qualifier: String, _ count: Int,
                                          wait: Bool = true) async throws {
        guard var record = functions[name] else { throw notFound(name) }
        let version = try provisionedVersion(record, name: name, qualifier: qualifier)
        guard count >= 1 else { throw SupervisorError(.invalidParameterValue, "ProvisionedConcurrentExecutions must be >= 1") }
        let others = record.provisioned.filter { $0.key != version }.values.reduce(0, +)
        if let reserved = admission.reserved(name), others + count > reserved {
            throw SupervisorError(.invalidParameterValue, "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function")
        }
        record.provisioned[version] = count
        functions[name] = record
        admission.setRequestedProvisioned(name, record.provisioned)
        provisionedInitFailures[FunctionVersion(name, version)] = nil
        provisionedReached.remove(FunctionVersion(name, version))
        admission.setProvisioned(name, version: version, 0)
        await pools[FunctionVersion(name, version)]?.trimProvisioned(to: count)
        if wait { await replenishProvisioned() }
    }

    public func deleteProvisionedConcurrency(_ name: String, qualifier: String) async throws {
        guard var record = functions[name] else { throw notFound(name) }
        let version = try provisionedVersion(record, name: name, qualifier: qualifier)
        record.provisioned[version] = nil
        functions[name] = record
        admission.setRequestedProvisioned(name, record.provisioned)
        provisionedInitFailures[FunctionVersion(name, version)] = nil
        provisionedReached.remove(FunctionVersion(name, version))
        admission.setProvisioned(name, version: version, 0)
        // Idle provisioned instances go now, busy ones once their invocation ends; on-demand ones stay.
        await pools[FunctionVersion(name, version)]?.trimProvisioned(to: 0)
    }

    public func provisionedConcurrency(_ name: String, qualifier: String) async throws -> ProvisionedConcurrency? {
        guard let record = functions[name] else { throw notFound(name) }
        let version = try provisionedVersion(record, name: name, qualifier: qualifier)
        guard let requested = record.provisioned[version] else { return nil }
        let fv = FunctionVersion(name, version)
        let available = min(await readyProvisioned(fv), requested)
        if available < requested, provisionedInitFailures[fv, default: 0] >= Self.provisionedInitAttempts {
            return ProvisionedConcurrency(requested: requested, available: available, allocated: available,
                                          status: .failed, statusReason: "FUNCTION_ERROR_INIT_FAILURE")
        }
        // Once READY, it stays so while an instance that ended is replaced (Available counts what is up).
        let ready = available >= requested || provisionedReached.contains(fv)
        return ProvisionedConcurrency(requested: requested, available: available, allocated: available,
                                      status: ready ? .ready : .inProgress)
    }

    /// Inits of a version's provisioned instances that may fail in a row before its configuration
    /// is FAILED (`FUNCTION_ERROR_INIT_FAILURE`), as Lambda gives up; a pass of the reclaimer
    /// (every few seconds) tries one.
    static let provisionedInitAttempts = 6

    private func provisionedVersion(_ record: FunctionRecord, name: String, qualifier: String) throws -> String {
        if qualifier == FunctionVersion.latest {
            throw SupervisorError(.invalidParameterValue, "Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
        }
        if record.versions[qualifier] != nil { return qualifier }
        if let alias = record.aliases[qualifier] {
            guard alias.additionalVersionWeights.isEmpty else {
                throw SupervisorError(.resourceConflict, "Alias with weights can not be used with Provisioned Concurrency")
            }
            return alias.functionVersion
        }
        throw SupervisorError(.resourceNotFound, "Function not found: \(arn(name, qualifier))")
    }

    /// Starts the provisioned instances that are missing (first start, or
    /// replacements of ones that died or aged out) and marks them ready.
    ///
    /// One pass at a time, in call order: each pass first waits for the one
    /// before it (a put and the reclaimer's pass would otherwise both start
    /// the missing instances). The function may change or go while instances
    /// start: each start re-reads what is wanted.
    ///
    /// Chained, never polled: a waiter looping on `replenishing` would spin on
    /// the actor once the pass ended (awaiting a finished task does not
    /// suspend), before the pass's owner could clear it.
    public func replenishProvisioned() async {
        let previous = replenishing
        let pass = Task {
            await previous?.value
            await self.replenishOnce()
        }
        replenishing = pass
        await pass.value
        if replenishing == pass { replenishing = nil }
    }

    private func replenishOnce() async {
        for (name, record) in functions {
            for version in record.provisioned.keys {
                let fv = FunctionVersion(name, version)
                while !shuttingDown {
                    // Re-read after every await: a delete or a new count may have come in between.
                    guard let current = functions[name], let requested = current.provisioned[version] else { break }
                    // Instances starting are in their pool already: the missing ones start now, a
                    // few at once (as Lambda allocates them side by side; one by one, ten 8 s inits
                    // took 80 s).
                    let missing = requested - pool(for: fv).provisionedCount
                    guard missing > 0 else { break }
                    let batch = min(missing, Self.provisionedStartsAtOnce)
                    let started = await withTaskGroup(of: Bool.self) { group in
                        for _ in 0..<batch { group.addTask { await self.startProvisioned(fv) } }
                        var kept = 0
                        for await one in group where one { kept += 1 }
                        return kept
                    }
                    if started < batch { break }  // no room, a failed init, or a change: the next pass
                }
                countProvisioned(fv)
                await noteIfReady(fv)
            }
        }
    }

    /// Provisioned instances of one version started at once.
    static let provisionedStartsAtOnce = 4

    /// Starts one provisioned instance of `fv` if it is still wanted and room can be made; true if
    /// one was started and kept.
    private func startProvisioned(_ fv: FunctionVersion) async -> Bool {
        guard !shuttingDown, let current = functions[fv.functionName], current.provisioned[fv.version] != nil,
              provisionedInitFailures[fv, default: 0] < Self.provisionedInitAttempts else { return false }
        let config = current.versions[fv.version] ?? current.latest
        let pool = pool(for: fv)
        guard await makeRoom(config.memorySize) else { return false }
        let started = await startInstance(fv, config: config, provisioned: true, pool: pool)
        guard case .success(let instance) = started else {
            // The function's own init failing counts (an error, a crash, a timeout); Warren's
            // failures (a delete meanwhile, no uid free) do not.
            if case .failure(let failed) = started, failed.failure.errorType != "Sandbox.Failure",
               functions[fv.functionName]?.provisioned[fv.version] != nil {
                provisionedInitFailures[fv, default: 0] += 1
            }
            // Lambda's INIT_REPORT ends what the failed init printed, as for an init on demand.
            if case .failure(let failed) = started, let run = failed.initRun,
               let line = PlatformLog(settings: config.logging).initReport(
                   durationMs: run.durationMs, phase: "init", status: RunStatus(failed.failure), provisioned: true) {
                current.log.append(Array((line + "\n").utf8))
            }
            return false
        }
        provisionedInitFailures[fv] = nil
        await keepOrDestroy(instance, pool: pool, fv: fv)
        // Counted as each instance is kept, not at the end of the pass: READY follows this count,
        // and an invoke after READY must get a provisioned lease.
        countProvisioned(fv)
        await noteIfReady(fv)
        return !instance.isDead
    }

    /// Latches READY for `fv` once as many of its provisioned instances finished init as are set.
    private func noteIfReady(_ fv: FunctionVersion) async {
        guard let requested = functions[fv.functionName]?.provisioned[fv.version],
              await readyProvisioned(fv) >= requested,
              functions[fv.functionName]?.provisioned[fv.version] == requested else { return }
        provisionedReached.insert(fv)
    }

    /// Tells admission how many provisioned instances of `fv` are up (at most the requested count).
    private func countProvisioned(_ fv: FunctionVersion) {
        guard let requested = functions[fv.functionName]?.provisioned[fv.version] else { return }
        admission.setProvisioned(fv.functionName, version: fv.version, min(pool(for: fv).provisionedCount, requested))
    }

    /// Returns an instance to its pool after an invocation or a start, or
    /// destroys it when its pool is no longer the version's (the function
    /// was deleted meanwhile: an orphaned pool is seen by no reclaim and no
    /// shutdown) or it is a provisioned instance no longer wanted (its
    /// configuration removed or its count lowered meanwhile).
    func keepOrDestroy(_ instance: Instance, pool: InstancePool, fv: FunctionVersion) async {
        var wanted = true
        if instance.provisioned {
            // Still configured, and not beyond the count (which may have been lowered meanwhile).
            let requested = functions[fv.functionName]?.provisioned[fv.version] ?? 0
            wanted = pool.provisionedCount <= requested
        }
        let current = pools[fv] === pool
        if current, !shuttingDown, wanted {
            await pool.putBack(instance, freeze: configuration.freezeIdle, after: configuration.freezeAfter)
        } else {
            let reason = !current ? "configuration changed or deleted" : shuttingDown ? "shutting down"
                : "provisioned concurrency lowered"
            await instance.destroy(reason: reason)
            await pool.forget(instance)
        }
    }

    /// Provisioned instances that finished init (idle or busy) and that
    /// admission counts (they are in their pool, taking invocations): what
    /// Lambda counts as available. Ones still starting do not count.
    func readyProvisioned(_ fv: FunctionVersion) async -> Int {
        guard let pool = pools[fv] else { return 0 }
        var ready = 0
        for instance in pool.instances where instance.provisioned {
            switch await instance.state {
            case .idle, .busy: ready += 1
            default: break
            }
        }
        return min(ready, admission.provisioned(fv.functionName, version: fv.version))
    }

    /// Every instance, for `warren instances`.
    public func instances() async -> [InstanceInfo] {
        var infos: [InstanceInfo] = []
        for pool in Array(pools.values) + retired {
            for instance in pool.instances {
                let state = await instance.state
                infos.append(InstanceInfo(
                    id: instance.id, functionName: instance.version.functionName, version: instance.version.version,
                    state: "\(state)", pid: await instance.pid, provisioned: instance.provisioned,
                    frozen: await instance.frozen,
                    ageSeconds: Instance.milliseconds(ContinuousClock.now - instance.createdAt) / 1000,
                    memoryBytes: await instance.currentMemoryBytes(), memorySize: instance.config.memorySize))
            }
        }
        return infos.sorted { $0.id < $1.id }
    }
}
