import Foundation
import Glibc

func now() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Times `runs` samples of `body` after `runs / 10` warm-up ones; in ms.
func measure(_ runs: Int, _ body: () throws -> Void) rethrows -> [Double] {
    for _ in 0..<max(3, runs / 10) { try body() }
    var samples: [Double] = []
    for _ in 0..<runs {
        let t0 = now()
        try body()
        samples.append(Double(now() - t0) / 1e6)
    }
    return samples.sorted()
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
}

/// Prints one table: each contender's runs, median and p99 (samples in
/// ms, shown in `unit`), and its median as a multiple of the peer's.
func report(_ rows: [(String, [Double])], peer: [Double], peerName: String, unit: String = "ms") {
    let scale = unit == "us" ? 1000.0 : 1.0
    let peerMedian = percentile(peer, 0.5)
    print(String(repeating: "-", count: 84))
    print("contender".padding(toLength: 40, withPad: " ", startingAt: 0) + "   runs   median      p99   vs \(peerName)")
    for (name, s) in rows {
        let median = percentile(s, 0.5)
        print(name.padding(toLength: 40, withPad: " ", startingAt: 0)
              + String(format: " %6d %7.2f ", s.count, median * scale) + unit
              + String(format: " %7.2f ", percentile(s, 0.99) * scale) + unit
              + String(format: "  %.2fx", median / peerMedian))
    }
    print(String(repeating: "-", count: 84))
}
