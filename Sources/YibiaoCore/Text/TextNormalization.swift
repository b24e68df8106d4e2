import Foundation

/// Small, shared text clean-ups used by every normaliser.
public enum TextNormalization {
    /// Unicode NFKC: full-width digits, letters and punctuation become half-width.
    public static func nfkc(_ text: String) -> String {
        // ASCII and the unified ideographs have no decompositions and compose with nothing:
        // such text (most feed cells) is its own NFKC, without a trip through Foundation.
        if isNFKCInvariant(text) { return text }
        return text.precomposedStringWithCompatibilityMapping
    }

    static func isNFKCInvariant(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { scalar in
            switch scalar.value {
            case 0x20...0x7E, 0x4E00...0x9FFF, 0x3400...0x4DBF: true
            default: false
            }
        }
    }

    /// Whitespace as data-entry noise sees it: ASCII, NBSP, U+3000 ideographic space and friends.
    public static func isSpace(_ scalar: Unicode.Scalar) -> Bool {
        // No White_Space scalar lies above U+3000; the property lookup is the slow part.
        if scalar.value > 0x3000 { return scalar == "\u{FEFF}" }
        if scalar.value < 0x80 { return scalar == " " || (0x09...0x0D).contains(scalar.value) }
        return scalar.properties.isWhitespace || scalar == "\u{200B}"
    }

    /// Trims and folds every run of whitespace into one ASCII space.
    public static func collapseWhitespace(_ text: String) -> String {
        if isCollapsed(text) { return text }
        var result = String.UnicodeScalarView()
        var pendingSpace = false
        for scalar in text.unicodeScalars {
            if isSpace(scalar) {
                pendingSpace = !result.isEmpty
            } else {
                if pendingSpace { result.append(" ") }
                pendingSpace = false
                result.append(scalar)
            }
        }
        return String(result)
    }

    /// No leading, trailing or repeated space, and no space other than U+0020: nothing to fold.
    static func isCollapsed(_ text: String) -> Bool {
        var previousWasSpace = true
        for scalar in text.unicodeScalars {
            if isSpace(scalar) {
                if previousWasSpace || scalar != " " { return false }
                previousWasSpace = true
            } else {
                previousWasSpace = false
            }
        }
        return !previousWasSpace || text.isEmpty
    }

    /// Han ideographs (the unified blocks and their extensions, plus compatibility ideographs).
    public static func isHan(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xF900...0xFAFF, 0x20000...0x3134F: true
        default: false
        }
    }

    /// Removes every scalar matching the predicate.
    public static func removing(_ text: String, where predicate: (Unicode.Scalar) -> Bool) -> String {
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars where !predicate(scalar) { result.append(scalar) }
        return String(result)
    }
}
