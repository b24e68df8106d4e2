public import Logging
public import PostgresNIO
public import YibiaoMatching

/// Which resident each system's current record belongs to, and why.
public struct CrossReferences: Sendable {
    public struct Reference: Sendable, Hashable {
        public let system: String
        public let sourceKey: String
        public let residentID: Int64
    }

    /// A record's link and its typed explanation.
    public struct Link: Sendable, Hashable {
        public let residentID: Int64
        /// new, deterministic, probabilistic, manual
        public let method: String
        public let weight: Double?
        /// Nil when no other record matched it (the resident's only record) or a person decided.
        public let explanation: MatchExplanation?
        /// The other record of the strongest pair.
        public let other: RecordKey?
    }

    /// A record as its system names it.
    public struct RecordKey: Sendable, Hashable {
        public let system: String
        public let key: String

        public init(system: String, key: String) {
            self.system = system
            self.key = key
        }
    }

    public let district: String
    public let logger: Logger

    public init(district: String, logger: Logger) {
        self.district = district
        self.logger = logger
    }

    /// Every linked current record (of one system), in system and key order, streamed to `body`.
    @discardableResult
    public func each(_ client: PostgresClient, system: String? = nil, _ body: (Reference) throws -> Void) async throws -> Int {
        let query: PostgresQuery = """
            SELECT r.system_id, r.source_key, l.resident_id FROM source_record r JOIN link l USING (district, record_id)
            WHERE r.district = \(district) AND r.is_current AND (\(system)::text IS NULL OR r.system_id = \(system))
            ORDER BY r.system_id, r.source_key
            """
        var count = 0
        for try await (systemID, key, resident) in try await client.query(query, logger: logger).decode((String, String, Int64).self) {
            try body(Reference(system: systemID, sourceKey: key, residentID: resident))
            count += 1
        }
        return count
    }

    /// The link of a system's current record, or nil when there is none.
    public func link(_ client: PostgresClient, system: String, key: String) async throws -> Link? {
        let query: PostgresQuery = """
            SELECT l.resident_id, l.method, l.weight, l.other_record, l.probability::double precision, c.comparisons, o.system_id, o.source_key
            FROM source_record r JOIN link l USING (district, record_id)
            LEFT JOIN source_record o ON o.district = r.district AND o.record_id = l.other_record
            LEFT JOIN link_comparisons c ON c.district = r.district AND c.comparisons_id = l.comparisons_id
            WHERE r.district = \(district) AND r.system_id = \(system) AND r.source_key = \(key) AND r.is_current
            """
        for try await (resident, method, weight, otherRecord, probability, comparisons, otherSystem, otherKey) in try await client.query(
            query, logger: logger
        ).decode((Int64, String, Double?, Int64?, Double?, String?, String?, String?).self) {
            let other = otherSystem.flatMap { system in otherKey.map { RecordKey(system: system, key: $0) } }
            var explanation: MatchExplanation?
            if let otherRecord, let probability, let comparisons, let weight, let pairMethod = PairScore.Method(rawValue: method) {
                explanation = try MatchExplanation(
                    method: pairMethod, weight: weight, probability: probability, otherRecord: otherRecord, compactComparisons: comparisons)
            }
            return Link(residentID: resident, method: method, weight: weight, explanation: explanation, other: other)
        }
        return nil
    }
}
