import Testing

@testable import WarrenRuntimeAPI

/// Measures warm invokes end to end; asserts behaviour only, and prints the timings.
@Suite(.timeLimit(.minutes(2)))
struct RuntimeAPIRoundTripTests {
    static let rounds = 2000

    @Test func sequentialWarmInvokesOverKeepAlive() async throws {
        try await withServer { h in
            let runtime = try await h.connect()
            let payload = Array(#"{"n":1}"#.utf8)
            let loop = Task {
                var served = 0
                for _ in 0..<Self.rounds {
                    let next = try await runtime.request("GET", nextPath)
                    guard let id = next.header("Lambda-Runtime-Aws-Request-Id") else { break }
                    _ = try await runtime.request("POST", responsePath(id), body: next.body)
                    served += 1
                }
                return served
            }
            var invokes: [Duration] = []
            let clock = ContinuousClock()
            for round in 0..<Self.rounds {
                let start = clock.now
                let outcome = try await h.session.invoke(invocation("rt-\(round)", payload: #"{"n":1}"#))
                invokes.append(clock.now - start)
                #expect(outcome == .response(body: payload, contentType: nil))
            }
            #expect(try await loop.value == Self.rounds)

            // Baseline: one plain HTTP request/response on the same kind of connection.
            let plain = try await h.connect()
            var baseline: [Duration] = []
            for _ in 0..<Self.rounds {
                let start = clock.now
                #expect(try await plain.request("GET", "/ping").status == 404)
                baseline.append(clock.now - start)
            }
            print("warm invoke (n=\(Self.rounds)): \(summary(invokes)); plain HTTP round trip: \(summary(baseline))")
        }
    }
}

private func summary(_ samples: [Duration]) -> String {
    let micros = samples.map { Double($0.components.attoseconds) / 1e12 + Double($0.components.seconds) * 1e6 }.sorted()
    func pct(_ p: Double) -> String {
        let value = micros[min(micros.count - 1, Int(Double(micros.count) * p))]
        return "\((value * 10).rounded() / 10) µs"
    }
    return "p50 \(pct(0.5)), p99 \(pct(0.99))"
}
