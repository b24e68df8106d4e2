/// A citizen identity number (公民身份号码, GB 11643-1999), always held in its 18-character form.
public struct CitizenID: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The 18 characters: 6 division code, 8 birth date, 3 sequence, 1 check character.
    public let value: String
    /// True when the input was a 15-digit ID that was upgraded.
    public let upgradedFromFifteenDigits: Bool

    public var divisionCode: String { String(value.prefix(6)) }
    public var birthDate: CalendarDate {
        let digits = value.utf8.map { Int($0) - 48 }
        return CalendarDate(
            year: digits[6] * 1000 + digits[7] * 100 + digits[8] * 10 + digits[9],
            month: digits[10] * 10 + digits[11], day: digits[12] * 10 + digits[13])!
    }
    /// The 17th digit: odd for men, even for women.
    public var sex: Sex {
        let digit = Int(value.utf8[value.utf8.index(value.utf8.startIndex, offsetBy: 16)]) - 48
        return digit % 2 == 1 ? .male : .female
    }

    /// First 6 and last 4 characters, the rest masked: the common display practice.
    public var masked: String { String(value.prefix(6)) + "********" + String(value.suffix(4)) }

    /// Masked on purpose: an ID number must not end up in a log line by accident.
    public var description: String { masked }

    /// ISO 7064 MOD 11-2 weights for positions 1–17.
    static let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    static let checkCharacters: [Character] = ["1", "0", "X", "9", "8", "7", "6", "5", "4", "3", "2"]

    /// The check character for the first 17 digits.
    public static func checkCharacter(forFirst17 digits: [Int]) -> Character {
        precondition(digits.count == 17)
        var sum = 0
        for (digit, weight) in zip(digits, weights) { sum += digit * weight }
        return checkCharacters[sum % 11]
    }

    /// NFKC, separators removed, upper case, and the look-alikes of X (Ⅹ, ×, х) turned into X.
    public static func clean(_ raw: String) -> String {
        // Nearly every ID arrives as ASCII digits and X: nothing to clean.
        if isDigitsAndX(raw) { return raw }
        var result = String.UnicodeScalarView()
        for scalar in TextNormalization.nfkc(raw).unicodeScalars {
            if TextNormalization.isSpace(scalar) || "-‐‑–—_".unicodeScalars.contains(scalar) { continue }
            switch scalar {
            case "x", "×", "✕", "Х", "х", "Ⅹ", "ⅹ": result.append("X")
            case "a"..."z": result.append(Unicode.Scalar(scalar.value - 32)!)
            default: result.append(scalar)
            }
        }
        return String(result)
    }

    /// Validates and normalises an ID number. `today` rejects birth dates in the future;
    /// `divisions` checks the address code against every year since 1980 (pass nil to skip).
    public static func parse(
        _ raw: String,
        today: CalendarDate? = nil,
        divisions: DivisionCodeTable? = .standard
    ) -> Result<CitizenID, CitizenIDError> {
        let text = clean(raw)
        if text.isEmpty { return .failure(.init(.empty)) }
        if text.contains("E"), text.contains(".") || text.contains("+") {
            return .failure(.init(.excelScientific))
        }
        // Text of ASCII digits and X has one character per byte: checked byte by byte. Any
        // other text is refused, at the position of its first other character.
        let count = text.utf8.count
        if isDigitsAndX(text) {
            for (offset, byte) in text.utf8.enumerated() where byte == UInt8(ascii: "X") && !(offset == count - 1 && count == 18) {
                return .failure(.init(.invalidCharacter(position: offset + 1)))
            }
        } else {
            let characters = text.count
            for (offset, character) in text.enumerated() {
                let isDigit = character.isASCII && character.isNumber
                let isFinalX = character == "X" && offset == characters - 1 && characters == 18
                if !isDigit && !isFinalX { return .failure(.init(.invalidCharacter(position: offset + 1))) }
            }
        }
        let digits = text.utf8.map { Int($0) - 48 }
        if count == 15 { return upgrade(digits, today: today, divisions: divisions) }
        guard count == 18 else { return .failure(.init(.wrongLength(count))) }
        if let problem = checkBody(digits, today: today, divisions: divisions) { return .failure(problem) }
        let expected = checkCharacter(forFirst17: Array(digits.prefix(17)))
        let found = text.last!
        if expected != found {
            if text.hasSuffix("000") || text.hasSuffix("00X") {
                return .failure(.init(.excelTruncated))
            }
            return .failure(.init(.checkMismatch(expected: expected, found: found)))
        }
        return .success(CitizenID(value: text, upgradedFromFifteenDigits: false))
    }

    /// Only the ASCII digits and X, at least one.
    static func isDigitsAndX(_ text: String) -> Bool {
        var any = false
        for byte in text.utf8 {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "X") else { return false }
            any = true
        }
        return any
    }

    private static func upgrade(_ digits: [Int], today: CalendarDate?, divisions: DivisionCodeTable?) -> Result<CitizenID, CitizenIDError> {
        // 15 digits: 6 division, YYMMDD, 3 sequence. All were issued to people born in the 1900s.
        let seventeen = Array(digits.prefix(6)) + [1, 9] + Array(digits.suffix(9))
        if let problem = checkBody(seventeen, today: today, divisions: divisions) { return .failure(problem) }
        let text = seventeen.map(String.init).joined() + String(checkCharacter(forFirst17: seventeen))
        return .success(CitizenID(value: text, upgradedFromFifteenDigits: true))
    }

    private static func checkBody(_ digits: [Int], today: CalendarDate?, divisions: DivisionCodeTable?) -> CitizenIDError? {
        let year = digits[6] * 1000 + digits[7] * 100 + digits[8] * 10 + digits[9]
        let month = digits[10] * 10 + digits[11]
        let day = digits[12] * 10 + digits[13]
        guard year >= 1850, let birth = CalendarDate(year: year, month: month, day: day) else {
            return .init(.invalidBirthDate(year: year, month: month, day: day))
        }
        if let today, birth > today { return .init(.futureBirthDate) }
        if let divisions {
            let code = digits.prefix(6).map(String.init).joined()
            if !divisions.existed(code) { return .init(.unknownDivision(code)) }
        }
        return nil
    }
}

/// Why a string is not a valid ID number: precise enough to tell a worker what to fix.
public struct CitizenIDError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Reason: Sendable, Hashable {
        case empty
        case excelScientific
        case invalidCharacter(position: Int)
        case wrongLength(Int)
        case invalidBirthDate(year: Int, month: Int, day: Int)
        case futureBirthDate
        case unknownDivision(String)
        case checkMismatch(expected: Character, found: Character)
        case excelTruncated
    }

    public let reason: Reason

    init(_ reason: Reason) { self.reason = reason }

    /// A stable machine-readable code, stored with quarantined or flagged values.
    public var code: String {
        switch reason {
        case .empty: "id_empty"
        case .excelScientific: "id_excel_scientific"
        case .invalidCharacter: "id_invalid_character"
        case .wrongLength: "id_wrong_length"
        case .invalidBirthDate: "id_invalid_birth_date"
        case .futureBirthDate: "id_future_birth_date"
        case .unknownDivision: "id_unknown_division"
        case .checkMismatch: "id_check_mismatch"
        case .excelTruncated: "id_excel_truncated"
        }
    }

    public var message: LocalizedText {
        switch reason {
        case .empty:
            LocalizedText(en: "the ID number is empty", zh: "身份证号为空")
        case .excelScientific:
            LocalizedText(
                en: "the ID number was turned into a number by Excel (scientific notation such as 1.10105E+17); the last digits are lost — re-export the column as text",
                zh: "身份证号被 Excel 转成了科学计数法（如 1.10105E+17），末几位已丢失——请将该列按文本格式重新导出")
        case .invalidCharacter(let position):
            LocalizedText(
                en: "character \(position) is not a digit (only the 18th may be X)",
                zh: "第 \(position) 位不是数字（只有第 18 位可以是 X）")
        case .wrongLength(let count):
            LocalizedText(
                en: "an ID number has 18 characters (or 15 for old ones), this one has \(count)",
                zh: "身份证号应为 18 位（旧号 15 位），此号为 \(count) 位")
        case .invalidBirthDate(let year, let month, let day):
            LocalizedText(
                en: "the birth date \(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2)) (characters 7–14) does not exist",
                zh: "出生日期 \(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))（第 7–14 位）不存在")
        case .futureBirthDate:
            LocalizedText(en: "the birth date (characters 7–14) is in the future", zh: "出生日期（第 7–14 位）晚于今天")
        case .unknownDivision(let code):
            LocalizedText(
                en: "the address code \(code) (characters 1–6) is not a GB/T 2260 code of any year",
                zh: "地址码 \(code)（第 1–6 位）不是任何年份的 GB/T 2260 行政区划代码")
        case .checkMismatch(let expected, let found):
            LocalizedText(
                en: "the check character is \(found) but the first 17 digits require \(expected): a digit was probably mistyped",
                zh: "校验码为 \(found)，但前 17 位对应的校验码应为 \(expected)：可能有数字录入错误")
        case .excelTruncated:
            LocalizedText(
                en: "the last digits are 000 and the check fails: Excel probably cut the number to 15 significant digits — re-export the column as text",
                zh: "末几位为 000 且校验不通过：很可能被 Excel 截断为 15 位有效数字——请将该列按文本格式重新导出")
        }
    }

    public var description: String { "\(code): \(message.en)" }
}
