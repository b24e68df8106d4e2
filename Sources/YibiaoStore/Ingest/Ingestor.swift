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
        /// Earlier batches of the district that had stopped half-way, marked failed by this run.
        public var interrupted: [SourceRecordWriter.InterruptedBatch] = []
        /// The file is the system's latest batch, read with the same adapter: nothing was read.
        public var unchangedSinceBatch: Int64?

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
    public var chunkSize = 20_000
    /// Read the file even when it is the system's latest batch, unchanged (`ingest --force`).
    public var rereadUnchangedFile = false
    public let logger: Logger

    public init(adapter: any FeedAdapter, district: String, actor: String, today: CalendarDate, logger: Logger) {
        self.adapter = adapter
        self.district = district
        self.actor = actor
        self.today = today
        self.logger = logger
    }

    var writer: SourceRecordWriter { SourceRecordWriter(district: district, system: adapter.system, logger: logger) }

    public func ingest(_ url: URL, client: PostgresClient, progress: @escaping @Sendable (Progress) -> Void = { _ in }) async throws -> Summary {
        let fileHash = try Self.sha256(of: url)
        let writer = self.writer
        return try await client.withConnection { connection in
            try await writer.prepare(connection, systemName: adapter.name, domain: adapter.domain == .core ? "other" : adapter.domain.rawValue)
            var summary = Summary()
            summary.interrupted = try await writer.failInterrupted(connection)
            if !rereadUnchangedFile,
                let batch = try await writer.latestBatch(connection, ifFile: fileHash, adapter: adapter.fingerprint)
            {
                summary.unchangedSinceBatch = batch
                return summary
            }
            // One ingest per system at a time: the current rows read next stay current until it ends.
            // The lock is the session's: released on every way out, before the connection goes back.
            try await writer.holdSystem(connection)
            do {
                let result = try await stage(url, fileHash: fileHash, summary: summary, connection: connection, progress: progress)
                try await writer.releaseSystem(connection)
                return result
            } catch {
                try? await writer.releaseSystem(connection)
                throw error
            }
        }
    }

    private func stage(
        _ url: URL, fileHash: String, summary: Summary, connection: PostgresConnection,
        progress: @escaping @Sendable (Progress) -> Void
    ) async throws -> Summary {
        var summary = summary
        let fileName = url.lastPathComponent
        let current = try await writer.currentRecords(connection, stagedBy: adapter.fingerprint)
        // The system's first load: its rows need not be compared with any (this ingest holds the
        // system, so no current record appears meanwhile; workers' entries, written beside
        // ingests, are a system of their own).
        let firstLoad =
            current.isEmpty && adapter.system != WorkerEntries.system ? !(try await writer.holdsSupersededRecords(connection)) : false
        let columns = try await writer.rawColumns(connection)
        let numbers = try await FieldNumbers.ensure(district: writer.district, on: connection, logger: logger)
        // Held before others can see it running: another system's ingest starting meanwhile
        // (`failInterrupted`) took a running batch nobody held yet for an interrupted one.
        let batchID = try await connection.transaction(logger: logger) {
            let batchID = try await writer.startBatch(
                connection, adapter: adapter.adapterName, adapterHash: adapter.fingerprint, fileName: fileName, fileHash: fileHash, actor: actor)
            try await writer.holdBatch(connection, batchID: batchID)
            return batchID
        }
        summary.batchID = batchID
        let start = ContinuousClock.now
        // `ingest --force` maps every row again, recognised or not: what this version of the
        // adapter and its checks make of each is reported afresh.
        let chunks = ChunkProducer.start(
            adapter: adapter, url: url, today: today, chunkSize: chunkSize, unchangedIn: current,
            // Nothing to recognise in a system's first load: no row's key is looked for.
            recognisingUnmapped: !rereadUnchangedFile && current.values.contains(where: \.sameAdapter), rawColumns: columns,
            fieldNumbers: numbers)
        do {
            // A first ingest grows the table many times over: statistics follow each time it
            // doubles, and only for the columns the chunk statements join and filter on, and
            // those the next incremental match looks records up by (`ResidentLinker`: ids, birth
            // days, phones). Without the latter, that match took a list of 1,243 ids for the
            // whole table (no statistics: 0.5 % a value) and scanned it: its neighbourhood read
            // 2.3–2.6 s against 1.3–1.6 s. The table's rows, not the system's: a new system's feed
            // beside loaded ones doubled its own rows three times (three ANALYZEs, 1.3 s for
            // 132,512 rows) and the table's once.
            var analyzedAt = max(current.count, try await writer.rowsLastCounted(connection))
            for await chunk in chunks.stream {
                try await write(chunk, batchID: batchID, fileName: fileName, firstLoad: firstLoad, connection: connection, summary: &summary)
                if summary.staged >= max(4_096, analyzedAt) {
                    try await connection.analyze(
                        "source_record (district, system_id, source_key, version, is_current, record_id, birth_date, phone)", logger: logger)
                    analyzedAt = 2 * max(summary.staged, analyzedAt)
                }
                chunks.consumed()
                progress(Progress(rowsRead: summary.read, elapsed: ContinuousClock.now - start))
            }
        } catch {
            // Stop the reader thread instead of leaving it blocked on a full queue; say why the
            // batch stopped while the database still answers (else the next ingest will).
            chunks.cancel()
            let code = (error as? StoreError)?.code ?? "write_failed"
            try? await writer.fail(connection, batchID: batchID, code: code, message: (error as? StoreError)?.message.en ?? "\(type(of: error))")
            try? await writer.releaseBatch(connection, batchID: batchID)
            throw error
        }
        if let issue = chunks.fileIssue {
            summary.fileIssue = issue
            try await writer.fail(connection, batchID: batchID, code: issue.code, message: issue.message.en)
        } else if let error = chunks.otherError {
            try await writer.fail(connection, batchID: batchID, code: "read_failed", message: "reading stopped: \(type(of: error))")
            try await writer.releaseBatch(connection, batchID: batchID)
            throw error
        } else {
            try await writer.finish(connection, batchID: batchID)
        }
        try await writer.releaseBatch(connection, batchID: batchID)
        return summary
    }

    /// One chunk, one transaction holding the district lock: worker entries interleave with a long ingest.
    private func write(
        _ chunk: IngestChunk, batchID: Int64, fileName: String, firstLoad: Bool, connection: PostgresConnection, summary: inout Summary
    ) async throws {
        let counts: SourceRecordWriter.Counts
        do {
            counts = try await connection.transaction(logger: logger) {
                try await connection.lockDistrict(district, logger: logger)
                return try await writer.write(
                    connection, batchID: batchID, fileName: fileName, staging: chunk.staging,
                    quarantined: chunk.quarantined, read: chunk.read, alsoUnchanged: chunk.unchanged, firstLoad: firstLoad)
            }
        } catch {
            logger.debug("ingest chunk failed", metadata: ["error": "\(String(reflecting: error))"])
            throw StoreError(
                .ingestWriteFailed,
                message: LocalizedText(
                    en: "writing rows to the database failed: \(PostgresErrorText.summary(error).en)",
                    zh: "写入数据库失败：\(PostgresErrorText.summary(error).zh)"),
                remedy: LocalizedText(
                    en: "run the same ingest again: rows already staged are recognised and not staged twice",
                    zh: "请重新执行同一导入：已暂存的行会被识别，不会重复暂存"),
                detail: String(reflecting: error))
        }
        summary.read += chunk.read
        summary.staged += counts.staged
        summary.newVersions += counts.newVersions
        summary.unchanged += counts.unchanged
        summary.quarantined += chunk.quarantined.count
        for issue in chunk.quarantined { summary.quarantineReasons[issue.code, default: 0] += 1 }
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

/// Chunks of rows from the reading thread to the mapping thread, at most `capacity` waiting.
/// Threads, not tasks: reading and mapping block (file reads, Dispatch's parallel loops).
private final class RowHandoff: @unchecked Sendable {
    private let condition = NSCondition()
    private var waiting: [[UnmappedRow]] = []
    private var finished = false
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Waits while `capacity` chunks wait already.
    func put(_ rows: [UnmappedRow]) {
        condition.lock()
        defer { condition.unlock() }
        while waiting.count >= capacity { condition.wait() }
        waiting.append(rows)
        condition.broadcast()
    }

    /// No more chunks: `take` returns nil once the waiting ones are taken.
    func finish() {
        condition.lock()
        defer { condition.unlock() }
        finished = true
        condition.broadcast()
    }

    func take() -> [UnmappedRow]? {
        condition.lock()
        defer { condition.unlock() }
        while waiting.isEmpty, !finished { condition.wait() }
        guard !waiting.isEmpty else { return nil }
        condition.broadcast()
        return waiting.removeFirst()
    }
}

/// One memo per slice number: a slice is mapped by one thread at a time.
private final class MemoPerSlice: @unchecked Sendable {
    let memos = (0..<max(1, ProcessInfo.processInfo.activeProcessorCount)).map { _ in MappingMemo() }
}

/// A row of a chunk: mapped, or recognised by its key and digest as one staging holds already.
private enum PreparedRow: Sendable {
    case mapped(MappingOutcome)
    case recognised(row: Int, sourceKey: String)
}

/// Rows read and mapped, ready to write in one transaction.
struct IngestChunk: Sendable {
    var staging = SourceRecordWriter.StagingRows()
    var quarantined: [FeedIssue] = []
    var read = 0
    /// Rows whose content is the current version's: counted, not sent.
    var unchanged = 0
}

/// Reads on one thread and maps on another while the database writes: reading the next chunk,
/// mapping this one (on every core) and writing the last overlap. At most one chunk of rows
/// waits to be mapped and two mapped chunks wait to be written (the backpressure). Reading had
/// waited for each chunk's mapping: an XLSX sheet's XML parsing alone kept one core busy for
/// half the staging while the other idled.
final class ChunkProducer: @unchecked Sendable {
    let stream: AsyncStream<IngestChunk>
    /// Mapped chunks the consumer may have waiting. Not a DispatchSemaphore: one disposed of
    /// below its starting value (a consumer that stopped part-way) stops the process.
    private let slots = NSCondition()
    private var freeSlots = 2
    private let lock = NSLock()
    private var _fileIssue: FeedIssue?
    private var _otherError: (any Error)?

    var fileIssue: FeedIssue? { lock.withLock { _fileIssue } }
    var otherError: (any Error)? { lock.withLock { _otherError } }

    private init(stream: AsyncStream<IngestChunk>) {
        self.stream = stream
    }

    func consumed() {
        slots.lock()
        freeSlots += 1
        slots.signal()
        slots.unlock()
    }

    /// Waits for a free slot; returns at once when the consumer gave up.
    private func takeSlot() {
        slots.lock()
        defer { slots.unlock() }
        while freeSlots == 0, !cancelled { slots.wait() }
        freeSlots -= 1
    }

    private var _cancelled = false
    var cancelled: Bool { lock.withLock { _cancelled } }

    /// The consumer gave up: the reader stops at its next row.
    func cancel() {
        lock.withLock { _cancelled = true }
        slots.lock()
        slots.broadcast()
        slots.unlock()
    }

    /// `current`: the system's current records by source key; rows with their content hash are
    /// counted unchanged and not encoded (a daily feed that changed in a few rows costs the
    /// reading and those rows). With `recognisingUnmapped`, a row that matches by key and digest
    /// a record staged under this very adapter is not even mapped (normalising every field was
    /// most of re-reading a feed that hardly changed).
    /// `rawColumns`: the system's raw columns so far; each chunk gives the ones its rows add
    /// positions and carries them to be written with its rows.
    static func start(
        adapter: any FeedAdapter, url: URL, today: CalendarDate, chunkSize: Int,
        unchangedIn current: [String: SourceRecordWriter.CurrentRecord], recognisingUnmapped: Bool, rawColumns: RawColumns,
        fieldNumbers: FieldNumbers
    ) -> ChunkProducer {
        let (stream, continuation) = AsyncStream.makeStream(of: IngestChunk.self, bufferingPolicy: .unbounded)
        let producer = ChunkProducer(stream: stream)
        let handoff = RowHandoff(capacity: 1)
        let mapping = Thread {
            var keys = SourceKeyTracker()
            var columns = rawColumns
            let memos = MemoPerSlice()
            // Mapping (normalisers, hashes) and encoding for COPY are most of the work: a chunk's
            // rows are mapped and encoded on every core. Only the check for repeated keys runs in
            // file order, between the two.
            func emit(_ rows: [UnmappedRow]) {
                let outcomes = inThreadSlices(rows.count, minimum: 1_000) { slice, range in
                    range.map { index -> PreparedRow in
                        let unmapped = rows[index].parsed()
                        if recognisingUnmapped,
                            let (row, key) = unmapped.heldUnchanged(memo: memos.memos[slice], { key in current[key].flatMap { $0.sameAdapter ? $0.contentHash : nil } })
                        {
                            return .recognised(row: row, sourceKey: key)
                        }
                        return .mapped(unmapped.mapped(memo: memos.memos[slice]))
                    }
                }
                var chunk = IngestChunk()
                chunk.read = rows.count
                var records: [MappedRecord] = []
                for prepared in outcomes.joined() {
                    let outcome: MappingOutcome
                    switch prepared {
                    case .recognised(let row, let key):
                        // Held already; still a key the rest of the file may not repeat.
                        if let issue = keys.check(sourceKey: key, row: row) { chunk.quarantined.append(issue) } else { chunk.unchanged += 1 }
                        continue
                    case .mapped(let mapped): outcome = mapped
                    }
                    // The same source key twice in one file: the first one counts.
                    switch keys.check(outcome) {
                    case .quarantined(let issue): chunk.quarantined.append(issue)
                    case .record(let record):
                        if current[record.sourceKey]?.contentHash == record.contentHash {
                            chunk.unchanged += 1
                        } else {
                            records.append(record)
                        }
                    }
                }
                let changed = records
                let added = columns.extend(with: changed)
                let known = columns
                for part in inThreadSlices(changed.count, minimum: 500, { _, range in SourceRecordWriter.StagingRows(changed[range], columns: known, numbers: fieldNumbers) }) {
                    chunk.staging.append(contentsOf: part)
                }
                chunk.staging.newColumns = added
                producer.takeSlot()
                continuation.yield(chunk)
            }
            while let rows = handoff.take() {
                // A consumer that gave up is not sent more; the rows still handed over are let go.
                if !producer.cancelled { emit(rows) }
            }
            continuation.finish()
        }
        mapping.stackSize = 8 << 20
        mapping.start()
        let thread = Thread {
            var pending: [UnmappedRow] = []
            pending.reserveCapacity(chunkSize)
            do {
                try adapter.readUnmapped(url, today: today) { row in
                    if producer.cancelled { throw StopReading() }
                    pending.append(row)
                    if pending.count >= chunkSize {
                        handoff.put(pending)
                        pending.removeAll(keepingCapacity: true)
                    }
                }
            } catch is StopReading {
                handoff.finish()
                return
            } catch let issue as FeedIssue {
                producer.lock.withLock { producer._fileIssue = issue }
            } catch {
                producer.lock.withLock { producer._otherError = error }
            }
            // Recorded above before the mapping thread ends the stream: the consumer reads them after it.
            if !pending.isEmpty { handoff.put(pending) }
            handoff.finish()
        }
        thread.stackSize = 8 << 20
        thread.start()
        return producer
    }
}
