import Foundation
public import Logging
public import PostgresNIO
import YibiaoMerge
public import YibiaoCore

/// What a consumer reads, each through its grant: a resident, a lookup by ID number, a
/// cross-reference, the change feed, an extract. A resident outside the grant's scope and one
/// that does not exist give the same answer (nil), so a consumer cannot tell them apart.
public struct ConsumerReads: Sendable {
    /// A golden record as the consumer sees it.
    public struct ResidentRow: Sendable, Hashable {
        public let id: Int64
        /// active or retired (merged into another resident).
        public let status: String
        public let mergedInto: Int64?
        /// Granted fields only, masked by the grant.
        public let fields: [String: String]
    }

    /// One change-log entry as the consumer sees it.
    public struct Change: Sendable, Hashable {
        public let seq: Int64
        public let resident: Int64
        public let cause: String
        public let at: String
        public let changes: [String: FieldChange]
    }

    public struct FieldChange: Sendable, Hashable, Codable {
        public let old: String?
        public let new: String?
    }

    /// A page of the change feed: what the consumer may see of entries `after`+1 … `through`.
    /// `through` is where to continue even when every entry in the page was filtered out, so that
    /// the feed is gap-free: nothing is ever skipped.
    public struct ChangePage: Sendable, Hashable {
        public let changes: [Change]
        public let through: Int64
        /// The district's last entry when the page was read.
        public let head: Int64
    }

    public let consumer: Consumers.Consumer
    public let logger: Logger
    var district: String { consumer.district }
    var grant: AccessGrant { consumer.grant }

    public init(consumer: Consumers.Consumer, logger: Logger) {
        self.consumer = consumer
        self.logger = logger
    }

    /// The granted fields as SQL wants them; the resident's community is always read, for scope.
    var readFields: [String] { Array(Set(grant.allowedFields + ["community_code"])).sorted() }
    var communities: [String] { grant.communities.sorted() }

    /// A resident by id; a retired one points at the resident it was merged into.
    public func resident(_ client: PostgresClient, id: Int64) async throws -> ResidentRow? {
        // Only the granted fields leave the database, named in the statement that reads them
        // (the golden record keys them by number, `field_number`).
        let rows = try await client.query(
            """
            SELECT r.resident_id, r.status, r.merged_into, coalesce(g.keys, '{}'), coalesce(g.values, '{}')
            FROM resident r
            LEFT JOIN LATERAL (\(unescaped: FieldNumbers.namedValuesSQL("r.golden", fields: readFields, district: district, else: "r.district"))) g ON true
            WHERE r.district = \(district) AND r.resident_id = \(id)
            """, logger: logger)
        for try await row in rows.decode((Int64, String, Int64?, [String], [String]).self) {
            if let visible = visible(row, numbers: .none) { return visible }
            // A retired resident is in scope when the one it was merged into is.
            if let survivor = row.2, try await resident(client, id: survivor) != nil {
                return ResidentRow(id: row.0, status: row.1, mergedInto: survivor, fields: [:])
            }
        }
        return nil
    }

    /// The resident whose citizen ID number this is. Needs `national_id` in the grant: a consumer
    /// not granted ID numbers cannot probe with them either.
    public func lookup(_ client: PostgresClient, nationalID: String) async throws -> ResidentRow? {
        guard grant.allows("national_id") else { return nil }
        let cleaned = CitizenID.clean(nationalID)
        // The resident whose golden ID it is first: a relative's ID typed into someone's record
        // can make it an identifier of two residents.
        let golden = FieldNumbers.valueSQL("r.golden", "national_id", district: district, else: "r.district")
        let rows = try await client.query(
            """
            SELECT i.resident_id FROM resident_identifier i JOIN resident r USING (district, resident_id)
            WHERE i.district = \(district) AND i.scheme = 'cn_citizen_id' AND i.value = \(cleaned) AND r.status = 'active'
            ORDER BY (\(unescaped: golden) = \(cleaned)) DESC NULLS LAST, i.resident_id LIMIT 1
            """, logger: logger)
        for try await id in rows.decode(Int64.self) { return try await resident(client, id: id) }
        return nil
    }

    /// A system's local key → the resident → the keys of the other systems the consumer may see.
    public func crossReference(_ client: PostgresClient, system: String, key: String) async throws -> (resident: Int64, keys: [(system: String, key: String)])? {
        let domains = try await Self.systemDomains(client, logger: logger)
        guard grant.maySeeKeys(of: system, domain: domains[system]) else { return nil }
        var resident: Int64?
        for try await id in try await client.query(
            """
            SELECT l.resident_id FROM source_record r JOIN link l USING (district, record_id)
            WHERE r.district = \(district) AND r.system_id = \(system) AND r.source_key = \(key) AND r.is_current
            """, logger: logger
        ).decode(Int64.self) { resident = id }
        guard let resident, try await self.resident(client, id: resident)?.status == "active" else { return nil }
        var keys: [(String, String)] = []
        for try await (other, otherKey) in try await client.query(
            """
            SELECT r.system_id, r.source_key FROM link l JOIN source_record r USING (district, record_id)
            WHERE l.district = \(district) AND l.resident_id = \(resident) AND r.is_current ORDER BY r.system_id, r.source_key
            """, logger: logger
        ).decode((String, String).self) where grant.maySeeKeys(of: other, domain: domains[other]) {
            keys.append((other, otherKey))
        }
        return (resident, keys.map { (system: $0.0, key: $0.1) })
    }

    /// Every system with the domain it owns; `other` and `community` count as core (not sensitive).
    public static func systemDomains(_ client: PostgresClient, logger: Logger) async throws -> [String: CanonicalField.Domain] {
        var domains: [String: CanonicalField.Domain] = [:]
        for try await (system, domain) in try await client.query("SELECT system_id, domain FROM source_system", logger: logger).decode(
            (String, String).self)
        {
            domains[system] = CanonicalField.Domain(rawValue: domain) ?? .core
        }
        return domains
    }

    /// The district's last change-log sequence number.
    public static func head(_ client: PostgresClient, district: String, logger: Logger) async throws -> Int64 {
        for try await seq in try await client.query(
            "SELECT last_seq FROM change_log_head WHERE district = \(district)", logger: logger
        ).decode(Int64.self) { return seq }
        return 0
    }

    /// Entries after `after`, at most `limit` shown and `scan` read. Scope is the resident's
    /// community now, looked up for the page's residents only when the grant is scoped.
    public func changes(_ client: PostgresClient, after: Int64, limit: Int, scan: Int? = nil) async throws -> ChangePage {
        let head = try await Self.head(client, district: district, logger: logger)
        guard after < head else {
            if after > head { throw cursorAhead(after: after, head: head) }
            return ChangePage(changes: [], through: after, head: head)
        }
        // A community's entries are sparse in its district's log: read further for them.
        let scanned = scan ?? (grant.communities.isEmpty ? min(10_000, max(100, limit * 2)) : 10_000)
        var rows: [(seq: Int64, resident: Int64, cause: String, at: String, changes: String)] = []
        rows.reserveCapacity(scanned)
        for try await row in try await client.query(
            """
            SELECT seq, resident_id, cause, to_char(changed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), changes::text
            FROM change_log WHERE district = \(district) AND seq > \(after) AND seq <= \(head)
            ORDER BY seq LIMIT \(scanned)
            """, logger: logger
        ).decode((Int64, Int64, String, String, String).self) { rows.append(row) }
        var communities: [Int64: String] = [:]
        if !grant.communities.isEmpty {
            let residents = Array(Set(rows.map(\.resident)))
            for try await (id, community) in try await client.query(
                """
                SELECT resident_id, community_code FROM resident
                WHERE district = \(district) AND resident_id = ANY(\(residents))
                """, logger: logger
            ).decode((Int64, String?).self) { communities[id] = community }
        }
        // Read after the entries: every number they use was committed with them.
        let numbers = try await FieldNumbers.load(district: district, client, logger: logger)
        var shown: [Change] = []
        var through = after
        for row in rows {
            guard shown.count < limit else { break }
            through = row.seq
            guard grant.covers(community: communities[row.resident]),
                let decoded = ChangeLog.storedChanges(row.changes, numbers: numbers)
            else { continue }
            let visible = grant.view(changes: decoded.mapValues { (old: $0.old, new: $0.new) })
            guard !visible.isEmpty else { continue }
            shown.append(
                Change(
                    seq: row.seq, resident: row.resident, cause: row.cause, at: row.at,
                    changes: visible.mapValues { FieldChange(old: $0.old, new: $0.new) }))
        }
        return ChangePage(changes: shown, through: through, head: head)
    }

    func cursorAhead(after: Int64, head: Int64) -> StoreError {
        StoreError(
            .cursorAhead,
            message: LocalizedText(
                en: "the cursor \(after) is past the district's last change (\(head))", zh: "游标 \(after) 超过了本区县最后一条变更（\(head)）"),
            remedy: LocalizedText(
                en: "continue from the cursor of your last page or manifest; start again from 0 if it was lost",
                zh: "请从上一页或清单中的游标继续；如游标丢失，请从 0 重新开始"))
    }

    /// Every resident in scope (or, with `since`, those changed after it, retired ones included),
    /// streamed to `body` in resident order inside one repeatable-read snapshot. `snapshot` is
    /// told the change-log sequence number the snapshot stands at — the cursor for the next
    /// extract — before the first row.
    public func extract(
        _ client: PostgresClient, since: Int64?, snapshot: (_ cursor: Int64) async throws -> Void,
        _ body: (ResidentRow) async throws -> Void
    ) async throws -> (rows: Int, cursor: Int64) {
        try await client.withConnection { connection in
            try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
            do {
                var cursor: Int64 = 0
                for try await seq in try await connection.query(
                    "SELECT last_seq FROM change_log_head WHERE district = \(district)", logger: logger
                ).decode(Int64.self) { cursor = seq }
                if let since, since > cursor { throw cursorAhead(after: since, head: cursor) }
                try await snapshot(cursor)
                // In the snapshot: every number its documents use.
                let numbers = try await FieldNumbers.load(district: district, on: connection, logger: logger)
                let keys = numbers.storedKeys(readFields)
                let rows = try await connection.query(
                    """
                    SELECT resident_id, status, merged_into,
                           ARRAY(SELECT key FROM jsonb_each_text(golden) WHERE key = ANY(\(keys))),
                           ARRAY(SELECT value FROM jsonb_each_text(golden) WHERE key = ANY(\(keys)))
                    FROM resident r
                    WHERE district = \(district)
                      AND CASE WHEN \(since)::bigint IS NULL THEN status = 'active'
                               ELSE EXISTS (SELECT 1 FROM change_log c WHERE c.district = \(district) AND c.resident_id = r.resident_id
                                            AND c.seq > \(since) AND c.seq <= \(cursor)) END
                      AND (cardinality(\(communities)::text[]) = 0
                           OR community_code = ANY(\(communities))
                           OR (status = 'retired' AND EXISTS (
                                SELECT 1 FROM resident s WHERE s.district = \(district) AND s.resident_id = r.merged_into
                                AND s.community_code = ANY(\(communities)))))
                    ORDER BY resident_id
                    """, logger: logger)
                var count = 0
                for try await row in rows.decode((Int64, String, Int64?, [String], [String]).self) {
                    // Retired residents in a delta say only what they were merged into.
                    let shown = row.1 == "retired" ? ResidentRow(id: row.0, status: row.1, mergedInto: row.2, fields: [:]) : visible(row, numbers: numbers)
                    guard let shown else { continue }
                    try await body(shown)
                    count += 1
                }
                try await connection.query("COMMIT", logger: logger)
                return (count, cursor)
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    /// The row as the grant shows it, or nil when it is out of scope. Its keys as stored
    /// (`numbers`: the district's field numbers; `.none` for keys already named).
    func visible(_ row: (Int64, String, Int64?, [String], [String]), numbers: FieldNumbers) -> ResidentRow? {
        var record: [String: String] = [:]
        for (key, value) in zip(row.3, row.4) {
            guard let field = numbers.field(key) else { continue }
            record[field] = record[field] ?? value
        }
        guard row.1 == "active", grant.covers(community: record["community_code"]) else { return nil }
        return ResidentRow(id: row.0, status: row.1, mergedInto: nil, fields: grant.view(record))
    }
}
