import ArgumentParser
import Foundation

/// Why an operator command failed, with the exit status scripts can rely on.
struct OperatorError: Error, CustomStringConvertible {
    enum Kind {
        /// The invoked function failed (exit 1); its error payload was already printed.
        case functionError
        /// Bad input found after parsing, e.g. an unreadable zip (exit 2).
        case input
        /// The server answered 4xx/5xx or something that is not the API (exit 3).
        case api
        /// No HTTP exchange with the server was possible (exit 4).
        case unreachable
    }

    var kind: Kind
    /// The line printed after `warren: `; empty prints nothing.
    var message: String

    /// An API error: `<ErrorType>: <message>`.
    static func api(_ type: String, _ message: String) -> OperatorError {
        OperatorError(kind: .api, message: message.isEmpty ? type : "\(type): \(message)")
    }

    static func unreachable(_ endpoint: String, _ reason: String) -> OperatorError {
        OperatorError(kind: .unreachable, message: "cannot reach \(endpoint): \(reason)")
    }

    static func input(_ message: String) -> OperatorError {
        OperatorError(kind: .input, message: message)
    }

    var exitCode: Int32 {
        switch kind {
        case .functionError: 1
        case .input: 2
        case .api: 3
        case .unreachable: 4
        }
    }

    var description: String { message }
}

/// Runs an operator command's body against the server, turning an
/// ``OperatorError`` into its one stderr line and exit status.
enum Operator {
    /// - Parameters:
    ///   - options: Where the server is and how to sign.
    ///   - body: The command's work.
    /// - Throws: `ExitCode` for every failure; anything else `body` throws is a bug and propagates.
    static func run(_ options: ConnectionOptions, _ body: (OperatorClient) async throws -> Void) async throws {
        do {
            try await OperatorClient.with(options, body)
        } catch let error as OperatorError {
            if !error.message.isEmpty { warn(error.message) }
            throw ExitCode(error.exitCode)
        }
    }

    /// Writes `warren: <message>` to stderr.
    static func warn(_ message: String) {
        StandardStreams.error("warren: \(Render.visible(message))\n")
    }
}
