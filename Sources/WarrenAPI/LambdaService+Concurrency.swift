import Foundation
import WarrenStore
import WarrenSupervisor

extension LambdaService {
    // MARK: Reserved concurrency

    /// PutFunctionConcurrency, refused when it would leave the account less
    /// unreserved concurrency than its minimum (provisioned concurrency of functions without a
    /// reservation included), or less than the function's provisioned concurrency.
    func putFunctionConcurrency(_ name: String, _ reserved: Int?) async throws -> ConcurrencyShape {
        var violations = Violations()
        violations.required(reserved != nil, at: "reservedConcurrentExecutions")
        violations.range(reserved, at: "reservedConcurrentExecutions", 0...Int.max)
        try violations.check()
        let value = reserved ?? 0
        try await mutations.serialized {
            _ = try await store.getFunction(name)
            let settings = supervisor.admission.settings
            if try await unreservedConcurrency(reserving: (name, value)) < settings.unreservedMinimum {
                throw LambdaError.invalidParameter("Specified ReservedConcurrentExecutions for function decreases "
                    + "account's UnreservedConcurrentExecution below its minimum value of "
                    + "[\(settings.unreservedMinimum)].")
            }
            let provisioned = try await store.listProvisionedConcurrency(name).reduce(0) { $0 + $1.requested }
            if value < provisioned {
                // Lambda's text, spaces and all.
                throw LambdaError.invalidParameter(" ReservedConcurrentExecutions  \(value) should not be lower than "
                    + "function's total provisioned concurrency [\(provisioned)].")
            }
            try await store.putFunctionConcurrency(name, reserved: value)
            try await supervisor.putFunctionConcurrency(name, value)
        }
        capacityChanged()
        return ConcurrencyShape(reservedConcurrentExecutions: value)
    }

    /// GetFunctionConcurrency: `{}` when unset.
    func getFunctionConcurrency(_ name: String) async throws -> ConcurrencyShape {
        ConcurrencyShape(reservedConcurrentExecutions: try await store.getFunctionConcurrency(name))
    }

    /// DeleteFunctionConcurrency: removes the reservation (and its cap).
    func deleteFunctionConcurrency(_ name: String) async throws {
        try await mutations.serialized {
            try await store.deleteFunctionConcurrency(name)
            try await supervisor.putFunctionConcurrency(name, nil)
        }
        capacityChanged()
    }

    // MARK: Provisioned concurrency

    /// PutProvisionedConcurrencyConfig. Answers `IN_PROGRESS` at once; the
    /// instances start in the background, holding the mutation lock until
    /// they are up, so later mutations see the supervisor in step.
    func putProvisionedConcurrency(_ name: String, qualifier: String?, count: Int?) async throws
        -> ProvisionedConcurrencyConfig {
        var violations = Violations()
        violations.required(qualifier != nil, at: "qualifier")
        violations.required(count != nil, at: "provisionedConcurrentExecutions")
        violations.range(count, at: "provisionedConcurrentExecutions", 1...Int.max)
        try violations.check()
        let (qualifier, count) = (qualifier ?? "", count ?? 0)
        let record = try await mutations.serialized {
            try await checkProvisionedRequest(name, qualifier: qualifier, count: count)
            let record = ProvisionedConcurrencyRecord(function: name, qualifier: qualifier, requested: count)
            try await store.putProvisionedConcurrency(record)
            clearProvisionedFailures(name, qualifier: qualifier)
            do {
                try await supervisor.putProvisionedConcurrency(name, qualifier: qualifier, count, wait: false)
            } catch {
                provisionedFailures.withLock { $0["\(name):\(qualifier)"] = "\(LambdaError(error).message)" }
            }
            return record
        }
        startProvisionedInstances()
        return ProvisionedConcurrencyConfig(requested: count, available: 0, allocated: 0, status: "IN_PROGRESS",
                                            lastModified: record.lastModified)
    }

    /// Starts missing provisioned instances in the background: a request handler must not wait
    /// for them, nor hold up other management calls (they may take minutes in all). The status
    /// moves from IN_PROGRESS to READY as they finish init; a delete meanwhile is honoured.
    func startProvisionedInstances() {
        let supervisor = supervisor
        Task {
            await supervisor.replenishProvisioned()
            self.capacityChanged()
        }
    }

    /// GetProvisionedConcurrencyConfig, with the status the supervisor reports.
    func getProvisionedConcurrency(_ name: String, qualifier: String?) async throws -> ProvisionedConcurrencyConfig {
        let qualifier = try Self.provisionedQualifier(qualifier)
        return try await provisionedStatus(store.getProvisionedConcurrency(name, qualifier: qualifier), arn: nil)
    }

    /// DeleteProvisionedConcurrencyConfig; none set is not an error.
    func deleteProvisionedConcurrency(_ name: String, qualifier: String?) async throws {
        let qualifier = try Self.provisionedQualifier(qualifier)
        try await mutations.serialized {
            guard try await provisionedRequest(name, qualifier: qualifier) != nil else { return }
            try await store.deleteProvisionedConcurrency(name, qualifier: qualifier)
            try await supervisor.deleteProvisionedConcurrency(name, qualifier: qualifier)
            clearProvisionedFailures(name, qualifier: qualifier)
        }
        capacityChanged()
    }

    /// ListProvisionedConcurrencyConfigs.
    func listProvisionedConcurrency(_ name: String, marker: String?, maxItems: Int?) async throws
        -> ListProvisionedConcurrencyConfigsResponse {
        let limit = try Paging.limit(maxItems, max: 50)
        let records = try await store.listProvisionedConcurrency(name)
        let page = Paging.page(records, marker: marker, maxItems: limit) { $0.qualifier }
        var configs: [ProvisionedConcurrencyConfig] = []
        for record in page.items {
            configs.append(await provisionedStatus(record, arn: arn.function(name, record.qualifier)))
        }
        return ListProvisionedConcurrencyConfigsResponse(configs: configs, nextMarker: page.next)
    }

    private static func provisionedQualifier(_ qualifier: String?) throws(LambdaError) -> String {
        var violations = Violations()
        violations.required(qualifier != nil, at: "qualifier")
        try violations.check()
        if qualifier == FunctionVersion.latest {
            throw .invalidParameter("The function resource provided must be an alias or a published version.")
        }
        return qualifier ?? ""
    }

    /// A stored request and how far the supervisor got with it.
    private func provisionedStatus(_ record: ProvisionedConcurrencyRecord, arn: String?) async
        -> ProvisionedConcurrencyConfig {
        var config = ProvisionedConcurrencyConfig(functionArn: arn, requested: record.requested, available: 0,
                                                  allocated: 0, status: "IN_PROGRESS",
                                                  lastModified: record.lastModified)
        if let failure = provisionedFailures.withLock({ $0["\(record.function):\(record.qualifier)"] }) {
            config.status = "FAILED"
            config.statusReason = failure
        } else if let state = try? await supervisor.provisionedConcurrency(record.function,
                                                                            qualifier: record.qualifier) {
            config.available = state.available
            config.allocated = state.allocated
            config.status = state.status.rawValue
            config.statusReason = state.statusReason
        }
        return config
    }

    /// The stored request on a qualifier, or nil.
    func provisionedRequest(_ name: String, qualifier: String) async throws -> Int? {
        do {
            return try await store.getProvisionedConcurrency(name, qualifier: qualifier).requested
        } catch let error as StoreError where error.code == .provisionedConfigNotFound {
            return nil
        }
    }

    func clearProvisionedFailures(_ name: String, qualifier: String? = nil) {
        provisionedFailures.withLock { failures in
            if let qualifier {
                failures["\(name):\(qualifier)"] = nil
            } else {
                failures = failures.filter { !$0.key.hasPrefix("\(name):") }
            }
        }
    }
}
