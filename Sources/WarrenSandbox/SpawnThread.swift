import Foundation
import Synchronization

/// One long-lived thread that performs every spawn.
///
/// `PR_SET_PDEATHSIG` fires when the *thread* that cloned the child exits,
/// not the process. Threads of the Swift concurrency pool come and go, so a
/// sandbox spawned from one could be killed when its thread retires. This
/// thread never exits.
package final class SpawnThread: Sendable {
    /// The process-wide spawner.
    package static let shared = SpawnThread()

    private let work = Mutex<[@Sendable () -> Void]>([])
    private let ready = DispatchSemaphore(value: 0)

    private init() {
        let thread = Thread { [self] in
            while true {
                ready.wait()
                let job = work.withLock { $0.isEmpty ? nil : $0.removeFirst() }
                job?()
            }
        }
        thread.name = "warren-spawn"
        thread.start()
    }

    /// Spawns on the spawner thread; blocks the caller until it is done.
    package func spawn(_ spec: SandboxSpec) throws -> SandboxProcess {
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<Result<SandboxProcess, any Error>?>(nil)
        submit {
            let r = Result { try Sandbox.spawn(spec) }
            result.withLock { $0 = r }
            done.signal()
        }
        done.wait()
        return try result.withLock { $0! }.get()
    }

    /// Spawns on the spawner thread without blocking a pool thread.
    package func spawn(_ spec: SandboxSpec) async throws -> SandboxProcess {
        try await withCheckedThrowingContinuation { continuation in
            submit { continuation.resume(with: Result { try Sandbox.spawn(spec) }) }
        }
    }

    private func submit(_ job: @escaping @Sendable () -> Void) {
        work.withLock { $0.append(job) }
        ready.signal()
    }
}
