import Foundation

/// Per-character traditional → simplified and pinyin tables, computed once from ICU's
/// `Hant-Hans` and `Han-Latin` transforms. One ICU call over the whole CJK block is far
/// cheaper than one call per name (a transliterator is built on every call).
enum HanCharacters {
    /// Characters ICU would simplify but that are legitimate, distinct characters in names:
    /// 於 is a surname of its own (not 于), 乾 is not 干 in a name.
    static let keptInNames: Set<Unicode.Scalar> = ["於", "乾"]

    private static let ranges: [ClosedRange<UInt32>] = [0x4E00...0x9FFF, 0x3400...0x4DBF, 0xF900...0xFAFF]

    private static let allHan: [Unicode.Scalar] = ranges.flatMap { $0.compactMap(Unicode.Scalar.init) }

    /// Only the characters that change.
    static let simplified: [Unicode.Scalar: Unicode.Scalar] = {
        let input = allHan.map { String($0) }.joined(separator: "\n")
        guard let output = input.applyingTransform(StringTransform("Hant-Hans"), reverse: false) else { return [:] }
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count == allHan.count else { return [:] }
        var table: [Unicode.Scalar: Unicode.Scalar] = [:]
        for (original, line) in zip(allHan, lines) {
            let scalars = Array(line.unicodeScalars)
            if scalars.count == 1, scalars[0] != original, !keptInNames.contains(original) {
                table[original] = scalars[0]
            }
        }
        return table
    }()

    /// Toneless, lower-case pinyin of each character's most common reading.
    static let pinyin: [Unicode.Scalar: String] = {
        let input = allHan.map { String($0) }.joined(separator: "\n")
        guard let latin = input.applyingTransform(.mandarinToLatin, reverse: false),
            let plain = latin.applyingTransform(.stripDiacritics, reverse: false)
        else { return [:] }
        let lines = plain.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count == allHan.count else { return [:] }
        var table: [Unicode.Scalar: String] = [:]
        for (character, line) in zip(allHan, lines) {
            let syllable = line.lowercased().filter { $0.isASCII && $0.isLetter }
            if !syllable.isEmpty { table[character] = syllable }
        }
        return table
    }()

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
}
