import Foundation
import Testing

@testable import WarrenAPI

/// The Invoke payload check (``JSONSyntax``), beside Foundation's parser on
/// the same bytes, and the path parameter decoder beside Foundation's.
@Suite("JSON syntax and path parameters")
struct JSONSyntaxTests {
    static func check(_ bytes: [UInt8]) -> JSONSyntax.Failure? {
        bytes.withUnsafeBytes(JSONSyntax.check)
    }

    static func foundationAccepts(_ bytes: [UInt8]) -> Bool {
        (try? JSONSerialization.jsonObject(with: Data(bytes), options: .fragmentsAllowed)) != nil
    }

    static let valid: [[UInt8]] = [
        "{}", "[]", "\"x\"", "0", "-0", "12", "1.5e10", "-1E-2", "2.50E+3", "true", "false", "null",
        " \t\r\n{\"a\" : [1, 2, {\"b\": null}], \"c\": \"d\"} \n",
        #""\u00e9\n\\\/\"\b\f\r\t""#, "\"é日本😀\"", "[[[]]]", "[{}, [], \"\", 0]",
        #"{"data":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"#,
    ].map { Array($0.utf8) }

    static let invalid: [[UInt8]] = [
        " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\"}", "{a:1}", "01", "1.", ".5", "-", "1e", "1e+", "+1",
        "tru", "truex", "nul", "\"abc", #""\x""#, #""\u12G4""#, "\"a\tb\"", "[1 2]", "{\"a\":1 \"b\":2}",
        "1 2", "NaN", "Infinity", "'single'", "[\"a\",,]", "{\"a\"::1}", "{,}", "[", "\"\\",
    ].map { Array($0.utf8) } + [
        [0x22, 0xFF, 0x22],  // not UTF-8
        [0x22, 0xC0, 0x80, 0x22],  // overlong NUL
        [0x22, 0xED, 0xA0, 0x80, 0x22],  // an encoded surrogate
        [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],  // above U+10FFFF
        [0x22, 0xE2, 0x82, 0x22],  // truncated sequence
        [0x22, 0x00, 0x22],  // raw NUL
    ]

    @Test("valid JSON passes, as Foundation's parser agrees")
    func accepts() {
        for bytes in Self.valid {
            #expect(Self.check(bytes) == nil, "\(String(decoding: bytes, as: UTF8.self))")
            #expect(Self.foundationAccepts(bytes), "\(String(decoding: bytes, as: UTF8.self))")
        }
    }

    /// Trailing commas, which Foundation's parser lets through and RFC 8259 (and Lambda) do not.
    static let lenientInFoundation: [[UInt8]] = ["[1,]", "{\"a\":1,}"].map { Array($0.utf8) }

    @Test("invalid JSON fails, as Foundation's parser agrees (but for trailing commas, which it allows)")
    func rejects() {
        for bytes in Self.invalid {
            #expect(Self.check(bytes) != nil, "\(bytes)")
            #expect(Self.foundationAccepts(bytes) == Self.lenientInFoundation.contains(bytes), "\(bytes)")
        }
    }

    @Test("a failure names the character and where it is")
    func location() {
        #expect(Self.check(Array("not json".utf8))?.message
            == "Unexpected character 'o' (code 111): expected the literal 'null' at line 1, column 2")
        #expect(Self.check(Array("{\n  \"a\": 1,\n  \"b\" 2\n}".utf8))?.message
            == "Unexpected character '2' (code 50): expected ':' after a field name at line 3, column 7")
        #expect(Self.check(Array("[1, 2".utf8))?.message == "Unexpected end of input: expected ',' or ']' at line 1, column 6")
        #expect(Self.check(Array("{} x".utf8))?.reason
            == "Unexpected character 'x' (code 120): expected the end of input after the JSON value")
    }

    @Test("nesting is bounded without recursion")
    func depth() {
        let deepest = Array(String(repeating: "[", count: JSONSyntax.maxDepth).utf8)
            + Array(String(repeating: "]", count: JSONSyntax.maxDepth).utf8)
        #expect(Self.check(deepest) == nil)
        let tooDeep = [UInt8(ascii: "[")] + deepest + [UInt8(ascii: "]")]
        #expect(Self.check(tooDeep)?.reason == "Nesting deeper than 1000 levels")
        // A hostile megabyte of openers fails at the limit, not at the end.
        let flood = [UInt8](repeating: UInt8(ascii: "{"), count: 1 << 20)
        #expect(Self.check(flood)?.reason == "Unexpected character '{' (code 123): expected a double-quoted field name")
    }

    @Test("path parameters decode as Foundation's removingPercentEncoding does")
    func pathParameters() {
        for raw in ["echo", "my-fn_1", "fn%3Aprod", "arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Aecho",
                    "%E6%97%A5", "%e6%97%a5", "a%2", "a%zz", "%FF", "%", "%41%42", "100%25"] {
            #expect(PathParameter.decoded(raw) == raw.removingPercentEncoding, "\(raw)")
        }
    }
}
