public import Logging
public import PostgresNIO
import YibiaoCore

extension ChangeLog {
    /// A district's numbers for field names in stored changes (`change_field`). A first load's
    /// entries name nearly thirty fields each; by number, their names are stored once per
    /// district instead of once per entry (about half of an entry's document). A field the
    /// table does not number is stored by its name: field names are never digits, so a reader
    /// tells the two apart. Numbers are only ever added, never reused.
    public struct FieldNumbers: Sendable, Equatable {
        public private(set) var byName: [String: Int]
        public private(set) var byNumber: [Int: String]

        /// Every field by its name (entries written before numbering, and tests).
        public static let none = FieldNumbers(names: [])

        /// `names[i]` numbered i + 1.
        public init(names: [String]) {
            byName = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0 + 1) })
            byNumber = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($0 + 1, $1) })
        }

        init(numbered: [(Int, String)]) {
            byName = Dictionary(uniqueKeysWithValues: numbered.map { ($1, $0) })
            byNumber = Dictionary(uniqueKeysWithValues: numbered)
        }

        /// The field a stored key names: its number's name, or the key itself; nil for a number
        /// this table does not have.
        func field(_ key: String) -> String? {
            guard let first = key.utf8.first, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "9") else { return key }
            return Int(key).flatMap { byNumber[$0] }
        }
    }

    /// The district's field numbers as committed now.
    public static func fieldNumbers(district: String, _ client: PostgresClient, logger: Logger) async throws -> FieldNumbers {
        var numbered: [(Int, String)] = []
        for try await row in try await client.query(
            "SELECT number, name FROM change_field WHERE district = \(district)", logger: logger
        ).decode((Int, String).self) { numbered.append(row) }
        return FieldNumbers(numbered: numbered)
    }

    /// The district's field numbers, the canonical fields not numbered yet numbered first (a new
    /// district, or a version that adds a field). Runs under the lock of the district's log head,
    /// so two appends never number at once.
    static func numberFields(district: String, on connection: PostgresConnection, logger: Logger) async throws -> FieldNumbers {
        var numbered: [(Int, String)] = []
        for try await row in try await connection.query(
            "SELECT number, name FROM change_field WHERE district = \(district)", logger: logger
        ).decode((Int, String).self) { numbered.append(row) }
        let known = Set(numbered.map(\.1))
        let missing = CanonicalField.all.map(\.qualifiedName).filter { !known.contains($0) }
        guard !missing.isEmpty else { return FieldNumbers(numbered: numbered) }
        let next = (numbered.map(\.0).max() ?? 0) + 1
        let added = missing.enumerated().map { (next + $0.offset, $0.element) }
        try await connection.query(
            """
            INSERT INTO change_field (district, number, name)
            SELECT \(district), number, name FROM unnest(\(added.map(\.0))::integer[], \(added.map(\.1))::text[]) AS a(number, name)
            """, logger: logger)
        return FieldNumbers(numbered: numbered + added)
    }
}
