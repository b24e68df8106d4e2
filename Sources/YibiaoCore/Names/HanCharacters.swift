import Foundation

/// Per-character traditional → simplified and pinyin tables, written once from ICU's `Hant-Hans`
/// and `Han-Latin` transforms by scripts/generate-han-tables.swift and embedded from
/// schemas/names/ (parsing them takes milliseconds; building them through ICU took ~0.5 s).
enum HanCharacters {
    /// Traditional → simplified, only the characters that change. Shipped, not asked of ICU at
    /// start-up: stored name keys must not move with the toolchain's ICU (schemas/names/).
    static let simplified: [Unicode.Scalar: Unicode.Scalar] = {
        var table: [Unicode.Scalar: Unicode.Scalar] = [:]
        for line in dataLines(EmbeddedHanTables.simplified) {
            let scalars = Array(line.unicodeScalars)
            guard scalars.count == 3, scalars[1] == "\t" else { continue }
            table[scalars[0]] = scalars[2]
        }
        return table
    }()

    /// Toneless, lower-case pinyin of each character's most common reading.
    static let pinyin: [Unicode.Scalar: String] = {
        var table: [Unicode.Scalar: String] = [:]
        table.reserveCapacity(28_000)
        for line in dataLines(EmbeddedHanTables.pinyin) {
            guard let tab = line.firstIndex(of: "\t") else { continue }
            let syllable = String(line[..<tab])
            for character in line[line.index(after: tab)...].unicodeScalars { table[character] = syllable }
        }
        return table
    }()

    private static func dataLines(_ text: String) -> [Substring] {
        text.split(separator: "\n").filter { !$0.hasPrefix("#") }
    }

    /// Surnames whose reading differs from the character's most common one (单 shan, not dan).
    /// Compound surnames come first so that they win over their first character.
    static let surnameReadings: [(String, [String])] = [
        ("尉迟", ["yu", "chi"]), ("万俟", ["mo", "qi"]), ("长孙", ["zhang", "sun"]), ("单于", ["chan", "yu"]),
        ("单", ["shan"]), ("曾", ["zeng"]), ("解", ["xie"]), ("仇", ["qiu"]), ("区", ["ou"]), ("查", ["zha"]),
        ("朴", ["piao"]), ("盖", ["ge"]), ("召", ["shao"]), ("覃", ["qin"]), ("乐", ["yue"]), ("缪", ["miao"]),
        ("翟", ["zhai"]), ("秘", ["bi"]), ("繁", ["po"]), ("员", ["yun"]), ("句", ["gou"]), ("尉", ["yu"]),
        ("种", ["chong"]), ("重", ["chong"]), ("柏", ["bai"]), ("蕃", ["pi"]), ("隗", ["wei"]), ("相", ["xiang"]),
        ("都", ["du"]), ("沈", ["shen"]), ("藏", ["zang"]), ("薄", ["bo"]), ("纪", ["ji"]), ("宁", ["ning"]),
    ]

    /// `surnameReadings` by their first character, each group in the table's order.
    static let surnameReadingsByFirst: [Unicode.Scalar: [(String, [String])]] = Dictionary(
        grouping: surnameReadings, by: { $0.0.unicodeScalars.first! })
}
