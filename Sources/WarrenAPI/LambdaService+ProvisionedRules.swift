import Foundation
import WarrenStore
import WarrenSupervisor

/// Lambda's rules for provisioned concurrency (spec §7, concurrency §4):
/// one config per version, directly or through one alias without routing;
/// the total within reserved concurrency, or within the unreserved pool.
extension LambdaService {
    /// Checks a PutProvisionedConcurrencyConfig against the stored state.
    /// Call holding the mutation lock.
    func checkProvisionedRequest(_ name: String, qualifier: String, count: Int) async throws {
        _ = try await store.getFunction(name)
        if qualifier == FunctionVersion.latest {
            throw LambdaError.invalidParameter("Provisioned Concurrency Configs cannot be applied to unpublished "
                + "function versions.")
        }
        if LambdaPattern.isVersionNumber(qualifier) {
            _ = try await existing { try await store.getVersion(name, version: qualifier) }
            try await checkVersionTarget(name, version: qualifier)
        } else {
            let alias = try await existing { try await store.getAlias(name, name: qualifier) }
            try await checkProvisionedTarget(name, alias: alias)
        }
        let others = try await store.listProvisionedConcurrency(name).filter { $0.qualifier != qualifier }
            .reduce(0) { $0 + $1.requested }
        if let reserved = try await store.getFunctionConcurrency(name) {
            if others + count > reserved {
                throw LambdaError.invalidParameter("Requested Provisioned Concurrency should not be greater than the "
                    + "reservedConcurrentExecution for function")
            }
            return
        }
        let unreserved = try await unreservedConcurrency(replacing: (name, qualifier))
        let minimum = supervisor.admission.settings.unreservedMinimum
        if count > unreserved - minimum {
            // It comes out of the unreserved pool, which keeps its minimum (as a reservation's check says).
            throw LambdaError.invalidParameter("Specified ConcurrentExecutions for function decreases account's "
                + "UnreservedConcurrentExecution below its minimum value of [\(minimum)].")
        }
    }

    /// The account's unreserved concurrency (concurrency spec §2): the limit less every reservation
    /// and every provisioned request of a function without one (those come out of the unreserved
    /// pool). `reserving` counts a function as reserving `count` instead of what it holds now;
    /// `replacing` leaves one provisioned request out.
    func unreservedConcurrency(reserving: (function: String, count: Int)? = nil,
                               replacing: (function: String, qualifier: String)? = nil) async throws -> Int {
        var reserved = try await store.allFunctionConcurrency()
        if let reserving { reserved[reserving.function] = reserving.count }
        let provisioned = try await store.listProvisionedConcurrency(nil)
            .filter { reserved[$0.function] == nil && !($0.function == replacing?.function
                                                         && $0.qualifier == replacing?.qualifier) }
            .reduce(0) { $0 + $1.requested }
        return supervisor.admission.settings.accountLimit - reserved.values.reduce(0, +) - provisioned
    }

    /// An alias may carry provisioned concurrency only on a published version, without routing,
    /// and only when nothing else provisions its version.
    func checkProvisionedTarget(_ name: String, alias: AliasRecord) async throws {
        if alias.functionVersion == FunctionVersion.latest {
            throw LambdaError.invalidParameter("Provisioned Concurrency Configs cannot be applied to unpublished "
                + "function versions.")
        }
        if !alias.additionalVersionWeights.isEmpty {
            throw LambdaError.conflict("Alias with weights can not be used with Provisioned Concurrency")
        }
        let targets = try await provisionedVersions(name, excluding: alias.name)
        if targets.contains(alias.functionVersion) {
            throw LambdaError.conflict("Alias can't be used for Provisioned Concurrency configuration on an already "
                + "Provisioned version")
        }
    }

    /// A version may carry provisioned concurrency only when no provisioned alias points at it.
    private func checkVersionTarget(_ name: String, version: String) async throws {
        let aliases = try await store.listAliases(name, functionVersion: nil)
        let provisioned = Set(try await store.listProvisionedConcurrency(name).map(\.qualifier))
        if aliases.contains(where: { provisioned.contains($0.name) && $0.functionVersion == version }) {
            throw LambdaError.conflict("Version is pointed by a Provisioned Concurrency alias")
        }
    }

    /// The versions provisioned now, directly or through an alias other than `excluded`.
    private func provisionedVersions(_ name: String, excluding excluded: String) async throws -> Set<String> {
        let aliases = Dictionary(uniqueKeysWithValues: try await store.listAliases(name, functionVersion: nil)
            .map { ($0.name, $0.functionVersion) })
        var versions = Set<String>()
        for record in try await store.listProvisionedConcurrency(name) where record.qualifier != excluded {
            versions.insert(aliases[record.qualifier] ?? record.qualifier)
        }
        return versions
    }

    /// Runs a lookup whose not-found means "no such qualifier": Lambda says
    /// `Function not found: <qualified ARN>` then.
    private func existing<T>(_ lookup: () async throws -> T) async throws -> T {
        do {
            return try await lookup()
        } catch let error as StoreError where error.code == .notFound {
            throw LambdaError.notFound(error.message.hasPrefix("Function not found") ? error.message
                : error.message.replacingOccurrences(of: "Cannot find alias arn", with: "Function not found"))
        }
    }
}
