import Foundation

/// `$LATEST` of a function: its configuration and the code it runs.
///
/// Field names follow Lambda's `FunctionConfiguration`, so the REST layer maps
/// them one to one.
public struct FunctionRecord: Codable, Sendable, Equatable {
    public var name: String
    public var runtime: String
    public var handler: String
    /// The execution role ARN; Lambda requires one and echoes it back.
    public var role: String
    public var memorySize: Int
    /// Seconds.
    public var timeout: Double
    /// MiB of `/tmp`.
    public var ephemeralStorage: Int
    public var environment: [String: String]
    public var description: String
    /// Lower-case hex SHA-256 of the deployed zip; names `code/<sha256>/`.
    public var codeSha256: String
    /// Bytes of the deployed zip (Lambda's `CodeSize`).
    public var codeSize: Int
    /// A fresh UUID after every change, for optimistic concurrency.
    public var revisionId: String
    /// Lambda's format: `2024-01-01T00:00:00.000+0000`.
    public var lastModified: String
    /// `Pending`, `Active`, `Inactive` or `Failed`.
    public var state: String
    /// Settings kept and reported but not applied (X-Ray tracing, VPC, …): by Lambda's member name,
    /// the JSON text of the member as the API reports it. Written and read by the API layer alone;
    /// nil when there are none (and in rows and snapshots from before it existed).
    public var reportedSettings: [String: String]?

    public init(name: String, runtime: String, handler: String, role: String = "", memorySize: Int = 128,
                timeout: Double = 3, ephemeralStorage: Int = 512, environment: [String: String] = [:],
                description: String = "", codeSha256: String, codeSize: Int, revisionId: String = newRevisionId(),
                lastModified: String = lambdaTimestamp(), state: String = "Active",
                reportedSettings: [String: String]? = nil) {
        self.name = name
        self.runtime = runtime
        self.handler = handler
        self.role = role
        self.memorySize = memorySize
        self.timeout = timeout
        self.ephemeralStorage = ephemeralStorage
        self.environment = environment
        self.description = description
        self.codeSha256 = codeSha256
        self.codeSize = codeSize
        self.revisionId = revisionId
        self.lastModified = lastModified
        self.state = state
        self.reportedSettings = reportedSettings
    }

    /// Lambda's `CodeSha256`: the digest in base64 rather than hex.
    public var codeSha256Base64: String { hexToBase64(codeSha256) }

    /// Whether code and configuration match, ignoring bookkeeping
    /// (revision, timestamp, state): what "unchanged since the last
    /// published version" means for `publishVersion`.
    public func hasSameContent(as other: FunctionRecord) -> Bool {
        var copy = other
        copy.revisionId = revisionId
        copy.lastModified = lastModified
        copy.state = state
        return copy == self
    }
}

/// The fields `updateFunctionConfiguration` may change; `nil` keeps the old value.
public struct FunctionConfigurationUpdate: Sendable, Equatable {
    public var runtime: String?
    public var handler: String?
    public var role: String?
    public var memorySize: Int?
    public var timeout: Double?
    public var ephemeralStorage: Int?
    /// Replaces the variables wholesale, as Lambda does.
    public var environment: [String: String]?
    public var description: String?
    /// Reported settings to set (a JSON text) or remove (nil), by member; the others are kept.
    public var reportedSettings: [String: String?]

    public init(runtime: String? = nil, handler: String? = nil, role: String? = nil, memorySize: Int? = nil,
                timeout: Double? = nil, ephemeralStorage: Int? = nil, environment: [String: String]? = nil,
                description: String? = nil, reportedSettings: [String: String?] = [:]) {
        self.runtime = runtime
        self.handler = handler
        self.role = role
        self.memorySize = memorySize
        self.timeout = timeout
        self.ephemeralStorage = ephemeralStorage
        self.environment = environment
        self.description = description
        self.reportedSettings = reportedSettings
    }
}

/// An immutable published version: `$LATEST` as it was when published.
public struct VersionRecord: Codable, Sendable, Equatable {
    public var function: String
    /// `"1"`, `"2"`, …; never reused, even after a delete.
    public var version: String
    /// The snapshot. Its `revisionId` is the version's own, its
    /// `description` that of `$LATEST` at publish time.
    public var configuration: FunctionRecord
    /// The version's description (PublishVersion's `Description`, else `$LATEST`'s).
    public var description: String

    public init(function: String, version: String, configuration: FunctionRecord, description: String) {
        self.function = function
        self.version = version
        self.configuration = configuration
        self.description = description
    }

    public var codeSha256: String { configuration.codeSha256 }
    public var revisionId: String { configuration.revisionId }
}

/// An alias, optionally splitting traffic between two versions.
public struct AliasRecord: Codable, Sendable, Equatable {
    public var function: String
    public var name: String
    public var functionVersion: String
    /// Lambda's `RoutingConfig.AdditionalVersionWeights`: version → share (0…1).
    public var additionalVersionWeights: [String: Double]
    public var description: String
    public var revisionId: String

    public init(function: String, name: String, functionVersion: String,
                additionalVersionWeights: [String: Double] = [:], description: String = "",
                revisionId: String = newRevisionId()) {
        self.function = function
        self.name = name
        self.functionVersion = functionVersion
        self.additionalVersionWeights = additionalVersionWeights
        self.description = description
        self.revisionId = revisionId
    }
}

/// Provisioned concurrency requested for a version or an alias. Its
/// status (IN_PROGRESS → READY) is runtime state, kept by the supervisor.
public struct ProvisionedConcurrencyRecord: Codable, Sendable, Equatable {
    public var function: String
    public var qualifier: String
    public var requested: Int
    public var lastModified: String

    public init(function: String, qualifier: String, requested: Int, lastModified: String = lambdaTimestamp()) {
        self.function = function
        self.qualifier = qualifier
        self.requested = requested
        self.lastModified = lastModified
    }
}

/// Lambda's `FunctionEventInvokeConfig` for one qualifier.
public struct EventInvokeConfigRecord: Codable, Sendable, Equatable {
    public var function: String
    /// `$LATEST`, a version or an alias.
    public var qualifier: String
    /// 0…2; `nil` means Lambda's default (2).
    public var maximumRetryAttempts: Int?
    /// 60…21600; `nil` means Lambda's default (21600).
    public var maximumEventAgeInSeconds: Int?
    /// Destination ARN for events that ran out of attempts or age.
    public var onFailure: String?
    public var onSuccess: String?
    /// Epoch seconds, as Lambda's response carries it.
    public var lastModified: Double

    public init(function: String, qualifier: String, maximumRetryAttempts: Int? = nil,
                maximumEventAgeInSeconds: Int? = nil, onFailure: String? = nil, onSuccess: String? = nil,
                lastModified: Double = Date().timeIntervalSince1970) {
        self.function = function
        self.qualifier = qualifier
        self.maximumRetryAttempts = maximumRetryAttempts
        self.maximumEventAgeInSeconds = maximumEventAgeInSeconds
        self.onFailure = onFailure
        self.onSuccess = onSuccess
        self.lastModified = lastModified
    }
}

/// One page of a listing and the marker of the next, as Lambda pages.
public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    /// Pass back as `marker` for the next page; `nil` on the last page.
    public var nextMarker: String?

    public init(items: [Item], nextMarker: String?) {
        self.items = items
        self.nextMarker = nextMarker
    }
}

extension Page: Equatable where Item: Equatable {}

/// One statement of a resource-based policy: its id and the JSON Lambda reports for it (built by
/// the API layer).
public struct PolicyStatement: Codable, Sendable, Equatable {
    public var sid: String
    public var json: String

    public init(sid: String, json: String) {
        self.sid = sid
        self.json = json
    }
}

/// The resource-based policy of a function, or of one of its versions or aliases: its statements
/// in the order they were added, and the RevisionId of what it is attached to.
public struct PolicyRecord: Codable, Sendable, Equatable {
    public var function: String
    /// `""` for the unqualified function's policy.
    public var qualifier: String
    public var statements: [PolicyStatement]
    public var revisionId: String

    public init(function: String, qualifier: String, statements: [PolicyStatement] = [],
                revisionId: String = newRevisionId()) {
        self.function = function
        self.qualifier = qualifier
        self.statements = statements
        self.revisionId = revisionId
    }
}
