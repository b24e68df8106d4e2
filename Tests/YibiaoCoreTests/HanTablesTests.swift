import Foundation
import Testing

@testable import YibiaoCore

@Suite struct HanTablesTests {
    private let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    private func dataLines(_ file: String) throws -> [Substring] {
        let text = try String(contentsOf: root.appendingPathComponent("schemas/names/\(file)"), encoding: .utf8)
        #expect(text.trimmingCharacters(in: .newlines) == (file == "han-pinyin.txt" ? EmbeddedHanTables.pinyin : EmbeddedHanTables.simplified), "run scripts/embed-data.sh (make build does)")
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") }
    }

    @Test("every character of schemas/names/han-pinyin.txt has its one syllable, lower-case ASCII letters")
    func pinyinTable() throws {
        var seen: [Unicode.Scalar: String] = [:]
        for line in try dataLines("han-pinyin.txt") {
            let parts = line.split(separator: "\t")
            try #require(parts.count == 2, "\(line)")
            let syllable = String(parts[0])
            #expect(!syllable.isEmpty && syllable.unicodeScalars.allSatisfy { ("a"..."z").contains($0) }, "\(syllable)")
            for character in parts[1].unicodeScalars {
                #expect(TextNormalization.isHan(character))
                #expect(seen.updateValue(syllable, forKey: character) == nil, "\(character) read twice")
            }
        }
        #expect(seen.count > 27_000)
        #expect(HanCharacters.pinyin == seen)
        let readings: [Unicode.Scalar: String] = ["张": "zhang", "王": "wang", "李": "li", "赵": "zhao", "吕": "lu", "欧": "ou", "阳": "yang", "长": "zhang", "單": "dan", "㐀": "qiu"]
        for (character, reading) in readings { #expect(HanCharacters.pinyin[character] == reading, "\(character)") }
    }

    @Test("schemas/names/han-simplified.txt: one traditional character to one simplified, names' own characters kept")
    func simplifiedTable() throws {
        var seen: [Unicode.Scalar: Unicode.Scalar] = [:]
        for line in try dataLines("han-simplified.txt") {
            let scalars = Array(line.unicodeScalars)
            try #require(scalars.count == 3 && scalars[1] == "\t", "\(line)")
            #expect(TextNormalization.isHan(scalars[0]) && TextNormalization.isHan(scalars[2]) && scalars[0] != scalars[2])
            #expect(seen.updateValue(scalars[2], forKey: scalars[0]) == nil)
        }
        #expect(seen.count > 2_500)
        #expect(HanCharacters.simplified == seen)
        #expect(HanCharacters.simplified["張"] == "张" && HanCharacters.simplified["劉"] == "刘" && HanCharacters.simplified["陳"] == "陈")
        #expect(HanCharacters.simplified["於"] == nil && HanCharacters.simplified["乾"] == nil && HanCharacters.simplified["张"] == nil)
    }
}
