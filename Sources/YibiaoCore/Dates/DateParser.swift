/// Why a date could not be read.
public struct DateParseError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        case empty
        case unrecognisedFormat = "unrecognised_format"
        case impossibleDate = "impossible_date"
        case outOfRange = "out_of_range"
    }

    public let code: Code
    public let message: LocalizedText

    public var description: String { "\(code.rawValue): \(message.en)" }
}

/// Reads the date formats found in government feeds.
///
/// Accepted: `1985-03-02`, `1985/3/2`, `1985.03.02`, `19850302`, `1985年3月2日`,
/// two-digit years (`85-03-02`, `850302`), and ISO 8601 timestamps (`1985-03-02T00:00:00`,
/// `…Z`, `…+08:00`, `1985-03-02 10:00:00`). Excel serial numbers (`31108`, `31108.0`) only when
/// `acceptsExcelSerials` (the adapter says the column holds them): otherwise `1972.11` would
/// silently become 1905-05-25. `parsePartial` also reads dates known to the month or the year:
/// `1977-10`, `1977.10`, `1977/10`, `1977年10月`, `197710`, `1977年`, `1977`.
///
/// Century rule for two-digit years: a year `yy` not after the reference year's last two
/// digits is 20yy, otherwise 19yy (reference 2026: `26` → 2026, `27` → 1927). Birth dates are
/// never in the future, so this picks the only plausible century for them.
///
/// A timestamp with a zone offset is converted to `zoneOffsetMinutes` (China Standard Time,
/// +08:00, by default) before its day is taken: systems that store a birth date as midnight
/// in Beijing often export it as 16:00 UTC the day before.
public struct DateParser: Sendable {
    public var referenceYear: Int
    public var zoneOffsetMinutes: Int
    /// Numbers are Excel serial dates (a spreadsheet column whose cells are dates).
    public var acceptsExcelSerials: Bool

    public init(referenceYear: Int, zoneOffsetMinutes: Int = 8 * 60, acceptsExcelSerials: Bool = false) {
        self.referenceYear = referenceYear
        self.zoneOffsetMinutes = zoneOffsetMinutes
        self.acceptsExcelSerials = acceptsExcelSerials
    }

    /// A date known to the day, the month or the year.
    public func parsePartial(_ raw: String) -> Result<PartialDate, DateParseError> {
        let text = TextNormalization.collapseWhitespace(TextNormalization.nfkc(raw))
        guard !acceptsExcelSerials, let partial = Self.partialFields(text) else { return parse(raw).map(PartialDate.init) }
        // 201203: 2012-03, or 2020-12-03 with a two-digit year? Neither is guessed.
        if text.utf8.count == 6, case .success(let day) = parse(text) {
            return .failure(
                Self.error(
                    .unrecognisedFormat, en: "ambiguous: \(partial.year)-\(partial.month ?? 0) or \(day.iso); write the year with four digits",
                    zh: "有歧义：\(partial.year)年\(partial.month ?? 0)月还是 \(day.iso)？请写出四位年份"))
        }
        return makePartial(partial, raw: text)
    }

    /// Year and month (or year alone) from the forms that hold no day; nil for any other text.
    private static func partialFields(_ text: String) -> (year: Int, month: Int?)? {
        guard !text.isEmpty else { return nil }
        if Self.isASCIIDigits(text) {
            // 1977 or 197710 (a six-digit 850302 is a day with a two-digit year; see parse).
            let count = text.utf8.count
            if count == 4, let year = Int(text) { return (year, nil) }
            if count == 6, let year = Int(text.prefix(4)), let month = Int(text.suffix(2)), (1800...2999).contains(year),
                (1...12).contains(month)
            {
                return (year, month)
            }
            return nil
        }
        var fields: [Substring] = []
        var current = ""
        var endsWithDayMarker = false
        for character in text {
            if character.isASCII, character.isNumber {
                current.append(character)
            } else if "-/.年月 ".contains(character) {
                if !current.isEmpty { fields.append(Substring(current)) }
                current = ""
            } else {
                return nil
            }
            endsWithDayMarker = character == "日" || character == "号"
        }
        if !current.isEmpty { fields.append(Substring(current)) }
        guard !endsWithDayMarker, fields.first?.count == 4, let year = Int(fields[0]) else { return nil }
        switch fields.count {
        case 1 where text.hasSuffix("年"): return (year, nil)
        case 2 where fields[1].count <= 2 && !text.hasSuffix("年"): return Int(fields[1]).map { (year, $0) }
        default: return nil
        }
    }

    private func makePartial(_ fields: (year: Int, month: Int?), raw: String) -> Result<PartialDate, DateParseError> {
        guard (1800...9999).contains(fields.year) else {
            return .failure(Self.error(.outOfRange, en: "year \(fields.year) is out of range", zh: "年份 \(fields.year) 超出范围"))
        }
        guard let date = PartialDate(year: fields.year, month: fields.month) else {
            let month = fields.month ?? 0
            return .failure(Self.error(.impossibleDate, en: "month \(month) does not exist", zh: "不存在 \(month) 月"))
        }
        return .success(date)
    }

    /// Excel's 1900 date system: serial 1 is 1900-01-01; serial 60 is the fictitious 1900-02-29.
    public static let excelSerialRange = 1...2_958_465

    public func parse(_ raw: String) -> Result<CalendarDate, DateParseError> {
        let text = TextNormalization.collapseWhitespace(TextNormalization.nfkc(raw))
        if text.isEmpty {
            return .failure(Self.error(.empty, en: "the date is empty", zh: "日期为空"))
        }
        if Self.isASCIIDigits(text) {
            return parseAllDigits(text)
        }
        if let serial = Self.excelSerial(text) {
            guard acceptsExcelSerials else { return .failure(notASerialColumn(text)) }
            return fromExcelSerial(serial, raw: text)
        }
        if text.contains("T") || (text.contains(":") && text.contains(" ")) {
            return parseTimestamp(text)
        }
        return parseSeparated(text)
    }

    /// Only ASCII digits (the ASCII characters with a numeric value), at least one.
    static func isASCIIDigits(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }

    private func parseAllDigits(_ text: String) -> Result<CalendarDate, DateParseError> {
        let digits = text.utf8.map { Int($0) - 48 }
        switch digits.count {
        case 8:
            return make(year: number(digits[0..<4]), month: number(digits[4..<6]), day: number(digits[6..<8]), raw: text)
        case 6:
            return make(year: expandYear(number(digits[0..<2])), month: number(digits[2..<4]), day: number(digits[4..<6]), raw: text)
        case 1...5:
            guard acceptsExcelSerials else { return .failure(notASerialColumn(text)) }
            return fromExcelSerial(number(digits[...]), raw: text)
        default:
            return .failure(unrecognised(text))
        }
    }

    private static func excelSerial(_ text: String) -> Int? {
        // "31108.0" or "31108.5" (a time of day): Excel and pandas write serials this way.
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, (1...5).contains(parts[0].count), !parts[1].isEmpty,
            parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) })
        else { return nil }
        return Int(parts[0])
    }

    private func fromExcelSerial(_ serial: Int, raw: String) -> Result<CalendarDate, DateParseError> {
        guard Self.excelSerialRange.contains(serial) else { return .failure(unrecognised(raw)) }
        if serial == 60 {
            return .failure(
                Self.error(
                    .impossibleDate,
                    en: "Excel serial 60 is the non-existent 1900-02-29",
                    zh: "Excel 序列号 60 对应不存在的 1900-02-29"))
        }
        // Serial 61 is 1900-03-01; earlier serials are off by one because of Excel's leap-year bug.
        let base = CalendarDate(year: 1899, month: 12, day: 31)!.daysSinceEpoch
        let days = base + serial - (serial > 60 ? 1 : 0)
        guard let date = CalendarDate(daysSinceEpoch: days) else { return .failure(unrecognised(raw)) }
        return .success(date)
    }

    private func parseTimestamp(_ text: String) -> Result<CalendarDate, DateParseError> {
        let splitIndex = text.firstIndex(where: { $0 == "T" || $0 == " " })!
        let datePart = String(text[..<splitIndex])
        var timePart = String(text[text.index(after: splitIndex)...]).trimmingSpaces()
        guard case .success(let date) = parseSeparated(datePart) else { return .failure(unrecognised(text)) }
        // Offset: Z, +hh:mm, +hhmm, -hh.
        var offsetMinutes: Int?
        if timePart.hasSuffix("Z") || timePart.hasSuffix("z") {
            offsetMinutes = 0
            timePart.removeLast()
        } else if let signIndex = timePart.lastIndex(where: { $0 == "+" || $0 == "-" }) {
            let sign = timePart[signIndex] == "-" ? -1 : 1
            let digits = timePart[timePart.index(after: signIndex)...].filter(\.isNumber)
            guard digits.count == 2 || digits.count == 4, let value = Int(digits) else { return .failure(unrecognised(text)) }
            offsetMinutes = sign * (digits.count == 2 ? value * 60 : (value / 100) * 60 + value % 100)
            timePart = String(timePart[..<signIndex])
        }
        let clock = timePart.split(separator: ":")
        guard (2...3).contains(clock.count),
            let hour = Int(clock[0]), let minute = Int(clock[1]),
            (0...23).contains(hour), (0...59).contains(minute)
        else { return .failure(unrecognised(text)) }
        if clock.count == 3 {
            let secondText = clock[2].split(separator: ".").first.map(String.init) ?? ""
            guard let second = Int(secondText), (0...60).contains(second) else { return .failure(unrecognised(text)) }
        }
        guard let offsetMinutes else { return .success(date) }
        let minutesInTarget = hour * 60 + minute - offsetMinutes + zoneOffsetMinutes
        let dayShift = minutesInTarget < 0 ? -1 : (minutesInTarget >= 24 * 60 ? 1 : 0)
        guard let shifted = CalendarDate(daysSinceEpoch: date.daysSinceEpoch + dayShift) else { return .failure(unrecognised(text)) }
        return .success(shifted)
    }

    private func parseSeparated(_ text: String) -> Result<CalendarDate, DateParseError> {
        // Separators: - / . and the 年月日 markers; a trailing 日 or 号 is allowed.
        var fields: [String] = []
        var current = ""
        for character in text {
            if character.isASCII, character.isNumber {
                current.append(character)
            } else if "-/.年月日号 ".contains(character) {
                if !current.isEmpty { fields.append(current) }
                current = ""
            } else {
                return .failure(unrecognised(text))
            }
        }
        if !current.isEmpty { fields.append(current) }
        guard fields.count == 3, let first = Int(fields[0]), let month = Int(fields[1]), let day = Int(fields[2]),
            fields[1].count <= 2, fields[2].count <= 2
        else { return .failure(unrecognised(text)) }
        switch fields[0].count {
        case 4: return make(year: first, month: month, day: day, raw: text)
        case 2: return make(year: expandYear(first), month: month, day: day, raw: text)
        default: return .failure(unrecognised(text))
        }
    }

    /// Two-digit year → four digits (see the century rule above).
    public func expandYear(_ twoDigits: Int) -> Int {
        let pivot = referenceYear % 100
        let century = referenceYear - pivot
        return twoDigits <= pivot ? century + twoDigits : century - 100 + twoDigits
    }

    private func make(year: Int, month: Int, day: Int, raw: String) -> Result<CalendarDate, DateParseError> {
        guard (1800...9999).contains(year) else {
            return .failure(Self.error(.outOfRange, en: "year \(year) is out of range", zh: "年份 \(year) 超出范围"))
        }
        guard (1...12).contains(month) else {
            return .failure(Self.error(.impossibleDate, en: "month \(month) does not exist", zh: "不存在 \(month) 月"))
        }
        guard let date = CalendarDate(year: year, month: month, day: day) else {
            return .failure(
                Self.error(
                    .impossibleDate,
                    en: "\(pad(year, 4))-\(pad(month, 2)) has no day \(day)",
                    zh: "\(year)年\(month)月没有\(day)日"))
        }
        return .success(date)
    }

    private func notASerialColumn(_ text: String) -> DateParseError {
        Self.error(
            .unrecognisedFormat,
            en: "a number, not a date; if the column holds Excel serial dates, the adapter says so with `excel_serial: true`",
            zh: "这是数字而非日期；若该列为 Excel 日期序列号，请在适配器中注明 `excel_serial: true`")
    }

    private func unrecognised(_ text: String) -> DateParseError {
        Self.error(
            .unrecognisedFormat,
            en: "not a recognised date format (expected e.g. 1985-03-02, 1985/3/2, 19850302, 1985年3月2日)",
            zh: "无法识别的日期格式（应如 1985-03-02、1985/3/2、19850302、1985年3月2日）")
    }

    private static func error(_ code: DateParseError.Code, en: String, zh: String) -> DateParseError {
        DateParseError(code: code, message: LocalizedText(en: en, zh: zh))
    }

    private func number<C: Collection>(_ digits: C) -> Int where C.Element == Int {
        digits.reduce(0) { $0 * 10 + $1 }
    }
}

extension String {
    func trimmingSpaces() -> String {
        TextNormalization.collapseWhitespace(self)
    }
}
