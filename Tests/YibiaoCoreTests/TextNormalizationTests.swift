import Foundation
import Testing
@testable import YibiaoCore

/// The fast paths of the text clean-ups give exactly what the general path gives.
@Suite struct TextNormalizationTests {
    /// Every scalar of the Basic Multilingual Plane and the supplementary ideographs.
    static let scalars: [Unicode.Scalar] = (0...0x3_134F).compactMap { Unicode.Scalar(UInt32($0)) }

    @Test("isSpace agrees with the Unicode White_Space property (plus ZWSP and BOM) on every scalar")
    func spaces() {
        var disagreements = 0
        for scalar in Self.scalars {
            let reference = scalar.properties.isWhitespace || scalar == "\u{200B}" || scalar == "\u{FEFF}"
            if TextNormalization.isSpace(scalar) != reference { disagreements += 1 }
        }
        #expect(disagreements == 0)
    }

    @Test("text the NFKC fast path keeps as it is, Foundation's NFKC keeps as it is too")
    func nfkcInvariant() {
        let kept = Self.scalars.filter { TextNormalization.isNFKCInvariant(String($0)) }
        #expect(kept.count > 20_000)
        // One string of every kept scalar, each after a letter that could compose with a mark.
        let text = String(String.UnicodeScalarView(kept.flatMap { ["a", $0] }))
        #expect(text.precomposedStringWithCompatibilityMapping == text)
        #expect(TextNormalization.nfkc("ＡＢＣ１２３　甲") == "ABC123 甲")
        #expect(TextNormalization.nfkc("張三") == "張三")
    }

    @Test("collapsing whitespace: the already-clean shortcut and the general fold agree", arguments: 0..<4)
    func collapse(seed: Int) {
        var generator = SplitMix(seed: UInt64(seed))
        let pieces = ["a", "张", " ", "  ", "\u{3000}", "\t", "\u{00A0}", "\u{200B}", "\u{FEFF}", "b c", "\n", "·"]
        for _ in 0..<2_000 {
            let text = (0..<Int(generator.next() % 8)).map { _ in pieces[Int(generator.next() % UInt64(pieces.count))] }.joined()
            #expect(TextNormalization.collapseWhitespace(text) == Self.referenceCollapse(text), "\(text.unicodeScalars.map(\.value))")
        }
    }

    /// The words between runs of spaces, joined by one space: the same fold, said another way.
    static func referenceCollapse(_ text: String) -> String {
        text.unicodeScalars
            .split { $0.properties.isWhitespace || $0 == "\u{200B}" || $0 == "\u{FEFF}" }
            .map { String(String.UnicodeScalarView($0)) }
            .joined(separator: " ")
    }

    @Test("a name's keys: the shortcut past ICU for Han and ASCII names changes nothing")
    func nameKeys() throws {
        for (raw, key, pinyin) in [
            ("张 伟", "张伟", "zhangwei"), ("Smith, John", "smithjohn", "smithjohn"), ("单田芳", "单田芳", "shantianfang"),
            ("买买提·艾力", "买买提艾力", "maimaitiaili"), ("José Núñez", "josenunez", "josenunez"),
        ] {
            let name = try #require(PersonName(normalizing: raw))
            #expect(name.matchingKey == key)
            #expect(name.pinyinKey == pinyin)
        }
    }
}

/// A small deterministic generator for test inputs.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
