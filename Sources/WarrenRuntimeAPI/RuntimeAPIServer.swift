#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// Serves one instance's Runtime API (HTTP/1.1) on a listening socket the supervisor created
/// inside the instance's network namespace.
public final class RuntimeAPIServer: Sendable {
    private let listener: any Channel
    private let connections: ConnectionRegistry

    private init(listener: any Channel, connections: ConnectionRegistry) {
        self.listener = listener
        self.connections = connections
    }

    /// Starts serving `session` on an already bound and listening TCP socket.
    ///
    /// The server takes ownership of `fd`: it is closed on ``shutdown()``, and also when start fails.
    /// - Parameters:
    ///   - fd: A bound, listening `SOCK_STREAM` socket.
    ///   - session: The instance's session; the supervisor drives the other side.
    ///   - group: A NIOPosix `MultiThreadedEventLoopGroup` (shared by all instances).
    /// - Returns: The running server.
    /// - Throws: ``RuntimeAPIServerError`` for a wrong fd or group; NIO errors from registration.
    public static func start(
        listeningSocket fd: Int32,
        session: RuntimeSession,
        group: any EventLoopGroup
    ) async throws -> RuntimeAPIServer {
        let listening = try checkListening(fd)
        guard listening, let bootstrap = ServerBootstrap(validatingGroup: group) else {
            _ = close(fd)
            if !listening { throw RuntimeAPIServerError.notAListeningSocket(fd: fd, errno: 0) }
            throw RuntimeAPIServerError.unsupportedEventLoopGroup(String(describing: type(of: group)))
        }
        let core = session.core
        let connections = ConnectionRegistry()
        let listener = try await bootstrap
            // The hot path is small request/response exchanges: don't let Nagle hold them back.
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                admit(channel, to: connections, retries: admissionRetries[...], first: true).flatMap { admitted in
                    guard admitted else { return channel.close() }
                    channel.closeFuture.whenComplete { _ in connections.remove(channel) }
                    return setUp(channel, core: core)
                }
            }
            .withBoundSocket(fd)
            .get()
        return RuntimeAPIServer(listener: listener, connections: connections)
    }

    /// How long a connection over the limit waits, in turn, for a place before it is closed.
    static let admissionRetries: [TimeAmount] = [.milliseconds(10), .milliseconds(50), .milliseconds(250)]

    /// Registers `channel`, or, while the runtime holds its limit of connections, tries again after
    /// each delay of `retries`: the ends of connections it closed a moment before may be read after
    /// this accept, and they count until then. False once the retries are spent, or when another
    /// connection is already waiting so (each waits with its descriptor open).
    private static func admit(
        _ channel: any Channel, to connections: ConnectionRegistry, retries: ArraySlice<TimeAmount>, first: Bool
    ) -> EventLoopFuture<Bool> {
        let loop = channel.eventLoop
        switch connections.add(channel, first: first) {
        case .added: return loop.makeSucceededFuture(true)
        case .refused: return loop.makeSucceededFuture(false)
        case .full:
            guard let delay = retries.first else {
                connections.stopWaiting()
                return loop.makeSucceededFuture(false)
            }
            return loop.scheduleTask(in: delay) {}.futureResult.flatMap {
                admit(channel, to: connections, retries: retries.dropFirst(), first: false)
            }
        }
    }

    private static func setUp(_ channel: any Channel, core: RuntimeSessionCore) -> EventLoopFuture<Void> {
                do {
                    // NIO's request decoder (llhttp) and the handler, which encodes its own responses
                    // and keeps them in request order (see RuntimeAPIHandler).
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
                    try sync.addHandler(RuntimeAPIHandler(core: core))
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
    }

    /// Closes the listener (and so the fd) and every connection; a parked `/next` is dropped unanswered.
    ///
    /// Idempotent; returns once the listener is closed. The session is left as it is: close it too
    /// if the instance is going away.
    public func shutdown() async {
        let open = connections.shutDown()
        // Already-closed channels fail close(); that's the idempotent case, not an error.
        try? await listener.close()
        for channel in open { try? await channel.close() }
        try? await listener.closeFuture.get()
    }

    /// Verifies `fd` is a listening stream socket, so NIO never adopts (and asserts on) anything else.
    private static func checkListening(_ fd: Int32) throws -> Bool {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &value, &length) == 0 else {
            let error = errno
            if error != EBADF { _ = close(fd) }
            throw RuntimeAPIServerError.notAListeningSocket(fd: fd, errno: error)
        }
        return value != 0
    }
}

/// The open connections of one server, so ``RuntimeAPIServer/shutdown()`` can close them and a
/// runtime can't hold more than ``RuntimeAPI/maxConnections``.
private final class ConnectionRegistry: Sendable {
    private struct State {
        var open: [ObjectIdentifier: any Channel] = [:]
        var shutDown = false
        /// A connection is waiting for a place (``RuntimeAPIServer`` retries it).
        var waiting = false
    }

    private let state = Mutex(State())

    enum Admission { case added, full, refused }

    /// Registers `channel`. `.full` while the runtime holds too many: the caller may try again,
    /// if no other connection waits (`first`: this is its first try); `.refused` when it may not
    /// or the server is shutting down.
    func add(_ channel: any Channel, first: Bool) -> Admission {
        state.withLock { s in
            guard !s.shutDown else { return .refused }
            let retrying = !first
            if s.open.count < RuntimeAPI.maxConnections {
                s.open[ObjectIdentifier(channel)] = channel
                if retrying { s.waiting = false }
                return .added
            }
            if retrying { return .full }
            guard !s.waiting else { return .refused }
            s.waiting = true
            return .full
        }
    }

    /// The waiting connection gave up.
    func stopWaiting() { state.withLock { $0.waiting = false } }

    func remove(_ channel: any Channel) {
        _ = state.withLock { $0.open.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    /// Refuses new connections from now on and returns the open ones.
    func shutDown() -> [any Channel] {
        state.withLock { s in
            s.shutDown = true
            return Array(s.open.values)
        }
    }
}
