/// Why a state-store operation was refused, with a message ready for a
/// Lambda error body.
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of refusal. A struct over a private enum, so new codes
    /// don't break callers' exhaustive switches.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: Hashable {
            case notFound, provisionedConfigNotFound, conflict, preconditionFailed, invalid
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The function, version, alias or setting does not exist.
        public static let notFound = Code(.notFound)
        /// The function exists; the provisioned concurrency configuration asked for does not
        /// (Lambda's own error type for it).
        public static let provisionedConfigNotFound = Code(.provisionedConfigNotFound)
        /// It exists already, or something else still refers to it.
        public static let conflict = Code(.conflict)
        /// The expected RevisionId or CodeSha256 is not the current one.
        public static let preconditionFailed = Code(.preconditionFailed)
        /// The request contradicts itself or the stored state.
        public static let invalid = Code(.invalid)

        /// Lambda's error type (`x-amzn-ErrorType`) for this code.
        public var lambdaErrorType: String {
            switch value {
            case .notFound: "ResourceNotFoundException"
            case .provisionedConfigNotFound: "ProvisionedConcurrencyConfigNotFoundException"
            case .conflict: "ResourceConflictException"
            case .preconditionFailed: "PreconditionFailedException"
            case .invalid: "InvalidParameterValueException"
            }
        }

        public var description: String { lambdaErrorType }
    }

    public var code: Code
    /// Lambda's message text for the error body.
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.lambdaErrorType): \(message)" }

    static let revisionMismatch = StoreError(
        .preconditionFailed,
        "The Revision Id provided does not match the latest Revision Id. "
            + "Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
}

/// Why an uploaded zip was refused. Nothing is left on disk when one is thrown.
public struct CodeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What was wrong with the archive.
    public enum Reason: String, Sendable {
        case notAZip, empty, zippedTooLarge, unzippedTooLarge, tooManyEntries, expansionRatio
        case pathTraversal, absolutePath, symlink, duplicateEntry, sizeMismatch, corrupt, io
    }

    public var reason: Reason
    public var message: String

    public init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    /// Lambda's error type: 413 for an oversize upload, 400 otherwise.
    public var lambdaErrorType: String {
        reason == .zippedTooLarge ? "RequestEntityTooLargeException" : "InvalidParameterValueException"
    }

    public var description: String { "\(lambdaErrorType): \(message)" }

    /// Lambda's text for an unreadable zip.
    public static let unzipFailed = "Could not unzip uploaded file. Please check your file, then try to upload again."

    /// Lambda's sentence plus why, so the operator can fix the archive.
    static func refused(_ reason: Reason, _ why: String) -> CodeError {
        CodeError(reason, "\(unzipFailed) \(why)")
    }
}
