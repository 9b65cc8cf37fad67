import Foundation
import WarrenStore
import WarrenSupervisor

extension LambdaService {
    /// The configuration a qualifier names: `$LATEST` (unqualified ARN when
    /// no qualifier was given), a version, or the version an alias points at
    /// (reported under the alias's ARN).
    /// - Returns: The configuration and the record it came from.
    func configuration(_ name: String, qualifier: String?) async throws -> (FunctionConfiguration, FunctionRecord) {
        let latest = try await store.getFunction(name)
        do {
            switch qualifier {
            case nil:
                return (shape(latest, version: FunctionVersion.latest, arn: arn.function(name)), latest)
            case FunctionVersion.latest?:
                return (shape(latest, version: FunctionVersion.latest,
                              arn: arn.function(name, FunctionVersion.latest)), latest)
            case let qualifier? where LambdaPattern.isVersionNumber(qualifier):
                let version = try await store.getVersion(name, version: qualifier)
                return (shape(version.configuration, version: version.version,
                              arn: arn.function(name, qualifier), description: version.description),
                        version.configuration)
            case let qualifier?:
                let alias = try await store.getAlias(name, name: qualifier)
                let (config, record) = try await configuration(name, qualifier: alias.functionVersion)
                var aliased = config
                aliased.functionArn = arn.function(name, qualifier)
                return (aliased, record)
            }
        } catch let error as StoreError where error.code == .notFound {
            throw LambdaError.notFound("Function not found: \(arn.function(name, qualifier))")
        }
    }

    /// GetFunction: configuration, where the code is, reserved concurrency.
    func getFunction(_ name: String, qualifier: String?, host: String) async throws -> GetFunctionResponse {
        let (configuration, record) = try await configuration(name, qualifier: qualifier)
        let reserved = try await store.getFunctionConcurrency(name)
        let tags = try await store.tags(of: name)
        return GetFunctionResponse(
            configuration: configuration,
            code: .init(location: codeLocation(record.codeSha256, host: host)),
            tags: tags.isEmpty ? nil : tags,
            concurrency: reserved.map { ConcurrencyShape(reservedConcurrentExecutions: $0) })
    }

    /// ListFunctions: `$LATEST` of each function (unqualified ARNs), or with
    /// `all` every version too (all ARNs qualified). Pages count what they list.
    func listFunctions(marker: String?, maxItems: Int?, all: Bool) async throws -> ListFunctionsResponse {
        let limit = try Paging.limit(maxItems, max: 10000)
        guard !all else { return try await listAllVersions(marker: marker, limit: limit) }
        let page = try await store.listFunctions(marker: marker, maxItems: limit)
        let functions = page.items.map {
            shape($0, version: FunctionVersion.latest, arn: arn.function($0.name), listing: true)
        }
        return ListFunctionsResponse(functions: functions, nextMarker: page.nextMarker)
    }

    /// ListFunctions with `FunctionVersion=ALL`: pages of versions, not of functions, so a page holds
    /// at most `limit` items however many versions a function has. The marker is
    /// `<function>/<version key>` (names hold no `/`); a plain function name, from a listing of
    /// `$LATEST` only, resumes after that function.
    private func listAllVersions(marker: String?, limit: Int) async throws -> ListFunctionsResponse {
        let parts = marker.map { $0.split(separator: "/", maxSplits: 1).map(String.init) }
        var items: [(key: String, configuration: FunctionConfiguration)] = []
        func add(_ record: FunctionRecord, after versionKey: String?) async throws {
            for configuration in try await versions(of: record, listing: true) {
                let key = Paging.versionKey(configuration.version)
                if let versionKey, key <= versionKey { continue }
                items.append((record.name + "/" + key, configuration))
            }
        }
        if let parts, parts.count == 2, let record = try? await store.getFunction(parts[0]) {
            try await add(record, after: parts[1])
        }
        var cursor = parts?.first
        while items.count <= limit {
            let page = try await store.listFunctions(marker: cursor, maxItems: limit)
            for record in page.items { try await add(record, after: nil) }
            guard let next = page.nextMarker else { break }
            cursor = next
        }
        let page = items.prefix(limit)
        return ListFunctionsResponse(functions: page.map(\.configuration),
                                     nextMarker: items.count > limit ? page.last?.key : nil)
    }

    /// ListVersionsByFunction: `$LATEST` first, then 1, 2, …
    func listVersions(_ name: String, marker: String?, maxItems: Int?) async throws -> ListVersionsResponse {
        let limit = try Paging.limit(maxItems, max: 10000)
        let all = try await versions(of: store.getFunction(name), listing: false)
        let page = Paging.page(all, marker: marker, maxItems: limit) { Paging.versionKey($0.version) }
        return ListVersionsResponse(versions: page.items, nextMarker: page.next)
    }

    private func versions(of latest: FunctionRecord, listing: Bool) async throws -> [FunctionConfiguration] {
        let name = latest.name
        var result = [shape(latest, version: FunctionVersion.latest,
                            arn: arn.function(name, FunctionVersion.latest), listing: listing)]
        for version in try await store.listVersions(name) {
            result.append(shape(version.configuration, version: version.version,
                                arn: arn.function(name, version.version),
                                description: version.description, listing: listing))
        }
        return result
    }

    /// GetAccountSettings: the account limit, the unreserved concurrency (less reservations and the
    /// provisioned concurrency of functions without one), the code limits, and what is deployed.
    func accountSettings() async throws -> AccountSettings {
        var functions = 0
        var codeSize = 0
        var marker: String?
        repeat {
            let page = try await store.listFunctions(marker: marker, maxItems: 50)
            for record in page.items {
                functions += 1
                codeSize += record.codeSize
                codeSize += try await store.listVersions(record.name).reduce(0) { $0 + $1.configuration.codeSize }
            }
            marker = page.nextMarker
        } while marker != nil
        return AccountSettings(
            accountLimit: .init(concurrentExecutions: supervisor.admission.settings.accountLimit,
                                unreservedConcurrentExecutions: try await unreservedConcurrency()),
            accountUsage: .init(totalCodeSize: codeSize, functionCount: functions))
    }
}

/// Lambda's `Marker`/`MaxItems` paging over a list the service holds whole.
/// The marker is the sort key of the last item returned, so a page
/// boundary survives items coming and going.
enum Paging {
    /// Checks `MaxItems` against the model and caps a page at 50, as Lambda does.
    static func limit(_ maxItems: Int?, max: Int, page: Int = 50) throws(LambdaError) -> Int {
        var violations = Violations()
        violations.range(maxItems, at: "maxItems", 1...max)
        try violations.check()
        return min(maxItems ?? page, page)
    }

    /// The items after `marker`, at most `maxItems`, and the next marker.
    static func page<T>(_ items: [T], marker: String?, maxItems: Int, key: (T) -> String)
        -> (items: [T], next: String?) {
        let sorted = items.map { (key($0), $0) }.sorted { $0.0 < $1.0 }
        let rest = marker.map { marker in sorted.filter { $0.0 > marker } } ?? sorted
        let page = rest.prefix(maxItems)
        return (page.map(\.1), rest.count > maxItems ? page.last?.0 : nil)
    }

    /// Sorts `$LATEST` first (`$` sorts before digits), then versions by
    /// number. Never empty: an empty `NextMarker` reads as "no more pages".
    static func versionKey(_ version: String) -> String {
        guard let number = Int(version) else { return version }
        let digits = String(number)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }
}
