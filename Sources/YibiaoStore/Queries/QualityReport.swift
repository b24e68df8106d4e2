public import Foundation
public import Logging
public import PostgresNIO
import YibiaoMerge

/// The state of a district's data, as `yibiao report` draws it: what each system holds, how
/// the systems overlap, what is wrong with their values, and what waits for a person. Every
/// count here has a listing of its rows (`QualityReport.rows`), which the report names.
public struct QualityReport: Sendable {
    /// Something wrong with a system's current records, counted per system.
    public enum Finding: String, CaseIterable, Sendable, Codable {
        /// An ID number that could not be read (kept raw, with its problem).
        case idInvalid = "id-invalid"
        /// No ID number at all.
        case idMissing = "id-missing"
        /// A 15-digit ID number, upgraded to 18 digits on the way in.
        case idOldFormat = "id-old-format"
        /// A phone number many different people give: an office's, typed in to pass a check.
        case phoneShared = "phone-shared"
        /// The system's phone differs from the golden record's.
        case stalePhone = "stale-phone"
        /// The system's address differs from the golden record's.
        case staleAddress = "stale-address"
        /// Two or more of the system's current records are one resident.
        case duplicate = "duplicate"

        /// The condition on `cur` (one current record, its resident `res`) that finds it; golden
        /// fields by their number in `district`, looked up by the statement itself.
        func condition(district: String) -> String {
            func golden(_ field: String) -> String { FieldNumbers.valueSQL("res.golden", field, district: district, else: "res.district") }
            return switch self {
            case .idInvalid: "c.problems @> '[{\"field\": \"national_id\"}]'"
            case .idMissing: "c.national_id IS NULL AND c.national_id_raw IS NULL"
            case .idOldFormat:
                // The 15-digit form: division, birth date without the century, sequence.
                """
                c.national_id IS NOT NULL AND EXISTS (
                    SELECT 1 FROM unnest(\(RawColumns.cellsSQL("c.raw"))) AS cell(value)
                    WHERE btrim(cell.value) = left(c.national_id, 6) || substr(c.national_id, 9, 9))
                """
            case .phoneShared: "c.phone IN (SELECT phone FROM shared)"
            case .stalePhone: "res.status = 'active' AND c.phone IS NOT NULL AND c.phone <> \(golden("phone"))"
            case .staleAddress: "res.status = 'active' AND c.address IS NOT NULL AND c.address <> \(golden("address"))"
            case .duplicate: "c.same_system > 1"
            }
        }
    }

    public struct System: Sendable, Hashable {
        public var system: String
        public var records = 0
        public var residents = 0
        public var findings: [Finding: Int] = [:]
    }

    public struct Overlap: Sendable, Hashable {
        public var a: String
        public var b: String
        public var residents: Int
    }

    public struct Quarantined: Sendable, Hashable {
        public var system: String
        public var reason: String
        public var rows: Int
    }

    public struct Batch: Sendable, Hashable {
        public var id: Int64
        public var system: String
        public var startedAt: Date
        public var status: String
        public var read: Int
        public var staged: Int
        public var unchanged: Int
        public var quarantined: Int
    }

    /// A row behind a count: which record of which system, and its resident. No values: the
    /// listing points at records, and `yibiao history` shows them under the reader's grants.
    public struct Row: Sendable, Hashable {
        public var system: String
        public var recordID: Int64
        public var residentID: Int64
    }

    public var district: String
    public var asOf: Date
    /// The change log's head when the report was read.
    public var changeLogSeq: Int64 = 0
    public var activeResidents = 0
    public var systems: [System] = []
    public var overlaps: [Overlap] = []
    /// Number of systems → residents known to exactly that many.
    public var residentsBySystemCount: [Int: Int] = [:]
    public var openConflictsByField: [String: Int] = [:]
    public var openReviewItems = 0
    public var quarantined: [Quarantined] = []
    public var batches: [Batch] = []
    /// System → its Chinese name.
    public var systemNames: [String: String] = [:]

    public init(district: String, asOf: Date) {
        self.district = district
        self.asOf = asOf
    }

    /// Current records with their resident, and the district's shared phones; every statement
    /// below starts with these (one district: Citus routes it to one node).
    private static let current = """
        WITH shared AS (
        \(GoldenRecords.sharedPhonesSQL(district: "$1", holders: "$2", condition: "phone IS NOT NULL"))
        ),
        cur AS (
            SELECT r.system_id, r.record_id, l.resident_id, r.national_id, r.national_id_raw, r.problems, r.raw, r.phone, r.address,
                   count(*) OVER (PARTITION BY l.resident_id, r.system_id) AS same_system
            FROM source_record r JOIN link l ON l.district = $1 AND l.record_id = r.record_id
            WHERE r.district = $1 AND r.is_current
        )

        """

    private static func bindings(_ district: String) -> PostgresBindings {
        var binds = PostgresBindings()
        binds.append(district)
        binds.append(Placeholders.sharedPhoneHolders)
        return binds
    }

    /// Reads the whole report in one snapshot.
    public static func load(_ client: PostgresClient, district: String, logger: Logger) async throws -> QualityReport {
        try await client.withConnection { connection in
            try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
            do {
                let report = try await load(connection, district: district, logger: logger)
                try await connection.query("COMMIT", logger: logger)
                return report
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    private static func load(_ connection: PostgresConnection, district: String, logger: Logger) async throws -> QualityReport {
        var report = QualityReport(district: district, asOf: Date())
        for try await seq in try await connection.query(
            "SELECT last_seq FROM change_log_head WHERE district = \(district)", logger: logger
        ).decode(Int64.self) { report.changeLogSeq = seq }
        for try await count in try await connection.query(
            "SELECT count(*)::int FROM resident WHERE district = \(district) AND status = 'active'", logger: logger
        ).decode(Int.self) { report.activeResidents = count }

        let findings = Finding.allCases
        let filters = findings.map { "count(*) FILTER (WHERE \($0.condition(district: district)))::int" }.joined(separator: ",\n       ")
        let perSystem = try await connection.query(
            PostgresQuery(
                unsafeSQL: current + """
                    SELECT c.system_id, count(*)::int, count(DISTINCT c.resident_id)::int,
                           \(filters)
                    FROM cur c LEFT JOIN resident res ON res.district = $1 AND res.resident_id = c.resident_id
                    GROUP BY c.system_id ORDER BY c.system_id
                    """, binds: bindings(district)), logger: logger)
        for try await row in perSystem {
            let cells = try row.decode((String, Int, Int).self)
            var system = System(system: cells.0, records: cells.1, residents: cells.2)
            let random = row.makeRandomAccess()
            for (index, finding) in findings.enumerated() {
                system.findings[finding] = try random[3 + index].decode(Int.self)
            }
            report.systems.append(system)
        }

        for try await (a, b, count) in try await connection.query(
            PostgresQuery(
                unsafeSQL: current + """
                    , known AS (SELECT DISTINCT resident_id, system_id FROM cur)
                    SELECT x.system_id, y.system_id, count(*)::int FROM known x JOIN known y USING (resident_id)
                    WHERE x.system_id < y.system_id GROUP BY 1, 2 ORDER BY 1, 2
                    """, binds: bindings(district)), logger: logger
        ).decode((String, String, Int).self) {
            report.overlaps.append(Overlap(a: a, b: b, residents: count))
        }
        for try await (systems, residents) in try await connection.query(
            PostgresQuery(
                unsafeSQL: current + """
                    SELECT n, count(*)::int FROM (SELECT resident_id, count(DISTINCT system_id)::int AS n FROM cur GROUP BY resident_id) k
                    GROUP BY n ORDER BY n
                    """, binds: bindings(district)), logger: logger
        ).decode((Int, Int).self) {
            report.residentsBySystemCount[systems] = residents
        }

        for try await (field, count) in try await connection.query(
            "SELECT field, count(*)::int FROM conflict WHERE district = \(district) AND status = 'open' GROUP BY field ORDER BY field",
            logger: logger
        ).decode((String, Int).self) { report.openConflictsByField[field] = count }
        for try await count in try await connection.query(
            "SELECT count(*)::int FROM review_item WHERE district = \(district) AND status = 'open'", logger: logger
        ).decode(Int.self) { report.openReviewItems = count }
        for try await (system, reason, count) in try await connection.query(
            """
            SELECT b.system_id, q.reason_code, count(*)::int FROM quarantine q JOIN ingest_batch b USING (district, batch_id)
            WHERE q.district = \(district) GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2
            """, logger: logger
        ).decode((String, String, Int).self) {
            report.quarantined.append(Quarantined(system: system, reason: reason, rows: count))
        }
        for try await (id, system, started, status, read, staged, unchanged, quarantined) in try await connection.query(
            """
            SELECT batch_id, system_id, started_at, status, rows_read::int, rows_staged::int, rows_unchanged::int, rows_quarantined::int
            FROM ingest_batch WHERE district = \(district) ORDER BY batch_id
            """, logger: logger
        ).decode((Int64, String, Date, String, Int, Int, Int, Int).self) {
            report.batches.append(
                Batch(
                    id: id, system: system, startedAt: started, status: status, read: read, staged: staged, unchanged: unchanged,
                    quarantined: quarantined))
        }
        for try await (system, name) in try await connection.query(
            "SELECT system_id, name_zh FROM source_system", logger: logger
        ).decode((String, String).self) { report.systemNames[system] = name }
        return report
    }

    /// The records behind one finding, for one system or all, resident by resident.
    public static func rows(
        _ client: PostgresClient, district: String, finding: Finding, system: String?, limit: Int, logger: Logger
    ) async throws -> [Row] {
        var binds = bindings(district)
        binds.append(system)
        binds.append(max(limit, 1))
        var rows: [Row] = []
        for try await (system, record, resident) in try await client.query(
            PostgresQuery(
                unsafeSQL: current + """
                    SELECT c.system_id, c.record_id, c.resident_id
                    FROM cur c LEFT JOIN resident res ON res.district = $1 AND res.resident_id = c.resident_id
                    WHERE (\(finding.condition(district: district))) AND ($3::text IS NULL OR c.system_id = $3)
                    ORDER BY c.system_id, c.resident_id, c.record_id LIMIT $4
                    """, binds: binds), logger: logger
        ).decode((String, Int64, Int64).self) {
            rows.append(Row(system: system, recordID: record, residentID: resident))
        }
        return rows
    }
}
