/// A policy that cannot be used, with the file, the place in it and the problem.
///
/// Prints as `policies/x.json: syscalls[3]: unknown syscall "mkdri" (did you mean "mkdir"?)`.
public struct PolicyError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The policy file as the user named it.
    public let file: String
    /// Where in the document, e.g. `syscalls[3].args[1]`; empty for the document itself.
    public let location: String
    /// What is wrong, with a hint where one helps.
    public let message: String

    /// Creates an error.
    public init(file: String, location: String, message: String) {
        self.file = file
        self.location = location
        self.message = message
    }

    public var description: String {
        location.isEmpty ? "\(file): \(message)" : "\(file): \(location): \(message)"
    }
}

/// "Did you mean" hints: the closest candidate within a small edit distance.
enum Suggestion {
    /// The candidate nearest to `word`, if it is at most two edits away.
    static func nearest(to word: String, in candidates: some Sequence<String>) -> String? {
        let target = Array(word.utf8)
        guard target.count <= 64 else { return nil }
        var best: (name: String, distance: Int)?
        for candidate in candidates {
            let bytes = Array(candidate.utf8)
            guard abs(bytes.count - target.count) <= 2 else { continue }
            let distance = editDistance(target, bytes)
            if distance <= 2, distance < (best?.distance ?? .max) || (distance == best?.distance && candidate < best!.name) {
                best = (candidate, distance)
            }
        }
        return best?.name
    }

    /// `" (did you mean "x"?)"` or the empty string.
    static func hint(for word: String, in candidates: some Sequence<String>) -> String {
        nearest(to: word, in: candidates).map { " (did you mean \"\($0)\"?)" } ?? ""
    }

    private static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in stride(from: 1, through: b.count, by: 1) {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            previous = current
        }
        return previous[b.count]
    }
}
