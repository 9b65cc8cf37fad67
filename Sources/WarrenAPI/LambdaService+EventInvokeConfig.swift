import Foundation
import WarrenStore
import WarrenSupervisor

/// Function{Put,Update,Get,Delete,List}EventInvokeConfig: how the async
/// queue retries a qualifier's events and where it reports them. The store
/// holds them; the queue worker reads them from there.
extension LambdaService {
    /// Put replaces the whole config; Update merges into the existing one.
    func putEventInvokeConfig(_ name: String, qualifier: String?, _ request: EventInvokeConfigRequest,
                              merge: Bool) async throws -> FunctionEventInvokeConfig {
        try Self.validate(request)
        try checkDestinations(request, of: name)
        let qualifier = qualifier ?? FunctionVersion.latest
        let record = try await mutations.serialized {
            var record = EventInvokeConfigRecord(function: name, qualifier: qualifier)
            if merge { record = try await store.getEventInvokeConfig(name, qualifier: qualifier) }
            if let value = request.maximumRetryAttempts { record.maximumRetryAttempts = value }
            if let value = request.maximumEventAgeInSeconds { record.maximumEventAgeInSeconds = value }
            if let destinations = request.destinationConfig {
                // `{}` or an empty Destination clears that side.
                if let side = destinations.onSuccess { record.onSuccess = side.destination.flatMap(Self.nonEmpty) }
                if let side = destinations.onFailure { record.onFailure = side.destination.flatMap(Self.nonEmpty) }
            }
            record.lastModified = Date().timeIntervalSince1970
            try await store.putEventInvokeConfig(record)
            return record
        }
        return FunctionEventInvokeConfig(record, arn: arn)
    }

    func getEventInvokeConfig(_ name: String, qualifier: String?) async throws -> FunctionEventInvokeConfig {
        let record = try await store.getEventInvokeConfig(name, qualifier: qualifier ?? FunctionVersion.latest)
        return FunctionEventInvokeConfig(record, arn: arn)
    }

    /// - Throws: `ResourceNotFoundException` when there is no config to delete, as Lambda does.
    func deleteEventInvokeConfig(_ name: String, qualifier: String?) async throws {
        let qualifier = qualifier ?? FunctionVersion.latest
        try await mutations.serialized {
            _ = try await store.getEventInvokeConfig(name, qualifier: qualifier)
            try await store.deleteEventInvokeConfig(name, qualifier: qualifier)
        }
    }

    func listEventInvokeConfigs(_ name: String, marker: String?, maxItems: Int?) async throws
        -> ListEventInvokeConfigsResponse {
        let limit = try Paging.limit(maxItems, max: 50)
        let page = Paging.page(try await store.listEventInvokeConfigs(name), marker: marker, maxItems: limit) {
            $0.qualifier
        }
        return ListEventInvokeConfigsResponse(configs: page.items.map { FunctionEventInvokeConfig($0, arn: arn) },
                                              nextMarker: page.next)
    }

    private static func nonEmpty(_ text: String) -> String? { text.isEmpty ? nil : text }

    /// The services a destination may name (concurrency spec §6): SQS, SNS, Lambda and EventBridge
    /// on either side, S3 on failure only; and a function is never its own destination.
    private func checkDestinations(_ request: EventInvokeConfigRequest, of name: String) throws(LambdaError) {
        let sides = [(request.destinationConfig?.onSuccess?.destination, ["sqs", "sns", "lambda", "events"]),
                     (request.destinationConfig?.onFailure?.destination, ["sqs", "sns", "lambda", "events", "s3"])]
        for case let (destination?, services) in sides where !destination.isEmpty {
            let parts = destination.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count > 2, services.contains(String(parts[2])) else {
                throw .invalidParameter("The destination ARN \(destination) is invalid.")
            }
            guard parts[2] == "lambda" else { continue }
            guard let target = EventQueue.LambdaDestination(arn: destination) else {
                throw .invalidParameter("The destination ARN \(destination) is invalid.")
            }
            if target.function == name, parts[3] == arn.region, parts[4] == arn.account {
                throw .invalidParameter("You can't specify the function as a destination for itself.")
            }
        }
    }

    private static func validate(_ request: EventInvokeConfigRequest) throws(LambdaError) {
        var violations = Violations()
        violations.range(request.maximumRetryAttempts, at: "maximumRetryAttempts", 0...2)
        violations.range(request.maximumEventAgeInSeconds, at: "maximumEventAgeInSeconds", 60...21600)
        let destinations = [("destinationConfig.onSuccess.destination", request.destinationConfig?.onSuccess),
                            ("destinationConfig.onFailure.destination", request.destinationConfig?.onFailure)]
        for (field, side) in destinations {
            violations.length(side?.destination, at: field, max: 350)
            violations.pattern(side?.destination, at: field, LambdaPattern.destination, LambdaPattern.isDestination)
        }
        try violations.check()
        let destinationGiven = request.destinationConfig.map { $0.onSuccess != nil || $0.onFailure != nil } ?? false
        if request.maximumRetryAttempts == nil, request.maximumEventAgeInSeconds == nil, !destinationGiven {
            throw .invalidParameter("You must specify at least one of error handling or destination setting.")
        }
    }
}
