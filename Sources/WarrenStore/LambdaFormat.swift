import Foundation

/// A new RevisionId: a lower-case UUID, like Lambda's.
public func newRevisionId() -> String {
    UUID().uuidString.lowercased()
}

/// Formats a date the way Lambda's `LastModified` does:
/// `2024-01-01T00:00:00.000+0000` (UTC, milliseconds, no colon in the offset).
public func lambdaTimestamp(_ date: Date = Date()) -> String {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
    let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
    let millis = Int((date.timeIntervalSince1970 * 1000).rounded(.down)) % 1000
    func pad(_ value: Int?, _ width: Int) -> String {
        let text = String(value ?? 0)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
    return "\(pad(parts.year, 4))-\(pad(parts.month, 2))-\(pad(parts.day, 2))T"
        + "\(pad(parts.hour, 2)):\(pad(parts.minute, 2)):\(pad(parts.second, 2)).\(pad(millis, 3))+0000"
}

/// Hex digest → base64, for Lambda's `CodeSha256`. Returns "" for bad hex,
/// which can only come from a corrupted row.
func hexToBase64(_ hex: String) -> String {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(hex.count / 2)
    var index = hex.startIndex
    while index < hex.endIndex {
        let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex) ?? hex.endIndex
        guard let byte = UInt8(hex[index..<next], radix: 16) else { return "" }
        bytes.append(byte)
        index = next
    }
    return Data(bytes).base64EncodedString()
}
