import Foundation
import Glibc
import Hummingbird
import Synchronization
import WarrenAPI
import ZIPFoundation

/// Warm invokes over HTTP: `warren serve` (release build, a separate
/// process) with the C echo runtime as the function, driven by a small
/// load generator with 1, 2, 16 and 64 keep-alive connections, beside two
/// peers, each its own process: a plain Hummingbird server answering the
/// same path with the same bytes, and `relay` (static/relay.c), the least
/// any server speaking Lambda's Runtime API must do per invoke, in C, with
/// the same echo runtime unconfined behind it. One SigV4-signed request is
/// replayed (the server accepts a signature for 5 minutes, as AWS does),
/// like `wrk` with a fixed request would.
func httpInvoke() async throws {
    let payload = Array(("{\"data\":\"" + String(repeating: "x", count: 100) + "\"}").utf8)
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("warren-bench-http-\(getpid())")
    try? FileManager.default.removeItem(at: work)
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: work) }
    let key = AccessKey(accessKeyId: "AKIDWARRENBENCH", secretAccessKey: "bench-secret")

    let warrenBinary = CommandLine.arguments[0].replacingOccurrences(of: "warren-bench", with: "warren")
    let warren = try ServerProcess(
        [warrenBinary, "serve", "--listen", "127.0.0.1:0", "--state-dir", work.path + "/state", "--home", repo,
         "--access-key", "\(key.accessKeyId):\(key.secretAccessKey)"])
    defer { warren.stop() }
    let plain = try ServerProcess([CommandLine.arguments[0], "plain-server"])
    defer { plain.stop() }
    // As many runtimes as the largest row has connections, on two threads as Warren and plain have
    // two event loops; it prints its address once every runtime waits in /next.
    let relay = try ServerProcess([
        Bundle.module.url(forResource: "relay", withExtension: nil)!.path,
        Bundle.module.url(forResource: "echo-runtime", withExtension: nil)!.path, "64", "2",
    ])
    defer { relay.stop() }

    let zip = try echoZip(in: work)
    let create = try JSONSerialization.data(withJSONObject: [
        "FunctionName": "echo", "Runtime": "provided.al2023", "Handler": "echo",
        "Role": "arn:aws:iam::000000000000:role/bench", "MemorySize": 128, "Timeout": 30,
        "Code": ["ZipFile": Data(zip).base64EncodedString()],
    ])
    let path = "/2015-03-31/functions/echo/invocations"
    let created = try HTTPConnection(port: warren.port).roundTrip(
        signed(key, method: "POST", path: "/2015-03-31/functions", body: Array(create), port: warren.port))
    guard created.status == 201 else {
        throw BenchError("CreateFunction answered \(created.status): \(String(decoding: created.body, as: UTF8.self))")
    }
    let invoke = signed(key, method: "POST", path: path, body: payload, port: warren.port)
    // WARREN_BENCH_HTTP_TYPE=DryRun replays a DryRun Invoke instead: the API layer alone (SigV4,
    // routing, admission checks), without the runtime.
    let type = ProcessInfo.processInfo.environment["WARREN_BENCH_HTTP_TYPE"]
    let loadRequest = type.map {
        signed(key, method: "POST", path: path, body: payload, port: warren.port, extra: [("X-Amz-Invocation-Type", $0)])
    } ?? invoke
    let plainRequest = signed(key, method: "POST", path: path, body: payload, port: plain.port)
    let relayRequest = signed(key, method: "POST", path: path, body: payload, port: relay.port)
    let check = try HTTPConnection(port: warren.port).roundTrip(invoke)
    guard check.status == 200, check.body == payload else {
        throw BenchError("Invoke answered \(check.status): \(String(decoding: check.body, as: UTF8.self))")
    }

    let seconds = Double(ProcessInfo.processInfo.environment["WARREN_BENCH_HTTP_SECONDS"] ?? "") ?? 3
    // Each row is measured in rounds, plain, relay and Warren in turn within each round, so a
    // change in the machine's speed while a row runs (this VM drifts by tens of percent over a
    // minute) falls on all three alike rather than on whichever ran then.
    let rounds = max(1, Int(ProcessInfo.processInfo.environment["WARREN_BENCH_HTTP_ROUNDS"] ?? "") ?? 3)
    print("\nwarm Invoke\(type.map { " (\($0))" } ?? "") over HTTP (SigV4-signed, \(payload.count)-byte payload, C echo runtime), "
          + String(format: "%d rounds of %.0f s per row, the servers in turn in each round; ", rounds, seconds)
          + "peers: a plain Hummingbird route, and relay (C, the Runtime API's floor)")
    print(String(repeating: "-", count: 136))
    print("connections  server       requests/s   median      p99   cpu/req usr+sys   rps vs plain  median vs plain    rps vs relay  median vs relay")
    let rows = (ProcessInfo.processInfo.environment["WARREN_BENCH_HTTP_CONNECTIONS"] ?? "")
        .split(separator: ",").compactMap { Int($0) }
    for connections in rows.isEmpty ? [1, 2, 16, 64] : rows {
        var base = LoadResult(), floor = LoadResult(), run = LoadResult()
        var roundRatios: [(rate: Double, median: Double)] = []
        for _ in 0..<rounds {
            let p = try load(plain, request: plainRequest, connections: connections, seconds: seconds)
            floor.add(try load(relay, request: relayRequest, connections: connections, seconds: seconds))
            let w = try load(warren, request: loadRequest, connections: connections, seconds: seconds)
            roundRatios.append((w.rate / p.rate, percentile(w.samples, 0.5) / percentile(p.samples, 0.5)))
            base.add(p)
            run.add(w)
        }
        func versus(_ result: LoadResult, _ peer: LoadResult) -> String {
            String(format: "   %10.2fx   %14.2fx", result.rate / peer.rate,
                   percentile(result.samples, 0.5) / percentile(peer.samples, 0.5))
        }
        for (name, result) in [("plain", base), ("relay", floor), ("warren", run)] {
            print(String(format: "%11d  ", connections) + name.padding(toLength: 10, withPad: " ", startingAt: 0)
                  + String(format: " %12.0f %7.0f us %7.0f us %6.0f+%-4.0f us", result.rate,
                         percentile(result.samples, 0.5) * 1000, percentile(result.samples, 0.99) * 1000,
                           result.userPerRequest, result.systemPerRequest)
                  + (name == "plain" ? "" : versus(result, base))
                  + (name == "warren" ? versus(result, floor) : ""))
        }
        if rounds > 1 {
            let rates = roundRatios.map { String(format: "%.2fx", $0.rate) }.joined(separator: " ")
            let medians = roundRatios.map { String(format: "%.2fx", $0.median) }.joined(separator: " ")
            print("             warren vs plain by round: requests/s \(rates); median \(medians)")
        }
    }
    print(String(repeating: "-", count: 136))
    print("cpu/req: user and system CPU of the server and its runtimes per request, from /proc, over the measured seconds")
    print("target: warren at least 0.5x plain requests/s and at most 2x its median")
}

/// The echo runtime as `bootstrap` in a zip, executable.
func echoZip(in work: URL) throws -> [UInt8] {
    let dir = work.appendingPathComponent("code")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let bootstrap = dir.appendingPathComponent("bootstrap")
    try FileManager.default.copyItem(at: Bundle.module.url(forResource: "echo-runtime", withExtension: nil)!, to: bootstrap)
    chmod(bootstrap.path, 0o755)
    let zipURL = work.appendingPathComponent("echo.zip")
    let archive = try Archive(url: zipURL, accessMode: .create)
    try archive.addEntry(with: "bootstrap", relativeTo: dir)
    return Array(try Data(contentsOf: zipURL))
}

/// A complete HTTP/1.1 request, signed once.
func signed(_ key: AccessKey, method: String, path: String, body: [UInt8], port: Int,
            extra: [(String, String)] = []) -> [UInt8] {
    let host = "127.0.0.1:\(port)"
    let headers = [("Host", host), ("Content-Type", "application/json")] + extra
    let auth = SigV4Signer(key: key).authorizationHeaders(method: method, path: path, headers: headers, body: body)
    var text = "\(method) \(path) HTTP/1.1\r\n"
    for (name, value) in headers + auth { text += "\(name): \(value)\r\n" }
    text += "Content-Length: \(body.count)\r\n\r\n"
    return Array(text.utf8) + body
}

struct LoadResult {
    /// Sorted.
    var samples: [Double] = []
    var rate = 0.0
    /// CPU seconds the server and its descendants (the runtimes) used in the measured window.
    var cpu = CPUTime()
    /// Seconds measured.
    var seconds = 0.0

    /// Pools another round's measurement with this one.
    mutating func add(_ other: LoadResult) {
        samples = (samples + other.samples).sorted()
        seconds += other.seconds
        rate = Double(samples.count) / seconds
        cpu = CPUTime(user: cpu.user + other.cpu.user, system: cpu.system + other.cpu.system)
    }
    /// CPU µs per measured request.
    var userPerRequest: Double { cpu.user * 1e6 / Double(max(1, samples.count)) }
    var systemPerRequest: Double { cpu.system * 1e6 / Double(max(1, samples.count)) }
}

/// User and system CPU seconds.
struct CPUTime {
    var user = 0.0
    var system = 0.0

    static func - (a: CPUTime, b: CPUTime) -> CPUTime { CPUTime(user: a.user - b.user, system: a.system - b.system) }

    /// What this process has used so far, its children not included (`getrusage`).
    static func ofThisProcess() -> CPUTime {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return CPUTime(user: seconds(usage.ru_utime), system: seconds(usage.ru_stime))
    }

    /// What `root` and every process descended from it have used so far (`/proc/PID/stat`, all
    /// threads; a runtime in its own pid namespace is still a descendant in the host's /proc).
    static func tree(of root: pid_t) -> CPUTime {
        let tick = Double(sysconf(Int32(_SC_CLK_TCK)))
        var parent: [pid_t: pid_t] = [:]
        var times: [pid_t: CPUTime] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(name), let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            // After "pid (comm) ": state ppid … utime (14th field) stime (15th).
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 12, let ppid = pid_t(fields[1]), let user = Double(fields[11]),
                  let system = Double(fields[12]) else { continue }
            parent[pid] = ppid
            times[pid] = CPUTime(user: user / tick, system: system / tick)
        }
        var total = CPUTime()
        for (pid, time) in times {
            var p = pid
            while p != root, let up = parent[p], up > 1 { p = up }
            if p == root { total.user += time.user; total.system += time.system }
        }
        return total
    }
}

/// `connections` threads, each with one keep-alive connection to `server`
/// sending `request` back to back for `seconds`, and the CPU the server's
/// process tree used over those seconds. The measured window opens once every
/// connection has made `warmupRounds` requests (and 0.3 s at least have passed):
/// the server has then started what it needs for this many connections (Warren:
/// an instance each), so the row measures warm invokes, not cold starts.
func load(_ server: ServerProcess, request: [UInt8], connections: Int, seconds: Double,
          warmupRounds: Int = 50) throws -> LoadResult {
    let port = server.port
    let start = now()
    let window = Window()
    let results = Collected()
    var threads: [Thread] = []
    let done = DispatchGroup()
    let warmed = DispatchGroup()
    for _ in 0..<connections {
        done.enter()
        warmed.enter()
        let thread = Thread {
            var warming = true
            defer {
                if warming { warmed.leave() }
                done.leave()
            }
            var samples: [Double] = []
            do {
                let connection = try HTTPConnection(port: port)
                var rounds = 0
                while true {
                    let t0 = now()
                    if t0 >= window.end.load(ordering: .relaxed) { break }
                    let response = try connection.roundTrip(request)
                    guard response.status == 200 || response.status == 204 else {  // 204: DryRun
                        throw BenchError("status \(response.status): \(String(decoding: response.body.prefix(200), as: UTF8.self))")
                    }
                    if t0 >= window.from.load(ordering: .relaxed) { samples.append(Double(now() - t0) / 1e6) }
                    rounds += 1
                    if warming, rounds == warmupRounds {
                        warming = false
                        warmed.leave()
                    }
                }
            } catch {
                results.fail(error)
            }
            results.add(samples)
        }
        thread.stackSize = 1 << 20
        threads.append(thread)
        thread.start()
    }
    warmed.wait()
    let measureFrom = max(now(), start + 300_000_000)
    window.end.store(measureFrom + UInt64(seconds * 1e9), ordering: .relaxed)
    window.from.store(measureFrom, ordering: .relaxed)
    usleep(useconds_t(max(0, Double(Int64(measureFrom) - Int64(now())) / 1e3)))
    let cpuBefore = CPUTime.tree(of: server.process.processIdentifier)
    done.wait()
    let cpu = CPUTime.tree(of: server.process.processIdentifier) - cpuBefore
    let (all, failure) = results.take()
    if let failure { throw failure }
    return LoadResult(samples: all.sorted(), rate: Double(all.count) / seconds, cpu: cpu, seconds: seconds)
}

/// The measured window of a load, opened by the main thread once the connections are warm.
final class Window: Sendable {
    let from = Atomic<UInt64>(.max)
    let end = Atomic<UInt64>(.max)
}

/// Samples and the first error of the load threads, under a lock.
final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var samples: [Double] = []
    private var failure: Error?

    func add(_ more: [Double]) { lock.withLock { samples += more } }
    func fail(_ error: Error) { lock.withLock { failure = failure ?? error } }
    func take() -> ([Double], Error?) { lock.withLock { (samples, failure) } }
}

/// One blocking keep-alive HTTP/1.1 client connection on loopback.
final class HTTPConnection {
    let fd: Int32
    private var buffer: [UInt8] = []

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { close(fd); throw BenchError("connect to 127.0.0.1:\(port): errno \(errno)") }
    }

    deinit { close(fd) }

    /// Sends `request`, reads one response (Content-Length framed).
    func roundTrip(_ request: [UInt8]) throws -> (status: Int, body: [UInt8]) {
        var sent = 0
        while sent < request.count {
            let n = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw BenchError("send: errno \(errno)") }
            sent += n
        }
        let crlf: [UInt8] = [13, 10, 13, 10]
        var headerEnd: Int?
        while headerEnd == nil {
            if let range = buffer.firstRange(of: crlf) { headerEnd = range.upperBound } else { try fill() }
        }
        let head = String(decoding: buffer[..<headerEnd!], as: UTF8.self)
        let lines = head.split(separator: "\r\n")
        let status = lines.first.flatMap { Int($0.split(separator: " ")[1]) } ?? 0
        var length = 0
        for line in lines.dropFirst() where line.lowercased().hasPrefix("content-length:") {
            length = Int(line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) ?? 0
        }
        while buffer.count < headerEnd! + length { try fill() }
        let body = Array(buffer[headerEnd!..<(headerEnd! + length)])
        buffer.removeFirst(headerEnd! + length)
        return (status, body)
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { throw BenchError("connection closed (recv \(n), errno \(errno))") }
        buffer += chunk[..<n]
    }
}

/// A server as a child process; its port comes from its
/// "listening on http://HOST:PORT" line.
final class ServerProcess {
    let process = Process()
    let port: Int

    init(_ argv: [String]) throws {
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        var text = ""
        var found: Int?
        while found == nil {
            let data = out.fileHandleForReading.availableData
            guard !data.isEmpty else {
                process.waitUntilExit()
                let said = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                throw BenchError("\(argv[0]) exited (status \(process.terminationStatus)) before listening: \(said)")
            }
            text += String(decoding: data, as: UTF8.self)
            if let range = text.range(of: #"listening on http://127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                found = Int(text[range].split(separator: ":").last!)
            }
        }
        port = found!
        // Keep draining its output so it never blocks on a full pipe.
        out.fileHandleForReading.readabilityHandler = { _ = $0.availableData }
        err.fileHandleForReading.readabilityHandler = { _ = $0.availableData }
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }
}

/// The peer: Hummingbird answering the invoke path with the request body,
/// as the echo function does (no auth, no function behind it).
func plainServer() async throws {
    let router = Router()
    router.post("/2015-03-31/functions/:fn/invocations") { request, _ -> Response in
        var request = request
        let body = try await request.collectBody(upTo: 6 * 1024 * 1024)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
    }
    let app = Application(
        router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { channel in
            FileHandle.standardOutput.write(Data("listening on http://127.0.0.1:\(channel.localAddress?.port ?? 0)\n".utf8))
        })
    try await app.runService()
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
