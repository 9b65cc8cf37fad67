import Foundation
import Logging

/// The HTTP server's log handler. It prints as swift-log's
/// `StreamLogHandler` does (standard error, `info` and up), but keeps
/// metadata as it is set and formats it only for a line it writes:
/// Hummingbird sets a request id on every request's logger, and
/// `StreamLogHandler` sorts and formats all metadata at each set.
struct ServerLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    init(label: String) {
        self.label = label
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { $1 } }
        if let explicit = event.metadata { all.merge(explicit) { $1 } }
        if let error = event.error { all["error.message"] = "\(error)" }
        let pairs = all.sorted { $0.key < $1.key }.map { " \($0.key)=\($0.value)" }.joined()
        let time = Date().formatted(.iso8601)
        StandardStreams.error("\(time) \(event.level) \(label):\(pairs) [\(event.source)] \(event.message)\n")
    }
}
