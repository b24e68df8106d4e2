public import Logging
public import PostgresNIO

/// Recognises our own updates coming back. When a system's feed brings a newer version of a
/// record we sent an update for, each field of the update is one of three things: the value we
/// sent (an echo — the update is confirmed, and nothing else happens, because the golden record
/// has that value already), the value we replaced (the system did not apply it: reported, and
/// the merge does not take the old value for news), or something else (the system's own newer
/// value: the update is overtaken and the value goes through survivorship like any other).
/// Runs before matching, on state rather than on a batch, so a re-run after a crash catches up;
/// and after it, for residents sent to a system as new, whose records are linked only then.
public struct OutboxEchoes: Sendable {
    public struct Summary: Sendable, Hashable {
        public var confirmed = 0
        public var notApplied = 0
        public var overtaken = 0
        /// Unsent updates the system's feed made needless (it has the values already).
        public var needless = 0

        public init() {}

        public static func + (a: Summary, b: Summary) -> Summary {
            Summary(confirmed: a.confirmed + b.confirmed, notApplied: a.notApplied + b.notApplied, overtaken: a.overtaken + b.overtaken, needless: a.needless + b.needless)
        }

        init(confirmed: Int, notApplied: Int, overtaken: Int, needless: Int) {
            self.confirmed = confirmed
            self.notApplied = notApplied
            self.overtaken = overtaken
            self.needless = needless
        }
    }

    public let district: String
    public let logger: Logger

    public init(district: String, logger: Logger) {
        self.district = district
        self.logger = logger
    }

    /// Checks the updates of `system` (every system when nil).
    public func reconcile(_ client: PostgresClient, system: String? = nil) async throws -> Summary {
        // The new record's value of each field of an update.
        let held = """
            \(OutboxWriter.outboxFields(district: district))
            CROSS JOIN LATERAL (
                SELECT \(OutboxWriter.recordValue) AS value) held
            """
        // Updates still open; an unsent one already bound to a file being written is left to it.
        let open = """
            o.status IN ('sent', 'acknowledged', 'not_applied', 'held', 'pending', 'failed')
              AND (o.status NOT IN ('held', 'pending', 'failed') OR o.delivery_no IS NULL)
            """
        let statuses = try await client.withConnection { connection in
            try await connection.transaction(logger: logger) {
                var statuses: [String] = []
                // The district lock orders this with the golden refresh that reads `not_applied`.
                try await connection.lockDistrict(district, logger: logger)
                // An update to a record the system had: its newer version of that record.
                let known = try await connection.query(
                    """
                    WITH checked AS (
                        SELECT o.outbox_id, r.record_id,
                            bool_and(held.value IS NOT DISTINCT FROM o.payload -> 'changes' -> f.field ->> 'new') AS echoed,
                            bool_or(held.value IS NOT DISTINCT FROM o.payload -> 'changes' -> f.field ->> 'old') AS unapplied
                        FROM outbox o
                        -- A probe per open update (one current record a key at most), whatever the
                        -- statistics say: an outbox the last ingest filled, not yet analysed, was
                        -- once scanned once per record of the system (35 s for 1,500 updates).
                        CROSS JOIN LATERAL (
                            SELECT r.* FROM source_record r
                            WHERE r.district = \(district) AND r.system_id = o.system_id AND r.source_key = o.source_key
                                AND r.is_current AND r.record_id > o.record_id
                            LIMIT 1
                        ) r
                        \(unescaped: held)
                        WHERE o.district = \(district) AND (\(system == nil) OR o.system_id = \(system ?? "")) AND o.record_id <> 0 AND \(unescaped: open)
                        GROUP BY o.outbox_id, r.record_id
                    )
                    UPDATE outbox o SET record_id = c.record_id,
                        status = CASE
                            WHEN o.status IN ('held', 'pending', 'failed') THEN CASE WHEN c.echoed THEN 'superseded' ELSE o.status END
                            WHEN c.echoed THEN 'confirmed' WHEN c.unapplied THEN 'not_applied' ELSE 'overtaken' END,
                        confirmed_at = CASE WHEN c.echoed AND o.status NOT IN ('held', 'pending', 'failed') THEN now() ELSE o.confirmed_at END
                    FROM checked c
                    WHERE o.district = \(district) AND o.outbox_id = c.outbox_id
                    RETURNING o.status
                    """, logger: logger)
                for try await status in known.decode(String.self) { statuses.append(status) }
                // A resident sent as new (`record_id` 0): the first record of the system linked to them.
                let new = try await connection.query(
                    """
                    WITH checked AS (
                        SELECT o.outbox_id, min(r.record_id) AS record_id,
                            bool_and(held.value IS NOT DISTINCT FROM o.payload -> 'changes' -> f.field ->> 'new') AS echoed
                        FROM outbox o
                        -- Probes from each open update, as above, whatever the statistics say
                        -- (OFFSET 0 keeps the planner from flattening it into a join it may reorder).
                        CROSS JOIN LATERAL (
                            SELECT r.* FROM link l
                            JOIN source_record r ON r.district = \(district) AND r.record_id = l.record_id AND r.is_current
                                AND r.system_id = o.system_id
                            WHERE l.district = \(district) AND l.resident_id = o.resident_id
                            OFFSET 0
                        ) r
                        \(unescaped: held)
                        WHERE o.district = \(district) AND (\(system == nil) OR o.system_id = \(system ?? "")) AND o.record_id = 0 AND \(unescaped: open)
                        GROUP BY o.outbox_id
                    )
                    UPDATE outbox o SET record_id = c.record_id,
                        status = CASE WHEN o.status IN ('held', 'pending', 'failed') THEN 'superseded'
                            WHEN c.echoed THEN 'confirmed' ELSE 'overtaken' END,
                        confirmed_at = CASE WHEN c.echoed AND o.status NOT IN ('held', 'pending', 'failed') THEN now() ELSE o.confirmed_at END
                    FROM checked c
                    WHERE o.district = \(district) AND o.outbox_id = c.outbox_id
                    RETURNING o.status
                    """, logger: logger)
                for try await status in new.decode(String.self) { statuses.append(status) }
                return statuses
            }
        }
        var summary = Summary()
        for status in statuses {
            switch status {
            case "confirmed": summary.confirmed += 1
            case "not_applied": summary.notApplied += 1
            case "overtaken": summary.overtaken += 1
            case "superseded": summary.needless += 1
            default: break
            }
        }
        return summary
    }
}
