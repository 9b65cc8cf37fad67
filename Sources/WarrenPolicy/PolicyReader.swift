// Typed access to a parsed JSON document that names the exact place of every
// problem. Every object is checked against its list of keys before any value
// is read, so an unknown or misspelt key is always reported, never skipped.

/// Reads JSON values of one policy file; every failure becomes a `PolicyError` naming `file`.
struct PolicyReader {
    let file: String

    func fail(_ location: String, _ message: String) -> PolicyError {
        PolicyError(file: file, location: location, message: message)
    }

    /// `syscalls[3]` + `args` → `syscalls[3].args`.
    static func join(_ path: String, _ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }

    /// The members of an object, with `null` members dropped (the OCI Go types treat null as absent).
    /// - Throws: when `value` is not an object or has a key outside `keys`.
    func object(_ value: JSONValue, at path: String, keys: [String]) throws(PolicyError) -> [String: JSONValue] {
        guard case .object(let members) = value else {
            throw fail(path, "expected an object, found \(value.kind)")
        }
        var fields: [String: JSONValue] = [:]
        for (key, member) in members {
            guard keys.contains(key) else {
                throw fail(path, "unknown key \"\(key)\"" + Suggestion.hint(for: key, in: keys))
            }
            if member != .null { fields[key] = member }
        }
        return fields
    }

    func string(_ value: JSONValue, at path: String) throws(PolicyError) -> String {
        guard case .string(let text) = value else { throw fail(path, "expected a string, found \(value.kind)") }
        return text
    }

    /// A non-negative integer no larger than `max`, read from its exact source text.
    func unsigned(_ value: JSONValue, at path: String, max: UInt64 = .max) throws(PolicyError) -> UInt64 {
        guard case .number(let text) = value else {
            throw fail(path, "expected a non-negative integer, found \(value.kind)")
        }
        guard text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
            throw fail(path, "expected a non-negative integer, found \(text)")
        }
        guard let number = UInt64(text), number <= max else {
            throw fail(path, "\(text) is out of range (at most \(max))")
        }
        return number
    }

    func array(_ value: JSONValue, at path: String) throws(PolicyError) -> [JSONValue] {
        guard case .array(let items) = value else { throw fail(path, "expected an array, found \(value.kind)") }
        return items
    }

    func strings(_ value: JSONValue, at path: String) throws(PolicyError) -> [String] {
        var result: [String] = []
        for (index, item) in try array(value, at: path).enumerated() {
            result.append(try string(item, at: "\(path)[\(index)]"))
        }
        return result
    }

    /// One of a closed set of spellings; the error is reported at `location` as `unknown <what> "x"`.
    func choice<E: RawRepresentable & CaseIterable>(
        _ type: E.Type, _ value: JSONValue, at path: String, reportAt location: String, what: String
    ) throws(PolicyError) -> E where E.RawValue == String {
        let text = try string(value, at: path)
        guard let result = E(rawValue: text) else {
            throw fail(location, "unknown \(what) \"\(text)\"" + Suggestion.hint(for: text, in: E.allCases.map(\.rawValue)))
        }
        return result
    }

    /// Architecture tokens (`SCMP_ARCH_*`) of an array.
    func architectures(_ value: JSONValue, at path: String) throws(PolicyError) -> [Architecture] {
        var result: [Architecture] = []
        for (index, item) in try array(value, at: path).enumerated() {
            let itemPath = "\(path)[\(index)]"
            result.append(try choice(Architecture.self, item, at: itemPath, reportAt: itemPath, what: "architecture"))
        }
        return result
    }
}
