/// Checks that bytes are exactly one JSON value (RFC 8259: any value at the
/// top, whitespace around it, strings of valid UTF-8 without raw control
/// characters), as Lambda checks an Invoke payload before it runs anything.
///
/// Nothing is built: one pass over the bytes with a stack of open containers,
/// so a hostile payload costs its length and at most ``maxDepth`` bytes of
/// stack, never recursion.
enum JSONSyntax {
    /// Deepest nesting accepted (Jackson's default, which Lambda's front end parses with).
    static let maxDepth = 1000

    /// Why the bytes are not JSON, and where (1-based line and column).
    struct Failure: Error, Equatable {
        var reason: String
        var line: Int
        var column: Int

        var message: String { "\(reason) at line \(line), column \(column)" }
    }

    /// Nil when `bytes` hold one JSON value, else the first fault.
    static func check(_ bytes: UnsafeRawBufferPointer) -> Failure? {
        var scanner = Scanner(bytes: bytes)
        return scanner.run()
    }

    private struct Scanner {
        let bytes: UnsafeRawBufferPointer
        var index = 0
        /// `{` or `[` for each container open around the index.
        var open: [UInt8] = []

        init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        private enum Expect { case value, key, afterValue }

        mutating func run() -> Failure? {
            var expect = Expect.value
            while true {
                skipWhitespace()
                switch expect {
                case .value:
                    guard index < bytes.count else { return fail("Unexpected end of input: expected a JSON value") }
                    switch bytes[index] {
                    case UInt8(ascii: "{"), UInt8(ascii: "["):
                        let bracket = bytes[index]
                        guard open.count < JSONSyntax.maxDepth else {
                            return fail("Nesting deeper than \(JSONSyntax.maxDepth) levels")
                        }
                        index += 1
                        skipWhitespace()
                        if index < bytes.count, bytes[index] == bracket + 2 {  // `}` or `]`
                            index += 1
                            expect = .afterValue
                        } else {
                            open.append(bracket)
                            expect = bracket == UInt8(ascii: "{") ? .key : .value
                        }
                    case UInt8(ascii: "\""):
                        if let failure = string() { return failure }
                        expect = .afterValue
                    case UInt8(ascii: "t"):
                        if let failure = literal("true") { return failure }
                        expect = .afterValue
                    case UInt8(ascii: "f"):
                        if let failure = literal("false") { return failure }
                        expect = .afterValue
                    case UInt8(ascii: "n"):
                        if let failure = literal("null") { return failure }
                        expect = .afterValue
                    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                        if let failure = number() { return failure }
                        expect = .afterValue
                    default:
                        return unexpected("a JSON value (string, number, object, array, true, false or null)")
                    }
                case .key:
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                        return unexpected("a double-quoted field name")
                    }
                    if let failure = string() { return failure }
                    skipWhitespace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                        return unexpected("':' after a field name")
                    }
                    index += 1
                    expect = .value
                case .afterValue:
                    guard let container = open.last else {
                        return index == bytes.count ? nil : unexpected("the end of input after the JSON value")
                    }
                    let isObject = container == UInt8(ascii: "{")
                    guard index < bytes.count else {
                        return fail("Unexpected end of input: expected \(isObject ? "',' or '}'" : "',' or ']'")")
                    }
                    switch bytes[index] {
                    case UInt8(ascii: ","):
                        index += 1
                        expect = isObject ? .key : .value
                    case container + 2:
                        index += 1
                        open.removeLast()
                    default:
                        return unexpected(isObject ? "',' or '}'" : "',' or ']'")
                    }
                }
            }
        }

        private mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        /// A string from its opening quote: escapes, no raw control characters, valid UTF-8.
        private mutating func string() -> Failure? {
            index += 1
            while index < bytes.count {
                let byte = bytes[index]
                switch byte {
                case UInt8(ascii: "\""):
                    index += 1
                    return nil
                case UInt8(ascii: "\\"):
                    index += 1
                    guard index < bytes.count else { break }
                    switch bytes[index] {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                        UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        index += 1
                    case UInt8(ascii: "u"):
                        index += 1
                        for _ in 0..<4 {
                            guard index < bytes.count else { break }
                            guard bytes[index].isHexDigit else { return unexpected("a hex digit in a \\u escape") }
                            index += 1
                        }
                    default:
                        return unexpected("an escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX)")
                    }
                case 0x00..<0x20:
                    return unexpected("no control character inside a string (escape it)")
                case 0x80...:
                    guard let length = utf8Sequence(at: index) else { return fail("Invalid UTF-8 inside a string") }
                    index += length
                default:
                    index += 1
                }
            }
            return fail("Unexpected end of input inside a string")
        }

        /// The length of the well-formed UTF-8 sequence starting at `start` (Unicode table 3-7), or nil.
        private func utf8Sequence(at start: Int) -> Int? {
            let lead = bytes[start]
            let length: Int
            var low: UInt8 = 0x80, high: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; low = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; high = 0x9F
            case 0xF0: length = 4; low = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; high = 0x8F
            default: return nil
            }
            guard start + length <= bytes.count else { return nil }
            guard (low...high).contains(bytes[start + 1]) else { return nil }
            for offset in 2..<length where !(0x80...0xBF).contains(bytes[start + offset]) { return nil }
            return length
        }

        private mutating func literal(_ word: StaticString) -> Failure? {
            let text = UnsafeRawBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
            for expected in text {
                guard index < bytes.count, bytes[index] == expected else {
                    return unexpected("the literal '\(word)'")
                }
                index += 1
            }
            return nil
        }

        /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
        private mutating func number() -> Failure? {
            if bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, bytes[index].isDigit else { return unexpected("a digit") }
            if bytes[index] == UInt8(ascii: "0") {
                index += 1
            } else {
                skipDigits()
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard index < bytes.count, bytes[index].isDigit else { return unexpected("a digit after '.'") }
                skipDigits()
            }
            if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "e") {
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                    index += 1
                }
                guard index < bytes.count, bytes[index].isDigit else { return unexpected("a digit in the exponent") }
                skipDigits()
            }
            return nil
        }

        private mutating func skipDigits() {
            while index < bytes.count, bytes[index].isDigit { index += 1 }
        }

        private func unexpected(_ wanted: String) -> Failure {
            guard index < bytes.count else { return fail("Unexpected end of input: expected \(wanted)") }
            let byte = bytes[index]
            let shown = (0x21..<0x7F).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))' (code \(byte))"
                : "code \(byte)"
            return fail("Unexpected character \(shown): expected \(wanted)")
        }

        /// A failure at the index, located by line and column.
        private func fail(_ reason: String) -> Failure {
            var line = 1, lineStart = 0
            for offset in 0..<min(index, bytes.count) where bytes[offset] == 0x0A {
                line += 1
                lineStart = offset + 1
            }
            return Failure(reason: reason, line: line, column: index - lineStart + 1)
        }
    }
}

private extension UInt8 {
    var isDigit: Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) }
    var isHexDigit: Bool { isDigit || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(self | 0x20) }
}
