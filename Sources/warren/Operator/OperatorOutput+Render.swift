import Foundation
import Glibc

/// What the operator commands print on stdout, and the progress line on stderr.
enum Render {
    /// Writes bytes to stdout unchanged. A reader that went away (`warren logs F | head -1`) ends
    /// the command quietly with status 141, as `SIGPIPE` would; any other failure to write (a full
    /// disk) ends it with one line on stderr and status 5.
    static func write(_ bytes: [UInt8]) {
        let error = StandardStreams.write(STDOUT_FILENO, bytes)
        guard error != 0 else { return }
        if error == EPIPE { exit(141) }
        StandardStreams.error("warren: cannot write the output: \(String(cString: strerror(error)))\n")
        exit(5)
    }

    /// Writes text to stdout (through ``write(_:)``, so a closed pipe ends the command the same way).
    static func print(_ text: String, terminator: String = "\n") {
        write(Array((text + terminator).utf8))
    }

    /// A JSON response as is, with a final newline.
    static func json(_ response: APIResponse) {
        write(response.body)
        if response.body.last != UInt8(ascii: "\n") { write([UInt8(ascii: "\n")]) }
    }

    /// A JSON array of list items, with a final newline.
    static func json(array items: [Any]) {
        let data = (try? JSONSerialization.data(withJSONObject: items, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("[]".utf8)
        write(Array(data) + [UInt8(ascii: "\n")])
    }

    /// Columns padded to their widest cell, the first row a header.
    static func table(_ header: [String], _ rows: [[String]]) {
        print(PolicyText.table([header] + rows.map { $0.map { visible($0) } }, indent: ""), terminator: "")
    }

    /// `Name  value` lines, names padded; rows with a nil value are left out.
    static func fields(_ rows: [(String, String?)]) {
        let present = rows.compactMap { name, value in value.map { [name, visible($0)] } }
        print(PolicyText.table(present, indent: ""), terminator: "")
    }

    /// `text` with its control characters shown as escapes (`\n`, `\t`, `\x1b`, `\u{202e}` …):
    /// a value someone stored (a Description, a server's message) can neither break a table or a
    /// one-line error nor send the terminal escape sequences (clear the screen, recolour it, set
    /// its title) nor reorder what it shows (bidirectional overrides). With `keepingLines`,
    /// newlines and tabs stay as they are (a log, a payload).
    static func visible(_ text: String, keepingLines: Bool = false) -> String {
        func isControl(_ scalar: Unicode.Scalar) -> Bool {
            if keepingLines, scalar == "\n" || scalar == "\t" { return false }
            switch scalar.value {
            case 0..<0x20, 0x7F...0x9F, 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: return true
            default: return false
            }
        }
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case _ where !isControl(scalar): out.unicodeScalars.append(scalar)
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x100: out += "\\x" + String(format: "%02x", scalar.value)
            default: out += "\\u{" + String(scalar.value, radix: 16) + "}"
            }
        }
        return out
    }

    /// What a function wrote (its log, its payload), for `fd`: as is unless `fd` is a terminal,
    /// which gets it through ``visible(_:keepingLines:)``, so that hostile code cannot drive the
    /// operator's terminal.
    static func forTerminal(_ bytes: [UInt8], fd: Int32) -> [UInt8] {
        guard isatty(fd) == 1 else { return bytes }
        return Array(visible(String(decoding: bytes, as: UTF8.self), keepingLines: true).utf8)
    }

    /// A JSON value as a person reads it: strings bare, numbers without `.0`, other values as JSON.
    static func text(_ value: Any?) -> String? {
        switch value {
        case nil, is NSNull: return nil
        case let string as String: return string
        case let number as NSNumber:
            // JSON true/false arrive as NSNumber with the `char` type code.
            if String(cString: number.objCType) == "c" { return number.boolValue ? "true" : "false" }
            return number.doubleValue == number.doubleValue.rounded() ? String(number.int64Value) : "\(number.doubleValue)"
        case let value?:
            guard JSONSerialization.isValidJSONObject(value),
                let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes])
            else { return "\(value)" }
            return String(decoding: data, as: UTF8.self)
        }
    }

    /// `1.5 MB`-style sizes for progress and tables (powers of 1024, as `MemorySize` is).
    static func bytes(_ count: Int) -> String {
        if count < 1024 { return "\(count) B" }
        if count < 1 << 20 { return String(format: "%.1f KiB", Double(count) / 1024) }
        if count < 1 << 30 { return String(format: "%.1f MiB", Double(count) / 1_048_576) }
        return String(format: "%.1f GiB", Double(count) / 1_073_741_824)
    }

    /// `42s`, `3m12s`, `2h05m`, `3d04h`.
    static func age(seconds: Int) -> String {
        let s = max(seconds, 0)
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        if s < 86400 { return "\(s / 3600)h\(String(format: "%02d", s / 60 % 60))m" }
        return "\(s / 86400)d\(String(format: "%02d", s / 3600 % 24))h"
    }
}

/// A one-line progress message on stderr, redrawn in place; silent unless
/// stderr is a terminal, so scripts' stderr holds only errors.
struct StatusLine {
    let enabled = isatty(STDERR_FILENO) == 1

    func show(_ text: String) {
        guard enabled else { return }
        StandardStreams.error("\r\u{1B}[2K\(text)")
    }

    func clear() {
        guard enabled else { return }
        StandardStreams.error("\r\u{1B}[2K")
    }
}
