import Foundation

/// The `{FunctionName}` of a Lambda path: `NAME`, `NAME:QUALIFIER`,
/// `ACCOUNT:function:NAME[:QUALIFIER]` or a full ARN, URL-encoded.
///
/// Parsed as the model's pattern reads, left to right:
/// `(arn:(aws[a-zA-Z-]*)?:lambda:)?(REGION:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?`.
struct FunctionReference: Sendable, Equatable {
    var name: String
    /// The qualifier spelled in the name, if any.
    var qualifier: String?
    /// The partition, region and account an ARN or partial ARN spells, if it does.
    var partition: String?
    var region: String?
    var account: String?

    static let pattern = #"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?"#
        + #"(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?"#

    /// Parses a path parameter.
    /// - Parameters:
    ///   - raw: The parameter as it appears in the path (percent-encoded).
    ///   - maxLength: The model's length limit (140, or 256 for namespaced names).
    /// - Throws: ``LambdaError`` `ValidationException` for a value off the pattern.
    init(path raw: String, maxLength: Int = 140) throws(LambdaError) {
        try self.init(text: PathParameter.decoded(raw) ?? raw, maxLength: maxLength)
    }

    /// Parses a name given in a JSON body (not percent-encoded).
    init(text: String, maxLength: Int = 140) throws(LambdaError) {
        var violations = Violations()
        violations.length(text, at: "functionName", max: maxLength, min: 1)
        try violations.check()
        guard let parsed = Self.parse(text) else {
            throw Violations.single(text, at: "functionName",
                                    "Member must satisfy regular expression pattern: \(Self.pattern)")
        }
        self = parsed
    }

    init(name: String, qualifier: String? = nil) {
        self.name = name
        self.qualifier = qualifier
    }

    private static func parse(_ text: String) -> FunctionReference? {
        let tokens = text.split(separator: ":", omittingEmptySubsequences: false)
        var i = 0
        var reference = FunctionReference(name: "")
        if tokens.count >= 4, tokens[0] == "arn", LambdaPattern.isPartition(tokens[1]), tokens[2] == "lambda" {
            reference.partition = tokens[1].isEmpty ? nil : String(tokens[1])
            i = 3
        }
        // Each optional prefix is taken only if a name still follows it.
        if i < tokens.count - 1, LambdaPattern.isRegion(tokens[i]) {
            reference.region = String(tokens[i])
            i += 1
        }
        if i < tokens.count - 1, LambdaPattern.isAccount(tokens[i]) {
            reference.account = String(tokens[i])
            i += 1
        }
        if i < tokens.count - 1, tokens[i] == "function" { i += 1 }
        guard i < tokens.count, LambdaPattern.isName(tokens[i]) else { return nil }
        reference.name = String(tokens[i])
        i += 1
        if i < tokens.count {
            guard tokens[i] == "$LATEST" || LambdaPattern.isName(tokens[i]) else { return nil }
            reference.qualifier = String(tokens[i])
            i += 1
        }
        return i == tokens.count ? reference : nil
    }

    /// Refuses a reference to a function this server cannot hold: one in another partition or
    /// region (Lambda's `ResourceNotFoundException`, "not reachable in this region") or of another
    /// account (`AccessDeniedException`: Warren serves one account and grants no other).
    /// - Parameter home: This server's region and account.
    func checkReachable(from home: LambdaARN) throws(LambdaError) {
        if let region, region != home.region {
            throw .notFound("Functions from '\(region)' are not reachable in this region ('\(home.region)')")
        }
        if let partition, partition != "aws" {
            throw .notFound("Functions from partition '\(partition)' are not reachable in this region "
                + "('\(home.region)', partition 'aws')")
        }
        if let account, account != home.account {
            throw LambdaError(403, "AccessDeniedException",
                              "Functions of account \(account) are not accessible here: this server holds "
                                + "account \(home.account)'s functions only")
        }
    }

    /// The qualifier an operation acts on: the `?Qualifier` parameter or the
    /// one in the name; when both are given they must agree.
    /// - Parameter query: The `Qualifier` query parameter.
    /// - Throws: ``LambdaError``: `ValidationException` for a malformed qualifier,
    ///   `InvalidParameterValueException` when the two disagree.
    func qualifier(query: String?) throws(LambdaError) -> String? {
        guard let query, !query.isEmpty else { return qualifier }
        var violations = Violations()
        violations.length(query, at: "qualifier", max: 128)
        violations.pattern(query, at: "qualifier", "(|[a-zA-Z0-9$_-]+)", LambdaPattern.isQualifier)
        try violations.check()
        if let qualifier, qualifier != query {
            throw .invalidParameter("The derived qualifier from the function name does not match the specified "
                + "qualifier.")
        }
        return query
    }

    /// The function name of an operation that acts on the function only
    /// (reserved concurrency, code and configuration updates).
    /// - Throws: ``LambdaError/functionOnly`` when a qualifier is given.
    func unqualified() throws(LambdaError) -> String {
        guard qualifier == nil else { throw LambdaError.functionOnly }
        return name
    }
}
