/// The two timestamp forms SigV4 accepts, parsed and printed without
/// `DateFormatter` (locale- and thread-sensitive, and slow on a hot path).
///
/// Times are whole seconds since 1970-01-01T00:00:00Z, always UTC.
enum SigV4Time {
    /// Parses the ISO 8601 basic form `20150830T123600Z` (`X-Amz-Date`).
    ///
    /// - Parameter text: The header or query value.
    /// - Returns: Seconds since the epoch, or `nil` if `text` is not exactly that form
    ///   or names a day that does not exist.
    static func parseBasic(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        guard bytes.count == 16, bytes[8] == UInt8(ascii: "T"), bytes[15] == UInt8(ascii: "Z") else {
            return nil
        }
        guard let year = number(bytes[0..<4]), let month = number(bytes[4..<6]),
            let day = number(bytes[6..<8]), let hour = number(bytes[9..<11]),
            let minute = number(bytes[11..<13]), let second = number(bytes[13..<15])
        else { return nil }
        return epoch(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
    }

    /// Parses the RFC 7231 IMF-fixdate form `Sun, 30 Aug 2015 12:36:00 GMT` (`Date`).
    ///
    /// - Parameter text: The header value.
    /// - Returns: Seconds since the epoch, or `nil` if `text` is not that form.
    static func parseHTTPDate(_ text: String) -> Int64? {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 6, parts[0].hasSuffix(","), parts[5] == "GMT" else { return nil }
        let clock = parts[4].split(separator: ":", omittingEmptySubsequences: false)
        guard clock.count == 3, let monthIndex = monthNames.firstIndex(of: String(parts[2])),
            let day = number(Array(parts[1].utf8)[...]), let year = number(Array(parts[3].utf8)[...]),
            let hour = number(Array(clock[0].utf8)[...]), let minute = number(Array(clock[1].utf8)[...]),
            let second = number(Array(clock[2].utf8)[...])
        else { return nil }
        return epoch(year: year, month: monthIndex + 1, day: day, hour: hour, minute: minute, second: second)
    }

    /// Prints `seconds` in the ISO 8601 basic form `20150830T123600Z`.
    ///
    /// - Parameter seconds: Seconds since the epoch.
    static func formatBasic(_ seconds: Int64) -> String {
        let days = Int(seconds.floorDivided(by: 86_400))
        let rest = Int(seconds - Int64(days) * 86_400)
        let (year, month, day) = civil(fromDays: days)
        return pad(year, 4) + pad(month, 2) + pad(day, 2) + "T"
            + pad(rest / 3600, 2) + pad(rest / 60 % 60, 2) + pad(rest % 60, 2) + "Z"
    }

    private static let monthNames = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]

    private static func number(_ digits: ArraySlice<UInt8>) -> Int? {
        guard !digits.isEmpty, digits.count <= 4 else { return nil }
        var value = 0
        for digit in digits {
            guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(digit - UInt8(ascii: "0"))
        }
        return value
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }

    /// Validates the fields by a round trip through the day count, so 31 April is refused.
    private static func epoch(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) -> Int64? {
        guard (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 60 else {
            return nil
        }
        let days = days(fromCivil: year, month, day)
        guard civil(fromDays: days) == (year, month, day) else { return nil }
        return Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second)
    }

    /// Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's algorithm).
    private static func days(fromCivil year: Int, _ month: Int, _ day: Int) -> Int {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * ((month + 9) % 12) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The inverse of `days(fromCivil:_:_:)`.
    private static func civil(fromDays count: Int) -> (Int, Int, Int) {
        let shifted = count + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

extension Int64 {
    fileprivate func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor < 0) ? quotient - 1 : quotient
    }
}
