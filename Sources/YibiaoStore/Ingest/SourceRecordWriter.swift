import Foundation
public import Logging
public import PostgresNIO
public import YibiaoAdapters
public import YibiaoCore
import YibiaoMatching

/// The one inbound path into `source_record`: a feed's chunks and a worker's one-record entry
/// are both written here, inside the caller's transaction (which holds the district lock).
/// A row whose source key and content hash are already current is counted unchanged; a changed
/// row retires its current version and is inserted as the next one.
public struct SourceRecordWriter: Sendable {
    /// What one `write` did.
    public struct Counts: Sendable, Hashable {
        public var staged = 0
        public var newVersions = 0
        public var unchanged = 0
    }

    public let district: String
    public let system: String
    public let logger: Logger

    public init(district: String, system: String, logger: Logger) {
        self.district = district
        self.system = system
        self.logger = logger
    }

    /// The district and the system exist.
    public func prepare(_ connection: PostgresConnection, systemName: LocalizedText, domain: String) async throws {
        let districtName = DivisionCodeTable.standard.fullName(district) ?? district
        try await connection.query("INSERT INTO district (district, name) VALUES (\(district), \(districtName)) ON CONFLICT DO NOTHING", logger: logger)
        try await connection.query(
            """
            INSERT INTO source_system (system_id, name_zh, name_en, domain) VALUES (\(system), \(systemName.zh), \(systemName.en), \(domain))
            ON CONFLICT (system_id) DO NOTHING
            """, logger: logger)
    }

    /// A new batch, `running` until `finish` or `fail`.
    public func startBatch(
        _ connection: PostgresConnection, adapter: String, adapterHash: String? = nil, fileName: String, fileHash: String,
        actor: String
    ) async throws -> Int64 {
        let rows = try await connection.query(
            """
            INSERT INTO ingest_batch (district, system_id, adapter, adapter_sha256, file_name, file_sha256, actor)
            VALUES (\(district), \(system), \(adapter), \(adapterHash), \(fileName), \(fileHash), \(actor))
            RETURNING batch_id
            """, logger: logger)
        for try await id in rows.decode(Int64.self) { return id }
        throw StoreError(.batchNotCreated, message: LocalizedText(en: "the batch was not created", zh: "未能创建批次"))
    }

    /// The system's latest batch when it finished reading this very file with this very adapter:
    /// its rows are the system's current records already.
    public func latestBatch(_ connection: PostgresConnection, ifFile fileHash: String, adapter adapterHash: String) async throws -> Int64? {
        for try await (batch, status, file, adapter) in try await connection.query(
            """
            SELECT batch_id, status, file_sha256, adapter_sha256 FROM ingest_batch
            WHERE district = \(district) AND system_id = \(system) ORDER BY batch_id DESC LIMIT 1
            """, logger: logger
        ).decode((Int64, String, String, String?).self) {
            return status == "finished" && file == fileHash && adapter == adapterHash ? batch : nil
        }
        return nil
    }

    /// A batch left `running` by a process that is gone (killed, crashed, lost its database).
    public struct InterruptedBatch: Sendable, Hashable {
        public let district: String
        public let batchID: Int64
        public let system: String
        public let fileName: String
    }

    /// Held on the ingest's connection while its batch runs: a `running` batch whose lock is
    /// free belongs to a process that is gone (the server drops the lock with the connection).
    public func holdBatch(_ connection: PostgresConnection, batchID: Int64) async throws {
        try await sessionLock("pg_advisory_lock", batchLock(batchID), connection)
    }

    public func releaseBatch(_ connection: PostgresConnection, batchID: Int64) async throws {
        try await sessionLock("pg_advisory_unlock", batchLock(batchID), connection)
    }

    /// Held for a whole ingest: one ingest of a system at a time in a district.
    public func holdSystem(_ connection: PostgresConnection) async throws {
        try await sessionLock("pg_advisory_lock", systemLock, connection)
    }

    public func releaseSystem(_ connection: PostgresConnection) async throws {
        try await sessionLock("pg_advisory_unlock", systemLock, connection)
    }

    private func batchLock(_ batchID: Int64) -> String { "yibiao:batch:\(district):\(batchID)" }
    private var systemLock: String { "yibiao:ingest:\(district):\(system)" }

    /// Calls one of PostgreSQL's session advisory-lock functions on the named lock; false when a
    /// try or an unlock did not succeed (`pg_advisory_lock` returns void, read as true).
    @discardableResult
    private func sessionLock(_ function: StaticString, _ name: String, _ connection: PostgresConnection) async throws -> Bool {
        var result = false
        for try await done in try await connection.query(
            "SELECT \(unescaped: function.description)(hashtextextended(\(name), 0))::text IS DISTINCT FROM 'false'", logger: logger
        ).decode(Bool.self) { result = done }
        return result
    }

    /// A current record as an ingest compares rows with it.
    public struct CurrentRecord: Sendable, Hashable {
        /// Its content hash (hex).
        public let contentHash: String
        /// Staged by a batch read with the adapter the ingest uses: the same row under the same
        /// adapter maps the same, so staging need not map it again to know it holds it already.
        public let sameAdapter: Bool
    }

    /// Source key → the system's current record, `sameAdapter` against fingerprint `adapter`.
    public func currentRecords(_ connection: PostgresConnection, stagedBy adapter: String) async throws -> [String: CurrentRecord] {
        var current: [String: CurrentRecord] = [:]
        for try await row in try await connection.query(
            """
            SELECT r.source_key, encode(r.content_hash, 'hex'), b.adapter_sha256 IS NOT DISTINCT FROM \(adapter)
            FROM source_record r LEFT JOIN ingest_batch b ON b.district = r.district AND b.batch_id = r.batch_id
            WHERE r.district = \(district) AND r.system_id = \(system) AND r.is_current
            """,
            logger: logger
        ) {
            // Every current record of the system: read cell by cell (`RowReader`).
            var cells = RowReader(row)
            let (key, hash, same) = (try cells.string(), try cells.string(), try cells.bool())
            current[key] = CurrentRecord(contentHash: hash, sameAdapter: same)
        }
        return current
    }

    /// Marks the district's orphaned `running` batches failed (`interrupted`) and returns them.
    /// Their committed chunks stay: the next ingest of the file recognises those rows.
    public func failInterrupted(_ connection: PostgresConnection) async throws -> [InterruptedBatch] {
        var running: [InterruptedBatch] = []
        for try await (id, system, file) in try await connection.query(
            """
            SELECT batch_id, system_id, file_name FROM ingest_batch WHERE district = \(district) AND status = 'running' ORDER BY batch_id
            """, logger: logger
        ).decode((Int64, String, String).self) {
            running.append(InterruptedBatch(district: district, batchID: id, system: system, fileName: file))
        }
        var interrupted: [InterruptedBatch] = []
        for batch in running {
            guard try await sessionLock("pg_try_advisory_lock", batchLock(batch.batchID), connection) else { continue }
            try await fail(
                connection, batchID: batch.batchID, code: "interrupted",
                message: "the process stopped before the batch finished (killed, crashed or lost its database)")
            try await releaseBatch(connection, batchID: batch.batchID)
            interrupted.append(batch)
        }
        return interrupted
    }

    /// Marks every district's orphaned batches failed (`yibiao db start`, after a crash).
    public static func failInterrupted(_ client: PostgresClient, logger: Logger) async throws -> [InterruptedBatch] {
        try await client.withConnection { connection in
            var districts: [String] = []
            for try await district in try await connection.query(
                "SELECT DISTINCT district FROM ingest_batch WHERE status = 'running' ORDER BY district", logger: logger
            ).decode(String.self) { districts.append(district) }
            var interrupted: [InterruptedBatch] = []
            for district in districts {
                interrupted += try await SourceRecordWriter(district: district, system: "", logger: logger).failInterrupted(connection)
            }
            return interrupted
        }
    }

    public func finish(_ connection: PostgresConnection, batchID: Int64) async throws {
        try await connection.query(
            """
            UPDATE ingest_batch SET status = 'finished', finished_at = now()
            WHERE district = \(district) AND batch_id = \(batchID)
            """, logger: logger)
    }

    public func fail(_ connection: PostgresConnection, batchID: Int64, code: String, message: String) async throws {
        try await connection.query(
            """
            UPDATE ingest_batch SET status = 'failed', finished_at = now(), error_code = \(code), error_message = \(message)
            WHERE district = \(district) AND batch_id = \(batchID)
            """, logger: logger)
    }

    /// Writes records and quarantined rows of one batch, and adds them to its counters.
    public func write(
        _ connection: PostgresConnection, batchID: Int64, fileName: String, records: [MappedRecord],
        quarantined: [FeedIssue], read: Int
    ) async throws -> Counts {
        var columns = try await rawColumns(connection)
        let added = columns.extend(with: records)
        let numbers = try await FieldNumbers.ensure(district: district, on: connection, logger: logger)
        var staging = StagingRows(records, columns: columns, numbers: numbers)
        staging.newColumns = added
        return try await write(connection, batchID: batchID, fileName: fileName, staging: staging, quarantined: quarantined, read: read)
    }

    /// Rows of `source_record` (every district and system) as its statistics last counted them;
    /// 0 when never counted (or on a Citus coordinator, whose table holds no rows itself).
    public func rowsLastCounted(_ connection: PostgresConnection) async throws -> Int {
        var rows = 0
        for try await count in try await connection.query(
            "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = 'source_record'::regclass", logger: logger
        ).decode(Int.self) { rows = count }
        return rows
    }

    /// The system's raw columns, in position order. A writer of the system's rows reads them
    /// once it holds the system (`holdSystem`) or the district lock: no other writer adds any.
    public func rawColumns(_ connection: PostgresConnection) async throws -> RawColumns {
        var names: [String] = []
        for try await name in try await connection.query(
            "SELECT name FROM source_column WHERE district = \(district) AND system_id = \(system) ORDER BY position", logger: logger
        ).decode(String.self) { names.append(name) }
        return RawColumns(names: names)
    }

    /// The same, for records encoded already (an ingest encodes them on every core).
    /// `alsoUnchanged`: rows the caller found unchanged itself and did not pass (counted in the
    /// batch and in the counts returned). `firstLoad`: the caller holds the system, which had
    /// no record at all when it took it (no current one, no superseded one), and passes each source key once:
    /// every row is new, and no key is looked up.
    public func write(
        _ connection: PostgresConnection, batchID: Int64, fileName: String, staging: StagingRows,
        quarantined: [FeedIssue], read: Int, alsoUnchanged: Int = 0, firstLoad: Bool = false
    ) async throws -> Counts {
        var counts = Counts()
        if !staging.newColumns.isEmpty {
            // In the transaction of the first rows that use them. Another writer's positions
            // would collide with these on the keys: an error, never cells read under wrong names.
            try await connection.query(
                """
                INSERT INTO source_column (district, system_id, position, name)
                SELECT \(district), \(system), c.position, c.name
                FROM unnest(\(staging.newColumns.map(\.position))::int[], \(staging.newColumns.map(\.name))::text[]) AS c(position, name)
                """, logger: logger)
        }
        if staging.count > 0 {
            let rows = staging.rows
            // Unless no key has a current row and the system has no older versions (its first
            // load: every row is version 1), each key is looked up twice as its row is inserted
            // (`insertVersions`); else the rows are copied in (`copyNewKeys`), and a first load
            // known as such (`firstLoad`) compares nothing at all.
            var probeKeys = !firstLoad
            if firstLoad {
                counts.staged = rows.count
            } else {
                // Unchanged rows are counted; changed rows retire their current version (the keys
                // and hashes suffice); new and changed rows are inserted next with the next version.
                let compared = try await connection.query(
                    """
                    WITH compared AS (
                        SELECT s.source_key, decode(s.content_hash, 'hex') AS content_hash, r.record_id AS current_id, r.content_hash AS current_hash
                        FROM unnest(\(rows.column(0))::text[], \(rows.column(2))::text[]) AS s(source_key, content_hash)
                        LEFT JOIN source_record r ON r.district = \(district) AND r.system_id = \(system)
                            AND r.source_key = s.source_key AND r.is_current
                    ),
                    retired AS (
                        UPDATE source_record r SET is_current = false FROM compared c
                        WHERE r.district = \(district) AND r.record_id = c.current_id AND c.current_hash <> c.content_hash
                        RETURNING r.record_id
                    )
                    SELECT count(*) FILTER (WHERE current_hash = content_hash),
                           count(*) FILTER (WHERE current_id IS NULL),
                           count(*) FILTER (WHERE current_hash <> content_hash),
                           (SELECT count(*) FROM retired),
                           EXISTS (SELECT 1 FROM source_record WHERE district = \(district) AND system_id = \(system) AND NOT is_current)
                    FROM compared
                    """, logger: logger)
                for try await (same, new, changed, _, superseded) in compared.decode((Int, Int, Int, Int, Bool).self) {
                    counts.unchanged = same
                    counts.staged = new + changed
                    counts.newVersions = changed
                    probeKeys = new < rows.count || superseded
                }
            }
            // One record (a worker's entry) goes in one statement: copied, it took three.
            if probeKeys || rows.count == 1 {
                try await insertVersions(rows, batchID: batchID, connection)
            } else {
                try await copyNewKeys(rows, batchID: batchID, connection)
            }
        }
        if !quarantined.isEmpty {
            var copy = CopyText()
            for issue in quarantined {
                copy.row([
                    district, String(batchID), fileName, String(issue.row ?? 0), issue.column, issue.value,
                    issue.code, issue.message.en, issue.message.zh,
                ])
            }
            try await connection.copy(
                copy, into: "quarantine",
                columns: [
                    "district", "batch_id", "file_name", "row_number", "column_name", "raw_value", "reason_code", "message_en", "message_zh",
                ], logger: logger)
        }
        counts.unchanged += alsoUnchanged
        let quarantinedCount = quarantined.count
        try await connection.query(
            """
            UPDATE ingest_batch SET rows_read = rows_read + \(read), rows_staged = rows_staged + \(counts.staged),
                rows_unchanged = rows_unchanged + \(counts.unchanged), rows_quarantined = rows_quarantined + \(quarantinedCount)
            WHERE district = \(district) AND batch_id = \(batchID)
            """, logger: logger)
        return counts
    }

    /// New rows and new versions of changed ones, each with the next version of its key; every
    /// row staged waits for the next matching run (`match_queue`), in this transaction.
    private func insertVersions(_ rows: StagedRows, batchID: Int64, _ connection: PostgresConnection) async throws {
        try await connection.query(
            """
            WITH staged AS (
            INSERT INTO source_record (district, system_id, source_key, version, batch_id, row_number, content_hash,
                raw, fields, facet, problems, national_id, national_id_raw, name, name_key, pinyin_key, sex,
                birth_date, phone, division_code, address, match_keys)
            SELECT \(district), \(system), s.source_key, coalesce(previous.version, 0) + 1, \(batchID), s.row_number::bigint,
                decode(s.content_hash, 'hex'), s.raw, s.fields, s.facet, s.problems::jsonb, s.national_id, s.national_id_raw,
                s.name, s.name_key, s.pinyin_key, s.sex, s.birth_date, s.phone, s.division_code, s.address, s.match_keys::bigint[]
            FROM unnest(\(rows.column(0))::text[], \(rows.column(1))::text[], \(rows.column(2))::text[], \(rows.column(3))::text[], \(rows.column(4))::text[],
                        \(rows.column(5))::text[], \(rows.column(6))::text[], \(rows.column(7))::text[], \(rows.column(8))::text[], \(rows.column(9))::text[],
                        \(rows.column(10))::text[], \(rows.column(11))::text[], \(rows.column(12))::text[], \(rows.column(13))::text[], \(rows.column(14))::text[],
                        \(rows.column(15))::text[], \(rows.column(16))::text[], \(rows.column(17))::text[])
                 AS s(source_key, row_number, content_hash, raw, fields, facet, problems, national_id, national_id_raw, name,
                      name_key, pinyin_key, sex, birth_date, phone, division_code, address, match_keys)
            -- The key's newest superseded version (a changed row's was retired just before).
            LEFT JOIN LATERAL (
                SELECT max(r.version) AS version FROM source_record r
                WHERE r.district = \(district) AND r.system_id = \(system) AND r.source_key = s.source_key AND NOT r.is_current
            ) previous ON true
            -- A lateral probe, not NOT EXISTS: an anti-join could be planned as a scan of the district.
            LEFT JOIN LATERAL (
                SELECT true AS present FROM source_record c
                WHERE c.district = \(district) AND c.system_id = \(system) AND c.source_key = s.source_key AND c.is_current LIMIT 1
            ) current ON true
            WHERE current.present IS NULL
            RETURNING record_id
            )
            INSERT INTO match_queue (district, record_id) SELECT \(district), record_id FROM staged
            """, logger: logger)
    }

    /// The columns of `source_record` that `copyNewKeys` copies, in its order.
    static let copiedColumns = [
        "district", "system_id", "source_key", "version", "batch_id", "row_number", "content_hash", "raw", "fields", "facet", "problems",
        "national_id", "national_id_raw", "name", "name_key", "pinyin_key", "sex", "birth_date", "phone", "division_code", "address",
        "match_keys",
    ]

    /// Rows that are each version 1 of a key the system never had (a system's first load): copied
    /// in — COPY stores a chunk of 20,000 in four fifths of the server's time the array insert
    /// took with its lookups planned away (a parameter `false`) — then queued for matching. The
    /// rows copied are this district's records past the largest id it held before: ids only
    /// grow, and every writer of the district's records holds the district lock, as the caller does.
    private func copyNewKeys(_ rows: StagedRows, batchID: Int64, _ connection: PostgresConnection) async throws {
        var before: Int64 = 0
        for try await largest in try await connection.query(
            "SELECT coalesce(max(record_id), 0) FROM source_record WHERE district = \(district)", logger: logger
        ).decode(Int64.self) { before = largest }
        let batch = String(batchID), columns = rows.columns
        try await connection.copyInParts(rows.count, into: "source_record", columns: Self.copiedColumns, logger: logger) { range, text in
            for row in range {
                // The staged columns (`stagingRow`), the content hash as bytea's hex input.
                var values: [String?] = [district, system, columns[0][row], "1", batch, columns[1][row], columns[2][row].map { "\\x" + $0 }]
                for column in 3..<columns.count { values.append(columns[column][row]) }
                text.row(values)
            }
        }
        try await connection.query(
            """
            INSERT INTO match_queue (district, record_id)
            SELECT district, record_id FROM source_record WHERE district = \(district) AND record_id > \(before)
            """, logger: logger)
    }

    /// The system holds a superseded record (an older version) in the district.
    public func holdsSupersededRecords(_ connection: PostgresConnection) async throws -> Bool {
        var holds = true
        for try await found in try await connection.query(
            "SELECT EXISTS (SELECT 1 FROM source_record WHERE district = \(district) AND system_id = \(system) AND NOT is_current)",
            logger: logger
        ).decode(Bool.self) { holds = found }
        return holds
    }

    /// The current record of a source key, after a write.
    public func currentRecord(_ connection: PostgresConnection, sourceKey: String) async throws -> Int64? {
        for try await id in try await connection.query(
            """
            SELECT record_id FROM source_record
            WHERE district = \(district) AND system_id = \(system) AND source_key = \(sourceKey) AND is_current
            """, logger: logger
        ).decode(Int64.self) { return id }
        return nil
    }

    /// Records as the staging statements take them.
    public struct StagingRows: Sendable {
        public private(set) var rows = StagedRows(columns: 18)
        /// Raw column positions these rows are the first to use: written with them.
        public var newColumns: [RawColumns.Position] = []
        public var count: Int { rows.count }

        public init() {}

        /// `columns` must give every raw column of the records a position (`RawColumns.extend`);
        /// `numbers`: the district's field numbers (`FieldNumbers.ensure`).
        public init(_ records: some Sequence<MappedRecord>, columns: RawColumns, numbers: FieldNumbers) {
            var placed: (columns: ColumnNames, placement: [Int])?
            for record in records {
                let names = record.rawRow.columns
                if placed?.columns !== names { placed = (names, columns.placement(of: names)) }
                rows.row(SourceRecordWriter.stagingRow(record, rawCells: columns.cells(record.rawRow, placement: placed!.placement), numbers: numbers))
            }
        }

        public mutating func append(contentsOf other: StagingRows) {
            rows.append(contentsOf: other.rows)
            newColumns += other.newColumns
        }
    }

    /// Canonical values a record's own columns hold as they are: `fields` leaves them out
    /// (migration 0022), `allFields` puts them back.
    public static let liftedFields = ["national_id", "national_id_raw", "sex", "birth_date", "phone", "division_code", "address"]

    /// The record's `fields` and `facet` as stored (`StoredPairs`, migration 0040), in one pass
    /// over its fields (no dictionary per part: staging makes them for every row).
    /// `fields`: the core values but those its columns hold — the name too when the feed spelled
    /// it as normalised (its `name` column), else it keeps the feed's spelling. `facet`: the
    /// qualified fields (`party.branch`), keyed as `storedFacet` keys them.
    static func storedFieldsAndFacet(_ record: MappedRecord, numbers: FieldNumbers) -> (fields: String, facet: String) {
        var core: [(key: String, value: String)] = [], facet: [(key: String, value: String)] = []
        core.reserveCapacity(record.fields.count)
        let display = record.name?.display
        for (field, value) in record.fields {
            if field.containsUTF8Byte(UInt8(ascii: ".")) {
                facet.append((numbers.key(field), value))
            } else if !liftedFields.contains(field), field != "name" || value != display {
                core.append((field, value))
            }
        }
        return (StoredPairs.text(pairs: core), StoredPairs.text(pairs: facet))
    }

    /// SQL for every canonical core value of source record `alias` as one jsonb object: its
    /// columns' values, then `fields` (which wins, for a name spelled otherwise by the feed). A
    /// document kept as JSON keeps its values' kinds: a reader that wants text sees one that is not.
    public static func allFields(_ alias: String) -> String {
        let columns = (["name"] + liftedFields).map { "'\($0)', \(alias).\($0)" }.joined(separator: ", ")
        return """
            (jsonb_strip_nulls(jsonb_build_object(\(columns)))
             || CASE WHEN left(\(alias).fields, 1) = '{' THEN \(alias).fields::jsonb
                     ELSE (SELECT coalesce(jsonb_object_agg(f.key, f.value), '{}'::jsonb) FROM \(StoredPairs.pairsSQL("\(alias).fields")) f) END)
            """
    }

    /// The same values as `allFields`, as (key, value) rows without building the object: a count
    /// over a district reads them so in half the time. (`fields` wins for the name, as there.)
    public static func allFieldPairs(_ alias: String) -> String {
        let columns = liftedFields.map { "('\($0)', \(alias).\($0)::text)" }.joined(separator: ", ")
        return """
            SELECT * FROM (VALUES ('name', CASE WHEN \(StoredPairs.valueSQL("\(alias).fields", "'name'")) IS NOT NULL THEN NULL ELSE \(alias).name END), \(columns)) c(key, value)
            UNION ALL SELECT f.key, f.value FROM \(StoredPairs.pairsSQL("\(alias).fields")) f
            """
    }

    /// `facet` as stored (`StoredPairs`, migration 0040): keyed by each field's number in the
    /// district (`FieldNumbers`, migration 0031) — a name the district does not number stays a name.
    /// `facet` holds qualified names (`party.branch`) only.
    static func storedFacet(_ facet: [String: String], numbers: FieldNumbers) -> String {
        // Distinct names give distinct keys (a facet field's name is qualified, never a number).
        StoredPairs.text(pairs: facet.map { (numbers.key($0.key), $0.value) })
    }

    /// SQL for the facet values of source record `alias` as rows (`key`, `value` text), keys as
    /// stored: a field's number, or its name (`FieldNumbers.field` reads either). For reads of
    /// many records, which translate the keys once in this process rather than in every row.
    public static func storedFacetPairs(_ alias: String) -> String {
        "SELECT f.key, f.value FROM \(StoredPairs.pairsSQL("\(alias).facet")) f"
    }

    /// The facet of source record `alias` of `district` as one jsonb object of qualified names
    /// (`party.branch`), its numbers looked up in `field_number`: for reads of a few records.
    public static func flatFacet(_ alias: String, district: String) -> String {
        """
        (SELECT coalesce(jsonb_object_agg(coalesce(n.name, f.key), f.value), '{}'::jsonb)
         FROM \(StoredPairs.pairsSQL("\(alias).facet")) f
         LEFT JOIN field_number n ON n.district = \(Database.districtLiteral(district, else: "\(alias).district")) AND n.number::text = f.key)
        """
    }

    /// `rawCells`: the record's raw cells as `RawColumns.cells` gives them.
    static func stagingRow(_ record: MappedRecord, rawCells: String, numbers: FieldNumbers) -> [String?] {
        let fields = record.fields
        let (storedFields, storedFacet) = storedFieldsAndFacet(record, numbers: numbers)
        // The columns below, as matching will load them.
        let keys = MatchEngine.lookupKeys(
            of: MatchRecord(
                storedID: 0, nationalID: fields["national_id"], nationalIDRaw: fields["national_id_raw"], name: record.name?.display,
                nameKey: record.name?.matchingKey,
                pinyinKey: record.name?.pinyinKey, sex: fields["sex"], birthDate: fields["birth_date"], phone: fields["phone"],
                division: fields["division_code"], address: fields["address"],
                identifiers: MatchRecord.otherIdentifiers(passport: fields["passport_no"], socialSecurity: fields["social_security_no"])))
        return [
            record.sourceKey, String(record.row), record.contentHash, rawCells, storedFields, storedFacet, record.problems.isEmpty ? nil : JSONText.encode(record.problems),
            // The matching key only where it differs from the name (migration 0042).
            fields["national_id"], fields["national_id_raw"], record.name?.display,
            record.name.flatMap { $0.matchingKey == $0.display ? nil : $0.matchingKey }, record.name?.pinyinKey,
            fields["sex"], fields["birth_date"], fields["phone"], fields["division_code"], fields["address"],
            PostgresArrayText.literal(keys),
        ]
    }

}
