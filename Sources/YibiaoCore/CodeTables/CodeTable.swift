/// A national code table (GB/T 2261.1 sex, GB/T 2261.2 marital status, GB/T 4762 political
/// status, GB/T 4761 family relationship), shipped as CSV under `schemas/codes/`.
public struct CodeTable: Sendable {
    public struct Entry: Sendable, Hashable, Codable {
        public let code: String
        public let label: String
        public let labelEN: String
        public let aliases: [String]
    }

    public let name: String
    public let entries: [Entry]
    private let index: [String: Int]
    private let codeWidth: Int

    /// Parses `code,label,label_en,aliases` rows; aliases are `;`-separated.
    public init(name: String, csv: String) {
        self.name = name
        var entries: [Entry] = []
        for line in csv.split(whereSeparator: \.isNewline).dropFirst() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 3 else { continue }
            let aliases = fields.count > 3 ? fields[3].split(separator: ";").map(String.init) : []
            entries.append(Entry(code: fields[0], label: fields[1], labelEN: fields[2], aliases: aliases))
        }
        var index: [String: Int] = [:]
        for (position, entry) in entries.enumerated() {
            for key in [entry.code, entry.label, entry.labelEN] + entry.aliases {
                let folded = CodeTable.fold(key)
                if index[folded] == nil { index[folded] = position }
            }
        }
        self.entries = entries
        self.index = index
        self.codeWidth = entries.map(\.code.count).max() ?? 1
    }

    /// The entry with exactly this code.
    public func entry(code: String) -> Entry? {
        index[CodeTable.fold(code)].map { entries[$0] }.flatMap { $0.code == code ? $0 : nil }
            ?? entries.first { $0.code == code }
    }

    /// Finds an entry by code (`01`, also `1` where codes are two digits wide), label or alias,
    /// ignoring width (full-width digits), surrounding spaces and Latin case.
    public func lookup(_ raw: String) -> Entry? {
        let folded = CodeTable.fold(raw)
        if folded.isEmpty { return nil }
        if let position = index[folded] { return entries[position] }
        if folded.count < codeWidth, folded.allSatisfy(\.isNumber) {
            let padded = String(repeating: "0", count: codeWidth - folded.count) + folded
            if let position = index[padded] { return entries[position] }
        }
        return nil
    }

    static func fold(_ text: String) -> String {
        TextNormalization.collapseWhitespace(TextNormalization.nfkc(text)).lowercased()
    }
}

extension CodeTable {
    /// GB/T 2261.1 sex codes.
    public static let sex = CodeTable(name: "sex", csv: EmbeddedCodeTables.sex)
    /// GB/T 2261.2 marital status codes.
    public static let maritalStatus = CodeTable(name: "marital-status", csv: EmbeddedCodeTables.maritalStatus)
    /// GB/T 4762 political status codes.
    public static let politicalStatus = CodeTable(name: "political-status", csv: EmbeddedCodeTables.politicalStatus)
    /// GB/T 4761 family relationship codes.
    public static let familyRelationship = CodeTable(name: "family-relationship", csv: EmbeddedCodeTables.familyRelationship)

    /// Every shipped table by its name, for adapters that name a table in YAML.
    public static let shipped: [String: CodeTable] = Dictionary(
        uniqueKeysWithValues: [sex, maritalStatus, politicalStatus, familyRelationship].map { ($0.name, $0) }
    )
}
