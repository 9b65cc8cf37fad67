import Foundation
import WarrenStore
import WarrenSupervisor

/// The configuration members CreateFunction and UpdateFunctionConfiguration
/// share, checked as Lambda checks them: shape constraints first (one
/// `ValidationException` listing all), then the semantic rules
/// (`InvalidParameterValueException`).
struct FunctionSettings {
    var runtime: String?
    var role: String?
    var handler: String?
    var description: String?
    var timeout: Int?
    var memorySize: Int?
    var environment: [String: String]?
    var ephemeralStorage: EphemeralStorageShape?
    var layers: [String]?
    var unapplied = UnappliedSettings()

    /// Variables the runtime sets; Lambda refuses them in a function's environment.
    static let reservedKeys: Set<String> = [
        "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
    ]

    /// Lambda's limit on the JSON of the variables.
    static let environmentLimit = 4096

    /// - Parameter catalog: The runtimes this installation has.
    /// - Throws: ``LambdaError``.
    func validate(catalog: RuntimeCatalog) throws(LambdaError) {
        var violations = Violations()
        violations.length(handler, at: "handler", max: 128)
        violations.pattern(handler, at: "handler", #"[^\s]+"#) { !$0.isEmpty && !$0.contains(where: \.isWhitespace) }
        violations.length(description, at: "description", max: 256)
        violations.noNUL(handler, at: "handler")
        violations.noNUL(description, at: "description")
        unapplied.check(into: &violations)
        violations.range(timeout, at: "timeout", 1...900)
        violations.range(memorySize, at: "memorySize", 128...10240)
        violations.pattern(role, at: "role", LambdaPattern.role, LambdaPattern.isRole)
        if let ephemeralStorage {
            violations.required(ephemeralStorage.size != nil, at: "ephemeralStorage.size")
            violations.range(ephemeralStorage.size, at: "ephemeralStorage.size", 512...10240)
        }
        if let environment, !environment.keys.allSatisfy(LambdaPattern.isEnvironmentKey) {
            violations.add(raw: "Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy "
                + "constraint: [Member must satisfy regular expression pattern: \(LambdaPattern.environmentKey)]")
        }
        // A value is passed to the runtime by execve, where a NUL would end it.
        for (key, value) in (environment ?? [:]).sorted(by: { $0.key < $1.key }) {
            violations.noNUL(value, at: "environment.variables.\(key)")
        }
        try violations.check()
        try checkEnvironment()
        if let layers, !layers.isEmpty {
            throw .invalidParameter("Layers are not supported by Warren; put the layer's files in the function's zip.")
        }
        if let runtime {
            do { _ = try catalog.runtime(runtime) } catch { throw LambdaError(error) }
        }
    }

    private func checkEnvironment() throws(LambdaError) {
        guard let environment else { return }
        let reserved = environment.keys.filter(Self.reservedKeys.contains).sorted()
        if !reserved.isEmpty {
            throw .invalidParameter("Lambda was unable to configure your environment variables because the "
                + "environment variables you have provided contains reserved keys that are currently not supported "
                + "for modification. Reserved keys used in this request: \(reserved.joined(separator: ","))")
        }
        let json = Self.json(environment)
        if json.utf8.count > Self.environmentLimit {
            throw .invalidParameter("Lambda was unable to configure your environment variables because the "
                + "environment variables you have provided exceeded the 4KB limit. String measured: \(json)")
        }
    }

    /// The variables as JSON, the string Lambda measures.
    static func json(_ environment: [String: String]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: environment, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// Warren runs functions for the host's architecture only.
    /// - Throws: ``LambdaError``: `ValidationException` off the model,
    ///   `InvalidParameterValueException` for the other architecture.
    static func checkArchitectures(_ architectures: [String]?) throws(LambdaError) {
        guard let architectures else { return }
        var violations = Violations()
        if architectures.count != 1 {
            violations.add(raw: "Value '\(architectures)' at 'architectures' failed to satisfy constraint: Member "
                + "must have length less than or equal to 1")
        }
        for value in architectures { violations.oneOf(value, at: "architectures", ["x86_64", "arm64"]) }
        try violations.check()
        if architectures != [HostArchitecture.name] {
            throw .invalidParameter("Warren runs \(HostArchitecture.name) functions only on this host; "
                + "\(architectures.joined()) is not supported.")
        }
    }

    /// Warren takes code only as `ZipFile`.
    /// - Throws: ``LambdaError`` `InvalidParameterValueException` for S3 or image code, or none.
    static func zip(_ zipFile: Data?, s3Bucket: String?, s3Key: String?, imageUri: String?) throws(LambdaError)
        -> [UInt8] {
        if s3Bucket != nil || s3Key != nil || imageUri != nil {
            throw .invalidParameter("Warren takes function code as ZipFile only; S3Bucket, S3Key and ImageUri are "
                + "not supported.")
        }
        guard let zipFile else { throw .invalidParameter("Please provide a source for function code.") }
        return [UInt8](zipFile)
    }
}

extension FunctionSettings {
    init(_ request: CreateFunctionRequest) {
        self.init(runtime: request.runtime, role: request.role, handler: request.handler,
                  description: request.description, timeout: request.timeout, memorySize: request.memorySize,
                  environment: request.environment.map { $0.variables ?? [:] },
                  ephemeralStorage: request.ephemeralStorage, layers: request.layers, unapplied: request.unapplied)
    }

    init(_ request: UpdateFunctionConfigurationRequest) {
        self.init(runtime: request.runtime, role: request.role, handler: request.handler,
                  description: request.description, timeout: request.timeout, memorySize: request.memorySize,
                  environment: request.environment.map { $0.variables ?? [:] },
                  ephemeralStorage: request.ephemeralStorage, layers: request.layers, unapplied: request.unapplied)
    }

    /// The store's update: `nil` keeps a member as it is.
    var update: FunctionConfigurationUpdate {
        FunctionConfigurationUpdate(runtime: runtime, handler: handler, role: role, memorySize: memorySize,
                                    timeout: timeout.map(Double.init), ephemeralStorage: ephemeralStorage?.size,
                                    environment: environment, description: description,
                                    reportedSettings: unapplied.reported)
    }
}
