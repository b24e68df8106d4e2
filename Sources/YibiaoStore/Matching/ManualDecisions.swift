import Foundation
public import Logging
public import PostgresNIO
import YibiaoCore
public import YibiaoMerge

/// A person's corrections: recorded with author and reason, and never undone by a later
/// automatic run (they become constraints of every `ResidentLinker` run).
public struct ManualDecisions: Sendable {
    public let district: String
    public let author: String

    public let logger: Logger

    public init(district: String, author: String, logger: Logger) {
        self.logger = logger
        self.district = district
        self.author = author
    }

    /// The current record of (system, key), or a clear error.
    public func record(_ client: PostgresClient, system: String, key: String) async throws -> Int64 {
        for try await id in try await client.query(
            """
            SELECT record_id FROM source_record WHERE district = \(district) AND system_id = \(system) AND source_key = \(key) AND is_current
            """
        ).decode(Int64.self) { return id }
        throw StoreError(
            .recordNotFound,
            message: LocalizedText(
                en: "there is no current record \(system) \(key) in district \(district)",
                zh: "区县 \(district) 中没有当前记录 \(system) \(key)"),
            remedy: LocalizedText(
                en: "check the system id and the key (yibiao xref export lists them)",
                zh: "请检查系统标识和主键（yibiao xref export 可列出）"))
    }

    /// "These two records are the same person."
    public func merge(_ client: PostgresClient, _ a: Int64, _ b: Int64, reason: String) async throws {
        try await decide(client, a, b, same: true, reason: reason)
    }

    /// "These two records are different people."
    public func separate(_ client: PostgresClient, _ a: Int64, _ b: Int64, reason: String) async throws {
        try await decide(client, a, b, same: false, reason: reason)
    }

    /// "This record is someone else": it gets a resident of its own, pinned.
    @discardableResult
    public func split(_ client: PostgresClient, record: Int64, reason: String, rules: SurvivorshipRules) async throws -> Int64 {
        try await client.withConnection { connection in
            try await connection.transaction(logger: logger) {
                try await connection.lockDistrict(district, logger: logger)
                var old: Int64?
                for try await id in try await connection.query(
                    "SELECT resident_id FROM link WHERE district = \(district) AND record_id = \(record)", logger: logger
                ).decode(Int64.self) { old = id }
                var fresh: Int64 = 0
                for try await id in try await connection.query(
                    "INSERT INTO resident (district) VALUES (\(district)) RETURNING resident_id", logger: logger
                ).decode(Int64.self) { fresh = id }
                try await connection.query(
                    """
                    INSERT INTO link (district, record_id, resident_id, method, decided_by, reason, pinned)
                    VALUES (\(district), \(record), \(fresh), 'manual', \(author), \(reason), true)
                    ON CONFLICT (district, record_id) DO UPDATE SET resident_id = excluded.resident_id, method = 'manual',
                        decided_by = excluded.decided_by, reason = excluded.reason, pinned = true, decided_at = excluded.decided_at, weight = NULL
                    """, logger: logger)
                try await connection.query(
                    "INSERT INTO match_queue (district, record_id) VALUES (\(district), \(record)) ON CONFLICT DO NOTHING", logger: logger)
                if let old {
                    let moved = [record]
                    try await connection.query(
                        """
                        INSERT INTO resident_event (district, kind, surviving_id, other_id, moved_records, actor, reason)
                        VALUES (\(district), 'split', \(old), \(fresh), \(moved), \(author), \(reason))
                        """, logger: logger)
                }
                // Both golden records change now, logged as a split.
                var causes = [fresh: ChangeCause("split", ref: old.map { "resident:\($0)" })]
                if let old { causes[old] = ChangeCause("split", ref: "resident:\(fresh)") }
                try await GoldenRecords(district: district, rules: rules, logger: logger).refresh(
                    on: connection, cause: ChangeCause("split"), actor: author, causes: causes,
                    residents: Array(causes.keys))
                return fresh
            }
        }
    }

    private func decide(_ client: PostgresClient, _ a: Int64, _ b: Int64, same: Bool, reason: String) async throws {
        let (low, high) = (min(a, b), max(a, b))
        guard low != high else { return }
        try await client.query(
            """
            INSERT INTO pair_decision (district, record_a, record_b, same_person, author, reason)
            VALUES (\(district), \(low), \(high), \(same), \(author), \(reason))
            ON CONFLICT (district, record_a, record_b) DO UPDATE SET same_person = excluded.same_person,
                author = excluded.author, reason = excluded.reason, decided_at = excluded.decided_at
            """)
        // Both records are matched again by the next run, under the new constraint.
        try await client.query(
            """
            INSERT INTO match_queue (district, record_id) VALUES (\(district), \(low)), (\(district), \(high))
            ON CONFLICT DO NOTHING
            """)
        // The pair is decided: it leaves the review queue.
        try await client.query(
            """
            UPDATE review_item r SET status = \(same ? "same" : "different"), decided_by = \(author), decided_at = now()
            WHERE r.district = \(district) AND r.status = 'open' AND (
                (r.record_id = \(low) AND r.candidate_resident_id = (SELECT resident_id FROM link WHERE district = \(district) AND record_id = \(high)))
                OR (r.record_id = \(high) AND r.candidate_resident_id = (SELECT resident_id FROM link WHERE district = \(district) AND record_id = \(low))))
            """)
    }

}
