// warren-bench: the benchmarks `make bench` runs, each beside a peer
// measured in the same run on the same machine. See README.md here.
//   warren-bench [cold|warm|http]...   (default: all)
import Foundation
import NIOCore
import NIOPosix

// As `warren serve` runs: Swift Concurrency's jobs on NIO's event loops (the
// plain peer server, this same binary, runs so too).
NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()

let repo = ProcessInfo.processInfo.environment["WARREN_HOME"] ?? FileManager.default.currentDirectoryPath
let rootfs = repo + "/rootfs/out/provided.al2023"
let payloadDir = Bundle.module.url(forResource: "true", withExtension: nil)!.deletingLastPathComponent().path
let runs = Int(ProcessInfo.processInfo.environment["WARREN_BENCH_RUNS"] ?? "") ?? 300

let sections = CommandLine.arguments.dropFirst().isEmpty ? ["cold", "warm", "http"] : Array(CommandLine.arguments.dropFirst())
for section in sections {
    switch section {
    case "cold": try coldStart()
    case "warm": try await warmInvoke()
    case "http": try await httpInvoke()
    case "plain-server": try await plainServer()  // the peer of "http", as its own process
    default: print("warren-bench: unknown section \(section) (cold, warm, http)")
    }
}
