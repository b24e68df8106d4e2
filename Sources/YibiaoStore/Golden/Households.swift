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

    func update(_ connection: PostgresConnection, residents: [Int64]) async throws {
        guard !residents.isEmpty else { return }
        try await connection.query(
            """
            CREATE TEMP TABLE IF NOT EXISTS wanted_membership (resident_id bigint, book text, relationship char(2), death_date date,
                retired boolean, household_id bigint, has_open boolean, seen_before boolean) ON COMMIT DELETE ROWS
            """, logger: logger)
        try await connection.query(
            """
            INSERT INTO wanted_membership (resident_id, book, relationship, death_date, retired)
            SELECT r.resident_id, r.provenance -> 'household_book_no' ->> 'value',
                   coalesce(r.provenance -> 'relationship_to_head' ->> 'value', '99'),
                   -- A death known to the month or year: the member leaves on its last day.
                   CASE length(r.death_date) WHEN 10 THEN r.death_date::date
                       WHEN 7 THEN ((r.death_date || '-01')::date + interval '1 month' - interval '1 day')::date
                       WHEN 4 THEN (r.death_date || '-12-31')::date END,
                   r.status = 'retired'
            FROM resident r
            WHERE r.district = \(district) AND r.resident_id = ANY(\(residents))
            """, logger: logger)
        try await connection.analyzeStaging("wanted_membership", logger: logger)
        try await connection.query(
            """
            INSERT INTO household (district, household_book_no)
            SELECT DISTINCT \(district), book FROM wanted_membership WHERE book IS NOT NULL AND NOT retired AND death_date IS NULL
            ON CONFLICT (district, household_book_no) WHERE household_book_no IS NOT NULL DO NOTHING
            """, logger: logger)
        try await connection.query(
            """
            UPDATE wanted_membership w SET household_id = h.household_id FROM household h
            WHERE h.district = \(district) AND h.household_book_no = w.book
            """, logger: logger)
        try await connection.analyzeAfterBulk(["household"], rows: residents.count, logger: logger)
        // Leaving: death, merge, or another register.
        try await connection.query(
            """
            UPDATE household_member m SET
                until = greatest(coalesce(w.death_date, current_date), coalesce(m.since, '-infinity'::date)),
                left_because = CASE WHEN w.retired THEN 'merged' WHEN w.death_date IS NOT NULL THEN 'died' ELSE 'moved' END
            FROM wanted_membership w
            WHERE m.district = \(district) AND m.resident_id = w.resident_id AND m.until IS NULL
              AND (w.retired OR w.death_date IS NOT NULL OR (w.household_id IS NOT NULL AND m.household_id <> w.household_id))
            """, logger: logger)
        try await connection.query(
            """
            UPDATE household_member m SET relationship = w.relationship FROM wanted_membership w
            WHERE m.district = \(district) AND m.resident_id = w.resident_id AND m.until IS NULL AND m.household_id = w.household_id
              AND m.relationship <> w.relationship
            """, logger: logger)
        // Looked up before the insert: a statement that inserts into household_member while
        // probing it would rescan its own new rows.
        try await connection.query(
            """
            UPDATE wanted_membership w SET
                has_open = EXISTS (SELECT 1 FROM household_member m WHERE m.district = \(district) AND m.resident_id = w.resident_id AND m.until IS NULL),
                seen_before = EXISTS (SELECT 1 FROM household_member p WHERE p.district = \(district) AND p.resident_id = w.resident_id)
            """, logger: logger)
        try await connection.query(
            """
            INSERT INTO household_member (district, household_id, resident_id, relationship, since)
            -- Since when is unknown for the household a person is first seen in; a move we saw happen is dated.
            SELECT \(district), w.household_id, w.resident_id, w.relationship, CASE WHEN w.seen_before THEN current_date END
            FROM wanted_membership w
            WHERE w.household_id IS NOT NULL AND NOT w.retired AND w.death_date IS NULL AND NOT w.has_open
            """, logger: logger)
        try await connection.analyzeAfterBulk(["household_member"], rows: residents.count, logger: logger)
        // The household's address is its head's.
        try await connection.query(
            """
            UPDATE household h SET address = r.address, division_code = r.division_code
            FROM household_member m JOIN resident r ON r.district = m.district AND r.resident_id = m.resident_id
            WHERE h.district = \(district) AND m.district = h.district AND m.household_id = h.household_id AND m.until IS NULL
              AND m.relationship IN ('01', '02') AND m.resident_id = ANY(\(residents))
              AND (h.address, h.division_code) IS DISTINCT FROM (r.address, r.division_code)
            """, logger: logger)
    }
}
