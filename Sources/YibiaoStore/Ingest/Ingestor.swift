public import Foundation
public import Logging
public import PostgresNIO
import Crypto
public import YibiaoAdapters
public import YibiaoCore

/// Stages a feed file: read → map → COPY into `source_record`, with quarantine, in chunks of
/// one transaction each. Idempotent: an unchanged row (same source key, same content hash) is
/// not staged again; a changed one becomes a new version. Counts always reconcile:
/// read = staged + unchanged + quarantined.
public struct Ingestor: Sendable {
    public struct Summary: Sendable, Hashable {
        public var batchID: Int64 = 0
        public var read = 0
        public var staged = 0
        public var newVersions = 0
        public var unchanged = 0
        public var quarantined = 0
        public var quarantineReasons: [String: Int] = [:]
        /// A problem that stopped the file part-way (the rows before it were staged).
        public var fileIssue: FeedIssue?

        public var reconciles: Bool { read == staged + unchanged + quarantined }
    }

    public struct Progress: Sendable {
        public let rowsRead: Int
        public let elapsed: Duration
    }

    public let adapter: any FeedAdapter
    public let district: String
    public let actor: String
    public let today: CalendarDate
    public var chunkSize = 5_000
    public var logger = Logger(label: "yibiao.ingest", factory: { _ in SwiftLogNoOpLogHandler() })

    public init(adapter: any FeedAdapter, district: String, actor: String, today: CalendarDate) {
        self.adapter = adapter
        self.district = district
        self.actor = actor
        self.today = today
    }

    public func ingest(_ url: URL, client: PostgresClient, progress: @escaping @Sendable (Progress) -> Void = { _ in }) async throws -> Summary {
        let fileHash = try Self.sha256(of: url)
        return try await client.withConnection { connection in
            try await prepare(connection)
            let batchID = try await startBatch(connection, fileName: url.lastPathComponent, fileHash: fileHash)
            var summary = Summary()
            summary.batchID = batchID
            let start = ContinuousClock.now
            let chunks = ChunkProducer.start(adapter: adapter, url: url, today: today, chunkSize: chunkSize)
            do {
                var analyzedAt = 0
                for await chunk in chunks.stream {
                    try await write(chunk, batchID: batchID, fileName: url.lastPathComponent, connection: connection, summary: &summary)
                    // A first ingest grows the table many times over: statistics follow at each doubling.
                    if summary.staged >= max(4_096, 2 * analyzedAt) {
                        try await connection.analyzeStaging("source_record", logger: logger)
                        analyzedAt = summary.staged
                    }
                    chunks.consumed()
                    progress(Progress(rowsRead: summary.read, elapsed: ContinuousClock.now - start))
                }
            } catch {
                // Stop the reader thread instead of leaving it blocked on a full queue.
                chunks.cancel()
                throw error
            }
            if let issue = chunks.fileIssue {
                summary.fileIssue = issue
                try await failBatch(connection, batchID: batchID, issue: issue)
            } else if let error = chunks.otherError {
                try await failBatch(connection, batchID: batchID, issue: FeedIssue(
                    code: "read_failed", message: LocalizedText(en: "reading stopped: \(error)", zh: "读取中断：\(error)")))
                throw error
            } else {
                try await connection.query("""
                    UPDATE ingest_batch SET status = 'finished', finished_at = now()
                    WHERE district = \(district) AND batch_id = \(batchID)
                    """, logger: logger)
            }
            return summary
        }
    }

    // MARK: Steps

    private func prepare(_ connection: PostgresConnection) async throws {
        let districtName = DivisionCodeTable.standard.fullName(district) ?? district
        try await connection.query("INSERT INTO district (district, name) VALUES (\(district), \(districtName)) ON CONFLICT DO NOTHING", logger: logger)
        let domain = adapter.domain == .core ? "other" : adapter.domain.rawValue
        try await connection.query("""
            INSERT INTO source_system (system_id, name_zh, name_en, domain) VALUES (\(adapter.system), \(adapter.name.zh), \(adapter.name.en), \(domain))
            ON CONFLICT (system_id) DO NOTHING
            """, logger: logger)
        try await connection.query("""
            CREATE TEMP TABLE IF NOT EXISTS staging_record (
                source_key text, row_number bigint, content_hash text, raw jsonb, fields jsonb, facet jsonb, problems jsonb,
                national_id text, national_id_raw text, name text, name_key text, pinyin_key text, sex char(1),
                birth_date date, phone text, division_code char(6), address text
            ) ON COMMIT DELETE ROWS
            """, logger: logger)
    }

    private func startBatch(_ connection: PostgresConnection, fileName: String, fileHash: String) async throws -> Int64 {
        let rows = try await connection.query("""
            INSERT INTO ingest_batch (district, system_id, adapter, file_name, file_sha256, actor)
            VALUES (\(district), \(adapter.system), \(adapter.adapterName), \(fileName), \(fileHash), \(actor))
            RETURNING batch_id
            """, logger: logger)
        for try await id in rows.decode(Int64.self) { return id }
        throw StoreError(code: "batch_not_created", message: LocalizedText(en: "the batch was not created", zh: "未能创建批次"))
    }

    private func failBatch(_ connection: PostgresConnection, batchID: Int64, issue: FeedIssue) async throws {
        try await connection.query("""
            UPDATE ingest_batch SET status = 'failed', finished_at = now(), error_code = \(issue.code),
                error_message = \(issue.message.en)
            WHERE district = \(district) AND batch_id = \(batchID)
            """, logger: logger)
    }

    private func write(_ chunk: IngestChunk, batchID: Int64, fileName: String, connection: PostgresConnection,
                       summary: inout Summary) async throws {
        try await connection.query("BEGIN", logger: logger)
        do {
            // One writer per district at a time, per chunk: worker entries interleave with a long ingest.
            try await connection.lockDistrict(district, logger: logger)
            var staged = 0, newVersions = 0, unchanged = 0
            if !chunk.records.isEmpty {
                var copy = CopyText()
                for record in chunk.records { copy.row(Self.stagingRow(record)) }
                try await connection.copyFrom(table: "staging_record", logger: logger) { writer in
                    try await writer.write(ByteBuffer(bytes: copy.bytes))
                }
                try await connection.analyzeStaging("staging_record", logger: logger)
                // Unchanged rows are counted; changed rows retire their current version; new and
                // changed rows are inserted with the next version number.
                let counts = try await connection.query("""
                    WITH compared AS (
                        SELECT s.*, r.record_id AS current_id, r.version AS current_version, r.content_hash AS current_hash
                        FROM staging_record s
                        LEFT JOIN source_record r ON r.district = \(district) AND r.system_id = \(adapter.system)
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
                           (SELECT count(*) FROM retired)
                    FROM compared
                    """, logger: logger)
                for try await (same, new, changed, _) in counts.decode((Int, Int, Int, Int).self) {
                    unchanged = same
                    staged = new + changed
                    newVersions = changed
                }
                try await connection.query("""
                    INSERT INTO source_record (district, system_id, source_key, version, batch_id, row_number, content_hash,
                        raw, fields, facet, problems, national_id, national_id_raw, name, name_key, pinyin_key, sex,
                        birth_date, phone, division_code, address)
                    SELECT \(district), \(adapter.system), s.source_key, coalesce(previous.version, 0) + 1, \(batchID), s.row_number,
                        s.content_hash, s.raw, s.fields, s.facet, s.problems, s.national_id, s.national_id_raw, s.name,
                        s.name_key, s.pinyin_key, s.sex, s.birth_date, s.phone, s.division_code, s.address
                    FROM staging_record s
                    LEFT JOIN LATERAL (
                        SELECT r.version, r.content_hash, r.is_current FROM source_record r
                        WHERE r.district = \(district) AND r.system_id = \(adapter.system) AND r.source_key = s.source_key
                        ORDER BY r.version DESC LIMIT 1
                    ) previous ON true
                    WHERE previous.version IS NULL OR NOT previous.is_current
                    """, logger: logger)
            }
            if !chunk.quarantined.isEmpty {
                var copy = CopyText()
                for issue in chunk.quarantined {
                    copy.row([district, String(batchID), fileName, String(issue.row ?? 0), issue.column, issue.value,
                              issue.code, issue.message.en, issue.message.zh])
                }
                try await connection.copyFrom(table: "quarantine", columns: [
                    "district", "batch_id", "file_name", "row_number", "column_name", "raw_value", "reason_code", "message_en", "message_zh",
                ], logger: logger) { writer in
                    try await writer.write(ByteBuffer(bytes: copy.bytes))
                }
            }
            let read = chunk.read
            let quarantined = chunk.quarantined.count
            try await connection.query("""
                UPDATE ingest_batch SET rows_read = rows_read + \(read), rows_staged = rows_staged + \(staged),
                    rows_unchanged = rows_unchanged + \(unchanged), rows_quarantined = rows_quarantined + \(quarantined)
                WHERE district = \(district) AND batch_id = \(batchID)
                """, logger: logger)
            try await connection.query("COMMIT", logger: logger)
            summary.read += read
            summary.staged += staged
            summary.newVersions += newVersions
            summary.unchanged += unchanged
            summary.quarantined += quarantined
            for issue in chunk.quarantined { summary.quarantineReasons[issue.code, default: 0] += 1 }
        } catch {
            _ = try? await connection.query("ROLLBACK", logger: logger)
            throw StoreError(code: "ingest_write_failed",
                             message: LocalizedText(en: "writing rows to the database failed: \(PostgresErrorText.message(error))",
                                                    zh: "写入数据库失败：\(PostgresErrorText.message(error))"),
                             remedy: LocalizedText(en: "run the same ingest again: rows already staged are recognised and not staged twice",
                                                   zh: "请重新执行同一导入：已暂存的行会被识别，不会重复暂存"),
                             detail: String(reflecting: error))
        }
    }

    static func stagingRow(_ record: MappedRecord) -> [String?] {
        var core: [String: String] = [:]
        var facet: [String: String] = [:]
        for (name, value) in record.fields {
            if name.contains(".") { facet[name] = value } else { core[name] = value }
        }
        let name = core["name"].flatMap { try? NameNormalizer.normalize($0).get() }
        return [
            record.sourceKey, String(record.row), record.contentHash, JSONText.object(record.raw), JSONText.object(core),
            JSONText.object(facet), JSONText.encode(record.problems),
            core["national_id"], core["national_id_raw"], name?.display, name?.matchingKey, name?.pinyinKey, core["sex"],
            core["birth_date"], core["phone"], core["division_code"], core["address"],
        ]
    }

    public static func sha256(of url: URL) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw FeedIssue(code: "file_unreadable", message: LocalizedText(en: "cannot read \(url.path)", zh: "无法读取 \(url.path)"))
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { hasher.update(data: chunk) }
        return hasher.finalize().hexString
    }
}

/// Rows read and mapped, ready to write in one transaction.
struct IngestChunk: Sendable {
    var records: [MappedRecord] = []
    var quarantined: [FeedIssue] = []
    var read = 0
}

/// Reads and maps on a thread of its own while the database writes: parsing and COPY overlap,
/// and at most two chunks wait in memory (the semaphore is the backpressure).
final class ChunkProducer: @unchecked Sendable {
    let stream: AsyncStream<IngestChunk>
    private let slots = DispatchSemaphore(value: 2)
    private let lock = NSLock()
    private var _fileIssue: FeedIssue?
    private var _otherError: (any Error)?

    var fileIssue: FeedIssue? { lock.withLock { _fileIssue } }
    var otherError: (any Error)? { lock.withLock { _otherError } }

    private init(stream: AsyncStream<IngestChunk>) {
        self.stream = stream
    }

    func consumed() { slots.signal() }

    private var _cancelled = false
    var cancelled: Bool { lock.withLock { _cancelled } }

    /// The consumer gave up: the reader stops at its next row.
    func cancel() {
        lock.withLock { _cancelled = true }
        slots.signal()
        slots.signal()
    }

    static func start(adapter: any FeedAdapter, url: URL, today: CalendarDate, chunkSize: Int) -> ChunkProducer {
        let (stream, continuation) = AsyncStream.makeStream(of: IngestChunk.self, bufferingPolicy: .unbounded)
        let producer = ChunkProducer(stream: stream)
        let thread = Thread {
            var chunk = IngestChunk()
            var seenKeys: Set<Int> = []
            func emit() {
                producer.slots.wait()
                continuation.yield(chunk)
                chunk = IngestChunk()
            }
            do {
                try adapter.read(url, today: today) { outcome in
                    if producer.cancelled { throw StopReading() }
                    chunk.read += 1
                    switch outcome {
                    case .quarantined(let issue):
                        chunk.quarantined.append(issue)
                    case .record(let record):
                        // The same source key twice in one file: the first one counts.
                        if !seenKeys.insert(record.sourceKey.hashValue).inserted {
                            chunk.quarantined.append(FeedIssue(code: "duplicate_source_key", message: LocalizedText(
                                en: "the source key \(record.sourceKey) already appeared earlier in this file",
                                zh: "源系统主键 \(record.sourceKey) 在本文件中已出现过"), row: record.row, value: record.sourceKey))
                        } else {
                            chunk.records.append(record)
                        }
                    }
                    if chunk.read >= chunkSize { emit() }
                }
            } catch is StopReading {
                continuation.finish()
                return
            } catch let issue as FeedIssue {
                producer.lock.withLock { producer._fileIssue = issue }
            } catch {
                producer.lock.withLock { producer._otherError = error }
            }
            if chunk.read > 0 { emit() }
            continuation.finish()
        }
        thread.stackSize = 8 << 20
        thread.start()
        return producer
    }
}
