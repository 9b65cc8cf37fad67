import ArgumentParser
import Foundation
import WarrenAPI

/// `--output table|json` of the operator commands.
enum OperatorOutput: String, ExpressibleByArgument, CaseIterable {
    /// Aligned text for people.
    case table
    /// The API's JSON response as is; a JSON array for lists.
    case json
}

/// Where a running `warren serve` is and how to sign requests to it; shared
/// by every command that talks to the server.
struct ConnectionOptions: ParsableArguments {
    static let defaultEndpoint = "http://127.0.0.1:9000"

    @Option(name: .long, help: ArgumentHelp(
        "The server's URL; else $WARREN_ENDPOINT. [default: \(defaultEndpoint)]", valueName: "url"))
    var endpoint: String?

    @Option(name: .customLong("access-key"), help: ArgumentHelp(
        "Access key id to sign with; else $AWS_ACCESS_KEY_ID. [default: \(ServeConfiguration.localKey.accessKeyId)]",
        valueName: "id"))
    var accessKey: String?

    @Option(name: .customLong("secret-key"), help: ArgumentHelp(
        "Secret access key; else $AWS_SECRET_ACCESS_KEY. [default: the local key's]", valueName: "secret"))
    var secretKey: String?

    @Option(name: .long, help: "Region of the signature's credential scope.")
    var region = "us-east-1"

    @Option(name: .long, help: "Output format: table (for people) or json (the API's JSON, for scripts).")
    var output: OperatorOutput = .table

    /// Flag, else environment, else the contract's default.
    var resolvedEndpoint: String { endpoint ?? Self.environment("WARREN_ENDPOINT") ?? Self.defaultEndpoint }

    /// The key pair to sign with, each half resolved like ``resolvedEndpoint``.
    var key: AccessKey {
        AccessKey(
            accessKeyId: accessKey ?? Self.environment("AWS_ACCESS_KEY_ID") ?? ServeConfiguration.localKey.accessKeyId,
            secretAccessKey: secretKey ?? Self.environment("AWS_SECRET_ACCESS_KEY")
                ?? ServeConfiguration.localKey.secretAccessKey)
    }

    func validate() throws {
        do {
            _ = try Endpoint(resolvedEndpoint)
        } catch {
            throw ValidationError(error.message)
        }
    }

    private static func environment(_ name: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
        return value
    }
}

/// Help text every operator command ends with.
enum OperatorHelp {
    static let exitStatus = """
        Exit status: 0 success; 1 the function failed (invoke: X-Amz-Function-Error is set); \
        2 usage error or unreadable input file; 3 the API refused the request (4xx/5xx: one line \
        "warren: <ErrorType>: <message>" on stderr); 4 cannot reach the server \
        ("warren: cannot reach <url>: <reason>"); 5 the output cannot be written; \
        141 the reader of the output went away (`| head`), as SIGPIPE.
        """

    /// `text` followed by a blank line and the exit status paragraph.
    static func discussion(_ text: String) -> String {
        text.isEmpty ? exitStatus : text + "\n\n" + exitStatus
    }
}
