/// The languages Yibiao speaks to people in.
public enum Language: String, Sendable, CaseIterable {
    case en
    case zh

    /// Picks the language from an explicit choice (`--lang`), else from the locale
    /// variables in POSIX order (`LC_ALL`, `LC_MESSAGES`, `LANG`), else English.
    public static func detect(explicit: String?, environment: [String: String]) -> Language {
        if let explicit, let language = Language(tag: explicit) { return language }
        for key in ["LC_ALL", "LC_MESSAGES", "LANG"] {
            if let value = environment[key], !value.isEmpty {
                return Language(tag: value) ?? .en
            }
        }
        return .en
    }

    /// Accepts `zh`, `zh_CN.UTF-8`, `zh-Hans`, `en_US`, `C`, …
    public init?(tag: String) {
        let lowered = tag.lowercased()
        if lowered.hasPrefix("zh") {
            self = .zh
        } else if lowered.hasPrefix("en") || lowered == "c" || lowered.hasPrefix("c.") || lowered == "posix" {
            self = .en
        } else {
            return nil
        }
    }
}

/// A user-facing message in every language we ship. Debug text stays apart (see STYLE.md).
public struct LocalizedText: Sendable, Hashable, CustomStringConvertible {
    public let en: String
    public let zh: String

    public init(en: String, zh: String) {
        self.en = en
        self.zh = zh
    }

    public func text(in language: Language) -> String {
        switch language {
        case .en: en
        case .zh: zh
        }
    }

    public var description: String { en }
}
