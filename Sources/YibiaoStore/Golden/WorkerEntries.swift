import Foundation
import Crypto
import Logging
public import PostgresNIO
import YibiaoAdapters
public import YibiaoCore

/// A community worker's verified, in-person entry for a resident: stored as a record of the
/// `community_entry` system (one record per resident, a new version per entry, carrying every
/// value the workers have entered for that person), linked to the resident and pinned. The
/// survivorship rules give it its own priority; the golden record and the change log follow in
/// the same transaction.
public struct WorkerEntries: Sendable {
    public static let system = "community_entry"

    public let district: String
    public let worker: String
    let logger = Logger(label: "yibiao.entries", factory: { _ in SwiftLogNoOpLogHandler() })

    public init(district: String, worker: String) {
        self.district = district
        self.worker = worker
    }

    /// Normalises `values` (qualified field → text) like a feed's cells; every problem is reported at once.
    public func normalise(_ values: [String: String], today: CalendarDate) throws -> [String: String] {
        let normalizer = FieldNormalizer(today: today)
        var result: [String: String] = [:]
        var problems: [LocalizedText] = []
        for (name, text) in values.sorted(by: { $0.key < $1.key }) {
            guard let field = CanonicalField.named(name) else {
                let nearest = Suggestion.nearest(to: name, in: CanonicalField.all.map(\.qualifiedName))
                problems.append(LocalizedText(en: "\(name) is not a field" + (nearest.map { " (did you mean \($0)?)" } ?? ""),
                                              zh: "\(name) 不是字段" + (nearest.map { "（是否应为 \($0)？）" } ?? "")))
                continue
            }
            switch normalizer.normalise(text, as: field) {
            case .success(let value): result[name] = value
            case .failure(let problem):
                problems.append(LocalizedText(en: "\(name) = \(text): \(problem.message.en)", zh: "\(field.label.zh) = \(text)：\(problem.message.zh)"))
            }
        }
        guard problems.isEmpty else {
            throw StoreError(code: "entry_invalid", message: LocalizedText(en: problems.map(\.en).joined(separator: "; "),
                                                                          zh: problems.map(\.zh).joined(separator: "；")),
                             remedy: LocalizedText(en: "nothing was saved; correct the values and enter them again",
                                                   zh: "未保存任何内容；请更正后重新录入"))
        }
        return result
    }

    /// Saves an entry; returns the change the golden record went through.
    @discardableResult
    public func enter(_ client: PostgresClient, resident: Int64, values: [String: String], today: CalendarDate) async throws -> GoldenRecords.Summary {
        let normalised = try normalise(values, today: today)
        guard !normalised.isEmpty else { return GoldenRecords.Summary() }
        return try await client.withConnection { connection in
            try await connection.transaction(logger: logger) {
                try await connection.lockDistrict(district, logger: logger)
                var status: String?, mergedInto: Int64?
                for try await (state, target) in try await connection.query(
                    "SELECT status, merged_into FROM resident WHERE district = \(district) AND resident_id = \(resident)",
                    logger: logger).decode((String, Int64?).self) { (status, mergedInto) = (state, target) }
                guard let status else {
                    throw StoreError(code: "resident_not_found", message: LocalizedText(en: "there is no resident \(resident) in district \(district)",
                                                                                       zh: "区县 \(district) 中没有居民 \(resident)"))
                }
                guard status == "active" else {
                    throw StoreError(code: "resident_retired",
                                     message: LocalizedText(en: "resident \(resident) was merged into \(mergedInto ?? 0)",
                                                            zh: "居民 \(resident) 已合并到 \(mergedInto ?? 0)"),
                                     remedy: LocalizedText(en: "enter it for resident \(mergedInto ?? 0)", zh: "请为居民 \(mergedInto ?? 0) 录入"))
                }
                let key = "resident:\(resident)"
                // Earlier entries' values stay; this entry's values replace theirs field by field.
                var previous: (Int64, Int, String, String)?
                for try await row in try await connection.query("""
                    SELECT record_id, version, fields::text, facet::text FROM source_record
                    WHERE district = \(district) AND system_id = \(Self.system) AND source_key = \(key) AND is_current
                    """, logger: logger).decode((Int64, Int, String, String).self) { previous = row }
                var merged: [String: String] = [:]
                if let (_, _, fields, facet) = previous {
                    let decoder = JSONDecoder()
                    merged = (try? decoder.decode([String: String].self, from: Data(fields.utf8))) ?? [:]
                    merged.merge((try? decoder.decode([String: String].self, from: Data(facet.utf8))) ?? [:]) { $1 }
                }
                merged.merge(normalised) { $1 }
                let record = MappedRecord(row: 1, sourceKey: key, fields: merged, raw: normalised, problems: [],
                                          contentHash: RecordMapper.hash(merged))
                let fileHash = SHA256.hash(data: Data((key + JSONText.object(normalised)).utf8)).hexString
                var batch: Int64 = 0
                for try await id in try await connection.query("""
                    INSERT INTO ingest_batch (district, system_id, adapter, file_name, file_sha256, actor, status, finished_at,
                        rows_read, rows_staged)
                    VALUES (\(district), \(Self.system), 'entry', \(key), \(fileHash), \(worker), 'finished', now(), 1, 1)
                    RETURNING batch_id
                    """, logger: logger).decode(Int64.self) { batch = id }
                if let (old, _, _, _) = previous {
                    try await connection.query("UPDATE source_record SET is_current = false WHERE district = \(district) AND record_id = \(old)",
                                               logger: logger)
                }
                let row = Ingestor.stagingRow(record)
                var recordID: Int64 = 0
                for try await id in try await connection.query("""
                    INSERT INTO source_record (district, system_id, source_key, version, batch_id, row_number, content_hash,
                        raw, fields, facet, problems, national_id, national_id_raw, name, name_key, pinyin_key, sex,
                        birth_date, phone, division_code, address)
                    VALUES (\(district), \(Self.system), \(key), \((previous?.1 ?? 0) + 1), \(batch), 1, \(row[2]),
                        \(row[3])::jsonb, \(row[4])::jsonb, \(row[5])::jsonb, \(row[6])::jsonb, \(row[7]), \(row[8]), \(row[9]), \(row[10]),
                        \(row[11]), \(row[12]), \(row[13])::date, \(row[14]), \(row[15]), \(row[16]))
                    RETURNING record_id
                    """, logger: logger).decode(Int64.self) { recordID = id }
                try await connection.query("""
                    INSERT INTO link (district, record_id, resident_id, method, decided_by, reason, pinned)
                    VALUES (\(district), \(recordID), \(resident), 'manual', \(worker), 'verified in-person entry', true)
                    """, logger: logger)
                return try await GoldenRecords(district: district).refresh(
                    on: connection, cause: ChangeCause("entry", ref: "batch:\(batch)"), actor: worker, residents: [resident])
            }
        }
    }
}
