import Foundation
import Hummingbird
import NIOCore
import NIOPosix
import WarrenRuntimeAPI
import WarrenStore
import WarrenSupervisor

/// Everything `warren serve` runs, wired together: the state store and the
/// supervisor behind ``LambdaService``, the async queue worker, metrics,
/// and the router with SigV4 in front.
public final class WarrenServer {
    public struct Settings: Sendable {
        /// Holds `rootfs/out/` and `policies/`.
        public var home: String
        /// `warren.db`, `code/`, `logs/`.
        public var stateDirectory: String
        public var region = "us-east-1"
        public var accountLimit = 1000
        /// MiB all instances may be configured with together; nil = no budget.
        public var memoryBudgetMB: Int?
        /// A function's log file is rotated (to `<function>.log.1`) at this many MiB.
        public var maxLogMB = FunctionLog.defaultMaxBytes >> 20
        /// Keys requests must be signed with; nil = no authentication.
        public var keys: [AccessKey]?
        /// Tunes the async queue (tests shorten the delays).
        public var queueTiming = EventQueue.Timing()
        /// API connections open at once; nil = a quarter of the file-descriptor limit (see ``ConnectionGuard``).
        public var maxConnections: Int?
        /// Seconds an API connection may stay open with no request in progress.
        public var idleTimeoutSeconds = 60

        public init(home: String, stateDirectory: String) {
            self.home = home
            self.stateDirectory = stateDirectory
        }

        /// Lambda keeps 100 of 1000 unreserved; smaller hosts keep a tenth.
        var unreservedMinimum: Int { min(100, max(1, accountLimit / 10)) }
    }

    public let service: LambdaService
    public let queue: EventQueue
    public let metrics: WarrenMetrics
    public let router: Router<BasicRequestContext>
    private let verifier: SigV4Verifier?
    let connectionLimits: ConnectionGuard.Limits

    private init(service: LambdaService, queue: EventQueue, metrics: WarrenMetrics, router: Router<BasicRequestContext>,
                 verifier: SigV4Verifier?, connectionLimits: ConnectionGuard.Limits) {
        self.service = service
        self.queue = queue
        self.metrics = metrics
        self.router = router
        self.verifier = verifier
        self.connectionLimits = connectionLimits
    }

    /// Makes the handlers each HTTP connection gets in front of the router (on NIO's HTTP/1
    /// parts: see ``LambdaHTTPChannel``): the connection limits, then the Invoke fast path.
    /// `serverName` is the application's `Server` header, which the fast path's answers carry too.
    public func channelHandlers(serverName: String?) -> @Sendable () -> [any RemovableChannelHandler] {
        let settings = InvokeFastPath.Settings(service: service, verifier: verifier, serverName: serverName)
        let limits = connectionLimits
        return { [ConnectionGuard(limits), InvokeFastPath(settings)] }
    }

    /// Opens the state, starts the supervisor, mirrors every function into
    /// it, and starts the queue worker. Problems with single functions (a
    /// runtime that is gone) are logged, not fatal.
    public static func start(_ settings: Settings, log: @escaping @Sendable (String) -> Void = { line in
        // Not FileHandle.write, which traps when stderr is closed or full.
        _ = (line + "\n").utf8CString.withUnsafeBufferPointer { write(STDERR_FILENO, $0.baseAddress, $0.count - 1) }
    }) async throws -> WarrenServer {
        let state = URL(fileURLWithPath: settings.stateDirectory, isDirectory: true)
        let stateExisted = FileManager.default.fileExists(atPath: state.path)
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        let maxConnections = settings.maxConnections ?? ConnectionGuard.Limits.defaultMaxConnections
        let maxInstances = instanceSlots(apiConnections: maxConnections)
        log("warren: the file-descriptor limit allows \(maxInstances) instances at once beside "
            + "\(maxConnections) API connections")
        var configuration = Supervisor.Configuration(
            home: settings.home, stateDirectory: state.path,
            admission: .init(accountLimit: settings.accountLimit, unreservedMinimum: settings.unreservedMinimum,
                             memoryBudgetMB: settings.memoryBudgetMB, maxInstances: maxInstances))
        configuration.region = settings.region
        configuration.maxLogBytes = settings.maxLogMB << 20
        // The Runtime API shares the HTTP server's event loops (NIO's
        // singleton group, one thread per core): fewer threads to hand off between.
        configuration.eventLoopGroup = .singleton
        let supervisor: Supervisor
        do {
            supervisor = try Supervisor(configuration)
        } catch {
            // A start that fails this early (a missing policy, every uid range held) leaves no state
            // directory of its own making behind: it is still empty.
            if !stateExisted { rmdir(state.path) }
            throw error
        }
        let service: LambdaService
        do {
            service = try LambdaService(stateDirectory: state, supervisor: supervisor)
        } catch {
            await supervisor.shutdown()
            throw error
        }
        let metrics = WarrenMetrics()
        let store = service.store
        let queue = EventQueue(
            store: store,
            invoke: { function, qualifier, payload, requestId in
                do {
                    let result = try await supervisor.invoke(
                        function, qualifier: qualifier, payload: payload, type: .requestResponse, requestId: requestId)
                    metrics.record(function: function, result: result, error: nil)
                    return result
                } catch let error as SupervisorError {
                    metrics.record(function: function, result: nil, error: error)
                    throw error
                }
            },
            eventInvokeConfig: { function, qualifier in
                try? await store.getEventInvokeConfig(function, qualifier: qualifier)
            },
            log: log, timing: settings.queueTiming, region: settings.region)
        service.onEnqueue = { queue.wake() }
        service.onCapacityChange = { queue.slotsMayBeFree() }
        service.onInvoke = { metric in
            metrics.record(function: metric.function, result: metric.result, error: metric.error)
            if metric.result != nil { queue.slotsMayBeFree() }
        }
        do {
            for problem in try await service.load() { log("warren: not loaded: \(problem)") }
        } catch {
            await service.shutdown()
            throw error
        }
        do {
            // One serve process per state directory: claims left by the last
            // one (killed, or stopped mid-invocation) are orphans; run them now.
            let released = try await store.releaseClaims(now: Date())
            if released > 0 { log("warren: \(released) event(s) in flight when the last run stopped are queued again") }
        } catch {
            await service.shutdown()
            throw error
        }
        await supervisor.startReclaimer()
        queue.start()

        let verifier = settings.keys.map { SigV4Verifier(keys: $0, region: settings.region) }
        if let key = settings.keys?.first {
            // Code.Location URLs are presigned with the first key, valid 10 minutes (as Lambda's).
            let signer = SigV4Signer(key: key, region: settings.region)
            service.presign = { path, host in
                signer.presignedQuery(method: "GET", path: path, host: host, expires: 600)
            }
        }
        let router = makeLambdaRouter(service: service, verifier: verifier)
        router.get("/metrics") { _, _ -> Response in
            let text = await metrics.render(supervisor: supervisor, store: store)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(bytes: text)))
        }
        let limits = ConnectionGuard.Limits(
            maxConnections: maxConnections,
            idleTimeout: .seconds(Int64(settings.idleTimeoutSeconds)), verifier: verifier,
            unsignedPaths: LambdaRoutes.unsignedPaths)
        return WarrenServer(service: service, queue: queue, metrics: metrics, router: router, verifier: verifier,
                            connectionLimits: limits)
    }

    /// Instances that fit in the process's file-descriptor limit beside `apiConnections` API
    /// connections and a reserve for the store, logs and the runtime (an eighth, at most 512): a
    /// function holding Runtime API connections, or many instances, then meets a throttle (429)
    /// rather than a server out of descriptors.
    static func instanceSlots(apiConnections: Int) -> Int {
        var limit = rlimit()
        let descriptors = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0
            ? Int(min(limit.rlim_cur, 1 << 20)) : 1024
        let reserve = min(512, descriptors / 8)
        return max(1, (descriptors - apiConnections - reserve) / RuntimeAPI.fileDescriptorsPerInstance)
    }

    /// Ends the invocations still running: stops the queue worker and destroys every instance,
    /// so that each running Invoke is answered (`Sandbox.Failure`, "Warren is shutting down")
    /// and a stop is not held up by a function's timeout (up to 15 minutes). The store stays
    /// open for the requests still being answered; ``stop()`` closes it. A closure, which a signal
    /// handler may hold.
    public var endInvocations: @Sendable () async -> Void {
        let (queue, supervisor) = (queue, service.supervisor)
        return {
            await queue.stop()
            await supervisor.shutdown()
        }
    }

    /// Stops the queue worker (events in flight stay leased in the store and
    /// run again on the next start) and destroys every instance.
    public func stop() async {
        await queue.stop()
        await service.shutdown()
    }
}
