import Foundation
import WarrenStore

// The JSON Lambda answers with, member names as botocore's model spells them.
// Optional members are left out when nil, as Lambda leaves them out.

/// Builds function ARNs: `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`.
struct LambdaARN: Sendable {
    var region: String
    var account: String

    func function(_ name: String, _ qualifier: String? = nil) -> String {
        "arn:aws:lambda:\(region):\(account):function:\(name)" + (qualifier.map { ":\($0)" } ?? "")
    }
}

/// Lambda's `FunctionConfiguration`.
struct FunctionConfiguration: Codable, Sendable, Equatable {
    var functionName: String
    var functionArn: String
    var runtime: String
    var role: String
    var handler: String
    var codeSize: Int
    var description: String
    var timeout: Int
    var memorySize: Int
    var lastModified: String
    var codeSha256: String
    var version: String
    /// Left out when the function has no variables, as Lambda leaves it out.
    var environment: EnvironmentShape?
    var tracingConfig = TracingConfig()
    var revisionId: String
    var state: String?
    var lastUpdateStatus: String?
    var packageType = "Zip"
    var architectures: [String]
    var ephemeralStorage: EphemeralStorageShape
    var snapStart = SnapStart()
    var loggingConfig: LoggingConfig
    var vpcConfig: VpcConfigShape?
    var deadLetterConfig: DeadLetterConfigShape?
    var kmsKeyArn: String?
    var fileSystemConfigs: [FileSystemConfigShape]?
    /// The runtime version an instance would start on now (GetFunction and the like, not listings).
    var runtimeVersionConfig: RuntimeVersionConfigShape?

    enum CodingKeys: String, CodingKey {
        case functionName = "FunctionName", functionArn = "FunctionArn", runtime = "Runtime", role = "Role"
        case handler = "Handler", codeSize = "CodeSize", description = "Description", timeout = "Timeout"
        case memorySize = "MemorySize", lastModified = "LastModified", codeSha256 = "CodeSha256"
        case version = "Version", environment = "Environment", tracingConfig = "TracingConfig"
        case revisionId = "RevisionId", state = "State", lastUpdateStatus = "LastUpdateStatus"
        case packageType = "PackageType", architectures = "Architectures", ephemeralStorage = "EphemeralStorage"
        case snapStart = "SnapStart", loggingConfig = "LoggingConfig", vpcConfig = "VpcConfig"
        case deadLetterConfig = "DeadLetterConfig", kmsKeyArn = "KMSKeyArn", fileSystemConfigs = "FileSystemConfigs"
        case runtimeVersionConfig = "RuntimeVersionConfig"
    }

    /// One mapping from the store's record to Lambda's shape.
    /// - Parameters:
    ///   - record: `$LATEST`, or a version's snapshot.
    ///   - version: `$LATEST` or the version number.
    ///   - arn: The `FunctionArn` to report (qualified or not, per operation).
    ///   - description: A version's own description, if it differs from the snapshot's.
    ///   - listing: ListFunctions leaves out the state members.
    init(_ record: FunctionRecord, version: String, arn: String, description: String? = nil, listing: Bool = false) {
        functionName = record.name
        functionArn = arn
        runtime = record.runtime
        role = record.role
        handler = record.handler
        codeSize = record.codeSize
        self.description = description ?? record.description
        timeout = Int(record.timeout)
        memorySize = record.memorySize
        lastModified = record.lastModified
        codeSha256 = record.codeSha256Base64
        self.version = version
        environment = record.environment.isEmpty ? nil : EnvironmentShape(variables: record.environment)
        revisionId = record.revisionId
        state = listing ? nil : record.state
        lastUpdateStatus = listing ? nil : "Successful"
        architectures = [HostArchitecture.name]
        ephemeralStorage = EphemeralStorageShape(size: record.ephemeralStorage)
        loggingConfig = LoggingConfig(logGroup: "/aws/lambda/\(record.name)")
        if let reported = record.reportedSettings { report(reported) }
    }

    /// The settings the function keeps without Warren applying them, as Lambda reports them.
    private mutating func report(_ members: [String: String]) {
        func value<Value: Decodable>(_ name: String, as type: Value.Type) -> Value? {
            members[name].flatMap { try? JSONDecoder().decode(Value.self, from: Data($0.utf8)) }
        }
        typealias Given = UnappliedSettings
        if let mode = value("TracingConfig", as: Given.Tracing.self)?.mode { tracingConfig.mode = mode }
        if let vpc = value("VpcConfig", as: Given.Vpc.self) {
            vpcConfig = VpcConfigShape(subnetIds: vpc.subnetIds ?? [], securityGroupIds: vpc.securityGroupIds ?? [],
                                       ipv6AllowedForDualStack: vpc.ipv6AllowedForDualStack ?? false)
        }
        if let target = value("DeadLetterConfig", as: Given.DeadLetter.self)?.targetArn {
            deadLetterConfig = DeadLetterConfigShape(targetArn: target)
        }
        kmsKeyArn = value("KMSKeyArn", as: String.self)
        if let applyOn = value("SnapStart", as: Given.Snap.self)?.applyOn {
            snapStart.applyOn = applyOn
            // As Lambda reports a published version SnapStart applies to (none is taken here).
            if applyOn == "PublishedVersions", version != "$LATEST" { snapStart.optimizationStatus = "On" }
        }
        if let logging = value("LoggingConfig", as: Given.Logging.self) {
            // Lambda's defaults for what was left out; log levels are JSON's alone (INFO by default).
            let json = logging.logFormat == "JSON"
            loggingConfig = LoggingConfig(
                logFormat: logging.logFormat ?? "Text", logGroup: logging.logGroup ?? loggingConfig.logGroup,
                applicationLogLevel: logging.applicationLogLevel ?? (json ? "INFO" : nil),
                systemLogLevel: logging.systemLogLevel ?? (json ? "INFO" : nil))
        }
        fileSystemConfigs = value("FileSystemConfigs", as: [Given.FileSystem].self)?.map {
            FileSystemConfigShape(arn: $0.arn ?? "", localMountPath: $0.localMountPath ?? "")
        }
    }
}

/// `VpcConfig` as Lambda reports it (`VpcConfigResponse`; no `VpcId`: Warren knows no VPC).
struct VpcConfigShape: Codable, Sendable, Equatable {
    var subnetIds: [String]
    var securityGroupIds: [String]
    var ipv6AllowedForDualStack: Bool
    enum CodingKeys: String, CodingKey {
        case subnetIds = "SubnetIds", securityGroupIds = "SecurityGroupIds"
        case ipv6AllowedForDualStack = "Ipv6AllowedForDualStack"
    }
}

/// `{"RuntimeVersionArn": "arn:aws:lambda:REGION::runtime:BUILD"}`
struct RuntimeVersionConfigShape: Codable, Sendable, Equatable {
    var runtimeVersionArn: String
    enum CodingKeys: String, CodingKey { case runtimeVersionArn = "RuntimeVersionArn" }
}

struct DeadLetterConfigShape: Codable, Sendable, Equatable {
    var targetArn: String
    enum CodingKeys: String, CodingKey { case targetArn = "TargetArn" }
}

struct FileSystemConfigShape: Codable, Sendable, Equatable {
    var arn: String
    var localMountPath: String
    enum CodingKeys: String, CodingKey { case arn = "Arn", localMountPath = "LocalMountPath" }
}

/// `{"Variables": {…}}`
struct EnvironmentShape: Codable, Sendable, Equatable {
    var variables: [String: String]?
    enum CodingKeys: String, CodingKey { case variables = "Variables" }
}

/// `{"Size": 512}`
struct EphemeralStorageShape: Codable, Sendable, Equatable {
    var size: Int?
    enum CodingKeys: String, CodingKey { case size = "Size" }
}

struct TracingConfig: Codable, Sendable, Equatable {
    var mode = "PassThrough"
    enum CodingKeys: String, CodingKey { case mode = "Mode" }
}

struct SnapStart: Codable, Sendable, Equatable {
    var applyOn = "None"
    var optimizationStatus = "Off"
    enum CodingKeys: String, CodingKey { case applyOn = "ApplyOn", optimizationStatus = "OptimizationStatus" }
}

struct LoggingConfig: Codable, Sendable, Equatable {
    var logFormat = "Text"
    var logGroup: String
    var applicationLogLevel: String?
    var systemLogLevel: String?
    enum CodingKeys: String, CodingKey {
        case logFormat = "LogFormat", logGroup = "LogGroup", applicationLogLevel = "ApplicationLogLevel"
        case systemLogLevel = "SystemLogLevel"
    }
}

/// The one architecture this host runs functions for.
enum HostArchitecture {
    #if arch(arm64)
    static let name = "arm64"
    #else
    static let name = "x86_64"
    #endif
}

/// GetFunction's answer.
struct GetFunctionResponse: Codable, Sendable {
    struct Code: Codable, Sendable {
        var repositoryType = "S3"
        var location: String
        enum CodingKeys: String, CodingKey { case repositoryType = "RepositoryType", location = "Location" }
    }

    var configuration: FunctionConfiguration
    var code: Code
    /// The function's tags, whatever the qualifier; absent when it has none.
    var tags: [String: String]?
    var concurrency: ConcurrencyShape?
    enum CodingKeys: String, CodingKey {
        case configuration = "Configuration", code = "Code", tags = "Tags", concurrency = "Concurrency"
    }
}

/// ListTags' answer.
struct TagsShape: Codable, Sendable {
    var tags: [String: String]
    enum CodingKeys: String, CodingKey { case tags = "Tags" }
}

/// `{"ReservedConcurrentExecutions": n}`, or `{}` when unset.
struct ConcurrencyShape: Codable, Sendable, Equatable {
    var reservedConcurrentExecutions: Int?
    enum CodingKeys: String, CodingKey { case reservedConcurrentExecutions = "ReservedConcurrentExecutions" }
}

struct ListFunctionsResponse: Codable, Sendable {
    var functions: [FunctionConfiguration]
    var nextMarker: String?
    enum CodingKeys: String, CodingKey { case functions = "Functions", nextMarker = "NextMarker" }
}

struct ListVersionsResponse: Codable, Sendable {
    var versions: [FunctionConfiguration]
    var nextMarker: String?
    enum CodingKeys: String, CodingKey { case versions = "Versions", nextMarker = "NextMarker" }
}

/// `{"AdditionalVersionWeights": {"2": 0.1}}`
struct RoutingConfig: Codable, Sendable, Equatable {
    var additionalVersionWeights: [String: Double]?
    enum CodingKeys: String, CodingKey { case additionalVersionWeights = "AdditionalVersionWeights" }
}

/// Lambda's `AliasConfiguration`.
struct AliasConfiguration: Codable, Sendable, Equatable {
    var aliasArn: String
    var name: String
    var functionVersion: String
    var description: String
    var routingConfig: RoutingConfig?
    var revisionId: String
    enum CodingKeys: String, CodingKey {
        case aliasArn = "AliasArn", name = "Name", functionVersion = "FunctionVersion"
        case description = "Description", routingConfig = "RoutingConfig", revisionId = "RevisionId"
    }

    init(_ alias: AliasRecord, arn: LambdaARN) {
        aliasArn = arn.function(alias.function, alias.name)
        name = alias.name
        functionVersion = alias.functionVersion
        description = alias.description
        routingConfig = alias.additionalVersionWeights.isEmpty
            ? nil : RoutingConfig(additionalVersionWeights: alias.additionalVersionWeights)
        revisionId = alias.revisionId
    }
}

struct ListAliasesResponse: Codable, Sendable {
    var aliases: [AliasConfiguration]
    var nextMarker: String?
    enum CodingKeys: String, CodingKey { case aliases = "Aliases", nextMarker = "NextMarker" }
}

/// Get/Put ProvisionedConcurrencyConfig's answer, and one entry of the list.
struct ProvisionedConcurrencyConfig: Codable, Sendable, Equatable {
    var functionArn: String?
    var requested: Int
    var available: Int
    var allocated: Int
    var status: String
    var statusReason: String?
    var lastModified: String
    enum CodingKeys: String, CodingKey {
        case functionArn = "FunctionArn", requested = "RequestedProvisionedConcurrentExecutions"
        case available = "AvailableProvisionedConcurrentExecutions"
        case allocated = "AllocatedProvisionedConcurrentExecutions", status = "Status"
        case statusReason = "StatusReason", lastModified = "LastModified"
    }
}

struct ListProvisionedConcurrencyConfigsResponse: Codable, Sendable {
    var configs: [ProvisionedConcurrencyConfig]
    var nextMarker: String?
    enum CodingKeys: String, CodingKey { case configs = "ProvisionedConcurrencyConfigs", nextMarker = "NextMarker" }
}

/// GetAccountSettings' answer.
struct AccountSettings: Codable, Sendable, Equatable {
    struct Limit: Codable, Sendable, Equatable {
        var totalCodeSize = 80_530_636_800
        var codeSizeUnzipped = Int(CodeLimits.unzippedSize)
        var codeSizeZipped = CodeLimits.zippedSize
        var concurrentExecutions: Int
        var unreservedConcurrentExecutions: Int
        enum CodingKeys: String, CodingKey {
            case totalCodeSize = "TotalCodeSize", codeSizeUnzipped = "CodeSizeUnzipped"
            case codeSizeZipped = "CodeSizeZipped", concurrentExecutions = "ConcurrentExecutions"
            case unreservedConcurrentExecutions = "UnreservedConcurrentExecutions"
        }
    }

    struct Usage: Codable, Sendable, Equatable {
        var totalCodeSize: Int
        var functionCount: Int
        enum CodingKeys: String, CodingKey { case totalCodeSize = "TotalCodeSize", functionCount = "FunctionCount" }
    }

    var accountLimit: Limit
    var accountUsage: Usage
    enum CodingKeys: String, CodingKey { case accountLimit = "AccountLimit", accountUsage = "AccountUsage" }
}

/// `{"Destination": "arn:…"}`, or `{}`.
struct DestinationShape: Codable, Sendable, Equatable {
    var destination: String?
    enum CodingKeys: String, CodingKey { case destination = "Destination" }
}

/// `{"OnSuccess": {…}, "OnFailure": {…}}`
struct DestinationConfig: Codable, Sendable, Equatable {
    var onSuccess: DestinationShape?
    var onFailure: DestinationShape?
    enum CodingKeys: String, CodingKey { case onSuccess = "OnSuccess", onFailure = "OnFailure" }
}

/// Lambda's `FunctionEventInvokeConfig`.
struct FunctionEventInvokeConfig: Codable, Sendable, Equatable {
    var lastModified: Double
    var functionArn: String
    var maximumRetryAttempts: Int?
    var maximumEventAgeInSeconds: Int?
    var destinationConfig: DestinationConfig
    enum CodingKeys: String, CodingKey {
        case lastModified = "LastModified", functionArn = "FunctionArn"
        case maximumRetryAttempts = "MaximumRetryAttempts", maximumEventAgeInSeconds = "MaximumEventAgeInSeconds"
        case destinationConfig = "DestinationConfig"
    }

    init(_ record: EventInvokeConfigRecord, arn: LambdaARN) {
        lastModified = record.lastModified
        functionArn = arn.function(record.function, record.qualifier)
        maximumRetryAttempts = record.maximumRetryAttempts
        maximumEventAgeInSeconds = record.maximumEventAgeInSeconds
        destinationConfig = DestinationConfig(onSuccess: DestinationShape(destination: record.onSuccess),
                                              onFailure: DestinationShape(destination: record.onFailure))
    }
}

struct ListEventInvokeConfigsResponse: Codable, Sendable {
    var configs: [FunctionEventInvokeConfig]
    var nextMarker: String?
    enum CodingKeys: String, CodingKey { case configs = "FunctionEventInvokeConfigs", nextMarker = "NextMarker" }
}
