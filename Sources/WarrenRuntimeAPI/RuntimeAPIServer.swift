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
                admit(channel, to: connections).flatMap { admitted in
                    guard admitted else { return channel.close() }
                    channel.closeFuture.whenComplete { _ in connections.remove(channel) }
                    do {
                        // NIO's request decoder (llhttp) and the handler, which encodes its own
                        // responses and keeps them in request order (see RuntimeAPIHandler).
                        let sync = channel.pipeline.syncOperations
                        try sync.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
                        try sync.addHandler(RuntimeAPIHandler(core: core))
                        return channel.eventLoop.makeSucceededVoidFuture()
                    } catch {
                        return channel.eventLoop.makeFailedFuture(error)
                    }
                }
            }
            .withBoundSocket(fd)
            .get()
        return RuntimeAPIServer(listener: listener, connections: connections)
    }

    /// Registers `channel`; false if the server is shutting down or the runtime holds its limit of
    /// connections. At the limit, the connections the runtime has already ended (their FIN or
    /// reset is in, TCP state no longer `ESTABLISHED`) stop counting first: a runtime that closes a
    /// connection and at once opens another is accepted before the server's loop has read the end
    /// of the first (helper runs: 60 of 60 such connections were refused before this).
    private static func admit(_ channel: any Channel, to connections: ConnectionRegistry) -> EventLoopFuture<Bool> {
        let loop = channel.eventLoop
        let counted: [any Channel]
        switch connections.add(channel) {
        case .added: return loop.makeSucceededFuture(true)
        case .refused: return loop.makeSucceededFuture(false)
        case .full(let open): counted = open
        }
        let probes = counted.map { open -> EventLoopFuture<Bool> in
            guard let socket = open as? any SocketOptionProvider else { return loop.makeSucceededFuture(false) }
            // A descriptor already closed has ended too.
            return socket.getTCPInfo().map { $0.tcpi_state != UInt8(TCP_ESTABLISHED) }.recover { _ in true }
        }
        return EventLoopFuture.whenAllComplete(probes, on: loop).map { results in
            let ended = zip(counted, results).compactMap { open, result in
                (try? result.get()) == true ? open : nil
            }
            return connections.add(channel, ending: ended)
        }
    }

    /// Connections open now, ended ones whose end is not read yet included.
    var openConnections: Int { connections.openCount }

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
        /// Open connections the runtime has ended (found so by a probe at the limit), whose end the
        /// server has yet to read: they no longer count, and at most `maxConnections` are let be so.
        var ending: Set<ObjectIdentifier> = []
        var shutDown = false

        var counted: Int { open.count - ending.count }
    }

    private let state = Mutex(State())

    enum Admission {
        case added, refused
        /// The runtime holds its limit: these are the connections that count.
        case full([any Channel])
    }

    /// Registers `channel` if the server runs and the runtime holds fewer than the limit.
    func add(_ channel: any Channel) -> Admission {
        state.withLock { s in
            guard !s.shutDown else { return .refused }
            guard s.counted < RuntimeAPI.maxConnections else {
                return .full(s.open.filter { !s.ending.contains($0.key) }.map(\.value))
            }
            s.open[ObjectIdentifier(channel)] = channel
            return .added
        }
    }

    /// Marks `ended` (still open) as no longer counting, as far as the bound on those allows, then
    /// registers `channel` if there is a place now.
    func add(_ channel: any Channel, ending ended: [any Channel]) -> Bool {
        state.withLock { s in
            for open in ended where s.ending.count < RuntimeAPI.maxConnections {
                let id = ObjectIdentifier(open)
                if s.open[id] != nil { s.ending.insert(id) }
            }
            guard !s.shutDown, s.counted < RuntimeAPI.maxConnections else { return false }
            s.open[ObjectIdentifier(channel)] = channel
            return true
        }
    }

    func remove(_ channel: any Channel) {
        state.withLock { s in
            let id = ObjectIdentifier(channel)
            s.open.removeValue(forKey: id)
            s.ending.remove(id)
        }
    }

    var openCount: Int { state.withLock { $0.open.count } }

    /// Refuses new connections from now on and returns the open ones.
    func shutDown() -> [any Channel] {
        state.withLock { s in
            s.shutDown = true
            return Array(s.open.values)
        }
    }
}
