/// Sex as GB/T 2261.1 codes it.
public enum Sex: String, Sendable, Hashable, Codable, CaseIterable {
    case unknown = "0"
    case male = "1"
    case female = "2"
    case unspecified = "9"

    /// Reads `1`/`2`/`0`/`9`, `男`/`女`, `M`/`F`, `male`/`female` (any case, any width).
    public static func parse(_ raw: String) -> Result<Sex, CodeLookupError> {
        guard let entry = CodeTable.sex.lookup(raw), let sex = Sex(rawValue: entry.code) else {
            return .failure(CodeLookupError(table: CodeTable.sex.name, value: raw))
        }
        return .success(sex)
    }

    /// True for the two values that say something (male, female).
    public var isKnown: Bool { self == .male || self == .female }

    public var label: LocalizedText {
        let entry = CodeTable.sex.entry(code: rawValue)!
        return LocalizedText(en: entry.labelEN, zh: entry.label)
    }
}

/// A value that is in no entry of a code table.
public struct CodeLookupError: Error, Sendable, Hashable, CustomStringConvertible {
    public let table: String
    public let value: String

    public init(table: String, value: String) {
        self.table = table
        self.value = value
    }

    public var code: String { "unknown_code" }

    public var message: LocalizedText {
        LocalizedText(
            en: "not a value of the \(table) code table",
            zh: "不在代码表 \(table) 中")
    }

    public var description: String { "\(code): \(message.en)" }
}
