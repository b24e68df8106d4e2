import Foundation

/// Small, shared text clean-ups used by every normaliser.
public enum TextNormalization {
    /// Unicode NFKC: full-width digits, letters and punctuation become half-width.
    public static func nfkc(_ text: String) -> String {
        text.precomposedStringWithCompatibilityMapping
    }

    /// Whitespace as data-entry noise sees it: ASCII, NBSP, U+3000 ideographic space and friends.
    public static func isSpace(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isWhitespace || scalar == "\u{200B}" || scalar == "\u{FEFF}"
    }

    /// Trims and folds every run of whitespace into one ASCII space.
    public static func collapseWhitespace(_ text: String) -> String {
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
