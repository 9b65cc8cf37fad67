import Foundation

/// Collects violations of the API model's shape constraints and reports
/// them as one `ValidationException`, worded as Lambda words it:
/// `2 validation errors detected: Value '0' at 'timeout' failed to satisfy
/// constraint: Member must have value greater than or equal to 1; …`.
struct Violations {
    private var items: [String] = []

    /// Records one violation.
    mutating func add(_ value: String?, at field: String, _ constraint: String) {
        let shown = value.map { "'\($0)'" } ?? "null"
        items.append("Value \(shown) at '\(field)' failed to satisfy constraint: \(constraint)")
    }

    /// Records a violation Lambda words without a value.
    mutating func add(raw message: String) {
        items.append(message)
    }

    /// Checks an integer range.
    mutating func range(_ value: Int?, at field: String, _ bounds: ClosedRange<Int>) {
        guard let value else { return }
        if value < bounds.lowerBound {
            add(String(value), at: field, "Member must have value greater than or equal to \(bounds.lowerBound)")
        } else if value > bounds.upperBound {
            add(String(value), at: field, "Member must have value less than or equal to \(bounds.upperBound)")
        }
    }

    /// Checks a string's length.
    mutating func length(_ value: String?, at field: String, max: Int, min: Int = 0) {
        guard let value else { return }
        if value.count > max {
            add(value, at: field, "Member must have length less than or equal to \(max)")
        } else if value.count < min {
            add(value, at: field, "Member must have length greater than or equal to \(min)")
        }
    }

    /// Refuses U+0000 in free text the store keeps (a handler, a description): SQLite's text ends
    /// at one, so the value would be cut there silently. (Lambda's model has no pattern for these.)
    mutating func noNUL(_ value: String?, at field: String) {
        guard let value, value.utf8.contains(0) else { return }
        add(value, at: field, "Member must not contain the NUL character (U+0000)")
    }

    /// Checks that a string matches the model's pattern, described by `pattern`.
    mutating func pattern(_ value: String?, at field: String, _ pattern: String, _ matches: (String) -> Bool) {
        guard let value, !matches(value) else { return }
        add(value, at: field, "Member must satisfy regular expression pattern: \(pattern)")
    }

    /// Checks an enumeration.
    mutating func oneOf(_ value: String?, at field: String, _ allowed: [String]) {
        guard let value, !allowed.contains(value) else { return }
        add(value, at: field, "Member must satisfy enum value set: [\(allowed.joined(separator: ", "))]")
    }

    /// Records a missing required member.
    mutating func required(_ present: Bool, at field: String) {
        if !present { add(nil, at: field, "Member must not be null") }
    }

    /// - Throws: ``LambdaError`` `ValidationException` when anything was recorded.
    func check() throws(LambdaError) {
        guard !items.isEmpty else { return }
        let noun = items.count == 1 ? "error" : "errors"
        throw .validation("\(items.count) validation \(noun) detected: " + items.joined(separator: "; "))
    }

    /// The `ValidationException` for one violation.
    static func single(_ value: String?, at field: String, _ constraint: String) -> LambdaError {
        let shown = value.map { "'\($0)'" } ?? "null"
        return .validation("1 validation error detected: Value \(shown) at '\(field)' failed to satisfy constraint: "
            + constraint)
    }
}

/// The character classes and patterns of Lambda's API model, matched by
/// hand (they are simple, and Foundation's regular expressions are slow).
enum LambdaPattern {
    /// `[a-zA-Z0-9-_]`
    static func isNameCharacter(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || c == "-" || c == "_")
    }

    /// `[a-zA-Z0-9-_]+`
    static func isName(_ s: some StringProtocol) -> Bool {
        !s.isEmpty && s.allSatisfy(isNameCharacter)
    }

    /// `[0-9]+`
    static func isVersionNumber(_ s: some StringProtocol) -> Bool {
        !s.isEmpty && s.allSatisfy { $0.isASCII && $0.isNumber }
    }

    /// Alias: `(?!^[0-9]+$)([a-zA-Z0-9-_]+)`
    static func isAlias(_ s: String) -> Bool { isName(s) && !isVersionNumber(s) }

    /// Version: `(\$LATEST|[0-9]+)`
    static func isVersion(_ s: String) -> Bool { s == "$LATEST" || isVersionNumber(s) }

    /// Qualifier in a query: `(|[a-zA-Z0-9$_-]+)`
    static func isQualifier(_ s: String) -> Bool {
        s.allSatisfy { isNameCharacter($0) || $0 == "$" }
    }

    static let role = #"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+"#

    static let codeSigningConfig = #"arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\d{1}:\d{12}:"#
        + #"code-signing-config:csc-[a-z0-9]{17}"#

    /// Code signing configuration ARN (``codeSigningConfig``), the whole string.
    static func isCodeSigningConfig(_ s: String) -> Bool {
        (try? Regex(codeSigningConfig).wholeMatch(in: s)) != nil
    }

    /// Role ARN: `arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+`
    static func isRole(_ s: String) -> Bool {
        let parts = s.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", isPartition(parts[1]), parts[2] == "iam", parts[3].isEmpty,
              isAccount(parts[4]), parts[5].hasPrefix("role") else { return false }
        let rest = parts[5].dropFirst(4)
        let allowed = Set("+=,.@-_/")
        return !rest.isEmpty && rest.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || allowed.contains($0)) }
    }

    /// `(aws[a-zA-Z-]*)?`
    static func isPartition(_ s: some StringProtocol) -> Bool {
        s.isEmpty || (s.hasPrefix("aws") && s.allSatisfy { $0.isASCII && ($0.isLetter || $0 == "-") })
    }

    /// `\d{12}`
    static func isAccount(_ s: some StringProtocol) -> Bool {
        s.count == 12 && isVersionNumber(s)
    }

    /// `[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}`
    static func isRegion(_ s: some StringProtocol) -> Bool {
        let parts = s.split(separator: "-", omittingEmptySubsequences: false)
        func lower<S: StringProtocol>(_ p: S) -> Bool { !p.isEmpty && p.allSatisfy { $0.isASCII && $0.isLowercase } }
        guard parts.count == 3 || parts.count == 4, parts[0].count == 2, lower(parts[0]),
              let last = parts.last, last.count == 1, isVersionNumber(last), lower(parts[parts.count - 2]) else {
            return false
        }
        guard parts.count == 4 else { return true }
        let infix = parts[1]
        return infix == "gov" || (infix.hasPrefix("iso") && infix.count <= 4 && lower(infix))
    }

    static let destination = #"$|kafka://([^.]([a-zA-Z0-9\-_.]{0,248}))|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:"#
        + #"([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1})?:(\d{12})?:(.*)"#

    /// A destination ARN (or a Kafka URL, or empty to clear), as the model's `DestinationArn`.
    static func isDestination(_ s: String) -> Bool {
        if s.isEmpty || s.hasPrefix("kafka://") { return true }
        let parts = s.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", parts[1].hasPrefix("aws"), isPartition(parts[1]),
              !parts[2].isEmpty, parts[2].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") })
        else { return false }
        return (parts[3].isEmpty || isRegion(parts[3])) && (parts[4].isEmpty || isAccount(parts[4]))
    }

    static let environmentKey = "[a-zA-Z]([a-zA-Z0-9_])+"

    /// Environment variable name: `[a-zA-Z]([a-zA-Z0-9_])+`
    static func isEnvironmentKey(_ s: String) -> Bool {
        guard let first = s.first, first.isASCII, first.isLetter, s.count >= 2 else { return false }
        return s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
    }
}
