import Foundation

/// A function's configuration, as Lambda's `FunctionConfiguration` names it.
public struct FunctionConfig: Sendable, Equatable {
    public var functionName: String
    /// A runtime under `rootfs/`: `provided.al2023`, `python3.11`.
    public var runtime: String
    public var handler: String
    public var memorySize: Int
    /// Seconds; the deadline of one invocation.
    public var timeout: Double
    /// MiB of `/tmp`.
    public var ephemeralStorage: Int
    public var environment: [String: String]
    /// Host directory with the extracted code, mounted read-only at /var/task.
    public var codeDirectory: String
    /// `LoggingConfig`: the format of the platform lines, and what the runtime is told.
    public var logging = LoggingSettings()

    public init(functionName: String, runtime: String, handler: String, memorySize: Int = 128, timeout: Double = 3,
                ephemeralStorage: Int = 512, environment: [String: String] = [:], codeDirectory: String) {
        self.functionName = functionName
        self.runtime = runtime
        self.handler = handler
        self.memorySize = memorySize
        self.timeout = timeout
        self.ephemeralStorage = ephemeralStorage
        self.environment = environment
        self.codeDirectory = codeDirectory
    }
}

/// One version of a function: `$LATEST` or an immutable published `N`.
public struct FunctionVersion: Sendable, Equatable, Hashable {
    public var functionName: String
    public var version: String

    public init(_ functionName: String, _ version: String) {
        self.functionName = functionName
        self.version = version
    }

    public static let latest = "$LATEST"
}

/// An alias: a name for a version, optionally splitting traffic by weight.
public struct Alias: Sendable, Equatable {
    public var name: String
    public var functionVersion: String
    /// Additional versions and their share of traffic (0...1), as Lambda's
    /// `RoutingConfig.AdditionalVersionWeights`.
    public var additionalVersionWeights: [String: Double]

    public init(name: String, functionVersion: String, additionalVersionWeights: [String: Double] = [:]) {
        self.name = name
        self.functionVersion = functionVersion
        self.additionalVersionWeights = additionalVersionWeights
    }

    /// Picks the version for one invocation: each additional version with
    /// its weight, the primary with the rest. `roll` is uniform in 0..<1.
    public func pick(roll: Double = Double.random(in: 0..<1)) -> String {
        var acc = 0.0
        for (version, weight) in additionalVersionWeights.sorted(by: { $0.key < $1.key }) {
            acc += weight
            if roll < acc { return version }
        }
        return functionVersion
    }
}

/// How an invocation is made.
public enum InvocationType: String, Sendable {
    case requestResponse = "RequestResponse"
    case event = "Event"
    case dryRun = "DryRun"
}

/// What an invocation returns to its caller.
public struct InvokeResult: Sendable {
    /// 200 (RequestResponse), 202 (Event), 204 (DryRun).
    public var statusCode: Int
    public var payload: [UInt8]
    public var contentType: String?
    /// `Unhandled` when the function failed (`X-Amz-Function-Error`).
    public var functionError: String?
    public var executedVersion: String
    public var requestId: String
    /// The last 4 KB of this invocation's log, when asked for.
    public var logTail: String?
    /// Milliseconds the invocation ran (0 when it never reached a runtime).
    public var durationMs: Double = 0
    /// Set on a cold start: how long the instance took to initialize.
    public var initDurationMs: Double?
    /// The Lambda error type when the function or its runtime failed
    /// (`Sandbox.Timedout`, `Runtime.ExitError`, the handler's own type …).
    public var errorType: String?

    public init(statusCode: Int, payload: [UInt8], contentType: String? = nil, functionError: String? = nil,
                executedVersion: String, requestId: String, logTail: String? = nil) {
        self.statusCode = statusCode
        self.payload = payload
        self.contentType = contentType
        self.functionError = functionError
        self.executedVersion = executedVersion
        self.requestId = requestId
        self.logTail = logTail
    }
}

/// Why an invocation or a management call was refused, with Lambda's names.
public struct SupervisorError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case resourceNotFound = "ResourceNotFoundException"
        case resourceConflict = "ResourceConflictException"
        case invalidParameterValue = "InvalidParameterValueException"
        case tooManyRequests = "TooManyRequestsException"
        case requestTooLarge = "RequestEntityTooLargeException"
        case serviceException = "ServiceException"
    }

    public var code: Code
    public var message: String
    /// `Reason` of a throttle (`ReservedFunctionConcurrentInvocationLimitExceeded`, …).
    public var reason: String?

    public init(_ code: Code, _ message: String, reason: String? = nil) {
        self.code = code
        self.message = message
        self.reason = reason
    }

    public var description: String {
        "\(code.rawValue): \(message)" + (reason.map { " (Reason: \($0))" } ?? "")
    }
}
