import Foundation
import Logging
import PostgresNIO

/// Households (户) and their members, assembled from golden records: the household register
/// number and the GB/T 4761 relationship to the head. A member who moves to another register,
/// dies, or is merged into another resident leaves with a date and a reason; the row stays, so
/// the household's past is kept. A record that stops naming a register moves nobody.
struct Households {
    let district: String
    let logger: Logger

    /// The golden fields a resident's membership and a household's address are made of (with
    /// the resident's status): a change to none of them leaves the households as they are.
    static let inputs: Set<String> = ["household_book_no", "relationship_to_head", "death_date", "address", "division_code"]

    /// The household each of the residents should be in, from their golden records — read once
    /// into arrays ($2…$6), not once per statement below — joined to the households as they are
    /// when each statement runs: a common table expression each statement starts with (no
    /// session-local table, so Citus can route every statement to the district's node).
    private static let wanted = """
        WITH wanted AS MATERIALIZED (
            SELECT w.resident_id, nullif(w.book, chr(1)) AS book, h.household_id, w.relationship,
                   nullif(w.death_date, chr(1))::date AS death_date, w.retired
            FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::boolean[])
                 AS w(resident_id, book, relationship, death_date, retired)
            LEFT JOIN household h ON h.district = $1 AND h.household_book_no = nullif(w.book, chr(1))
        )

        """

    /// `numbers`: the district's field numbers, as the golden records store their fields.
    /// `fresh`: residents made by this run, who cannot be in a household yet.
    func update(_ connection: PostgresConnection, residents: [Int64], numbers: FieldNumbers, fresh: Set<Int64> = []) async throws {
        guard !residents.isEmpty else { return }
        func golden(_ field: String) -> String { numbers.valueSQL("r.golden", field) }
        // Arrays of text carry no NULL to the server here: chr(1) stands for none.
        var ids: [Int64] = [], books: [String] = [], relationsToHead: [String] = [], deaths: [String] = [], retired: [Bool] = []
        for try await row in try await connection.query(
            """
            SELECT r.resident_id, coalesce(\(unescaped: golden("household_book_no")), chr(1)),
                   coalesce(\(unescaped: golden("relationship_to_head")), '99'),
                   -- A death known to the month or year: the member leaves on its last day.
                   coalesce(CASE length(r.death_date) WHEN 10 THEN r.death_date::date
                       WHEN 7 THEN ((r.death_date || '-01')::date + '1 month'::interval - '1 day'::interval)::date
                       WHEN 4 THEN (r.death_date || '-12-31')::date END::text, chr(1)),
                   r.status = 'retired'
            FROM resident r WHERE r.district = \(district) AND r.resident_id = ANY(\(residents))
            """, logger: logger
        ) {
            // Every resident of a first load: read cell by cell (`RowReader`).
            var cells = RowReader(row)
            ids.append(try cells.int64())
            books.append(try cells.string())
            relationsToHead.append(try cells.string())
            deaths.append(try cells.string())
            retired.append(try cells.bool())
        }
        func binds(_ rows: [Int]? = nil) -> PostgresBindings {
            func pick<T>(_ column: [T]) -> [T] { rows.map { $0.map { column[$0] } } ?? column }
            var binds = PostgresBindings()
            binds.append(district)
            binds.append(pick(ids))
            binds.append(pick(books))
            binds.append(pick(relationsToHead))
            binds.append(pick(deaths))
            binds.append(pick(retired))
            return binds
        }
        let everyone = binds()
        // A membership can only end or change for residents who may have one; those the run made
        // have none (in a first load of 147,000, the two statements read them all for nothing: 0.1 s).
        // (nil: all of them, whose bindings are `everyone`'s, not built again.)
        let mayBeMembers = ids.contains(where: fresh.contains) ? ids.indices.filter { !fresh.contains(ids[$0]) } : nil
        let withMemberships = mayBeMembers.map { binds($0) } ?? everyone
        func run(_ statement: String, _ binds: PostgresBindings) async throws {
            try await connection.query(PostgresQuery(unsafeSQL: Self.wanted + statement, binds: binds), logger: logger)
        }
        try await run(
            """
            INSERT INTO household (district, household_book_no)
            SELECT DISTINCT $1, book FROM wanted WHERE book IS NOT NULL AND NOT retired AND death_date IS NULL
            ON CONFLICT (district, household_book_no) WHERE household_book_no IS NOT NULL DO NOTHING
            """, everyone)
        try await connection.analyzeAfterBulk(["household"], rows: residents.count, logger: logger)
        // Leaving: death, merge, or another register.
        if mayBeMembers?.isEmpty != true {
            try await run(
                """
                UPDATE household_member m SET
                    until = greatest(coalesce(w.death_date, current_date), coalesce(m.since, '-infinity'::date)),
                    left_because = CASE WHEN w.retired THEN 'merged' WHEN w.death_date IS NOT NULL THEN 'died' ELSE 'moved' END
                FROM wanted w
                WHERE m.district = $1 AND m.resident_id = w.resident_id AND m.until IS NULL
                  AND (w.retired OR w.death_date IS NOT NULL OR (w.household_id IS NOT NULL AND m.household_id <> w.household_id))
                """, withMemberships)
            try await run(
                """
                UPDATE household_member m SET relationship = w.relationship FROM wanted w
                WHERE m.district = $1 AND m.resident_id = w.resident_id AND m.until IS NULL AND m.household_id = w.household_id
                  AND m.relationship <> w.relationship
                """, withMemberships)
        }
        // Who joins a household: read first, then inserted. One statement that probes
        // household_member while inserting into it rescans the rows it adds (invisible to it, yet
        // on its pages): quadratic in a district's first load.
        var households: [Int64] = [], members: [Int64] = [], relationships: [String] = [], seenBefore: [Bool] = []
        for try await row in try await connection.query(
            PostgresQuery(
                unsafeSQL: Self.wanted + """
                    SELECT w.household_id, w.resident_id, w.relationship,
                        EXISTS (SELECT 1 FROM household_member p WHERE p.district = $1 AND p.resident_id = w.resident_id)
                    FROM wanted w
                    WHERE w.household_id IS NOT NULL AND NOT w.retired AND w.death_date IS NULL
                      AND NOT EXISTS (SELECT 1 FROM household_member m WHERE m.district = $1 AND m.resident_id = w.resident_id AND m.until IS NULL)
                    """, binds: everyone), logger: logger
        ) {
            var cells = RowReader(row)
            households.append(try cells.int64())
            members.append(try cells.int64())
            relationships.append(try cells.string())
            seenBefore.append(try cells.bool())
        }
        if !members.isEmpty {
            try await connection.query(
                """
                INSERT INTO household_member (district, household_id, resident_id, relationship, since)
                -- Since when is unknown for the household a person is first seen in; a move we saw happen is dated.
                SELECT \(district), x.household_id, x.resident_id, x.relationship, CASE WHEN x.seen_before THEN current_date END
                FROM unnest(\(households)::bigint[], \(members)::bigint[], \(relationships)::text[], \(seenBefore)::boolean[])
                     AS x(household_id, resident_id, relationship, seen_before)
                """, logger: logger)
        }
        try await connection.analyzeAfterBulk(["household_member"], rows: residents.count, logger: logger)
        // The household's address is its head's.
        try await connection.query(
            """
            UPDATE household h SET address = g.address, division_code = g.division_code
            FROM household_member m JOIN resident r ON r.district = m.district AND r.resident_id = m.resident_id
            CROSS JOIN LATERAL (SELECT \(unescaped: golden("address")) AS address, \(unescaped: golden("division_code")) AS division_code) g
            WHERE h.district = \(district) AND m.district = h.district AND m.household_id = h.household_id AND m.until IS NULL
              AND m.relationship IN ('01', '02') AND m.resident_id = ANY(\(residents))
              AND (h.address, h.division_code) IS DISTINCT FROM (g.address, g.division_code)
            """, logger: logger)
    }
}
