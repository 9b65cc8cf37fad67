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
    enum CodingKeys: String, CodingKey {
        case functionName = "FunctionName", runtime = "Runtime", role = "Role", handler = "Handler", code = "Code"
        case description = "Description", timeout = "Timeout", memorySize = "MemorySize", publish = "Publish"
        case packageType = "PackageType", environment = "Environment", layers = "Layers"
        case architectures = "Architectures", ephemeralStorage = "EphemeralStorage", tags = "Tags"
    }
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
