/// A date known to the day, to the month, or only to the year: many registers hold birth dates
/// as `1977年10月` or `1977.10`. Kept at the precision it was given, written in ISO 8601's
/// reduced forms (`1977-10-05`, `1977-10`, `1977`); never padded with an invented day.
public struct PartialDate: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Precision: Int, Sendable, Hashable, Codable, Comparable {
        case year, month, day

        public static func < (lhs: Precision, rhs: Precision) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    public let year: Int
    public let month: Int?
    public let day: Int?

    public var precision: Precision { day != nil ? .day : (month != nil ? .month : .year) }

    /// Nil when the parts do not make a date (month 13, 2023-02-29, a day without a month).
    public init?(year: Int, month: Int? = nil, day: Int? = nil) {
        guard (1...9999).contains(year) else { return nil }
        if let month, !(1...12).contains(month) { return nil }
        if let day {
            guard let month, CalendarDate(year: year, month: month, day: day) != nil else { return nil }
        }
        self.year = year
        self.month = month
        self.day = day
    }

    public init(_ date: CalendarDate) {
        year = date.year
        month = date.month
        day = date.day
    }

    /// Reads exactly `YYYY`, `YYYY-MM` or `YYYY-MM-DD`; nil otherwise.
    public init?(iso text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard (1...3).contains(parts.count), parts[0].count == 4, parts.dropFirst().allSatisfy({ $0.count == 2 }),
            parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }), let year = Int(parts[0])
        else { return nil }
        self.init(year: year, month: parts.count > 1 ? Int(parts[1]) : nil, day: parts.count > 2 ? Int(parts[2]) : nil)
    }

    /// The day, when the date is known to the day.
    public var calendarDate: CalendarDate? {
        guard let month, let day else { return nil }
        return CalendarDate(year: year, month: month, day: day)
    }

    public var iso: String {
        var text = year.zeroPadded(4)
        if let month { text += "-" + month.zeroPadded(2) }
        if let day { text += "-" + day.zeroPadded(2) }
        return text
    }

    public var description: String { iso }

    /// The first and last day the date can be.
    public var earliest: CalendarDate {
        CalendarDate(year: year, month: month ?? 1, day: day ?? 1)!
    }

    public var latest: CalendarDate {
        let lastMonth = month ?? 12
        return CalendarDate(year: year, month: lastMonth, day: day ?? CalendarDate.daysIn(month: lastMonth, year: year))!
    }

    /// True when every day this date can be falls before every day `other` can be.
    public func isCertainlyBefore(_ other: PartialDate) -> Bool { latest < other.earliest }

    /// True when the two agree as far as both are known (`1977-10` and `1977-10-05`).
    public func agreesAsFarAsKnown(with other: PartialDate) -> Bool {
        year == other.year && (month == nil || other.month == nil || month == other.month)
            && (day == nil || other.day == nil || day == other.day)
    }

    /// The date in a system's own pattern (see `CalendarDate.formatted`); for a date known only
    /// to the month or year, the day (and month) fields are left out with the separator or the
    /// 日/月 unit that belongs to them: `yyyy年M月d日` → `1977年10月`, `yyyy/M/d` → `1977/10`,
    /// `d.M.yyyy` → `10.1977`.
    public func formatted(_ pattern: String) -> String {
        if let date = calendarDate { return date.formatted(pattern) }
        var drop: Set<Character> = ["d"]
        if month == nil { drop.insert("M") }
        // Split into field runs (yyyy, MM, d…) and literal runs.
        var tokens: [(text: String, field: Character?)] = []
        for character in pattern {
            let field: Character? = "yMd".contains(character) ? character : nil
            if let last = tokens.last, last.field == field {
                tokens[tokens.count - 1].text.append(character)
            } else {
                tokens.append((String(character), field))
            }
        }
        var kept = tokens
        for index in tokens.indices.reversed() {
            guard let field = tokens[index].field, drop.contains(field) else { continue }
            kept.remove(at: index)
            // Its unit after it (日, 月, 号), else the separator before it, else the one after it.
            if index < kept.count, kept[index].field == nil, ["日", "号", "月"].contains(kept[index].text) {
                kept.remove(at: index)
            } else if index > 0, kept[index - 1].field == nil {
                kept.remove(at: index - 1)
            } else if index < kept.count, kept[index].field == nil {
                kept.remove(at: index)
            }
        }
        let stand = CalendarDate(year: year, month: month ?? 1, day: 1)!
        return stand.formatted(kept.map(\.text).joined())
    }
}
