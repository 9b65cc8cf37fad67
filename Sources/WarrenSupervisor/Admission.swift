import Synchronization

/// Admission control for one host: the account limit, reserved concurrency
/// (a guarantee and a cap per function), provisioned concurrency per
/// version, and the memory budget. The algorithm is the one in
/// `spec/concurrency-and-scaling.md` §5.
///
/// A lease is taken before an instance is picked or started and returned
/// when its invocation ends; all bookkeeping is under one lock.
public final class Admission: Sendable {
    /// What a lease stands for.
    public enum Kind: Sendable, Equatable { case provisioned, onDemand }

    public struct Lease: Sendable, Equatable {
        public let function: String
        public let version: String
        public let kind: Kind
        public let memoryMB: Int
    }

    public struct Settings: Sendable {
        public var accountLimit: Int
        /// The pool of unreserved concurrency never goes below this.
        public var unreservedMinimum: Int
        /// MiB the running instances may use in all; nil = no budget.
        public var memoryBudgetMB: Int?
        /// Instances that may run at once (started or starting); nil = no limit. Each holds file
        /// descriptors of the server's: `warren serve` derives it from its descriptor limit.
        public var maxInstances: Int?

        public init(accountLimit: Int = 1000, unreservedMinimum: Int = 100, memoryBudgetMB: Int? = nil,
                    maxInstances: Int? = nil) {
            self.accountLimit = accountLimit
            self.unreservedMinimum = unreservedMinimum
            self.memoryBudgetMB = memoryBudgetMB
            self.maxInstances = maxInstances
        }
    }

    private struct State {
        var settings: Settings
        var reserved: [String: Int] = [:]
        /// Provisioned instances per function, per version (READY only): what provisioned leases use.
        var provisioned: [String: [String: Int]] = [:]
        /// Provisioned concurrency configured per function, per version, READY or not: it counts
        /// against the account and the function's reservation from the moment it is set, as on
        /// Lambda (spec §4, §5: `sumPC`).
        var requested: [String: [String: Int]] = [:]
        var busyProvisioned: [FunctionVersion: Int] = [:]
        var busyOnDemand: [String: Int] = [:]
        var memoryInUse = 0
        var instances = 0

        func sumProvisioned(_ function: String) -> Int { requested[function, default: [:]].values.reduce(0, +) }

        /// Concurrency claimed now: reserved functions count their whole reservation.
        /// Summed in place: this runs on every on-demand lease, so no set of names is built.
        var used: Int {
            var total = 0
            for count in reserved.values { total += count }
            for (function, versions) in requested where reserved[function] == nil {
                for count in versions.values { total += count }
            }
            for (function, busy) in busyOnDemand where reserved[function] == nil { total += busy }
            return total
        }
    }

    private let state: Mutex<State>

    public init(_ settings: Settings = Settings()) {
        state = Mutex(State(settings: settings))
    }

    public var settings: Settings { state.withLock { $0.settings } }

    /// Sets (nil: removes) a function's reserved concurrency.
    /// - Throws: `invalidParameterValue` when it would leave less than the unreserved minimum.
    public func setReserved(_ function: String, _ value: Int?) throws {
        try state.withLock { s in
            let others = s.reserved.filter { $0.key != function }.values.reduce(0, +)
            if let value {
                guard value >= 0 else { throw SupervisorError(.invalidParameterValue, "ReservedConcurrentExecutions must be >= 0") }
                guard s.settings.accountLimit - others - value >= s.settings.unreservedMinimum else {
                    throw SupervisorError(.invalidParameterValue, "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [\(s.settings.unreservedMinimum)].")
                }
                guard value >= s.sumProvisioned(function) else {
                    throw SupervisorError(.resourceConflict, "Reserved concurrency must be at least the function's provisioned concurrency (\(s.sumProvisioned(function))).")
                }
            }
            s.reserved[function] = value
        }
    }

    public func reserved(_ function: String) -> Int? { state.withLock { $0.reserved[function] } }

    /// Sets the READY provisioned instances of one version (0 removes).
    public func setProvisioned(_ function: String, version: String, _ count: Int) {
        state.withLock { s in
            s.provisioned[function, default: [:]][version] = count > 0 ? count : nil
        }
    }

    /// Sets the provisioned concurrency configured on a function's versions (READY or not).
    public func setRequestedProvisioned(_ function: String, _ byVersion: [String: Int]) {
        state.withLock { s in
            s.requested[function] = byVersion.isEmpty ? nil : byVersion
        }
    }

    /// The READY provisioned instances of one version, as last set.
    public func provisioned(_ function: String, version: String) -> Int {
        state.withLock { $0.provisioned[function]?[version] ?? 0 }
    }

    /// Takes a lease for one invocation of `function` at `version`.
    /// - Throws: `tooManyRequests` with Lambda's `Reason`.
    public func lease(_ function: String, version: String, memoryMB: Int) throws -> Lease {
        try state.withLock { s in
            let fv = FunctionVersion(function, version)
            if let pc = s.provisioned[function]?[version], s.busyProvisioned[fv, default: 0] < pc {
                s.busyProvisioned[fv, default: 0] += 1
                return Lease(function: function, version: version, kind: .provisioned, memoryMB: 0)
            }
            if let reserved = s.reserved[function] {
                guard s.busyOnDemand[function, default: 0] < reserved - s.sumProvisioned(function) else {
                    throw SupervisorError(.tooManyRequests, "Rate Exceeded.",
                                          reason: "ReservedFunctionConcurrentInvocationLimitExceeded")
                }
            } else if s.used >= s.settings.accountLimit {
                throw SupervisorError(.tooManyRequests, "Rate Exceeded.", reason: "ConcurrentInvocationLimitExceeded")
            }
            s.busyOnDemand[function, default: 0] += 1
            return Lease(function: function, version: version, kind: .onDemand, memoryMB: memoryMB)
        }
    }

    /// Returns a lease.
    public func release(_ lease: Lease) {
        state.withLock { s in
            switch lease.kind {
            case .provisioned:
                s.busyProvisioned[FunctionVersion(lease.function, lease.version), default: 1] -= 1
            case .onDemand:
                s.busyOnDemand[lease.function, default: 1] -= 1
            }
        }
    }

    /// Claims `mb` of the memory budget and one instance slot for a new instance; false when the
    /// running instances already use too much memory or every slot.
    public func claimMemory(_ mb: Int) -> Bool {
        state.withLock { s in
            guard Self.hasRoom(s, mb) else { return false }
            s.memoryInUse += mb
            s.instances += 1
            return true
        }
    }

    /// Whether `claimMemory(mb)` would succeed now, without claiming.
    public func canClaimMemory(_ mb: Int) -> Bool {
        state.withLock { s in Self.hasRoom(s, mb) }
    }

    private static func hasRoom(_ s: State, _ mb: Int) -> Bool {
        if let budget = s.settings.memoryBudgetMB, s.memoryInUse + mb > budget { return false }
        if let slots = s.settings.maxInstances, s.instances >= slots { return false }
        return true
    }

    /// Gives back the memory and the slot of an instance that ended.
    public func returnMemory(_ mb: Int) {
        state.withLock { s in
            s.memoryInUse -= mb
            s.instances -= 1
        }
    }

    /// MiB claimed by running instances.
    public var memoryInUse: Int { state.withLock { $0.memoryInUse } }

    /// Executions in flight (leases held), for metrics and tests.
    public var concurrentExecutions: Int {
        state.withLock { s in s.busyOnDemand.values.reduce(0, +) + s.busyProvisioned.values.reduce(0, +) }
    }
}
