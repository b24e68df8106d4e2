import Foundation
public import Logging
public import PostgresNIO
import YibiaoCore
public import YibiaoMerge

/// A resident's golden record now, its timeline from the change log, and the record as it
/// stood at any past time (replayed from the log, so it needs nothing but the log).
public struct ResidentHistory: Sendable {
    public struct Event: Sendable, Hashable {
        public let seq: Int64
        public let at: String
        public let cause: String
        public let causeRef: String?
        /// For a batch: the system and file it came from.
        public let source: String?
        public let actor: String
        public let changes: [String: GoldenDiff.Change]
    }

    public struct Resident: Sendable {
        public let id: Int64
        public let status: String
        public let mergedInto: Int64?
        /// Field → value and provenance.
        public let fields: [String: FieldValue]
        /// system → local keys of the records linked now.
        public let records: [(system: String, key: String, recordID: Int64)]
    }

    public let district: String
    /// The rules the district's golden records are merged with: a value's provenance is that merge.
    public let rules: SurvivorshipRules
    public let logger: Logger

    public init(district: String, rules: SurvivorshipRules = .standard, logger: Logger) {
        self.logger = logger
        self.rules = rules
        self.district = district
    }

    /// A resident by id, or by citizen ID number.
    public func find(_ client: PostgresClient, _ reference: String) async throws -> Int64 {
        let text = reference.trimmingCharacters(in: .whitespaces)
        if let id = Int64(text), text.count < 15 {
            for try await found in try await client.query(
                "SELECT resident_id FROM resident WHERE district = \(district) AND resident_id = \(id)"
            ).decode(Int64.self) { return found }
        } else {
            let cleaned = CitizenID.clean(text)
            for try await found in try await client.query(
                """
                SELECT resident_id FROM resident_identifier WHERE district = \(district) AND scheme = 'cn_citizen_id' AND value = \(cleaned)
                ORDER BY resident_id LIMIT 1
                """
            ).decode(Int64.self) { return found }
        }
        // A citizen ID number is personal data even when it is not found.
        let shown = text.count >= 15 ? Masking.identifier(text) : text
        throw StoreError(
            .residentNotFound,
            message: LocalizedText(en: "there is no resident \(shown) in district \(district)", zh: "区县 \(district) 中没有居民 \(shown)"),
            remedy: LocalizedText(
                en: "give the resident id (yibiao explain shows it) or a citizen ID number",
                zh: "请给出居民编号（yibiao explain 可查看）或公民身份号码"))
    }

    public func current(_ client: PostgresClient, resident: Int64) async throws -> Resident {
        var status = "active", mergedInto: Int64?
        for try await (state, target) in try await client.query(
            "SELECT status, merged_into FROM resident WHERE district = \(district) AND resident_id = \(resident)"
        ).decode((String, Int64?).self) {
            (status, mergedInto) = (state, target)
        }
        let golden = GoldenRecords(district: district, rules: rules, logger: logger)
        let fields = try await client.withConnection { connection in
            try await golden.provenance(on: connection, residents: [resident])[resident] ?? [:]
        }
        var records: [(String, String, Int64)] = []
        for try await row in try await client.query(
            """
            SELECT r.system_id, r.source_key, r.record_id FROM link l JOIN source_record r USING (district, record_id)
            WHERE l.district = \(district) AND l.resident_id = \(resident) AND r.is_current ORDER BY r.system_id, r.source_key
            """
        ).decode((String, String, Int64).self) { records.append(row) }
        return Resident(
            id: resident, status: status, mergedInto: mergedInto, fields: fields,
            records: records.map { (system: $0.0, key: $0.1, recordID: $0.2) })
    }

    /// The resident's change-log entries, oldest first; with `asOf`, only those committed by then.
    public func timeline(_ client: PostgresClient, resident: Int64, asOf: String? = nil) async throws -> [Event] {
        var events: [Event] = []
        let rows = try await client.query(
            """
            SELECT c.seq, to_char(c.changed_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI:SS'), c.cause, c.cause_ref,
                   b.system_id || ' ' || b.file_name, c.actor, c.changes::text
            FROM change_log c
            LEFT JOIN ingest_batch b ON b.district = c.district AND c.cause_ref = 'batch:' || b.batch_id::text
            WHERE c.district = \(district) AND c.resident_id = \(resident) AND (\(asOf)::timestamptz IS NULL OR c.changed_at <= \(asOf)::timestamptz)
            ORDER BY c.seq
            """, logger: logger)
        var stored: [(seq: Int64, at: String, cause: String, ref: String?, source: String?, actor: String, changes: String)] = []
        for try await row in rows.decode((Int64, String, String, String?, String?, String, String).self) { stored.append(row) }
        // Read after the entries: every number they use was committed with them.
        let numbers = try await FieldNumbers.load(district: district, client, logger: logger)
        for entry in stored {
            let decoded = ChangeLog.storedChanges(entry.changes, numbers: numbers) ?? [:]
            events.append(
                Event(seq: entry.seq, at: entry.at, cause: entry.cause, causeRef: entry.ref, source: entry.source, actor: entry.actor, changes: decoded))
        }
        return events
    }

    /// The golden record as it stood at `time` (any text PostgreSQL reads as a timestamp).
    public func asOf(_ client: PostgresClient, resident: Int64, time: String) async throws -> [String: String] {
        GoldenHistory.state(replaying: try await timeline(client, resident: resident, asOf: time).map(\.changes))
    }

    /// A time as the user wrote it: a date (its end, China time), a date and time (China time
    /// unless an offset is given), or ISO 8601. Nil when it is none of these.
    public static func parseTime(_ text: String) -> String? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if CalendarDate(iso: trimmed) != nil { return trimmed + " 23:59:59.999999+08" }
        let pattern = #"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?$"#
        guard trimmed.range(of: pattern, options: .regularExpression) != nil,
            CalendarDate(iso: String(trimmed.prefix(10))) != nil
        else { return nil }
        let hasZone = trimmed.hasSuffix("Z") || trimmed.dropFirst(16).contains("+") || trimmed.dropFirst(16).contains("-")
        return hasZone ? trimmed : trimmed + "+08"
    }
}
