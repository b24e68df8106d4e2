public import Logging
public import PostgresNIO

/// How many values of each canonical field a district holds: per system in its current records,
/// and in the golden records of its active residents. Counts only; for the data catalogue.
public struct FieldCounts: Sendable {
    /// System → qualified field → current records with a non-empty value.
    public var inbound: [String: [String: Int]] = [:]
    /// Qualified field → active residents whose golden record has a value.
    public var golden: [String: Int] = [:]
    public var activeResidents = 0

    public init() {}

    public static func load(_ client: PostgresClient, district: String, logger: Logger) async throws -> FieldCounts {
        var counts = FieldCounts()
        let numbers = try await FieldNumbers.load(district: district, client, logger: logger)
        for try await (system, field, count) in try await client.query(
            """
            SELECT r.system_id, k.key, count(*)::int
            FROM source_record r
            CROSS JOIN LATERAL (\(unescaped: SourceRecordWriter.allFieldPairs("r")) UNION ALL \(unescaped: SourceRecordWriter.storedFacetPairs("r"))) k
            WHERE r.district = \(district) AND r.is_current AND k.value <> ''
            GROUP BY 1, 2
            """, logger: logger
        ).decode((String, String, Int).self) {
            // Facet fields are counted by number (`FieldNumbers`); a number nobody gave is left out.
            guard let name = numbers.field(field) else { continue }
            counts.inbound[system, default: [:]][name, default: 0] += count
        }
        for try await (field, count) in try await client.query(
            """
            SELECT e.key, count(*)::int FROM resident r CROSS JOIN LATERAL jsonb_object_keys(r.golden) e(key)
            WHERE r.district = \(district) AND r.status = 'active'
            GROUP BY 1
            """, logger: logger
        ).decode((String, Int).self) {
            // Golden records name fields by number too.
            guard let name = numbers.field(field) else { continue }
            counts.golden[name, default: 0] += count
        }
        for try await count in try await client.query(
            "SELECT count(*)::int FROM resident WHERE district = \(district) AND status = 'active'", logger: logger
        ).decode(Int.self) { counts.activeResidents = count }
        return counts
    }
}
