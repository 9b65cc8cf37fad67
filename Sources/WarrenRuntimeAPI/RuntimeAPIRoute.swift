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
    ///
    /// Matches bytes, not `Character`s: every request of every invocation passes here, and
    /// splitting the path as a `String` cost more than the rest of the request head.
    init(method: HTTPMethod, uri: String) {
        var path = Substring(uri).utf8[...]
        if let query = path.firstIndex(of: UInt8(ascii: "?")) { path = path[..<query] }
        guard path.starts(with: Self.runtimePrefix.utf8) else {
            self = .notFound
            return
        }
        let rest = path.dropFirst(Self.runtimePrefix.utf8.count)
        if rest.elementsEqual("invocation/next".utf8) {
            self = method == .GET ? .next : .methodNotAllowed(allow: "GET")
        } else if rest.elementsEqual("init/error".utf8) {
            self = method == .POST ? .initError : .methodNotAllowed(allow: "POST")
        } else if rest.starts(with: "invocation/".utf8) {
            // invocation/{id}/response or invocation/{id}/error, with a non-empty id.
            let tail = rest.dropFirst("invocation/".utf8.count)
            guard let slash = tail.firstIndex(of: UInt8(ascii: "/")), slash != tail.startIndex else {
                self = .notFound
                return
            }
            let requestId = Substring(tail[..<slash])
            let action = tail[tail.index(after: slash)...]
            if action.elementsEqual("response".utf8) {
                self = method == .POST ? .response(requestId: requestId) : .methodNotAllowed(allow: "POST")
            } else if action.elementsEqual("error".utf8) {
                self = method == .POST ? .invocationError(requestId: requestId) : .methodNotAllowed(allow: "POST")
            } else {
                self = .notFound
            }
        } else {
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
        "Lambda-Runtime-Function-Response-Mode must be absent, \\\"buffered\\\" or \\\"streaming\\\""
    )
    static let notFound = error("NotFound", "No such Runtime API endpoint (only /2018-06-01/runtime/* is served)")

    /// The event the invocation fails with when the runtime asked for an unknown response mode.
    static let invalidResponseModeOutcome = Array(
        error("Runtime.InvalidResponseModeHeader", "Unknown Lambda-Runtime-Function-Response-Mode").utf8
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
