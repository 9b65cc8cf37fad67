import Foundation
import WarrenStore

/// What AWS allows in a tag (the tagging rules Lambda applies): a key of 1–128 characters not
/// starting with `aws:`, a value of 0–256, both of letters, digits, spaces and `_ . : / = + - @`.
enum TagRules {
    /// - Throws: ``LambdaError`` `InvalidParameterValueException` naming the first tag at fault.
    static func check(_ tags: [String: String]) throws(LambdaError) {
        for (key, value) in tags.sorted(by: { $0.key < $1.key }) {
            try checkLength(key)
            guard value.count <= 256 else {
                throw .invalidParameter("The value of tag '\(key)' must be at most 256 characters long.")
            }
            guard !key.lowercased().hasPrefix("aws:") else {
                throw .invalidParameter("Tag keys starting with 'aws:' are reserved for AWS use: '\(key)'.")
            }
            guard key.allSatisfy(isAllowed), value.allSatisfy(isAllowed) else {
                throw .invalidParameter("Tag '\(key)' may hold only letters, digits, spaces and _ . : / = + - @.")
            }
        }
        guard tags.count <= maxTags else {
            throw .invalidParameter("Number of tags exceeds resource tag limit (\(maxTags)).")
        }
    }

    /// A key's length: also what UntagResource checks of the keys it is given.
    static func checkLength(_ key: String) throws(LambdaError) {
        guard (1...128).contains(key.count) else {
            throw .invalidParameter("Tag key '\(key)' must be 1 to 128 characters long.")
        }
    }

    private static func isAllowed(_ c: Character) -> Bool {
        c.isLetter || c.isNumber || c == " " || "_.:/=+-@".contains(c)
    }
}

/// The `{Resource}` of the tag operations: a function's ARN. The model's pattern also names
/// code-signing configs, event source mappings and capacity providers, which Warren has none of.
struct TaggableResource {
    static let pattern = #"arn:(aws[a-zA-Z-]*):lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:"#
        + #"(function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?|code-signing-config:csc-[a-z0-9]{17}|"#
        + #"event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|"#
        + #"capacity-provider:[a-zA-Z0-9-_]+)"#

    /// The function the ARN names; tags belong to the function, never a version or alias.
    let function: String

    /// - Throws: ``LambdaError``: `ValidationException` off the pattern, `ResourceNotFoundException`
    ///   for another kind of resource or another region, `AccessDeniedException` for another account
    ///   (``FunctionReference/checkReachable(from:)``), ``LambdaError/functionOnly`` for a qualified ARN.
    init(path raw: String, home: LambdaARN) throws(LambdaError) {
        let text = PathParameter.decoded(raw) ?? raw
        var violations = Violations()
        violations.length(text, at: "resource", max: 256, min: 1)
        try violations.check()
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 7, parts[0] == "arn", LambdaPattern.isPartition(parts[1]), parts[2] == "lambda",
            LambdaPattern.isRegion(parts[3]), LambdaPattern.isAccount(parts[4])
        else {
            throw Self.offPattern(text)
        }
        guard parts[5] == "function" else {
            throw .notFound("The resource you requested does not exist. (Service: Lambda; resource: \(text))")
        }
        var reference = FunctionReference(
            name: String(parts[6]), qualifier: parts.count > 7 ? parts[7...].joined(separator: ":") : nil)
        guard LambdaPattern.isName(reference.name), parts.count <= 8,
            reference.qualifier.map({ $0 == "$LATEST" || LambdaPattern.isName($0) }) ?? true
        else { throw Self.offPattern(text) }
        reference.partition = String(parts[1])
        (reference.region, reference.account) = (String(parts[3]), String(parts[4]))
        try reference.checkReachable(from: home)
        function = try reference.unqualified()
    }

    private static func offPattern(_ text: String) -> LambdaError {
        Violations.single(text, at: "resource", "Member must satisfy regular expression pattern: \(pattern)")
    }
}

extension LambdaService {
    /// ListTags.
    func listTags(_ resource: TaggableResource) async throws -> TagsShape {
        TagsShape(tags: try await store.tags(of: resource.function))
    }

    /// TagResource: adds or replaces, within the quota of 50.
    func tagResource(_ resource: TaggableResource, tags: [String: String]?) async throws {
        guard let tags else { throw Violations.single(nil, at: "tags", "Member must not be null") }
        try TagRules.check(tags)
        try await store.tagFunction(resource.function, tags: tags)
    }

    /// UntagResource: keys the function does not have are no error.
    func untagResource(_ resource: TaggableResource, keys: [String]) async throws {
        guard !keys.isEmpty else { throw Violations.single(nil, at: "tagKeys", "Member must not be null") }
        for key in keys { try TagRules.checkLength(key) }
        try await store.untagFunction(resource.function, keys: keys)
    }
}
