import Foundation
import WarrenStore
import WarrenSupervisor

extension LambdaService {
    /// CreateAlias.
    func createAlias(_ name: String, _ request: CreateAliasRequest) async throws -> AliasConfiguration {
        var violations = Violations()
        violations.required(request.name != nil, at: "name")
        violations.required(request.functionVersion != nil, at: "functionVersion")
        try violations.check()
        let weights = request.routingConfig?.additionalVersionWeights ?? [:]
        try Self.validateAlias(name: request.name, version: request.functionVersion,
                               description: request.description, weights: weights)
        let alias = AliasRecord(function: name, name: request.name ?? "",
                                functionVersion: request.functionVersion ?? "", additionalVersionWeights: weights,
                                description: request.description ?? "")
        let created = try await mutations.serialized {
            let created = try await store.createAlias(alias)
            do {
                try await supervisor.putAlias(name, supervisorAlias(created))
            } catch {
                // A refused alias is not kept: it would list but never invoke.
                try? await store.deleteAlias(name, name: created.name)
                throw error
            }
            return created
        }
        return AliasConfiguration(created, arn: arn)
    }

    /// GetAlias.
    func getAlias(_ name: String, alias: String) async throws -> AliasConfiguration {
        AliasConfiguration(try await store.getAlias(name, name: alias), arn: arn)
    }

    /// UpdateAlias: members given replace the old ones. Provisioned
    /// concurrency set on the alias moves with it to its new version.
    func updateAlias(_ name: String, alias aliasName: String, _ request: UpdateAliasRequest) async throws
        -> AliasConfiguration {
        try Self.validateAlias(name: aliasName, version: request.functionVersion, description: request.description,
                               weights: request.routingConfig?.additionalVersionWeights ?? [:])
        let updated = try await mutations.serialized {
            var alias = try await aliasToUpdate(name, aliasName)
            if let version = request.functionVersion { alias.functionVersion = version }
            if let description = request.description { alias.description = description }
            if let routing = request.routingConfig {
                alias.additionalVersionWeights = routing.additionalVersionWeights ?? [:]
            }
            try Self.validateRouting(version: alias.functionVersion, weights: alias.additionalVersionWeights)
            let provisioned = try await provisionedRequest(name, qualifier: aliasName)
            if provisioned != nil { try await checkProvisionedTarget(name, alias: alias) }
            let updated = try await store.updateAlias(alias, expectedRevisionId: request.revisionId)
            // The supervisor still resolves the alias to its old version here.
            if provisioned != nil { try await supervisor.deleteProvisionedConcurrency(name, qualifier: aliasName) }
            try await supervisor.putAlias(name, supervisorAlias(updated))
            if let provisioned {
                try await supervisor.putProvisionedConcurrency(name, qualifier: aliasName, provisioned, wait: false)
                startProvisionedInstances()
            }
            return updated
        }
        return AliasConfiguration(updated, arn: arn)
    }

    /// The alias UpdateAlias changes; Lambda words its absence differently from GetAlias.
    private func aliasToUpdate(_ name: String, _ alias: String) async throws -> AliasRecord {
        do {
            return try await store.getAlias(name, name: alias)
        } catch let error as StoreError where error.code == .notFound && error.message.hasPrefix("Cannot find alias") {
            throw LambdaError.notFound("Alias not found: \(arn.function(name, alias))")
        }
    }

    /// DeleteAlias; a missing alias is not an error (Lambda answers 204).
    func deleteAlias(_ name: String, alias: String) async throws {
        try await mutations.serialized {
            let provisioned = try await provisionedRequest(name, qualifier: alias)
            try await store.deleteAlias(name, name: alias)
            if provisioned != nil {
                try await supervisor.deleteProvisionedConcurrency(name, qualifier: alias)
                clearProvisionedFailures(name, qualifier: alias)
            }
            try await supervisor.deleteAlias(name, alias: alias)
        }
    }

    /// ListAliases, optionally only those routing to `functionVersion`.
    func listAliases(_ name: String, functionVersion: String?, marker: String?, maxItems: Int?) async throws
        -> ListAliasesResponse {
        let limit = try Paging.limit(maxItems, max: 10000)
        var violations = Violations()
        violations.pattern(functionVersion, at: "functionVersion", #"(\$LATEST|[0-9]+)"#, LambdaPattern.isVersion)
        try violations.check()
        let aliases = try await store.listAliases(name, functionVersion: functionVersion)
        let page = Paging.page(aliases, marker: marker, maxItems: limit) { $0.name }
        return ListAliasesResponse(aliases: page.items.map { AliasConfiguration($0, arn: arn) }, nextMarker: page.next)
    }

    /// The model's constraints, then Lambda's routing rules (spec §5).
    private static func validateAlias(name: String?, version: String?, description: String?,
                                      weights: [String: Double]) throws(LambdaError) {
        var violations = Violations()
        violations.length(name, at: "name", max: 128, min: 1)
        violations.pattern(name, at: "name", #"(?!^[0-9]+$)([a-zA-Z0-9-_]+)"#, LambdaPattern.isAlias)
        violations.length(version, at: "functionVersion", max: 1024, min: 1)
        violations.pattern(version, at: "functionVersion", #"(\$LATEST|[0-9]+)"#, LambdaPattern.isVersion)
        violations.length(description, at: "description", max: 256)
        violations.noNUL(description, at: "description")
        let field = "routingConfig.additionalVersionWeights"
        if weights.count > 1 {
            violations.add(raw: "Value '\(weights)' at '\(field)' failed to satisfy constraint: Member must have "
                + "length less than or equal to 1")
        }
        for (key, weight) in weights.sorted(by: { $0.key < $1.key }) {
            violations.pattern(key, at: field, "[0-9]+") { LambdaPattern.isVersionNumber($0) }
            if !(0...1).contains(weight) {
                violations.add(String(weight), at: field, "Member must have value between 0.0 and 1.0")
            }
        }
        try violations.check()
        if let version { try validateRouting(version: version, weights: weights) }
    }

    private static func validateRouting(version: String, weights: [String: Double]) throws(LambdaError) {
        guard !weights.isEmpty else { return }
        if version == FunctionVersion.latest {
            throw .invalidParameter("$LATEST is not supported for an alias pointing to more than 1 version")
        }
        if weights[version] != nil {
            throw .invalidParameter("Invalid function version \(version). Function version \(version) is already "
                + "included in routing configuration.")
        }
    }
}
