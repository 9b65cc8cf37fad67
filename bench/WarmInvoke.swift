import Foundation
import Glibc
import NIOPosix
import WarrenSupervisor

/// Warm and cold invokes through the supervisor's in-process API, with
/// the C echo runtime as the function, beside a plain loopback HTTP round
/// trip of the same payload (the floor of the Runtime API path).
func warmInvoke() async throws {
    let payload = Array(("{\"data\":\"" + String(repeating: "x", count: 100) + "\"}").utf8)
    let code = FileManager.default.temporaryDirectory.appendingPathComponent("warren-bench-code-\(getpid())").path
    try? FileManager.default.removeItem(atPath: code)
    try FileManager.default.createDirectory(atPath: code, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: code) }
    chmod(code, 0o755)
    let runtime = Bundle.module.url(forResource: "echo-runtime", withExtension: nil)!.path
    try FileManager.default.copyItem(atPath: runtime, toPath: code + "/bootstrap")
    let state = code + "-state"
    defer { try? FileManager.default.removeItem(atPath: state) }

    print("\ninvoke through the in-process API, C echo runtime, \(payload.count)-byte payload (\(runs * 4) runs warm)")
    // The floor is measured half before the invokes and half after, so a change of the host's
    // load (this is often a shared VM) during the run moves both sides of the ratio.
    var floor = try LoopbackFloor(payloadSize: payload.count).measure(runs * 2)
    var samples: [String: [Double]] = [:]
    var rate: [String: Double] = [:]
    var cpuPerInvoke = CPUTime()
    for freeze in [false, true] {
        var config = Supervisor.Configuration(home: repo, stateDirectory: state)
        config.eventLoopGroup = .singleton  // as `warren serve`
        config.freezeIdle = freeze
        config.freezeAfter = .zero  // the frozen row measures the thaw, not the grace period
        config.idleTimeout = .zero
        let supervisor = try Supervisor(config)
        try await supervisor.createFunction(FunctionConfig(functionName: "echo", runtime: "provided.al2023",
                                                           handler: "echo", codeDirectory: code))
        // With freezing, each sample starts from a frozen instance (the
        // wait for the freezer is not timed): the cost is the thaw.
        let frozenFirst: () async -> Void = {
            guard freeze else { return }
            for _ in 0..<1000 where await supervisor.instances().first?.frozen != true {
                try? await Task.sleep(nanoseconds: 200_000)
            }
        }
        let one = try await timed(freeze ? runs : runs * 4, before: frozenFirst) {
            _ = try await supervisor.invoke("echo", payload: payload)
        }
        samples[freeze ? "frozen" : "one"] = one
        if !freeze {
            let before = CPUTime.ofThisProcess()
            (samples["two"], rate["two"]) = try await concurrent(2, total: runs * 4) {
                _ = try await supervisor.invoke("echo", payload: payload)
            }
            let used = CPUTime.ofThisProcess() - before
            cpuPerInvoke = CPUTime(user: used.user / Double(runs * 4), system: used.system / Double(runs * 4))
            samples["cold"] = try await timed(max(20, runs / 5), warmup: 2, before: { await supervisor.reclaim() }) {
                _ = try await supervisor.invoke("echo", payload: payload)
            }
        }
        await supervisor.shutdown()
    }
    floor = (floor + (try LoopbackFloor(payloadSize: payload.count).measure(runs * 2))).sorted()
    let warm = percentile(samples["one"]!, 0.5)
    report([
        (String(format: "warm, 1 caller (%.0f invokes/s)", 1000 / warm), samples["one"]!),
        (String(format: "warm, 2 callers (%.0f invokes/s)", rate["two"]!), samples["two"]!),
        ("warm, 1 caller, from frozen (thaw)", samples["frozen"]!),
        ("cold invoke (no instance yet)", samples["cold"]!),
        ("loopback HTTP round trip (floor)", floor),
    ], peer: floor, peerName: "floor", unit: "us")
    print(String(format: "CPU per warm invoke at 2 callers, this process (supervisor, Runtime API, logs; not the runtime): "
                 + "%.0f us user + %.0f us system", cpuPerInvoke.user * 1e6, cpuPerInvoke.system * 1e6))
    print(String(format: "thawing a frozen instance adds %.0f us per invoke (median); freezing runs after the response, off the path",
                 (percentile(samples["frozen"]!, 0.5) - warm) * 1000))
    print(String(format: "target: warm p50 at most 3x the floor: %.2fx, ", warm / percentile(floor, 0.5))
          + (warm <= 3 * percentile(floor, 0.5) ? "met" : "not met"))
}

/// Times `runs` sequential samples (ms), after warm-up; `before` runs untimed.
func timed(_ runs: Int, warmup: Int = 50, before: () async -> Void = {}, _ body: () async throws -> Void) async throws -> [Double] {
    for _ in 0..<warmup { await before(); try await body() }
    var samples: [Double] = []
    for _ in 0..<runs {
        await before()
        let t0 = now()
        try await body()
        samples.append(Double(now() - t0) / 1e6)
    }
    return samples.sorted()
}

/// `callers` concurrent loops sharing `total` invokes: latencies and rate.
func concurrent(_ callers: Int, total: Int, _ body: @escaping @Sendable () async throws -> Void) async throws -> ([Double], Double) {
    let t0 = now()
    let samples = try await withThrowingTaskGroup(of: [Double].self) { group in
        for _ in 0..<callers {
            group.addTask { try await timed(total / callers, warmup: 10, body) }
        }
        return try await group.reduce(into: []) { $0 += $1 }
    }
    return (samples.sorted(), Double(total) / (Double(now() - t0) / 1e9))
}

/// The same bytes over loopback TCP as an HTTP/1.1 request and response,
/// with blocking sockets and no framework: what any Runtime API path
/// must at least cost.
struct LoopbackFloor {
    let payloadSize: Int

    func measure(_ runs: Int) throws -> [Double] {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in(sin_family: sa_family_t(AF_INET), sin_port: 0,
                               sin_addr: in_addr(s_addr: inet_addr("127.0.0.1")), sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                _ = bind(listener, sa, len); _ = listen(listener, 1); _ = getsockname(listener, sa, &len)
            }
        }
        let body = String(repeating: "x", count: payloadSize)
        let server = Thread {
            let c = accept(listener, nil, nil)
            let response = Array("HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)
            while LoopbackFloor.readMessage(c) { _ = write(c, response, response.count) }
            close(c)
        }
        server.start()
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        _ = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, len) }
        }
        let request = Array("POST /invoke HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)
        defer { close(client); close(listener) }
        return measureSync(runs) {
            _ = write(client, request, request.count)
            _ = LoopbackFloor.readMessage(client)
        }
    }

    /// Reads one HTTP message (headers + Content-Length body); false on EOF.
    static func readMessage(_ fd: Int32) -> Bool {
        var data = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fd, &chunk, chunk.count)
            if n <= 0 { return false }
            data += chunk[0..<n]
            let text = String(decoding: data, as: UTF8.self)
            guard let end = text.range(of: "\r\n\r\n") else { continue }
            let length = text[..<end.lowerBound].split(separator: "\r\n")
                .first { $0.lowercased().hasPrefix("content-length:") }
                .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
            if text.utf8.distance(from: text.utf8.startIndex, to: end.upperBound) + length <= data.count { return true }
        }
    }
}

func measureSync(_ runs: Int, _ body: () -> Void) -> [Double] {
    for _ in 0..<50 { body() }
    var samples: [Double] = []
    for _ in 0..<runs {
        let t0 = now()
        body()
        samples.append(Double(now() - t0) / 1e6)
    }
    return samples.sorted()
}

