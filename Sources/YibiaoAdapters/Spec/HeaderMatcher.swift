import YibiaoCore

/// Places a spreadsheet's header cells on canonical fields, by what the district's adapters
/// already call them (`身份证号码` → `national_id`) and by the fields' own labels. It proposes;
/// a person checks: every placement says how sure it is and why, and a header it cannot place
/// is said to be so, never guessed.
public struct HeaderMatcher: Sendable {
    public struct Placement: Sendable, Hashable {
        public var field: String
        /// 1 for a header known exactly; less when a known name is only part of it.
        public var confidence: Double
        /// The known name it matched, and where that name comes from.
        public var matched: String
        public var source: String
    }

    /// Normalised name → (field, the name as written, where it comes from).
    private var known: [String: (field: String, name: String, source: String)] = [:]

    public init(adapters: [AdapterSpec]) {
        for field in CanonicalField.all {
            for name in [field.label.zh, field.label.en, field.qualifiedName] { remember(name, field.qualifiedName, source: "the field's label") }
        }
        for adapter in adapters {
            for mapping in adapter.mappings {
                // A column that is one of several parts of a field says too little on its own.
                guard case .column(let column) = mapping.source else { continue }
                remember(column, mapping.field.qualifiedName, source: "adapter \(adapter.system)")
            }
        }
    }

    private mutating func remember(_ name: String, _ field: String, source: String) {
        let key = Self.normalised(name)
        guard key.count >= 2 else { return }
        if let existing = known[key], existing.field != field {
            // Two fields under one name: the name decides nothing.
            known[key] = (field: "", name: name, source: source)
            return
        }
        if known[key] == nil { known[key] = (field, name, source) }
    }

    /// NFKC, lower case, without spaces, punctuation and the marks templates add (`*` required).
    static func normalised(_ text: String) -> String {
        let folded = TextNormalization.nfkc(text).lowercased()
        return String(folded.unicodeScalars.filter { $0.properties.isAlphabetic || $0.properties.numericType != nil }.map(Character.init))
    }

    public func place(_ header: String) -> Placement? {
        let key = Self.normalised(header)
        guard !key.isEmpty else { return nil }
        if let hit = known[key] {
            return hit.field.isEmpty ? nil : Placement(field: hit.field, confidence: 1, matched: hit.name, source: hit.source)
        }
        // The longest known name inside the header (`户籍地址（详细）` holds `户籍地址`), when
        // it is most of the header and names one field.
        let inside = known.filter { !$0.value.field.isEmpty && $0.key.count >= 2 && key.contains($0.key) }
        guard let best = inside.max(by: { ($0.key.count, $0.key) < ($1.key.count, $1.key) }) else { return nil }
        let share = Double(best.key.count) / Double(key.count)
        guard share >= 0.5 else { return nil }
        let rivals = inside.filter { $0.key.count == best.key.count && $0.value.field != best.value.field }
        guard rivals.isEmpty else { return nil }
        return Placement(field: best.value.field, confidence: (share * 0.8 * 100).rounded() / 100, matched: best.value.name, source: best.value.source)
    }
}
