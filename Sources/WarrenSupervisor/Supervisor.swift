import Foundation
import Synchronization
import NIOCore
import NIOPosix
import WarrenPolicy
import WarrenSandbox

/// Warren's supervisor: functions, versions and aliases, their instance
/// pools, admission control and invocation. The in-process API the REST
/// layer sits on.
public actor Supervisor {
    public struct Configuration: Sendable {
        /// Holds `rootfs/` and `policies/`.
        public var home: String
        /// Logs go to `<stateDirectory>/logs/<function>.log`.
        public var stateDirectory: String
        public var admission: Admission.Settings
        public var region: String = "us-east-1"
        /// Idle on-demand instances are destroyed after this long unused.
        public var idleTimeout: Duration = .seconds(300)
        /// Every instance is destroyed (provisioned ones replaced) after this.
        public var maxLifetime: Duration = .seconds(4 * 3600)
        /// Freeze idle instances with the cgroup freezer.
        public var freezeIdle = true
        /// How long an instance stays idle before it is frozen. Busy
        /// instances then never pay a freeze and a thaw per invocation.
        public var freezeAfter: Duration = .milliseconds(100)
        /// Lambda's init phase: 10 s. An init that takes longer goes on, up to the function's
        /// timeout, as Lambda re-runs it within the first invocation; the time it took beyond this
        /// is then taken from that invocation's timeout.
        public var initTimeout: Double = 10
        /// The seccomp policy every instance gets.
        public var policyPath: String?
        /// Event loops for the instances' Runtime API and log pipes; nil
        /// makes one thread of the supervisor's own. A group given here
        /// (e.g. the HTTP server's) is shared and not shut down.
        public var eventLoopGroup: MultiThreadedEventLoopGroup?
        /// Namespaces kept ready ahead of cold starts.
        public var preparedNamespaces = 4
        /// A function's log file is rotated (to `<function>.log.1`) when it reaches this size.
        public var maxLogBytes = FunctionLog.defaultMaxBytes

        public init(home: String, stateDirectory: String, admission: Admission.Settings = .init()) {
            self.home = home
            self.stateDirectory = stateDirectory
            self.admission = admission
        }
    }

    struct FunctionRecord {
        var latest: FunctionConfig
        var versions: [String: FunctionConfig] = [:]
        var nextVersion = 1
        var aliases: [String: Alias] = [:]
        /// Requested provisioned concurrency per version.
        var provisioned: [String: Int] = [:]
        var log: FunctionLog
        /// The unqualified ARN, made once: every invocation hands an ARN to its runtime.
        var arn: String
    }

    public let configuration: Configuration
    /// ``configuration`` without an actor hop: it never changes after `init`.
    public nonisolated var fixedConfiguration: Configuration { configuration }
    public nonisolated let admission: Admission
    let catalog: RuntimeCatalog
    let filter: CompiledFilter
    let cgroups: any CgroupBackend
    let netns: NetnsPool
    let group: MultiThreadedEventLoopGroup
    /// The group's loops, to recognise the one a caller runs on.
    let loops: [any EventLoop]
    var functions: [String: FunctionRecord] = [:]
    var pools: [FunctionVersion: InstancePool] = [:]
    /// Pools taken out of ``pools`` with invocations still running in them (a changed
    /// configuration): kept until those end, so shutdown and `warren instances` still see them.
    var retired: [InstancePool] = []
    let uidSlots: UIDSlots
    var instanceCounter = 0
    /// Names of this supervisor's instance cgroups start with it:
    /// `i-<pid>-<token>-`; the pid lets a later supervisor sweep them.
    public nonisolated let instancePrefix = "\(Supervisor.cgroupPrefix)\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))-"
    var shuttingDown = false
    /// Instances being spawned or initialized right now.
    var starting = 0
    private var reclaimer: Task<Void, Never>?
    /// The provisioned-concurrency pass running now, if any.
    var replenishing: Task<Void, Never>?
    /// Provisioned instances of a version whose init failed in a row: at
    /// ``provisionedInitAttempts`` its configuration is FAILED and no more are started until it
    /// is set again.
    var provisionedInitFailures: [FunctionVersion: Int] = [:]
    /// Versions whose provisioned concurrency has been READY since it was last set: it stays READY
    /// while an instance that ended (a crash, its lifetime) is replaced, as on Lambda.
    var provisionedReached: Set<FunctionVersion> = []

    /// Loads the policy, probes cgroups, sweeps what a crashed supervisor
    /// left, and starts the namespace pool and the reclaimer.
    public init(_ configuration: Configuration) throws {
        self.configuration = configuration
        admission = Admission(configuration.admission)
        catalog = RuntimeCatalog(home: configuration.home)
        let policyPath = configuration.policyPath ?? configuration.home + "/policies/default.json"
        let policy = try PolicyFile.load(path: policyPath)
        guard policy.warren.network != .none else {
            throw PolicyError(file: policyPath, location: "warren.network",
                              message: "\"none\" leaves instances no loopback for the Runtime API; functions need \"loopback\"")
        }
        filter = try SeccompCompiler.compile(policy)
        cgroups = try CgroupProbe.detect()
        // The instances of a server that is gone go first: frozen, they outlive it, with uids of
        // the range it held, which this one may lease.
        Self.sweep(cgroups)
        uidSlots = UIDSlots(range: try UIDRange.lease())
        netns = NetnsPool(target: configuration.preparedNamespaces, listenPort: 9001)
        group = configuration.eventLoopGroup ?? MultiThreadedEventLoopGroup(numberOfThreads: 1)
        loops = Array(group.makeIterator())
    }

    /// Prefix of instance cgroups: `i-<supervisor pid>-<n>`.
    static let cgroupPrefix = "i-"

    /// Kills and removes instance cgroups whose supervisor is gone.
    package static func sweep(_ backend: any CgroupBackend) {
        CgroupSweep.removeOrphans(backend, prefix: cgroupPrefix)
    }

    /// Starts the periodic reclaim of idle and old instances.
    public func startReclaimer(every interval: Duration = .seconds(5)) {
        guard reclaimer == nil else { return }
        reclaimer = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                await self?.reclaim()
            }
        }
    }

    /// One reclaim pass; returns how many instances ended.
    @discardableResult
    public func reclaim() async -> Int {
        var ended = 0
        for pool in pools.values {
            ended += await pool.reclaim(idleFor: configuration.idleTimeout, maxLifetime: configuration.maxLifetime)
        }
        await replenishProvisioned()
        return ended
    }

    /// Stops admitting, destroys every instance (SIGKILL of each cgroup),
    /// removes their cgroups.
    public func shutdown() async {
        shuttingDown = true
        reclaimer?.cancel()
        for pool in Array(pools.values) + retired { await pool.destroyAll(reason: "shutdown") }
        // A start that was spawning sees shuttingDown and discards its
        // sandbox; one initializing was destroyed above and fails at once.
        while starting > 0 { try? await Task.sleep(for: .milliseconds(2)) }
        for pool in Array(pools.values) + retired { await pool.destroyAll(reason: "shutdown") }
        pools.removeAll()
        retired.removeAll()
        if configuration.eventLoopGroup == nil { try? await group.shutdownGracefully() }
    }

    // MARK: functions

    public func createFunction(_ config: FunctionConfig) throws {
        guard functions[config.functionName] == nil else {
            throw SupervisorError(.resourceConflict, "Function already exist: \(config.functionName)")
        }
        try validate(config)
        let path = configuration.stateDirectory + "/logs/\(config.functionName).log"
        let log = try FunctionLog(path: path, maxBytes: configuration.maxLogBytes)
        functions[config.functionName] = FunctionRecord(latest: config, log: log, arn: arn(config.functionName, nil))
    }

    /// Replaces `$LATEST`'s configuration. Its instances are retired: the idle ones destroyed, the
    /// busy ones once their invocation has ended on the old configuration, as Lambda lets
    /// invocations in flight finish on the code they started with.
    public func updateFunction(_ config: FunctionConfig) async throws {
        guard functions[config.functionName] != nil else { throw notFound(config.functionName) }
        try validate(config)
        functions[config.functionName]!.latest = config
        let latest = FunctionVersion(config.functionName, FunctionVersion.latest)
        if let pool = pools.removeValue(forKey: latest) { await retire(pool, reason: "configuration changed") }
    }

    /// Takes a pool out of use: new invocations get a new one, its idle instances are destroyed,
    /// and it is kept in ``retired`` while instances of it still run.
    func retire(_ pool: InstancePool, reason: String) async {
        retired.removeAll { $0.instances.isEmpty }
        retired.append(pool)
        await pool.destroyIdle(reason: reason)
    }

    public func function(_ name: String, qualifier: String? = nil) throws -> FunctionConfig {
        guard let record = functions[name] else { throw notFound(name) }
        let version = try resolve(record, name: name, qualifier: qualifier, roll: 0)
        return version == FunctionVersion.latest ? record.latest : record.versions[version]!
    }

    public func deleteFunction(_ name: String) async throws {
        guard functions.removeValue(forKey: name) != nil else { throw notFound(name) }
        try? admission.setReserved(name, nil)
        admission.setRequestedProvisioned(name, [:])
        // A function made again under this name starts its versions at 1 again.
        provisionedInitFailures = provisionedInitFailures.filter { $0.key.functionName != name }
        provisionedReached = provisionedReached.filter { $0.functionName != name }
        for (key, pool) in pools where key.functionName == name {
            pools[key] = nil
            await pool.destroyAll(reason: "function deleted")
        }
    }

    /// Publishes `$LATEST` as version N (immutable).
    public func publishVersion(_ name: String) throws -> String {
        guard var record = functions[name] else { throw notFound(name) }
        let version = String(record.nextVersion)
        record.versions[version] = record.latest
        record.nextVersion += 1
        functions[name] = record
        return version
    }

    /// Installs a published version under its number, as the state store
    /// holds it (numbers are never reused, so they may have gaps).
    public func putVersion(_ name: String, version: String, _ config: FunctionConfig) throws {
        guard var record = functions[name] else { throw notFound(name) }
        guard let number = Int(version), number >= 1 else {
            throw SupervisorError(.invalidParameterValue, "Version must be a positive number: \(version)")
        }
        record.versions[version] = config
        record.nextVersion = max(record.nextVersion, number + 1)
        functions[name] = record
    }

    /// Forgets a published version and destroys its instances.
    public func deleteVersion(_ name: String, version: String) async throws {
        guard var record = functions[name] else { throw notFound(name) }
        record.versions[version] = nil
        record.provisioned[version] = nil
        functions[name] = record
        admission.setRequestedProvisioned(name, record.provisioned)
        admission.setProvisioned(name, version: version, 0)
        provisionedReached.remove(FunctionVersion(name, version))
        await pools.removeValue(forKey: FunctionVersion(name, version))?.destroyAll(reason: "version deleted")
    }

    /// Forgets an alias; a missing alias is not an error (Lambda answers 204).
    public func deleteAlias(_ name: String, alias: String) throws {
        guard functions[name] != nil else { throw notFound(name) }
        functions[name]!.aliases[alias] = nil
    }

    /// The versions and aliases known for a function.
    public func aliases(_ name: String) throws -> [String: Alias] {
        guard let record = functions[name] else { throw notFound(name) }
        return record.aliases
    }

    public func putAlias(_ name: String, _ alias: Alias) throws {
        guard var record = functions[name] else { throw notFound(name) }
        for version in [alias.functionVersion] + alias.additionalVersionWeights.keys
        where version != FunctionVersion.latest && record.versions[version] == nil {
            throw SupervisorError(.resourceNotFound, "Function not found: \(arn(name, version))")
        }
        guard alias.additionalVersionWeights.values.allSatisfy({ (0...1).contains($0) }),
              alias.additionalVersionWeights.values.reduce(0, +) <= 1 else {
            throw SupervisorError(.invalidParameterValue, "Alias weights must be between 0 and 1 and sum to at most 1.")
        }
        record.aliases[alias.name] = alias
        functions[name] = record
    }

    public func putFunctionConcurrency(_ name: String, _ reserved: Int?) throws {
        guard functions[name] != nil else { throw notFound(name) }
        try admission.setReserved(name, reserved)
    }

    func validate(_ config: FunctionConfig) throws {
        _ = try catalog.runtime(config.runtime)
        guard (128...10240).contains(config.memorySize) else {
            throw SupervisorError(.invalidParameterValue, "'MemorySize' value failed to satisfy constraint: Member must have value between 128 and 10240")
        }
        guard config.timeout >= 1, config.timeout <= 900 else {
            throw SupervisorError(.invalidParameterValue, "'Timeout' value failed to satisfy constraint: Member must have value between 1 and 900")
        }
        guard FileManager.default.fileExists(atPath: config.codeDirectory) else {
            throw SupervisorError(.invalidParameterValue, "code directory \(config.codeDirectory) does not exist")
        }
    }

    func notFound(_ name: String) -> SupervisorError {
        SupervisorError(.resourceNotFound, "Function not found: \(arn(name, nil))")
    }

    nonisolated func arn(_ name: String, _ qualifier: String?) -> String {
        // One interpolation each: this runs on every invocation (the runtime's Invoked-Function-Arn).
        guard let qualifier else { return "arn:aws:lambda:\(configuration.region):000000000000:function:\(name)" }
        return "arn:aws:lambda:\(configuration.region):000000000000:function:\(name):\(qualifier)"
    }

    /// The version an invocation runs: `$LATEST`, a version, or an alias's pick.
    func resolve(_ record: FunctionRecord, name: String, qualifier: String?, roll: Double) throws -> String {
        guard let qualifier, qualifier != FunctionVersion.latest else { return FunctionVersion.latest }
        if record.versions[qualifier] != nil { return qualifier }
        if let alias = record.aliases[qualifier] { return alias.pick(roll: roll) }
        throw SupervisorError(.resourceNotFound, "Function not found: \(arn(name, qualifier))")
    }
}

/// Unprivileged uids, one per live instance, so that two instances never
/// share one (DESIGN.md step 5): from a range no other Warren process holds.
final class UIDSlots: Sendable {
    private let range: UIDRange
    private let state = Mutex<(free: [UInt32], next: UInt32)>(([], 0))

    init(range: UIDRange) { self.range = range }

    /// A uid no live instance has; nil when all of the range's are in use.
    func take() -> UInt32? {
        state.withLock { s in
            if let uid = s.free.popLast() { return uid }
            guard s.next < UIDRange.size else { return nil }
            defer { s.next += 1 }
            return range.base + s.next
        }
    }

    func give(_ uid: UInt32) { state.withLock { $0.free.append(uid) } }
}
