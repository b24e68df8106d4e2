import Foundation
import Crypto
public import Logging
public import PostgresNIO
import YibiaoAdapters
public import YibiaoCore
public import YibiaoMerge

/// A community worker's verified, in-person entry for a resident: stored as a record of the
/// `community_entry` system (one record per resident, a new version per entry, carrying every
/// value the workers have entered for that person), linked to the resident and pinned. The
/// survivorship rules give it its own priority; the golden record and the change log follow in
/// the same transaction.
public struct WorkerEntries: Sendable {
    public static let system = "community_entry"

    public let district: String
    public let worker: String
    public let rules: SurvivorshipRules
    public let logger: Logger

    public init(district: String, worker: String, rules: SurvivorshipRules, logger: Logger) {
        self.district = district
        self.worker = worker
        self.rules = rules
        self.logger = logger
    }

    /// Normalises `values` (qualified field → text) like a feed's cells; every problem is reported
    /// at once. Messages name the field, never the value: an entry can be an ID number.
    public func normalise(_ values: [String: String], today: CalendarDate) throws -> [String: String] {
        let normalizer = FieldNormalizer(today: today)
        var result: [String: String] = [:]
        var problems: [LocalizedText] = []
        for (name, text) in values.sorted(by: { $0.key < $1.key }) {
            guard let field = CanonicalField.named(name) else {
                let nearest = Suggestion.nearest(to: name, in: CanonicalField.all.map(\.qualifiedName))
                problems.append(
                    LocalizedText(
                        en: "\(name) is not a field" + (nearest.map { " (did you mean \($0)?)" } ?? ""),
                        zh: "\(name) 不是字段" + (nearest.map { "（是否应为 \($0)？）" } ?? "")))
                continue
            }
            switch normalizer.normalise(text, as: field) {
            case .success(let value): result[name] = value
            case .failure(let problem):
                problems.append(LocalizedText(en: "\(name): \(problem.message.en)", zh: "\(field.label.zh)：\(problem.message.zh)"))
            }
        }
        guard problems.isEmpty else {
            throw StoreError(
                .entryInvalid,
                message: LocalizedText(
                    en: problems.map(\.en).joined(separator: "; "),
                    zh: problems.map(\.zh).joined(separator: "；")),
                remedy: LocalizedText(
                    en: "nothing was saved; correct the values and enter them again",
                    zh: "未保存任何内容；请更正后重新录入"))
        }
        return result
    }

    /// What a sync client sends beside the values: the entry's own id (made once on the worker's
    /// machine) and, per field, the value the worker saw before changing it (nil: it was empty).
    public struct Submission: Sendable, Hashable {
        public var entryID: String
        public var seen: [String: String?]

        public init(entryID: String, seen: [String: String?] = [:]) {
            self.entryID = entryID
            self.seen = seen
        }
    }

    /// The hub's value changed since the worker saw it: both are shown, the worker decides.
    /// Carries values for the worker's screen only; its description names fields, never values.
    public struct Conflict: Error, Sendable, CustomStringConvertible {
        /// field → what the worker saw, what the hub holds now.
        public let fields: [String: (seen: String?, current: String?)]
        public var description: String { "entry conflict on \(fields.keys.sorted().joined(separator: ", "))" }
    }

    /// An entry id the hub has had before: the answer it got then.
    public struct AlreadyReceived: Error, Sendable {
        public let resident: Int64
        public let changeSeq: Int64?
    }

    /// Saves an entry as a one-record batch through the feeds' own writer; returns the change
    /// the golden record went through. With a submission, in the same transaction: an entry id
    /// seen before throws `AlreadyReceived` (nothing changes twice), and a field whose golden
    /// value is no longer what the worker saw throws `Conflict` (nothing is overwritten).
    @discardableResult
    public func enter(
        _ client: PostgresClient, resident: Int64, values: [String: String], today: CalendarDate, submission: Submission? = nil
    ) async throws -> GoldenRecords.Summary {
        let normalised = try normalise(values, today: today)
        guard !normalised.isEmpty else { return GoldenRecords.Summary() }
        let writer = SourceRecordWriter(district: district, system: Self.system, logger: logger)
        return try await client.withConnection { connection in
            try await connection.transaction(logger: logger) {
                try await connection.lockDistrict(district, logger: logger)
                var status: String?, mergedInto: Int64?
                for try await (state, target) in try await connection.query(
                    "SELECT status, merged_into FROM resident WHERE district = \(district) AND resident_id = \(resident)",
                    logger: logger
                ).decode((String, Int64?).self) { (status, mergedInto) = (state, target) }
                guard let status else {
                    throw StoreError(
                        .residentNotFound,
                        message: LocalizedText(
                            en: "there is no resident \(resident) in district \(district)",
                            zh: "区县 \(district) 中没有居民 \(resident)"))
                }
                guard status == "active" else {
                    throw StoreError(
                        .residentRetired,
                        message: LocalizedText(
                            en: "resident \(resident) was merged into \(mergedInto ?? 0)",
                            zh: "居民 \(resident) 已合并到 \(mergedInto ?? 0)"),
                        remedy: LocalizedText(en: "enter it for resident \(mergedInto ?? 0)", zh: "请为居民 \(mergedInto ?? 0) 录入"))
                }
                if let submission {
                    try await check(submission, values: normalised, resident: resident, today: today, on: connection)
                }
                let key = "resident:\(resident)"
                // Earlier entries' values stay; this entry's values replace theirs field by field.
                var merged: [String: String] = [:]
                for try await (fields, facet) in try await connection.query(
                    """
                    SELECT \(unescaped: SourceRecordWriter.allFields("r"))::text, \(unescaped: SourceRecordWriter.flatFacet("r", district: district))::text FROM source_record r
                    WHERE district = \(district) AND system_id = \(Self.system) AND source_key = \(key) AND is_current
                    """, logger: logger
                ).decode((String, String).self) {
                    // Never read as empty: the entry would silently drop the earlier values.
                    let decoder = JSONDecoder()
                    guard let earlier = try? decoder.decode([String: String].self, from: Data(fields.utf8)),
                        let earlierFacet = try? decoder.decode([String: String].self, from: Data(facet.utf8))
                    else {
                        throw StoreError(
                            .entryUnreadable,
                            message: LocalizedText(
                                en: "the earlier entries for resident \(resident) cannot be read back (a value that is not text); nothing was saved",
                                zh: "居民 \(resident) 之前的录入无法读回（有非文本的值）；本次未保存任何内容"),
                            remedy: LocalizedText(en: "tell the hub's operators", zh: "请告知平台运维人员"))
                    }
                    merged = earlier.merging(earlierFacet) { $1 }
                }
                merged.merge(normalised) { $1 }
                let record = MappedRecord(
                    row: 1, sourceKey: key, fields: merged, raw: normalised, problems: [],
                    contentHash: RecordMapper.hash(merged))
                let fileHash = SHA256.hash(data: Data((key + JSONText.object(normalised)).utf8)).hexString
                let batch = try await writer.startBatch(connection, adapter: "entry", fileName: key, fileHash: fileHash, actor: worker)
                let counts = try await writer.write(connection, batchID: batch, fileName: key, records: [record], quarantined: [], read: 1)
                try await writer.finish(connection, batchID: batch)
                // A new version (or the first record) is the worker's, pinned to the resident.
                if counts.staged > 0, let recordID = try await writer.currentRecord(connection, sourceKey: key) {
                    try await connection.query(
                        """
                        INSERT INTO link (district, record_id, resident_id, method, decided_by, reason, pinned)
                        VALUES (\(district), \(recordID), \(resident), 'manual', \(worker), 'verified in-person entry', true)
                        """, logger: logger)
                }
                let summary = try await GoldenRecords(district: district, rules: rules, logger: logger).refresh(
                    on: connection, cause: ChangeCause("entry", ref: "batch:\(batch)"), actor: worker, residents: [resident])
                if let submission {
                    // The head row is locked by this transaction's append: its last number is this entry's.
                    var seq: Int64?
                    if summary.entries > 0 {
                        for try await last in try await connection.query(
                            "SELECT last_seq FROM change_log_head WHERE district = \(district)", logger: logger
                        ).decode(Int64.self) { seq = last }
                    }
                    try await connection.query(
                        """
                        INSERT INTO worker_entry (district, entry_id, worker_id, resident_id, fields, change_seq)
                        VALUES (\(district), \(submission.entryID), \(String(worker.drop { $0 != ":" }.dropFirst())), \(resident),
                                \(normalised.keys.sorted()), \(seq))
                        """, logger: logger)
                }
                return summary
            }
        }
    }

    /// Under the district lock: an entry id seen before, or a field changed since the worker saw it.
    func check(_ submission: Submission, values: [String: String], resident: Int64, today: CalendarDate, on connection: PostgresConnection) async throws {
        for try await (id, seq) in try await connection.query(
            "SELECT resident_id, change_seq FROM worker_entry WHERE district = \(district) AND entry_id = \(submission.entryID)", logger: logger
        ).decode((Int64, Int64?).self) { throw AlreadyReceived(resident: id, changeSeq: seq) }
        guard !submission.seen.isEmpty else { return }
        var current: [String: String] = [:]
        let fields = Array(submission.seen.keys)
        for try await (field, value) in try await connection.query(
            """
            SELECT coalesce(n.name, f.key), f.value FROM resident r CROSS JOIN LATERAL jsonb_each_text(r.golden) f
            -- A golden record names a field by its number where the district numbers it.
            LEFT JOIN field_number n ON n.district = \(district) AND n.number::text = f.key
            WHERE r.district = \(district) AND r.resident_id = \(resident) AND coalesce(n.name, f.key) = ANY(\(fields))
            """, logger: logger
        ).decode((String, String?).self) { current[field] = value }
        let normalizer = FieldNormalizer(today: today)
        var conflicts: [String: (seen: String?, current: String?)] = [:]
        for (field, seen) in submission.seen {
            // What the worker saw, read as the hub stores it (a phone typed with spaces is the same phone).
            let seenValue = seen.flatMap { text in
                CanonicalField.named(field).flatMap { try? normalizer.normalise(text, as: $0).get() } ?? text
            }
            let now = current[field]
            // Someone else entered the same value meanwhile: nothing to decide.
            guard seenValue != now, values[field] != now else { continue }
            conflicts[field] = (seen, now)
        }
        if !conflicts.isEmpty { throw Conflict(fields: conflicts) }
    }
}
