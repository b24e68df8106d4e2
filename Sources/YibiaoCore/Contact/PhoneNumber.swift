/// A mainland China phone number in one canonical spelling.
public struct PhoneNumber: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, Codable { case mobile, landline }

    public let kind: Kind
    /// Mobile: 11 digits. Landline: `0AA-NNNNNNNN`, `0AAA-NNNNNNN`, or the local number alone
    /// when no area code was given; an extension follows as `-EXT`.
    public let value: String

    public var description: String { value }

    /// Reads `13812345678`, `+86 138 1234 5678`, `0086-13812345678`, `010-12345678`,
    /// `(0755)88888888`, `021 1234 5678 转 123`, `0571-8888888-12`.
    public static func parse(_ raw: String) -> Result<PhoneNumber, PhoneNumberError> {
        if let mobile = plainMobile(raw) { return mobile }
        return parseWritten(raw)
    }

    /// Eleven ASCII digits of a mobile number as most feeds send them, read byte by byte: the
    /// answer the general path (`parseWritten`) gives them, without walking the text by
    /// `Character` (a test compares the two). nil for anything else.
    static func plainMobile(_ raw: String) -> Result<PhoneNumber, PhoneNumberError>? {
        raw.utf8.withContiguousStorageIfAvailable { bytes -> Result<PhoneNumber, PhoneNumberError>? in
            guard bytes.count == 11, bytes[0] == UInt8(ascii: "1"), (UInt8(ascii: "3")...UInt8(ascii: "9")).contains(bytes[1]),
                bytes.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
            else { return nil }
            // One digit throughout, or after the first three: a placeholder.
            if bytes.allSatisfy({ $0 == bytes[0] }) || bytes[3...].allSatisfy({ $0 == bytes[3] }) { return .failure(.init(.placeholder)) }
            return .success(PhoneNumber(kind: .mobile, value: raw))
        } ?? nil
    }

    /// Any spelling `parse` reads.
    static func parseWritten(_ raw: String) -> Result<PhoneNumber, PhoneNumberError> {
        let text = TextNormalization.nfkc(raw)
        var groups: [String] = [""]
        var extensionPart: String?
        for character in text {
            if character.isASCII, character.isNumber {
                if extensionPart != nil { extensionPart!.append(character) } else { groups[groups.count - 1].append(character) }
            } else if "转#xX".contains(character) || (character == "," && extensionPart == nil) {
                if extensionPart != nil { return .failure(.init(.invalidCharacter)) }
                extensionPart = ""
            } else if " -()（）.+".contains(character) || TextNormalization.isSpace(character.unicodeScalars.first!) {
                if !groups[groups.count - 1].isEmpty { groups.append("") }
            } else {
                return .failure(.init(.invalidCharacter))
            }
        }
        groups.removeAll { $0.isEmpty }
        var digits = groups.joined()
        if digits.isEmpty { return .failure(.init(.empty)) }
        // "All one digit", asked without building a set of characters per number.
        if digits.count >= 7, digits.allSatisfy({ $0 == digits.first }) { return .failure(.init(.placeholder)) }
        if let ext = extensionPart, ext.isEmpty || ext.count > 6 { return .failure(.init(.unrecognised)) }

        // Country code: +86 / 0086 / 86 in front of a full national number.
        if digits.hasPrefix("0086"), digits.count >= 13 { digits.removeFirst(4) } else if digits.hasPrefix("86"), digits.count == 13 || (digits.count >= 11 && text.contains("+")) { digits.removeFirst(2) }

        if digits.count == 11, digits.hasPrefix("1"), let second = digits.dropFirst().first, "3456789".contains(second) {
            if extensionPart != nil { return .failure(.init(.unrecognised)) }
            let subscriber = digits.dropFirst(3)
            if subscriber.allSatisfy({ $0 == subscriber.first }) { return .failure(.init(.placeholder)) }
            return .success(PhoneNumber(kind: .mobile, value: digits))
        }
        // A national number kept its trunk 0 after the country code was dropped? (+86 10 …)
        if !digits.hasPrefix("0"), text.contains("+86") || text.hasPrefix("0086") { digits = "0" + digits }

        var area: String?
        var local = digits
        if digits.hasPrefix("0") {
            let areaLength = digits.hasPrefix("010") || digits.hasPrefix("02") ? 3 : 4
            // An area code written apart from the number tells its length directly.
            let written = groups.first.map(\.count).flatMap { (3...4).contains($0) && groups.count > 1 ? $0 : nil }
            let length = written ?? areaLength
            guard digits.count > length else { return .failure(.init(.unrecognised)) }
            area = String(digits.prefix(length))
            local = String(digits.dropFirst(length))
        }
        guard (7...8).contains(local.count), let first = local.first, first != "0", first != "1" else {
            return .failure(.init(.unrecognised))
        }
        if Set(local).count == 1 { return .failure(.init(.placeholder)) }
        var value = area.map { "\($0)-\(local)" } ?? local
        if let ext = extensionPart { value += "-\(ext)" }
        return .success(PhoneNumber(kind: .landline, value: value))
    }
}

public struct PhoneNumberError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Reason: String, Sendable, Hashable {
        case empty = "phone_empty"
        case invalidCharacter = "phone_invalid_character"
        case unrecognised = "phone_unrecognised"
        case placeholder = "phone_placeholder"
    }

    public let reason: Reason
    init(_ reason: Reason) { self.reason = reason }

    public var code: String { reason.rawValue }

    public var message: LocalizedText {
        switch reason {
        case .empty: LocalizedText(en: "the phone number is empty", zh: "电话号码为空")
        case .invalidCharacter:
            LocalizedText(
                en: "the phone number contains characters other than digits, spaces, +, -, ( ) and an extension mark",
                zh: "电话号码含有数字、空格、+、-、括号和分机标记以外的字符")
        case .unrecognised:
            LocalizedText(
                en: "not a mainland mobile number (11 digits starting 13–19) or a landline with a 7–8 digit number",
                zh: "既不是大陆手机号（以 13–19 开头的 11 位数字），也不是 7–8 位号码的固定电话")
        case .placeholder:
            LocalizedText(
                en: "the phone number is a placeholder (the same digit repeated)",
                zh: "电话号码是占位号码（同一数字重复）")
        }
    }

    public var description: String { "\(code): \(message.en)" }
}
