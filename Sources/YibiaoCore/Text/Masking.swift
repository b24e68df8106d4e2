/// How personal values are shown where a person did not ask to see them in full.
public enum Masking {
    /// First 6 and last 4 characters, the rest as stars (ID numbers, long identifiers); values
    /// shorter than 10 characters keep only their first character.
    public static func identifier(_ value: String) -> String {
        let characters = Array(value)
        guard characters.count >= 10 else { return short(characters) }
        return String(characters.prefix(6)) + String(repeating: "*", count: characters.count - 10) + String(characters.suffix(4))
    }

    /// Phones as the first 3 and last 4 digits: 6 + 4 would show 10 of a mobile's 11.
    public static func phone(_ value: String) -> String {
        let characters = Array(value)
        guard characters.count > 7 else { return short(characters) }
        return String(characters.prefix(3)) + String(repeating: "*", count: characters.count - 7) + String(characters.suffix(4))
    }

    /// A name by its first character: 张**.
    public static func name(_ value: String) -> String { short(Array(value)) }

    /// An address to its first six characters (province and county, as a rule).
    public static func address(_ value: String) -> String {
        let characters = Array(value)
        guard characters.count > 6 else { return short(characters) }
        return String(characters.prefix(6)) + String(repeating: "*", count: min(characters.count - 6, 8))
    }

    /// A date to its year: 1985-**-**.
    public static func date(_ value: String) -> String {
        let year = value.prefix(4)
        guard year.count == 4, year.allSatisfy(\.isNumber) else { return short(Array(value)) }
        return year + "-**-**"
    }

    /// A raw cell of unknown meaning (a quarantined value): long runs of digits and letters are
    /// masked like identifiers; other text keeps its first character.
    public static func cell(_ value: String) -> String {
        let characters = Array(value)
        if characters.count >= 10, characters.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || " -+.".contains($0)) }) {
            return identifier(value)
        }
        return short(characters)
    }

    private static func short(_ characters: [Character]) -> String {
        guard let first = characters.first else { return "" }
        return String(first) + String(repeating: "*", count: characters.count - 1)
    }
}
