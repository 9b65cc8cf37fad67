import NIOHTTP1

/// Which Runtime API endpoint a request names.
enum RuntimeAPIRoute: Equatable {
    case next
    case response(requestId: Substring)
    case invocationError(requestId: Substring)
    case initError
    case notFound
    case methodNotAllowed(allow: String)

    private static let runtimePrefix = RuntimeAPI.prefix + "/runtime/"

    /// Routes `method` + `uri`; the query string is ignored, request ids are compared undecoded (they are UUIDs).
    init(method: HTTPMethod, uri: String) {
        var path = Substring(uri)
        if let query = path.firstIndex(of: "?") { path = path[..<query] }
        guard path.hasPrefix(Self.runtimePrefix) else {
            self = .notFound
            return
        }
        let rest = path.dropFirst(Self.runtimePrefix.count)
        let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
        switch (parts.count, parts.first, parts.last) {
        case (2, "invocation", "next"):
            self = method == .GET ? .next : .methodNotAllowed(allow: "GET")
        case (2, "init", "error"):
            self = method == .POST ? .initError : .methodNotAllowed(allow: "POST")
        case (3, "invocation", "response") where !parts[1].isEmpty:
            self = method == .POST ? .response(requestId: parts[1]) : .methodNotAllowed(allow: "POST")
        case (3, "invocation", "error") where !parts[1].isEmpty:
            self = method == .POST ? .invocationError(requestId: parts[1]) : .methodNotAllowed(allow: "POST")
        default:
            self = .notFound
        }
    }

    /// Whether the body is kept (posts) rather than read and dropped.
    var keepsBody: Bool {
        switch self {
        case .response, .invocationError, .initError: return true
        case .next, .notFound, .methodNotAllowed: return false
        }
    }
}

/// The JSON bodies the Runtime API answers with, in RIE's wording (`{errorMessage,errorType}`).
enum RuntimeAPIReply {
    static let accepted = #"{"status":"OK"}"#
    static let invalidRequestId = error("InvalidRequestID", "Invalid request ID")
    static let tooLarge = error(
        "RequestEntityTooLarge",
        "Exceeded maximum allowed payload size (\(RuntimeAPI.maxResponseBytes) bytes)."
    )
    static let invalidResponseMode = error(
        "InvalidFunctionResponseMode",
        "Lambda-Runtime-Function-Response-Mode must be absent or \\\"buffered\\\": response streaming is not supported by Warren"
    )
    static let notFound = error("NotFound", "No such Runtime API endpoint (only /2018-06-01/runtime/* is served)")

    /// The event the invocation fails with when the runtime asked for an unsupported response mode.
    static let invalidResponseModeOutcome = Array(
        error("Runtime.InvalidResponseModeHeader", "Response streaming is not supported by Warren").utf8
    )

    static func methodNotAllowed(allow: String) -> String {
        error("MethodNotAllowed", "Only \(allow) is allowed on this endpoint")
    }

    static func invalidTransition(from: String, to: String) -> String {
        error(
            "InvalidStateTransition",
            "State transition from \(from) to \(to) failed for runtime. Error: State transition is not allowed"
        )
    }

    /// The `500` a runtime gets once its session is closed: it must exit.
    static func closed(_ reason: String) -> String {
        error("Runtime.SessionClosed", "The runtime session is closed (\(escaped(reason))); the runtime must exit")
    }

    private static func error(_ type: String, _ message: String) -> String {
        #"{"errorMessage":"\#(message)","errorType":"\#(type)"}"#
    }

    /// Escapes a free-form string for a JSON string literal (the close reason comes from the supervisor).
    private static func escaped(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += " "
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
