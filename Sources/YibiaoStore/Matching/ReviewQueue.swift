import Foundation
public import Logging
public import PostgresNIO

/// Uncertain pairs waiting for a person, and the decisions taken on them.
public struct ReviewQueue: Sendable {
    public struct Side: Sendable {
        public let recordID: Int64
        public let system: String
        public let key: String
        /// Canonical field → value (national IDs included: the reviewer needs them).
        public let fields: [String: String]
    }

    public struct Item: Sendable {
        public let reviewID: Int64
        public let probability: Double
        public let record: Side
        public let candidateResident: Int64
        /// The candidate resident's records (at most three).
        public let candidate: [Side]
    }

    public enum Decision: String, Sendable {
        case same, different, skip
    }

    public let district: String
    public let author: String

    public let logger: Logger

    public init(district: String, author: String, logger: Logger) {
        self.logger = logger
        self.district = district
        self.author = author
    }

    public func openItems(_ client: PostgresClient, limit: Int = 50) async throws -> [Item] {
        var items: [Item] = []
        let rows = try await client.query(
            """
            SELECT q.review_id, q.weight, q.candidate_resident_id, r.record_id, r.system_id, r.source_key, \(unescaped: SourceRecordWriter.allFields("r"))::text
            FROM review_item q JOIN source_record r ON r.district = q.district AND r.record_id = q.record_id
            WHERE q.district = \(district) AND q.status = 'open' ORDER BY q.weight DESC, q.review_id LIMIT \(limit)
            """)
        var heads: [(Int64, Double, Int64, Side)] = []
        for try await (id, probability, resident, record, system, key, fields) in rows.decode((Int64, Double, Int64, Int64, String, String, String).self) {
            heads.append((id, probability, resident, Side(recordID: record, system: system, key: key, fields: Self.decode(fields))))
        }
        for (id, probability, resident, side) in heads {
            var candidate: [Side] = []
            for try await (record, system, key, fields) in try await client.query(
                """
                SELECT r.record_id, r.system_id, r.source_key, \(unescaped: SourceRecordWriter.allFields("r"))::text FROM link l
                JOIN source_record r USING (district, record_id)
                WHERE l.district = \(district) AND l.resident_id = \(resident) AND r.is_current AND r.record_id <> \(side.recordID)
                ORDER BY r.record_id LIMIT 3
                """
            ).decode((Int64, String, String, String).self) {
                candidate.append(Side(recordID: record, system: system, key: key, fields: Self.decode(fields)))
            }
            items.append(Item(reviewID: id, probability: probability, record: side, candidateResident: resident, candidate: candidate))
        }
        return items
    }

    /// Same / different become pair decisions (constraints of every later run); skip is remembered too.
    public func decide(_ client: PostgresClient, _ item: Item, _ decision: Decision, reason: String) async throws {
        switch decision {
        case .skip:
            try await client.query(
                """
                UPDATE review_item SET status = 'skipped', decided_by = \(author), decided_at = now()
                WHERE district = \(district) AND review_id = \(item.reviewID)
                """)
        case .same, .different:
            guard let other = item.candidate.first else { return }
            let decisions = ManualDecisions(district: district, author: author, logger: logger)
            if decision == .same {
                try await decisions.merge(client, item.record.recordID, other.recordID, reason: reason)
            } else {
                // "Not this person": apart from every record of the candidate resident.
                for side in item.candidate {
                    try await decisions.separate(client, item.record.recordID, side.recordID, reason: reason)
                }
            }
            try await client.query(
                """
                UPDATE review_item SET status = \(decision == .same ? "same" : "different"), decided_by = \(author), decided_at = now()
                WHERE district = \(district) AND review_id = \(item.reviewID)
                """)
        }
    }

    static func decode(_ json: String) -> [String: String] {
        (try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: String]) ?? [:]
    }
}
