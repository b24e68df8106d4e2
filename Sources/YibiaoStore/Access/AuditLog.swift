import Foundation
public import Logging
public import PostgresNIO
import YibiaoCore

/// Every disclosure and every change of who may read, per district: append-only (a trigger
/// refuses updates and deletes) and hash-chained like the change log, so that an edit or a
/// removed entry shows (`yibiao audit verify`). Entries hold ids, counts and field names — never
/// the values disclosed.
public enum AuditLog {
    public struct Entry: Sendable, Hashable {
        /// `consumer:ID`, `cli:USER`.
        public let actor: String
        /// read_resident, lookup, xref, changes, extract, consumer_add, …
        public let action: String
        public let subject: String?
        public let purpose: String?
        public let detail: Detail

        public init(actor: String, action: String, subject: String? = nil, purpose: String? = nil, detail: Detail = Detail()) {
            self.actor = actor
            self.action = action
            // Empty is none: stored as NULL, so that the hash reads back the same.
            self.subject = subject?.isEmpty == true ? nil : subject
            self.purpose = purpose?.isEmpty == true ? nil : purpose
            self.detail = detail
        }
    }

    /// What was disclosed, without the values: which residents (or how many), which fields.
    public struct Detail: Sendable, Hashable, Codable {
        public var residents: [Int64]?
        public var count: Int?
        public var fields: [String]?
        public var after: Int64?
        public var through: Int64?
        public var format: String?
        /// found, not_found, denied…
        public var outcome: String?

        public init(
            residents: [Int64]? = nil, count: Int? = nil, fields: [String]? = nil, after: Int64? = nil, through: Int64? = nil,
            format: String? = nil, outcome: String? = nil
        ) {
            self.residents = residents
            self.count = count
            self.fields = fields
            self.after = after
            self.through = through
            self.format = format
            self.outcome = outcome
        }

        /// What the hash covers; the same however jsonb reorders the stored object.
        var canonical: String {
            var members: [String: CanonicalJSON] = [:]
            if let residents { members["residents"] = .array(residents.map(CanonicalJSON.integer)) }
            if let count { members["count"] = .integer(Int64(count)) }
            if let fields { members["fields"] = .array(fields.map(CanonicalJSON.string)) }
            if let after { members["after"] = .integer(after) }
            if let through { members["through"] = .integer(through) }
            if let format { members["format"] = .string(format) }
            if let outcome { members["outcome"] = .string(outcome) }
            return CanonicalJSON.object(members).text
        }
    }

    /// Appends entries inside the caller's open transaction, under the district's head row lock.
    @discardableResult
    public static func append(_ entries: [Entry], district: String, on connection: PostgresConnection, logger: Logger) async throws -> [Int64] {
        guard !entries.isEmpty else { return [] }
        // One round trip: creates the head row when missing and locks it either way.
        var (seq, previous): (Int64, String) = (0, ChangeLog.genesisHash)
        for try await row in try await connection.query(
            """
            INSERT INTO audit_log_head AS h (district) VALUES (\(district))
            ON CONFLICT (district) DO UPDATE SET last_seq = h.last_seq RETURNING last_seq, last_hash
            """, logger: logger
        ).decode((Int64, String).self) { (seq, previous) = row }
        let at = ChangeLog.timestamp(Date())
        var rows: [[String]] = []
        var sequences: [Int64] = []
        for entry in entries {
            seq += 1
            let detail = entry.detail.canonical
            let hash = entryHash(
                previous: previous, district: district, seq: seq, entry: entry, at: at, detail: detail)
            rows.append([district, String(seq), entry.actor, entry.action, entry.subject ?? "", entry.purpose ?? "", detail, at, previous, hash])
            sequences.append(seq)
            previous = hash
        }
        // The entries as arrays of one statement: a batch is small, and COPY costs a protocol
        // exchange of its own.
        func column(_ index: Int) -> [String] { rows.map { $0[index] } }
        try await connection.query(
            """
            INSERT INTO audit_log (district, seq, actor, action, subject, purpose, detail, at, prev_hash, hash)
            SELECT \(district), s, a, ac, NULLIF(su, ''), NULLIF(pu, ''), d::jsonb, t::timestamptz, p, h
            FROM unnest(\(sequences)::bigint[], \(column(2))::text[], \(column(3))::text[], \(column(4))::text[], \(column(5))::text[],
                        \(column(6))::text[], \(column(7))::text[], \(column(8))::text[], \(column(9))::text[])
                 AS x(s, a, ac, su, pu, d, t, p, h)
            """, logger: logger)
        try await connection.query(
            "UPDATE audit_log_head SET last_seq = \(seq), last_hash = \(previous) WHERE district = \(district)", logger: logger)
        return sequences
    }

    /// Appends entries in a transaction of their own.
    @discardableResult
    public static func record(_ entries: [Entry], district: String, client: PostgresClient, logger: Logger) async throws -> [Int64] {
        try await client.withConnection { connection in
            try await connection.transaction(logger: logger) {
                try await append(entries, district: district, on: connection, logger: logger)
            }
        }
    }

    static func entryHash(previous: String, district: String, seq: Int64, entry: Entry, at: String, detail: String) -> String {
        HashChain.link([previous, district, String(seq), entry.actor, entry.action, entry.subject, entry.purpose, at, detail])
    }

    public struct Listed: Sendable, Hashable {
        public let seq: Int64
        public let at: String
        public let entry: Entry
    }

    /// Entries newest first, optionally by one actor or action.
    public static func list(
        _ client: PostgresClient, district: String, actor: String?, action: String?, limit: Int, logger: Logger
    ) async throws -> [Listed] {
        var listed: [Listed] = []
        let rows = try await client.query(
            """
            SELECT seq, to_char(at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI:SS'), actor, action, subject, purpose, detail::text
            FROM audit_log WHERE district = \(district) AND (\(actor)::text IS NULL OR actor = \(actor))
              AND (\(action)::text IS NULL OR action = \(action))
            ORDER BY seq DESC LIMIT \(limit)
            """, logger: logger)
        for try await (seq, at, actor, action, subject, purpose, detail) in rows.decode((Int64, String, String, String, String?, String?, String).self) {
            let decoded = (try? JSONDecoder().decode(Detail.self, from: Data(detail.utf8))) ?? Detail()
            listed.append(Listed(seq: seq, at: at, entry: Entry(actor: actor, action: action, subject: subject, purpose: purpose, detail: decoded)))
        }
        return listed
    }

    /// Checks the chain from the first entry and that the head agrees with the last one (so a
    /// removed tail shows too).
    public static func verify(_ client: PostgresClient, district: String, logger: Logger) async throws -> (checked: Int, firstBreak: ChangeLog.Break?) {
        var previous = ChangeLog.genesisHash
        var expected: Int64 = 1
        var checked = 0
        let rows = try await client.query(
            """
            SELECT seq, actor, action, subject, purpose, detail::text,
                   to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), prev_hash, hash
            FROM audit_log WHERE district = \(district) ORDER BY seq
            """, logger: logger)
        for try await (seq, actor, action, subject, purpose, detail, at, prevHash, hash) in rows.decode(
            (Int64, String, String, String?, String?, String, String, String, String).self)
        {
            checked += 1
            if seq != expected {
                return (checked, ChangeLog.Break(seq: seq, reason: LocalizedText(en: "entry \(expected) is missing", zh: "缺少第 \(expected) 条")))
            }
            if prevHash != previous {
                return (
                    checked,
                    ChangeLog.Break(seq: seq, reason: LocalizedText(en: "it does not point at the previous entry's hash", zh: "其前序哈希与上一条记录不符"))
                )
            }
            let decoded = try? JSONDecoder().decode(Detail.self, from: Data(detail.utf8))
            let entry = Entry(actor: actor, action: action, subject: subject, purpose: purpose, detail: decoded ?? Detail())
            let canonical = decoded?.canonical ?? detail
            if entryHash(previous: prevHash, district: district, seq: seq, entry: entry, at: at, detail: canonical) != hash {
                return (
                    checked,
                    ChangeLog.Break(
                        seq: seq,
                        reason: LocalizedText(en: "its content does not match its hash (edited after it was written)", zh: "内容与哈希不符（写入后被修改过）"))
                )
            }
            previous = hash
            expected += 1
        }
        for try await (lastSeq, lastHash) in try await client.query(
            "SELECT last_seq, last_hash FROM audit_log_head WHERE district = \(district)", logger: logger
        ).decode((Int64, String).self) where lastSeq != expected - 1 || lastHash != previous {
            return (
                checked,
                ChangeLog.Break(
                    seq: expected,
                    reason: LocalizedText(
                        en: "the log ends at entry \(expected - 1) but \(lastSeq) were written (entries removed from its end)",
                        zh: "日志止于第 \(expected - 1) 条，但曾写入 \(lastSeq) 条（末尾记录被删除）"))
            )
        }
        return (checked, nil)
    }
}
