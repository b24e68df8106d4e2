import Foundation

/// A person's name, cleaned for display and keyed for matching.
public struct PersonName: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Cleaned for display: NFKC, simplified characters, one middle dot `·`, single spaces.
    public let display: String
    /// Equal for spellings of the same name: no spaces, dots or case.
    public let matchingKey: String
    /// Toneless pinyin of Han characters (surname readings applied), other letters folded to
    /// ASCII lower case; equal for homophones (张伟 / 张玮 → `zhangwei`).
    public let pinyinKey: String
    /// True when the name is written in Han characters (possibly with Latin letters).
    public let isHan: Bool

    public var description: String { "PersonName(\(display.count) characters)" }
}

extension PersonName {
    /// The normalised name, or nil when the text is not a usable name.
    public init?(normalizing text: String) {
        guard case .success(let name) = NameNormalizer.normalize(text) else { return nil }
        self = name
    }
}

public struct PersonNameError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Reason: String, Sendable, Hashable {
        case empty = "name_empty"
        case invalidCharacter = "name_invalid_character"
    }

    public let reason: Reason
    public var code: String { reason.rawValue }

    public var message: LocalizedText {
        switch reason {
        case .empty: LocalizedText(en: "the name is empty", zh: "姓名为空")
        case .invalidCharacter:
            LocalizedText(
                en: "the name contains digits or symbols",
                zh: "姓名中含有数字或符号")
        }
    }

    public var description: String { "\(code): \(message.en)" }
}

public enum NameNormalizer {
    /// Every middle-dot variant seen in transliterated names (买买提·艾力).
    static let middleDots: Set<Unicode.Scalar> = [
        "\u{00B7}", "\u{30FB}", "\u{FF65}", "\u{2022}", "\u{2027}", "\u{22C5}", "\u{2219}", "\u{0387}",
        "\u{318D}", "\u{2E31}", "\u{FF0E}", "\u{2024}", "\u{16EB}",
    ]

    /// What a displayed name does not begin or end with.
    static let separatorsAtEnds: Set<Character> = ["\u{00B7}", ".", " "]

    public static func normalize(_ raw: String) -> Result<PersonName, PersonNameError> {
        let collapsed = TextNormalization.collapseWhitespace(TextNormalization.nfkc(raw))
        if collapsed.isEmpty { return .failure(PersonNameError(reason: .empty)) }

        // Pass 1: characters allowed in names; dots unified; traditional → simplified.
        var scalars: [Unicode.Scalar] = []
        var hasHan = false
        for scalar in collapsed.unicodeScalars {
            if TextNormalization.isHan(scalar) {
                hasHan = true
                scalars.append(HanCharacters.simplified[scalar] ?? scalar)
            } else if middleDots.contains(scalar) || scalar == "." {
                scalars.append(scalar == "." ? "." : "\u{00B7}")
            } else if scalar == " " || scalar == "," || scalar == "-" || scalar == "'" || scalar == "’" {
                // "Smith, John": the comma only separates; order is kept as written.
                let mapped: Unicode.Scalar = scalar == "’" ? "'" : (scalar == "," ? " " : scalar)
                if !(mapped == " " && scalars.last == " ") { scalars.append(mapped) }
            } else if scalar.properties.isAlphabetic, scalar.properties.numericType == nil {
                scalars.append(scalar)
            } else {
                return .failure(PersonNameError(reason: .invalidCharacter))
            }
        }

        // Pass 2: spaces around Han characters and dots are entry noise; a `.` next to Han is a dot.
        var display = String.UnicodeScalarView()
        for (index, scalar) in scalars.enumerated() {
            let previous = index > 0 ? scalars[index - 1] : nil
            let next = index + 1 < scalars.count ? scalars[index + 1] : nil
            func isHanOrDot(_ s: Unicode.Scalar?) -> Bool {
                guard let s else { return false }
                // A `.` in a Han name is its dot (made one just below).
                return TextNormalization.isHan(s) || s == "\u{00B7}" || (hasHan && s == ".")
            }
            if scalar == " ", isHanOrDot(previous) || isHanOrDot(next) { continue }
            if scalar == ".", hasHan {
                display.append("\u{00B7}")
                continue
            }
            display.append(scalar)
        }
        // Dots and spaces at either end separate nothing (a space there is a comma's, or one beside
        // a dot): trimmed, so that the displayed name normalises to itself.
        var displayText = String(display)
        while let first = displayText.first, separatorsAtEnds.contains(first) { displayText.removeFirst() }
        while let last = displayText.last, separatorsAtEnds.contains(last) { displayText.removeLast() }
        if displayText.isEmpty { return .failure(PersonNameError(reason: .empty)) }

        // Han, ASCII and the middle dot carry no diacritics: only other text needs ICU's transform.
        let plain = displayText.unicodeScalars.allSatisfy { $0.isASCII || $0 == "\u{00B7}" || TextNormalization.isHan($0) }
        let foldedLatin =
            plain ? displayText.lowercased() : (displayText.applyingTransform(.stripDiacritics, reverse: false)?.lowercased() ?? displayText.lowercased())
        let matchingKey = TextNormalization.removing(foldedLatin) {
            $0 == " " || $0 == "\u{00B7}" || $0 == "." || $0 == "-" || $0 == "'"
        }
        return .success(
            PersonName(
                display: displayText, matchingKey: matchingKey,
                pinyinKey: pinyin(of: matchingKey), isHan: hasHan))
    }

    /// The parts of a displayed name, folded like the matching key: `Mary Ann Smith` → mary, ann,
    /// smith; `买买提·艾力` → 买买提, 艾力; a Han name without separators → surname and given name.
    public static func parts(ofDisplay display: String) -> [String] {
        // Han characters alone (most names here) fold to themselves: no pieces, no folding.
        if display.unicodeScalars.allSatisfy(TextNormalization.isHan) { return parts(ofKey: display) }
        let pieces = display.split(whereSeparator: { $0 == " " || $0 == "\u{00B7}" })
        guard pieces.count > 1 else { return parts(ofKey: fold(Substring(display))) }
        return pieces.map(fold).filter { !$0.isEmpty }
    }

    /// The parts of a matching key that has no separators left: surname and given name of a Han
    /// name (the first character is the surname; compound surnames stay consistent as 欧 + 阳娜娜);
    /// any other key is one part.
    public static func parts(ofKey key: String) -> [String] {
        let scalars = key.unicodeScalars
        guard scalars.count >= 2, let first = scalars.first, TextNormalization.isHan(first) else { return key.isEmpty ? [] : [key] }
        return [String(first), String(String.UnicodeScalarView(scalars.dropFirst()))]
    }

    private static func fold(_ piece: Substring) -> String {
        let plain = piece.unicodeScalars.allSatisfy { $0.isASCII || TextNormalization.isHan($0) }
        let folded = plain ? piece.lowercased() : (String(piece).applyingTransform(.stripDiacritics, reverse: false)?.lowercased() ?? piece.lowercased())
        return TextNormalization.removing(folded) { $0 == "." || $0 == "-" || $0 == "'" || $0 == "\u{00B7}" }
    }

    /// Toneless pinyin of a matching key: surname readings first, then each character's usual reading.
    public static func pinyin(of key: String) -> String {
        var result = ""
        var rest = Substring(key)
        // Only the surnames that begin as the key does, in their table's order (a longer one first).
        for (surname, readings) in key.unicodeScalars.first.flatMap({ HanCharacters.surnameReadingsByFirst[$0] }) ?? []
        where key.hasPrefix(surname) && key.count > surname.count {
            result = readings.joined()
            rest = key.dropFirst(surname.count)
            break
        }
        for scalar in rest.unicodeScalars {
            if TextNormalization.isHan(scalar) {
                result += HanCharacters.pinyin[scalar] ?? String(scalar)
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}
