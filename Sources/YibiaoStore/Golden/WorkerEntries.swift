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

    /// Saves an entry as a one-record batch through the feeds' own writer; returns the change
    /// the golden record went through.
    @discardableResult
    public func enter(_ client: PostgresClient, resident: Int64, values: [String: String], today: CalendarDate) async throws -> GoldenRecords.Summary {
        let normalised = try normalise(values, today: today)
        guard !normalised.isEmpty else { return GoldenRecords.Summary() }
        let writer = SourceRecordWriter(district: district, system: Self.system, logger: logger)
        return try await client.withConnection { connection in
            try await writer.prepareStaging(connection)
            return try await connection.transaction(logger: logger) {
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
                let key = "resident:\(resident)"
                // Earlier entries' values stay; this entry's values replace theirs field by field.
                var merged: [String: String] = [:]
                for try await (fields, facet) in try await connection.query(
                    """
                    SELECT fields::text, facet::text FROM source_record
                    WHERE district = \(district) AND system_id = \(Self.system) AND source_key = \(key) AND is_current
                    """, logger: logger
                ).decode((String, String).self) {
                    let decoder = JSONDecoder()
                    merged = (try? decoder.decode([String: String].self, from: Data(fields.utf8))) ?? [:]
                    merged.merge((try? decoder.decode([String: String].self, from: Data(facet.utf8))) ?? [:]) { $1 }
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
                return try await GoldenRecords(district: district, rules: rules, logger: logger).refresh(
                    on: connection, cause: ChangeCause("entry", ref: "batch:\(batch)"), actor: worker, residents: [resident])
            }
        }
    }
}
