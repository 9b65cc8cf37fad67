import Foundation
import Synchronization
import WarrenStore
import WarrenSupervisor

/// One synchronous invocation as the metrics see it: which function, how it
/// ended and how long the API waited for it.
public struct InvocationMetric: Sendable {
    /// The function's name.
    public var function: String
    /// The qualifier the caller gave (`nil`: `$LATEST`).
    public var qualifier: String?
    /// Set when the invocation ran (it may still have failed in the function).
    public var result: InvokeResult?
    /// Set when Warren refused it (throttle, not found, …).
    public var error: SupervisorError?
    /// Wall-clock seconds from admission to answer.
    public var seconds: Double
}

/// Warren's Lambda service: the operations of the REST API over the state
/// store (the truth) and the supervisor (an in-memory mirror that runs
/// instances).
///
/// Every mutation writes the store first, then mirrors into the
/// supervisor, one mutation at a time, so the two never see changes in a
/// different order. ``load()`` mirrors the whole store at start-up.
/// Invocations go straight to the supervisor and are never serialized.
public final class LambdaService: Sendable {
    /// The state store: functions, versions, aliases, settings, the async queue.
    public let store: any StateStore
    /// Extracted code, `<stateDir>/code/<sha256>/`.
    public let code: CodeStore
    /// Runs the instances.
    public let supervisor: Supervisor
    let arn: LambdaARN
    let catalog: RuntimeCatalog
    /// Where the supervisor writes `<function>.log`.
    let logDirectory: URL
    let mutations = MutationLock()
    private let hooks = Mutex(Hooks())
    /// Why a provisioned-concurrency mirror failed, per `function:qualifier`.
    let provisionedFailures = Mutex<[String: String]>([:])

    private struct Hooks {
        var onEnqueue: (@Sendable () -> Void)?
        var onInvoke: InvokeHook?
        var onCapacityChange: (@Sendable () -> Void)?
        var presign: (@Sendable (_ path: String, _ host: String) -> String)?
    }

    /// Opens (creating) the SQLite store in `stateDirectory`.
    /// - Parameters:
    ///   - stateDirectory: Holds `warren.db` and `code/`.
    ///   - supervisor: The supervisor this service mirrors into; the service owns it from now on.
    ///   - account: Account id in ARNs.
    /// - Throws: If the store cannot be opened.
    public convenience init(stateDirectory: URL, supervisor: Supervisor, account: String = "000000000000") throws {
        let region = supervisor.fixedConfiguration.region
        let store = try SQLiteStore(directory: stateDirectory, region: region, account: account)
        self.init(store: store, code: store.code, supervisor: supervisor, account: account)
    }

    /// - Parameters:
    ///   - store: The state store.
    ///   - code: Where the store's code artifacts live.
    ///   - supervisor: The supervisor to mirror into.
    ///   - account: Account id in ARNs.
    public init(store: any StateStore, code: CodeStore, supervisor: Supervisor, account: String = "000000000000") {
        let configuration = supervisor.fixedConfiguration
        self.store = store
        self.code = code
        self.supervisor = supervisor
        arn = LambdaARN(region: configuration.region, account: account)
        catalog = RuntimeCatalog(home: configuration.home)
        logDirectory = URL(fileURLWithPath: configuration.stateDirectory).appendingPathComponent("logs")
    }

    /// Called after an `Event` invocation was durably queued: wakes the queue worker.
    public var onEnqueue: (@Sendable () -> Void)? {
        get { hooks.withLock { $0.onEnqueue } }
        set { hooks.withLock { $0.onEnqueue = newValue } }
    }

    /// Called after a change that may give functions more room to run (a reservation set or
    /// removed, provisioned concurrency removed or its instances up, a function deleted): events
    /// waiting on a throttle's back-off are tried again at once.
    public var onCapacityChange: (@Sendable () -> Void)? {
        get { hooks.withLock { $0.onCapacityChange } }
        set { hooks.withLock { $0.onCapacityChange = newValue } }
    }

    func capacityChanged() { onCapacityChange?() }

    /// Called after every synchronous invocation, for metrics.
    public var onInvoke: (@Sendable (InvocationMetric) -> Void)? {
        get { invokeHook?.call }
        set { hooks.withLock { $0.onInvoke = newValue.map(InvokeHook.init) } }
    }

    /// ``onInvoke`` in its box, as every invocation reads it: a closure read through the lock's
    /// generic result is rebuilt (two allocations) on the way out; a class reference is not.
    var invokeHook: InvokeHook? { hooks.withLock { $0.onInvoke } }

    final class InvokeHook: Sendable {
        let call: @Sendable (InvocationMetric) -> Void
        init(_ call: @escaping @Sendable (InvocationMetric) -> Void) { self.call = call }
    }

    /// Makes the query string that signs a `GET` of `path` at `host` (a presigned URL, as the S3
    /// URL of Lambda's `Code.Location`); nil: URLs go unsigned (a server without auth).
    public var presign: (@Sendable (_ path: String, _ host: String) -> String)? {
        get { hooks.withLock { $0.presign } }
        set { hooks.withLock { $0.presign = newValue } }
    }

    /// Where `GetFunction` says a package can be downloaded: Warren's code route on the host the
    /// client used, presigned (valid 10 minutes, as Lambda's) when the server checks signatures.
    func codeLocation(_ sha256: String, host: String) -> String {
        let path = "/warren/v1/code/\(sha256)"
        guard let presign else { return "http://\(host)\(path)" }
        return "http://\(host)\(path)?" + presign(path, host)
    }

    /// Mirrors the whole store into the supervisor: functions, versions
    /// under their numbers, aliases, reserved concurrency, provisioned
    /// concurrency (whose instances are started before this returns).
    ///
    /// A function the supervisor refuses (its runtime is gone, say) is
    /// skipped and reported, so one bad record does not keep the rest down.
    /// - Returns: One line per refused item.
    /// - Throws: If the store cannot be read.
    @discardableResult
    public func load() async throws -> [String] {
        try await mutations.serialized {
            var problems: [String] = []
            var marker: String?
            repeat {
                let page = try await store.listFunctions(marker: marker, maxItems: 50)
                for record in page.items {
                    do { problems += try await mirror(record) } catch { problems.append("\(record.name): \(error)") }
                }
                marker = page.nextMarker
            } while marker != nil
            for (function, reserved) in try await store.allFunctionConcurrency().sorted(by: { $0.key < $1.key }) {
                do { try await supervisor.putFunctionConcurrency(function, reserved) } catch {
                    problems.append("\(function): reserved concurrency \(reserved): \(error)")
                }
            }
            for config in try await store.listProvisionedConcurrency(nil) {
                do {
                    try await supervisor.putProvisionedConcurrency(config.function, qualifier: config.qualifier,
                                                                   config.requested)
                } catch {
                    problems.append("\(config.function):\(config.qualifier): provisioned concurrency: \(error)")
                }
            }
            return problems
        }
    }

    /// One function with its versions and aliases. A version or alias the supervisor refuses is
    /// left out on its own, so one bad row costs only itself.
    /// - Returns: One line per version or alias left out.
    /// - Throws: If the function itself is refused or the store cannot be read.
    private func mirror(_ record: FunctionRecord) async throws -> [String] {
        try await supervisor.createFunction(functionConfig(record))
        var problems: [String] = []
        for version in try await store.listVersions(record.name) {
            do {
                try await supervisor.putVersion(record.name, version: version.version,
                                                functionConfig(version.configuration))
            } catch {
                problems.append("\(record.name):\(version.version): \(error)")
            }
        }
        for alias in try await store.listAliases(record.name, functionVersion: nil) {
            do { try await supervisor.putAlias(record.name, supervisorAlias(alias)) } catch {
                problems.append("\(record.name):\(alias.name): \(error)")
            }
        }
        return problems
    }

    /// Stops the supervisor (every instance destroyed) and closes the store.
    public func shutdown() async {
        await supervisor.shutdown()
        try? (store as? SQLiteStore)?.close()
    }

    // MARK: The one mapping from the store to the supervisor

    /// The supervisor's view of a stored function or version snapshot.
    func functionConfig(_ record: FunctionRecord) -> FunctionConfig {
        var config = FunctionConfig(functionName: record.name, runtime: record.runtime, handler: record.handler,
                                    memorySize: record.memorySize, timeout: record.timeout,
                                    ephemeralStorage: record.ephemeralStorage, environment: record.environment,
                                    codeDirectory: code.directory(for: record.codeSha256).path)
        if let text = record.reportedSettings?["LoggingConfig"],
           let given = try? JSONDecoder().decode(UnappliedSettings.Logging.self, from: Data(text.utf8)) {
            let json = given.logFormat == "JSON"
            config.logging = LoggingSettings(json: json, applicationLogLevel: json ? given.applicationLogLevel : nil,
                                             systemLogLevel: json ? given.systemLogLevel : nil,
                                             logGroup: given.logGroup)
        }
        return config
    }

    /// Lambda's `FunctionConfiguration` of a stored function or version snapshot, with the runtime
    /// version an instance of it would start on now (left out of listings, and where the runtime
    /// is not built).
    func shape(_ record: FunctionRecord, version: String, arn: String, description: String? = nil,
               listing: Bool = false) -> FunctionConfiguration {
        var shape = FunctionConfiguration(record, version: version, arn: arn, description: description,
                                          listing: listing)
        if !listing, let runtime = try? catalog.runtime(record.runtime) {
            shape.runtimeVersionConfig = RuntimeVersionConfigShape(
                runtimeVersionArn: runtime.versionArn(region: self.arn.region))
        }
        return shape
    }

    func supervisorAlias(_ alias: AliasRecord) -> Alias {
        Alias(name: alias.name, functionVersion: alias.functionVersion,
              additionalVersionWeights: alias.additionalVersionWeights)
    }
}

/// Serializes the service's mutations. An actor alone does not: it is
/// re-entered at every `await`, and a mutation awaits the store and then
/// the supervisor. Waiters are served in arrival order.
final class MutationLock: Sendable {
    private struct State {
        var held = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = state.withLock { s in
                if s.held {
                    s.waiters.append(continuation)
                    return false
                }
                s.held = true
                return true
            }
            if granted { continuation.resume() }
        }
    }

    /// Hands the lock to the next waiter, or frees it.
    func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.waiters.isEmpty {
                s.held = false
                return nil
            }
            return s.waiters.removeFirst()
        }
        next?.resume()
    }

    /// Runs `body` holding the lock.
    func serialized<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        await acquire()
        do {
            let value = try await body()
            release()
            return value
        } catch {
            release()
            throw error
        }
    }
}
