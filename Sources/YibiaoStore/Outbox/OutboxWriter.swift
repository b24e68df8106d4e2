import Foundation
import Crypto
public import Logging
public import PostgresNIO
import YibiaoAdapters
public import YibiaoMerge
public import YibiaoCore

/// Writes what each system is owed after golden records changed, in the same transaction as the
/// change-log entries that caused it, set-based: the merge names each current record of a
/// receiving system whose held fields differ from the golden record, one query reads their
/// fields, and the rows are built in the system's own key, columns, codes and date formats and
/// copied in.
/// An update replaces the same person's updates to that system that have not gone out yet.
public struct OutboxWriter: Sendable {
    /// A change-log entry that may owe systems an update.
    public struct Cause: Sendable, Hashable {
        public let seq: Int64
        public let residentID: Int64
        public let kind: String
        /// The fields the entry changed: what a receipt names (an update also carries fields
        /// owed from before).
        public let changed: Set<String>

        public init(seq: Int64, residentID: Int64, kind: String, changed: Set<String> = []) {
            self.seq = seq
            self.residentID = residentID
            self.kind = kind
            self.changed = changed
        }
    }

    /// Per system: the fields it will receive, and whether it is still held.
    public struct Receipt: Sendable, Hashable {
        public var systemName = LocalizedText(en: "", zh: "")
        public var fields: Set<String> = []
        public var updates = 0
        public var held = false
        /// Updates that could not be expressed in the system's codes (dead letters at once).
        public var refused = 0
    }

    /// Causes a system with `send: entries_only` is sent: what a person decided.
    static let personalCauses: Set<String> = ["entry", "resolution"]

    public let district: String
    public let logger: Logger

    public init(district: String, logger: Logger) {
        self.district = district
        self.logger = logger
    }

    /// The updates owed for `causes`, written in the caller's transaction. `placeholders` are
    /// never sent; `numbers`: the district's field numbers, when the caller has them; `systems`:
    /// the receiving systems, when the caller has read them. `records`: the only records of the
    /// causes' residents that can be owed anything (`mayBeOwed`, found by the merge that made
    /// the golden records); a record with an update in flight is looked at whatever it holds.
    /// Returns what each system was given.
    public func write(
        _ causes: [Cause], records: [Int64], systems known: [String: OutboundSystems.System]? = nil, placeholders: Placeholders,
        numbers knownNumbers: FieldNumbers? = nil, on connection: PostgresConnection
    ) async throws -> [String: Receipt] {
        guard !causes.isEmpty else { return [:] }
        var timer = PhaseTimer("outbox", logger: logger)
        let changedBySeq = Dictionary(causes.map { ($0.seq, $0.changed) }, uniquingKeysWith: { a, _ in a })
        let systems: [String: OutboundSystems.System]
        if let known { systems = known } else { systems = try await OutboundSystems(district: district, logger: logger).load(on: connection) }
        timer.lap("receiving systems", rows: systems.count)
        guard !systems.isEmpty else { return [:] }
        // The causes travel inside each statement that reads them, as arrays (`StagedRows`).
        let causeResidents = causes.map(\.residentID), causeSeqs = causes.map(\.seq), causeKinds = causes.map(\.kind)

        // Each field also as a facet and a golden record store it (`FieldNumbers`): its number,
        // or its name.
        let numbers: FieldNumbers
        if let knownNumbers { numbers = knownNumbers } else { numbers = try await FieldNumbers.load(district: district, on: connection, logger: logger) }
        var systemColumn: [String] = [], fieldColumn: [String] = [], storedColumn: [String] = []
        for (id, system) in systems.sorted(by: { $0.key < $1.key }) {
            for field in system.mapper.fields {
                systemColumn.append(id)
                fieldColumn.append(field)
                storedColumn.append(numbers.key(field))
            }
        }
        // What the system will hold: the value of an update it was sent for this very record and
        // has not shown back yet, else its record's. (Only looked for when any update is out.)
        var inFlight = false
        for try await any in try await connection.query(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE district = \(district) AND status IN ('sent', 'acknowledged'))", logger: logger
        ).decode(Bool.self) { inFlight = any }
        // The records to look at: those the merge found holding something else than the golden
        // record (few, even in a first load), and those of the causes' residents that an update
        // in flight may make owed. Only theirs: all of the district's (13,000 after a delivery)
        // made every worker's entry 30 ms slower, and the entries queued on the district lock.
        var looked = records
        if inFlight {
            for try await record in try await connection.query(
                """
                SELECT DISTINCT r.record_id
                FROM unnest(\(causeResidents)::bigint[]) AS c(resident_id)
                JOIN link l ON l.district = \(district) AND l.resident_id = c.resident_id
                JOIN source_record r ON r.district = \(district) AND r.record_id = l.record_id AND r.is_current
                JOIN outbox o ON o.district = \(district) AND o.system_id = r.system_id AND o.source_key = r.source_key
                    AND o.record_id = r.record_id AND o.status IN ('sent', 'acknowledged')
                """, logger: logger
            ).decode(Int64.self) { looked.append(record) }
        }
        // Spelled out in this fragment (a code of digits, so safe as a literal) so that the
        // outbox is read for one district, as Citus needs to route the statement.
        let districtLiteral = Database.districtLiteral(district, else: "r.district")
        let sentValue =
            inFlight
            ? """
            (SELECT o.payload -> 'changes' -> f.field ->> 'new' FROM outbox o
             WHERE o.district = \(districtLiteral) AND o.system_id = r.system_id AND o.source_key = r.source_key AND o.record_id = r.record_id
               AND o.status IN ('sent', 'acknowledged') AND f.field = ANY(o.fields)
             ORDER BY o.change_seq DESC LIMIT 1)
            """ : "NULL"
        try await supersedeUnsent(systems, causes: causes, on: connection)
        timer.lap("updates superseded", rows: causes.count)
        // The statement below sorts the records it looks at with their fields: for 23,000 records
        // that is about 10 MB, past the default 4 MB. For the rest of the caller's transaction,
        // which ends with the outbox.
        if looked.count > 1_000 { try await connection.query("SET LOCAL work_mem = '64MB'", logger: logger) }
        // Each record looked at (a current record of a receiving system, of a changed resident),
        // with its outbound fields as the golden record and as the system holds them; `add` keeps
        // the fields owed. Only the records the merge found holding other values are read: the
        // query that looked at every record of the changed residents (finding the owed fields in
        // SQL, then gathering the owed records' fields) took 2.7 s of a 44 s feed of 131,000
        // residents, most of it comparing fields that agreed.
        let rows = try await connection.query(
            """
            SELECT c.seq, c.cause, c.resident_id, r.record_id, r.system_id, r.source_key, v.fields, v.golden, v.held
            FROM source_record r
            JOIN link l ON l.district = \(district) AND l.record_id = r.record_id
            JOIN unnest(\(causeResidents)::bigint[], \(causeSeqs)::bigint[], \(causeKinds)::text[]) AS c(resident_id, seq, cause)
                ON c.resident_id = l.resident_id
            JOIN resident res ON res.district = \(district) AND res.resident_id = c.resident_id AND res.status = 'active'
            CROSS JOIN LATERAL (
                SELECT array_agg(f.field ORDER BY f.field) AS fields, array_agg(coalesce(g.value, chr(1)) ORDER BY f.field) AS golden,
                       array_agg(coalesce(h.value, chr(1)) ORDER BY f.field) AS held
                FROM unnest(\(systemColumn)::text[], \(fieldColumn)::text[], \(storedColumn)::text[]) AS f(system_id, field, stored)
                \(unescaped: Self.goldenAndHeld(golden: "res.golden", sentValue: sentValue))
                WHERE f.system_id = r.system_id
            ) v
            WHERE r.district = \(district) AND r.is_current AND r.record_id = ANY(\(looked)) AND v.fields IS NOT NULL
            ORDER BY c.seq, r.system_id, r.source_key
            """, logger: logger)
        var receipts: [String: Receipt] = [:]
        var outboxRows = StagedRows(columns: 11)
        var written = 0
        /// One update from a record's outbound fields as golden and as held (nil: no value).
        func add(
            seq: Int64, cause: String, resident: Int64, record: Int64, systemID: String, sourceKey: String, fileKey: String,
            fields: [String], golden: [String?], held: [String?]
        ) {
            guard let system = systems[systemID] else { return }
            if system.mapper.outbound.send == .entriesOnly, !Self.personalCauses.contains(cause) { return }
            var current: [String: String] = [:], owed: [String: String] = [:]
            var changes: [String: CanonicalJSON] = [:]
            for (index, field) in fields.enumerated() {
                if let value = held[index] { current[field] = value }
                guard let value = golden[index], value != held[index] else { continue }
                if placeholders.contains(field, value) { continue }
                // The system's value says more than the golden one (a day within the month): kept.
                if let own = held[index], let canonical = CanonicalField.named(field), ValueSpecificity.refines(own, value, field: canonical) {
                    continue
                }
                owed[field] = value
                changes[field] = .object(["old": .optional(held[index]), "new": .string(value)])
            }
            guard !owed.isEmpty else { return }
            let (row, refused) = system.mapper.update(sourceKey: fileKey, current: current, owed: owed)
            let refusedFields = Set(refused.map(\.field))
            let sent = owed.keys.filter { !refusedFields.contains($0) }.sorted()
            let status: String
            var error: String?
            if sent.isEmpty {
                status = "dead"
                error = Self.describe(refused)
            } else {
                status = system.released ? "pending" : "held"
            }
            let payload = CanonicalJSON.object([
                "key": .string(fileKey),
                "cells": .array(row.cells.map { .optional($0) }),
                "changes": .object(changes.filter { !refusedFields.contains($0.key) }),
                "refused": .array(refused.map { .object(["field": .string($0.field), "code": .string($0.code)]) }),
            ]).text
            outboxRows.row([
                systemID, String(resident), String(seq), sourceKey, String(record), cause, Self.textArray(sent.isEmpty ? owed.keys.sorted() : sent),
                payload, Self.idempotencyKey(district: district, system: systemID, seq: seq, sourceKey: sourceKey), status, error,
            ])
            written += 1
            var receipt = receipts[systemID] ?? Receipt(systemName: system.mapper.spec.name)
            receipt.fields.formUnion(sent.filter { changedBySeq[seq]?.contains($0) ?? true })
            receipt.updates += sent.isEmpty ? 0 : 1
            receipt.refused += refused.isEmpty ? 0 : 1
            receipt.held = !system.released
            receipts[systemID] = receipt
        }
        // Arrays of text cannot carry NULL to the client: chr(1) stands for "no value".
        func values(_ texts: [String]) -> [String?] { texts.map { $0 == "\u{1}" ? nil : $0 } }
        for try await (seq, cause, resident, record, systemID, sourceKey, fields, golden, held) in rows.decode(
            (Int64, String, Int64, Int64, String, String, [String], [String], [String]).self)
        {
            add(
                seq: seq, cause: cause, resident: resident, record: record, systemID: systemID, sourceKey: sourceKey, fileKey: sourceKey,
                fields: fields, golden: values(golden), held: values(held))
        }
        timer.lap("updates owed", rows: written)
        // Systems that take residents they have no record of: every changed resident they lack,
        // with an empty key cell (the system gives its own) and, in the outbox, `new:ID`.
        let takers = systems.filter { $0.value.mapper.outbound.newResidents }.keys.sorted()
        if !takers.isEmpty {
            let newRows = try await connection.query(
                """
                SELECT c.seq, c.cause, c.resident_id, f.system_id,
                    array_agg(f.field ORDER BY f.field), array_agg(coalesce(res.golden ->> f.stored, res.golden ->> f.field, chr(1)) ORDER BY f.field)
                FROM unnest(\(causeResidents)::bigint[], \(causeSeqs)::bigint[], \(causeKinds)::text[]) AS c(resident_id, seq, cause)
                JOIN resident res ON res.district = \(district) AND res.resident_id = c.resident_id AND res.status = 'active'
                JOIN unnest(\(systemColumn)::text[], \(fieldColumn)::text[], \(storedColumn)::text[]) AS f(system_id, field, stored) ON f.system_id = ANY(\(takers))
                WHERE NOT EXISTS (
                    SELECT 1 FROM link l JOIN source_record r ON r.district = l.district AND r.record_id = l.record_id AND r.is_current
                    WHERE l.district = \(district) AND l.resident_id = c.resident_id AND r.system_id = f.system_id)
                GROUP BY c.seq, c.cause, c.resident_id, f.system_id
                """, logger: logger)
            for try await (seq, cause, resident, systemID, fields, golden) in newRows.decode((Int64, String, Int64, String, [String], [String]).self) {
                add(
                    seq: seq, cause: cause, resident: resident, record: 0, systemID: systemID, sourceKey: Self.newResidentKey(resident),
                    fileKey: "", fields: fields, golden: values(golden), held: fields.map { _ in nil })
            }
        }
        if !takers.isEmpty { timer.lap("updates for new residents", rows: written) }
        guard written > 0 else { return receipts }
        let c = outboxRows.column
        try await connection.query(
            """
            INSERT INTO outbox (district, system_id, resident_id, change_seq, source_key, record_id, cause, fields, payload,
                idempotency_key, status, last_error)
            SELECT \(district), s.system_id, s.resident_id::bigint, s.change_seq::bigint, s.source_key, s.record_id::bigint, s.cause,
                s.fields::text[], s.payload::jsonb, s.idempotency_key, s.status, s.last_error
            FROM unnest(\(c(0))::text[], \(c(1))::text[], \(c(2))::text[], \(c(3))::text[], \(c(4))::text[], \(c(5))::text[], \(c(6))::text[], \(c(7))::text[], \(c(8))::text[], \(c(9))::text[], \(c(10))::text[])
                 AS s(system_id, resident_id, change_seq, source_key, record_id, cause, fields, payload, idempotency_key, status, last_error)
            ON CONFLICT (district, idempotency_key) DO NOTHING
            """, logger: logger)
        // Statements that read the outbox next (echoes, plans, deliveries) plan by its statistics.
        try await connection.analyzeAfterBulk(["outbox (district, system_id, source_key, record_id, resident_id, status)"], rows: written, logger: logger)
        timer.lap("updates written", rows: written)
        return receipts
    }

    /// The records among a resident's `observations` that may be owed an update once its golden
    /// values are `golden`: each that holds, for a field its system receives (`outbound`, by
    /// system), another value than the golden one, or none where the golden record has one. It
    /// errs towards more, never fewer: a value the merge did not take (a shared phone, an update
    /// not applied) counts as held differently, and a system outside `outbound` sends nothing.
    public static func mayBeOwed(_ observations: [Observation], golden: [String: FieldValue], outbound: [String: [String]]) -> [Int64] {
        var records: [Int64] = []
        for observation in observations {
            guard let fields = outbound[observation.system] else { continue }
            let differs = fields.contains { field in
                guard let value = golden[field]?.value else { return false }
                return observation.values[field] != value
            }
            if differs { records.append(observation.recordID) }
        }
        return records
    }

    /// An update that has not gone out yet is obsolete once the person changes again: the newer
    /// state owes the system a new update carrying every field still owed, or nothing at all
    /// (the golden value went back to what the system holds). One being written into a file is
    /// left to finish. A system sent only people's decisions keeps its updates past a feed's change.
    func supersedeUnsent(_ systems: [String: OutboundSystems.System], causes: [Cause], on connection: PostgresConnection) async throws {
        let causeResidents = causes.map(\.residentID), causeSeqs = causes.map(\.seq), causeKinds = causes.map(\.kind)
        let all = systems.keys.sorted()
        let entriesOnly = systems.filter { $0.value.mapper.outbound.send == .entriesOnly }.keys.sorted()
        let takers = systems.filter { $0.value.mapper.outbound.newResidents }.keys.sorted()
        let personal = Self.personalCauses.sorted()
        // From the updates not yet out (few) to the changes that overtake them, found once and
        // then updated: the other way round, every record of 131,000 changed residents was
        // gathered first (0.85 s of a feed); as a semi-join, the changes were read again for
        // each update not yet out.
        try await connection.query(
            """
            UPDATE outbox o SET status = 'superseded'
            FROM (
                SELECT u.outbox_id FROM outbox u
                JOIN source_record r ON r.district = \(district) AND r.system_id = u.system_id AND r.source_key = u.source_key AND r.is_current
                JOIN link l ON l.district = \(district) AND l.record_id = r.record_id
                JOIN unnest(\(causeResidents)::bigint[], \(causeSeqs)::bigint[], \(causeKinds)::text[]) AS c(resident_id, seq, cause)
                    ON c.resident_id = l.resident_id AND c.seq > u.change_seq
                WHERE u.district = \(district) AND u.status IN ('held', 'pending', 'failed') AND u.delivery_no IS NULL
                  AND u.system_id = ANY(\(all)) AND (u.system_id <> ALL(\(entriesOnly)) OR c.cause = ANY(\(personal)))
                UNION
                SELECT u.outbox_id FROM outbox u
                JOIN unnest(\(causeResidents)::bigint[], \(causeSeqs)::bigint[], \(causeKinds)::text[]) AS c(resident_id, seq, cause)
                    ON u.source_key = 'new:' || c.resident_id AND c.seq > u.change_seq
                WHERE u.district = \(district) AND u.status IN ('held', 'pending', 'failed') AND u.delivery_no IS NULL
                  AND u.system_id = ANY(\(takers)) AND (u.system_id <> ALL(\(entriesOnly)) OR c.cause = ANY(\(personal)))
            ) s
            WHERE o.district = \(district) AND o.outbox_id = s.outbox_id
            """, logger: logger)
    }

    /// `g.value`, a field's golden value (from the document `golden`, under `f.stored` or its
    /// name), and `h.value`, the system's.
    static func goldenAndHeld(golden: String, sentValue: String) -> String {
        """
        CROSS JOIN LATERAL (SELECT coalesce(\(golden) ->> f.stored, \(golden) ->> f.field) AS value) g
        CROSS JOIN LATERAL (
            SELECT coalesce(\(sentValue), \(recordValue)) AS value) h
        """
    }

    /// Field `f.field` of source record `r` as the system holds it (the name as normalised); a
    /// facet field under `f.stored`, its number (or under its name, where it has none).
    static let recordValue =
        "CASE f.field WHEN 'name' THEN r.name "
        + SourceRecordWriter.liftedFields.map { "WHEN '\($0)' THEN r.\($0)::text " }.joined()
        + "ELSE coalesce(\(StoredPairs.valueSQL("r.fields", "f.field")), \(StoredPairs.valueSQL("r.facet", "f.stored")), "
        + "\(StoredPairs.valueSQL("r.facet", "f.field"))) END"

    /// The fields of outbox row `o` of `district` as `f(field, stored)`, for `recordValue`.
    static func outboxFields(district: String) -> String {
        """
        CROSS JOIN LATERAL (
            SELECT u.field, coalesce(n.number::text, u.field) AS stored FROM unnest(o.fields) AS u(field)
            LEFT JOIN field_number n ON n.district = \(Database.districtLiteral(district, else: "o.district")) AND n.name = u.field
        ) f
        """
    }

    /// The outbox's key for a resident a system has no record of yet.
    /// (`supersedeUnsent` spells it in SQL too.)
    static func newResidentKey(_ resident: Int64) -> String { "new:\(resident)" }

    /// Stable for one update: a re-run after a crash writes, and a receiver sees, the same key.
    static func idempotencyKey(district: String, system: String, seq: Int64, sourceKey: String) -> String {
        let digest = SHA256.hash(data: Data("\(district)\u{0}\(system)\u{0}\(seq)\u{0}\(sourceKey)".utf8)).hexString
        return "\(system)-\(district)-\(seq)-\(digest.prefix(16))"
    }

    /// What was refused, by field and reason: never the value.
    static func describe(_ refused: [OutboundIssue]) -> String {
        refused.map { "\($0.code): \($0.field) (\($0.column))" }.joined(separator: "; ")
    }

    /// A text[] in COPY's text form.
    static func textArray(_ values: [String]) -> String {
        "{" + values.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }.joined(separator: ",") + "}"
    }
}
