#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix
import Testing

@testable import WarrenRuntimeAPI

enum SocketSetupError: Error { case failed(String, Int32) }

/// A TCP socket bound to 127.0.0.1:0, listening unless told not to, as the supervisor would hand over.
func makeListener(listen shouldListen: Bool = true) throws -> (fd: Int32, port: Int) {
    // Close-on-exec: programs other tests start must not keep it open.
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw SocketSetupError.failed("socket", errno) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    guard bound == 0 else { throw SocketSetupError.failed("bind", errno) }
    if shouldListen {
        guard listen(fd, 128) == 0 else { throw SocketSetupError.failed("listen", errno) }
    }
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else { throw SocketSetupError.failed("getsockname", errno) }
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
}

/// One running server on a fresh loopback listener.
struct Harness {
    let session: RuntimeSession
    let server: RuntimeAPIServer
    let port: Int

    func connect() async throws -> RawHTTPClient {
        try await RawHTTPClient.connect(port: port)
    }
}

/// Runs `body` against a fresh server and session, then shuts both down whatever happened.
func withServer(_ body: (Harness) async throws -> Void) async throws {
    let (fd, port) = try makeListener()
    let session = RuntimeSession()
    let server = try await RuntimeAPIServer.start(
        listeningSocket: fd,
        session: session,
        group: MultiThreadedEventLoopGroup.singleton
    )
    let harness = Harness(session: session, server: server, port: port)
    do {
        try await body(harness)
    } catch {
        await server.shutdown()
        await session.close(reason: "test over")
        throw error
    }
    await server.shutdown()
    await session.close(reason: "test over")
}

/// Polls `condition` every 2 ms for up to 5 s; records an issue if it never holds.
func eventually(
    _ what: String,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () async -> Bool
) async throws {
    for _ in 0..<2500 {
        if await condition() { return }
        try await Task.sleep(for: .milliseconds(2))
    }
    Issue.record("timed out waiting for \(what)", sourceLocation: sourceLocation)
}

func invocation(_ requestId: String, payload: String = #"{"hello":"world"}"#) -> Invocation {
    Invocation(
        requestId: requestId,
        payload: Array(payload.utf8),
        deadlineMs: 1_700_000_000_123,
        invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:echo"
    )
}

let nextPath = "\(RuntimeAPI.prefix)/runtime/invocation/next"

func responsePath(_ requestId: String) -> String {
    "\(RuntimeAPI.prefix)/runtime/invocation/\(requestId)/response"
}

func errorPath(_ requestId: String) -> String {
    "\(RuntimeAPI.prefix)/runtime/invocation/\(requestId)/error"
}

let initErrorPath = "\(RuntimeAPI.prefix)/runtime/init/error"
