import Foundation

// The JSON bodies Lambda operations take, member names as botocore's model
// spells them. Every member is optional here so that a missing required
// one is reported as Lambda reports it, not as a decoding failure.

/// `Code` of CreateFunction. Warren takes only `ZipFile` (base64 in JSON).
struct FunctionCodeRequest: Decodable, Sendable {
    var zipFile: Data?
    var s3Bucket: String?
    var s3Key: String?
    var imageUri: String?
    enum CodingKeys: String, CodingKey {
        case zipFile = "ZipFile", s3Bucket = "S3Bucket", s3Key = "S3Key", imageUri = "ImageUri"
    }
}

struct CreateFunctionRequest: Decodable, Sendable {
    var functionName: String?
    var runtime: String?
    var role: String?
    var handler: String?
    var code: FunctionCodeRequest?
    var description: String?
    var timeout: Int?
    var memorySize: Int?
    var publish: Bool?
    var packageType: String?
    var environment: EnvironmentShape?
    var layers: [String]?
    var architectures: [String]?
    var ephemeralStorage: EphemeralStorageShape?
    var tags: [String: String]?
    /// Kept and reported (GetFunctionCodeSigningConfig), not applied; CreateFunction's alone (the
    /// rest are in ``unapplied``).
    var codeSigningConfigArn: String?
    /// Decoded beside the rest by ``WithUnapplied``.
    var unapplied = UnappliedSettings()
    enum CodingKeys: String, CodingKey {
        case functionName = "FunctionName", runtime = "Runtime", role = "Role", handler = "Handler", code = "Code"
        case description = "Description", timeout = "Timeout", memorySize = "MemorySize", publish = "Publish"
        case packageType = "PackageType", environment = "Environment", layers = "Layers"
        case architectures = "Architectures", ephemeralStorage = "EphemeralStorage", tags = "Tags"
        case codeSigningConfigArn = "CodeSigningConfigArn"
    }
}

/// A request that may carry settings Warren takes without applying (see ``UnappliedSettings``).
protocol CarriesUnappliedSettings: Decodable, Sendable {
    var unapplied: UnappliedSettings { get set }
}

/// Decodes a request and, from the same JSON object in the same pass, the unapplied settings it
/// carries: the request's own members and those, declared once, in ``UnappliedSettings``.
struct WithUnapplied<Request: CarriesUnappliedSettings>: Decodable, Sendable {
    var request: Request

    init(from decoder: any Decoder) throws {
        request = try Request(from: decoder)
        request.unapplied = try UnappliedSettings(from: decoder)
    }
}

extension CreateFunctionRequest: CarriesUnappliedSettings {}
extension UpdateFunctionConfigurationRequest: CarriesUnappliedSettings {}

/// Lambda settings Warren takes without applying them (X-Ray tracing, VPC, dead-letter queue, KMS,
/// container images, SnapStart, file systems, code signing), and the log settings, which the
/// supervisor applies (``LambdaService/functionConfig(_:)``): decoded as the model
/// types them and their enumerations and list limits checked, so a value Lambda refuses is
/// refused here too rather than silently dropped. All but the image settings (a Zip function has
/// none) are kept with the function and reported back as Lambda reports them (``reported``; code
/// signing by GetFunctionCodeSigningConfig): a deployment tool that compares what it set with what
/// it reads (Terraform, CloudFormation's drift detection) then sees no difference.
struct UnappliedSettings: Decodable, Sendable {
    struct Tracing: Codable, Sendable {
        var mode: String?
        enum CodingKeys: String, CodingKey { case mode = "Mode" }
    }
    struct Vpc: Codable, Sendable {
        var subnetIds: [String]?
        var securityGroupIds: [String]?
        var ipv6AllowedForDualStack: Bool?
        enum CodingKeys: String, CodingKey {
            case subnetIds = "SubnetIds", securityGroupIds = "SecurityGroupIds"
            case ipv6AllowedForDualStack = "Ipv6AllowedForDualStack"
        }
    }
    struct DeadLetter: Codable, Sendable {
        var targetArn: String?
        enum CodingKeys: String, CodingKey { case targetArn = "TargetArn" }
    }
    struct Image: Decodable, Sendable {
        var entryPoint: [String]?
        var command: [String]?
        var workingDirectory: String?
        enum CodingKeys: String, CodingKey {
            case entryPoint = "EntryPoint", command = "Command", workingDirectory = "WorkingDirectory"
        }
    }
    struct Snap: Codable, Sendable {
        var applyOn: String?
        enum CodingKeys: String, CodingKey { case applyOn = "ApplyOn" }
    }
    struct Logging: Codable, Sendable {
        var logFormat: String?
        var applicationLogLevel: String?
        var systemLogLevel: String?
        var logGroup: String?
        enum CodingKeys: String, CodingKey {
            case logFormat = "LogFormat", applicationLogLevel = "ApplicationLogLevel"
            case systemLogLevel = "SystemLogLevel", logGroup = "LogGroup"
        }

        /// `given` over the function's `current` configuration (nil on create), as Lambda merges an
        /// update: each member given replaces the function's, the others stay. Log levels are JSON's:
        /// given with Text (the default format) they are refused as Lambda refuses them; a function
        /// whose format is set to Text drops the levels it had.
        /// - Throws: ``LambdaError`` `InvalidParameterValueException`.
        static func merged(_ given: Logging, over current: Logging?) throws(LambdaError) -> Logging {
            var merged = current ?? Logging()
            merged.logFormat = given.logFormat ?? merged.logFormat
            merged.logGroup = given.logGroup ?? merged.logGroup
            merged.applicationLogLevel = given.applicationLogLevel ?? merged.applicationLogLevel
            merged.systemLogLevel = given.systemLogLevel ?? merged.systemLogLevel
            guard merged.logFormat != "JSON" else { return merged }
            if given.applicationLogLevel != nil || given.systemLogLevel != nil {
                throw .invalidParameter("LogLevel is not supported when LogFormat is set to \"Text\". Remove "
                    + "LogLevel from your request or change the LogFormat to \"JSON\" and try again.")
            }
            merged.applicationLogLevel = nil
            merged.systemLogLevel = nil
            return merged
        }
    }
    struct FileSystem: Codable, Sendable {
        var arn: String?
        var localMountPath: String?
        enum CodingKeys: String, CodingKey { case arn = "Arn", localMountPath = "LocalMountPath" }
    }

    var tracing: Tracing?
    var vpc: Vpc?
    var deadLetter: DeadLetter?
    var kmsKeyArn: String?
    var image: Image?
    var snapStart: Snap?
    var logging: Logging?
    var fileSystems: [FileSystem]?
    enum CodingKeys: String, CodingKey {
        case tracing = "TracingConfig", vpc = "VpcConfig", deadLetter = "DeadLetterConfig", kmsKeyArn = "KMSKeyArn"
        case image = "ImageConfig", snapStart = "SnapStart", logging = "LoggingConfig"
        case fileSystems = "FileSystemConfigs"
    }

    /// What the request sets (the member's JSON, as given) or clears (nil) of the settings a
    /// function keeps and reports, by Lambda's member name. A member given empty clears it, as on
    /// Lambda: a `VpcConfig` without subnets or groups, a `DeadLetterConfig` or `KMSKeyArn` without
    /// an ARN, `SnapStart` `None`, no `FileSystemConfigs`. A member given replaces the kept one whole.
    var reported: [String: String?] {
        var members: [String: String?] = [:]
        func put<Value: Encodable>(_ name: String, _ value: Value?, keep: (Value) -> Bool) {
            members[name] = value.flatMap { keep($0) ? Self.json($0) : nil }
        }
        if let tracing { put("TracingConfig", tracing) { $0.mode != nil } }
        if let vpc {
            put("VpcConfig", vpc) { !($0.subnetIds ?? []).isEmpty || !($0.securityGroupIds ?? []).isEmpty }
        }
        if let deadLetter { put("DeadLetterConfig", deadLetter) { !($0.targetArn ?? "").isEmpty } }
        if let kmsKeyArn { put("KMSKeyArn", kmsKeyArn) { !$0.isEmpty } }
        if let snapStart { put("SnapStart", snapStart) { ($0.applyOn ?? "None") != "None" } }
        if let logging {
            put("LoggingConfig", logging) {
                $0.logFormat != nil || $0.applicationLogLevel != nil || $0.systemLogLevel != nil || $0.logGroup != nil
            }
        }
        if let fileSystems { put("FileSystemConfigs", fileSystems) { !$0.isEmpty } }
        return members
    }

    static func json(_ value: some Encodable) -> String? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The model's enumerations and list limits.
    func check(into violations: inout Violations) {
        violations.oneOf(tracing?.mode, at: "tracingConfig.mode", ["Active", "PassThrough"])
        violations.oneOf(snapStart?.applyOn, at: "snapStart.applyOn", ["PublishedVersions", "None"])
        violations.oneOf(logging?.logFormat, at: "loggingConfig.logFormat", ["JSON", "Text"])
        violations.oneOf(logging?.applicationLogLevel, at: "loggingConfig.applicationLogLevel",
                         ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"])
        violations.oneOf(logging?.systemLogLevel, at: "loggingConfig.systemLogLevel", ["DEBUG", "INFO", "WARN"])
        if let subnets = vpc?.subnetIds, subnets.count > 16 {
            violations.add(String(subnets.count), at: "vpcConfig.subnetIds",
                           "Member must have length less than or equal to 16")
        }
        if let groups = vpc?.securityGroupIds, groups.count > 5 {
            violations.add(String(groups.count), at: "vpcConfig.securityGroupIds",
                           "Member must have length less than or equal to 5")
        }
        checkPatterns(into: &violations)
    }

    /// The model's patterns and lengths of what is kept and reported: ARNs, the log group, the file
    /// system (one at most, both members required).
    private func checkPatterns(into violations: inout Violations) {
        func pattern(_ value: String?, at field: String, _ pattern: String) {
            violations.pattern(value, at: field, pattern) { (try? Regex(pattern).wholeMatch(in: $0)) != nil }
        }
        pattern(kmsKeyArn, at: "kMSKeyArn", Self.arnOrEmpty)
        pattern(deadLetter?.targetArn, at: "deadLetterConfig.targetArn", Self.arnOrEmpty)
        violations.length(logging?.logGroup, at: "loggingConfig.logGroup", max: 512, min: 1)
        pattern(logging?.logGroup, at: "loggingConfig.logGroup", #"[\.\-_/#A-Za-z0-9]+"#)
        guard let fileSystems else { return }
        if fileSystems.count > 1 {
            violations.add(String(fileSystems.count), at: "fileSystemConfigs",
                           "Member must have length less than or equal to 1")
        }
        for (index, fileSystem) in fileSystems.enumerated() {
            let at = "fileSystemConfigs.\(index + 1).member"
            violations.required(fileSystem.arn != nil, at: "\(at).arn")
            violations.required(fileSystem.localMountPath != nil, at: "\(at).localMountPath")
            violations.length(fileSystem.arn, at: "\(at).arn", max: 256)
            pattern(fileSystem.arn, at: "\(at).arn", Self.fileSystemArn)
            violations.length(fileSystem.localMountPath, at: "\(at).localMountPath", max: 160)
            pattern(fileSystem.localMountPath, at: "\(at).localMountPath", #"/mnt/[a-zA-Z0-9-_.]+"#)
        }
    }

    static let arnOrEmpty = #"(arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()"#
    static let fileSystemArn = #"arn:aws[a-zA-Z-]*:elasticfilesystem:[a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\d{1}:\d{12}:"#
        + #"access-point/fsap-[a-f0-9]{17}|arn:aws[-a-z]*:s3files:[0-9a-z-:]+:file-system/fs-[0-9a-f]{17,40}/"#
        + #"access-point/fsap-[0-9a-f]{17,40}"#
}

/// TagResource's body.
struct TagResourceRequest: Decodable, Sendable {
    var tags: [String: String]?
    enum CodingKeys: String, CodingKey { case tags = "Tags" }
}

struct UpdateFunctionCodeRequest: Decodable, Sendable {
    var zipFile: Data?
    var s3Bucket: String?
    var s3Key: String?
    var imageUri: String?
    var publish: Bool?
    var dryRun: Bool?
    var revisionId: String?
    var architectures: [String]?
    enum CodingKeys: String, CodingKey {
        case zipFile = "ZipFile", s3Bucket = "S3Bucket", s3Key = "S3Key", imageUri = "ImageUri"
        case publish = "Publish", dryRun = "DryRun", revisionId = "RevisionId", architectures = "Architectures"
    }
}

struct UpdateFunctionConfigurationRequest: Decodable, Sendable {
    var role: String?
    var handler: String?
    var description: String?
    var timeout: Int?
    var memorySize: Int?
    var environment: EnvironmentShape?
    var runtime: String?
    var revisionId: String?
    var layers: [String]?
    var ephemeralStorage: EphemeralStorageShape?
    /// Decoded beside the rest by ``WithUnapplied``.
    var unapplied = UnappliedSettings()
    enum CodingKeys: String, CodingKey {
        case role = "Role", handler = "Handler", description = "Description", timeout = "Timeout"
        case memorySize = "MemorySize", environment = "Environment", runtime = "Runtime"
        case revisionId = "RevisionId", layers = "Layers", ephemeralStorage = "EphemeralStorage"
    }
}

struct PublishVersionRequest: Decodable, Sendable {
    var codeSha256: String?
    var description: String?
    var revisionId: String?
    enum CodingKeys: String, CodingKey {
        case codeSha256 = "CodeSha256", description = "Description", revisionId = "RevisionId"
    }
}

struct CreateAliasRequest: Decodable, Sendable {
    var name: String?
    var functionVersion: String?
    var description: String?
    var routingConfig: RoutingConfig?
    enum CodingKeys: String, CodingKey {
        case name = "Name", functionVersion = "FunctionVersion", description = "Description"
        case routingConfig = "RoutingConfig"
    }
}

struct UpdateAliasRequest: Decodable, Sendable {
    var functionVersion: String?
    var description: String?
    var routingConfig: RoutingConfig?
    var revisionId: String?
    enum CodingKeys: String, CodingKey {
        case functionVersion = "FunctionVersion", description = "Description", routingConfig = "RoutingConfig"
        case revisionId = "RevisionId"
    }
}

struct PutProvisionedConcurrencyRequest: Decodable, Sendable {
    var provisionedConcurrentExecutions: Int?
    enum CodingKeys: String, CodingKey { case provisionedConcurrentExecutions = "ProvisionedConcurrentExecutions" }
}

/// Put/UpdateFunctionEventInvokeConfig.
struct EventInvokeConfigRequest: Decodable, Sendable {
    var maximumRetryAttempts: Int?
    var maximumEventAgeInSeconds: Int?
    var destinationConfig: DestinationConfig?
    enum CodingKeys: String, CodingKey {
        case maximumRetryAttempts = "MaximumRetryAttempts", maximumEventAgeInSeconds = "MaximumEventAgeInSeconds"
        case destinationConfig = "DestinationConfig"
    }
}
