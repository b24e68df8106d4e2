public import Logging
public import PostgresNIO
import YibiaoCore

/// A district's numbers for canonical field names (`field_number`), for the documents that
/// repeat them in every row: a change-log entry's changes, a staged record's facet and a
/// resident's golden record. A first load's entry names nearly thirty fields, a social security
/// row's facet seven; by number the names are stored once per district instead (about half of
/// each document). A field the table does not number is stored by its name: field names are
/// never digits, so a reader tells the two apart. Numbers are only ever added, never changed or
/// reused.
public struct FieldNumbers: Sendable, Equatable {
    public private(set) var byName: [String: Int]
    public private(set) var byNumber: [Int: String]

    /// Every field by its name (documents written before numbering, and tests).
    public static let none = FieldNumbers(names: [])

    /// `names[i]` numbered i + 1.
    public init(names: [String]) {
        self.init(numbered: names.enumerated().map { ($0.offset + 1, $0.element) })
    }

    init(numbered: [(Int, String)]) {
        byName = Dictionary(numbered.map { ($1, $0) }, uniquingKeysWith: min)
        byNumber = Dictionary(numbered, uniquingKeysWith: { first, _ in first })
    }

    /// The key a document stores for `field`: its number, or its name.
    public func key(_ field: String) -> String {
        byName[field].map(String.init) ?? field
    }

    /// The field a stored key names: its number's name, or the key itself; nil for a number
    /// this table does not have.
    public func field(_ key: String) -> String? {
        guard let first = key.utf8.first, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "9") else { return key }
        return Int(key).flatMap { byNumber[$0] }
    }

    /// SQL for `document ->> field`, the field stored by number or by name (a document written
    /// while its name had no number). `document` is an SQL expression of the caller's.
    public func valueSQL(_ document: String, _ field: String) -> String {
        let name = Database.quoteLiteral(field)
        guard let number = byName[field] else { return "(\(document) ->> \(name))" }
        return "coalesce(\(document) ->> '\(number)', \(document) ->> \(name))"
    }

    /// SQL for `document ->> field` with the number looked up in `field_number` by the same
    /// statement, for a read that would otherwise load the numbers first. `district` is spelled
    /// out (Citus routes by it); `column` names the district where it cannot be.
    public static func valueSQL(_ document: String, _ field: String, district: String, else column: String) -> String {
        let name = Database.quoteLiteral(field)
        return """
            coalesce(\(document) ->> (SELECT number::text FROM field_number
                                      WHERE district = \(Database.districtLiteral(district, else: column)) AND name = \(name)),
                     \(document) ->> \(name))
            """
    }

    /// SQL for a subquery giving `keys` and `values` (parallel arrays, null when none): the fields
    /// of `document` among `fields`, each named, its number looked up in `field_number` by the
    /// same statement — so that only those fields leave the database. `district` as in `valueSQL`.
    public static func namedValuesSQL(_ document: String, fields: [String], district: String, else column: String) -> String {
        let wanted = "ARRAY[" + fields.map(Database.quoteLiteral).joined(separator: ", ") + "]::text[]"
        return """
            SELECT array_agg(coalesce(n.name, f.key)) AS keys, array_agg(f.value) AS values
            FROM jsonb_each_text(\(document)) f
            LEFT JOIN field_number n ON n.district = \(Database.districtLiteral(district, else: column)) AND n.number::text = f.key
            WHERE coalesce(n.name, f.key) = ANY(\(wanted))
            """
    }

    /// The keys a document may store `fields` under: each one's number and its name. Read
    /// back through `field(_:)`.
    public func storedKeys(_ fields: some Sequence<String>) -> [String] {
        fields.flatMap { field in byName[field].map { [String($0), field] } ?? [field] }
    }

    /// The district's numbers as committed now.
    public static func load(district: String, _ client: PostgresClient, logger: Logger) async throws -> FieldNumbers {
        try await client.withConnection { try await load(district: district, on: $0, logger: logger) }
    }

    public static func load(district: String, on connection: PostgresConnection, logger: Logger) async throws -> FieldNumbers {
        var numbered: [(Int, String)] = []
        for try await row in try await connection.query(
            "SELECT number, name FROM field_number WHERE district = \(district)", logger: logger
        ).decode((Int, String).self) { numbered.append(row) }
        return FieldNumbers(numbered: numbered)
    }

    /// The district's numbers, every canonical field numbered: those the table lacks (a new
    /// district, or a version that adds a field) get the next numbers, in the order of
    /// `CanonicalField.all`. Two writers doing this at once number alike; a number another took
    /// first is skipped (that name then stays a name), never given twice.
    public static func ensure(district: String, on connection: PostgresConnection, logger: Logger) async throws -> FieldNumbers {
        let numbers = try await load(district: district, on: connection, logger: logger)
        let missing = CanonicalField.all.map(\.qualifiedName).filter { numbers.byName[$0] == nil }
        guard !missing.isEmpty else { return numbers }
        let next = (numbers.byNumber.keys.max() ?? 0) + 1
        try await connection.query(
            """
            INSERT INTO field_number (district, number, name)
            SELECT \(district), number, name
            FROM unnest(\(missing.indices.map { next + $0 })::integer[], \(missing)::text[]) AS a(number, name)
            ON CONFLICT DO NOTHING
            """, logger: logger)
        return try await load(district: district, on: connection, logger: logger)
    }
}
