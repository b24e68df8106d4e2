import Foundation
public import Logging
public import PostgresNIO
import YibiaoCore

/// What the outbox holds and the decisions people make about it: the plan of a held system,
/// releasing it, dead letters and retrying them.
public struct OutboxQueries: Sendable {
    public struct SystemStatus: Sendable, Hashable {
        public let system: String
        public let released: Bool
        public let lastDelivery: Int64
        /// status → count
        public var counts: [String: Int] = [:]
    }

    public struct PlanItem: Sendable, Hashable {
        public let system: String
        public let field: String
        public let updates: Int
    }

    /// One update as a person may look at it: values masked.
    public struct Sample: Sendable, Hashable {
        public let id: Int64
        public let system: String
        public let resident: Int64
        public let status: String
        public let cause: String
        /// field → (old, new), masked.
        public let changes: [String: (old: String?, new: String?)]
        public let attempts: Int
        public let lastError: String?

        public static func == (a: Sample, b: Sample) -> Bool { a.id == b.id && a.status == b.status }
        public func hash(into hasher: inout Hasher) { hasher.combine(id) }
    }

    public let district: String
    public let logger: Logger

    public init(district: String, logger: Logger) {
        self.district = district
        self.logger = logger
    }

    public func status(_ client: PostgresClient) async throws -> [SystemStatus] {
        var systems: [String: SystemStatus] = [:]
        for try await (system, released, last) in try await client.query(
            "SELECT system_id, released, last_delivery_no FROM outbound_system WHERE district = \(district)", logger: logger
        ).decode((String, Bool, Int64).self) { systems[system] = SystemStatus(system: system, released: released, lastDelivery: last) }
        for try await (system, status, count) in try await client.query(
            "SELECT system_id, status, count(*)::int FROM outbox WHERE district = \(district) GROUP BY system_id, status", logger: logger
        ).decode((String, String, Int).self) { systems[system]?.counts[status] = count }
        return systems.values.sorted { $0.system < $1.system }
    }

    /// Updates waiting (held or pending), per system and field.
    public func plan(_ client: PostgresClient, system: String?) async throws -> [PlanItem] {
        var items: [PlanItem] = []
        for try await (system, field, count) in try await client.query(
            """
            SELECT o.system_id, f.field, count(*)::int FROM outbox o CROSS JOIN LATERAL unnest(o.fields) AS f(field)
            WHERE o.district = \(district) AND o.status IN ('held', 'pending', 'failed') AND (\(system == nil) OR o.system_id = \(system ?? ""))
            GROUP BY o.system_id, f.field ORDER BY o.system_id, f.field
            """, logger: logger
        ).decode((String, String, Int).self) { items.append(PlanItem(system: system, field: field, updates: count)) }
        return items
    }

    /// Updates in the given states, oldest first, values masked.
    public func samples(_ client: PostgresClient, system: String?, statuses: [String], limit: Int) async throws -> [Sample] {
        var samples: [Sample] = []
        let decoder = JSONDecoder()
        struct Change: Decodable {
            let old: String?
            let new: String?
        }
        for try await (id, system, resident, status, cause, changes, attempts, error) in try await client.query(
            """
            SELECT outbox_id, system_id, resident_id, status, cause, payload -> 'changes', attempts, last_error FROM outbox
            WHERE district = \(district) AND status = ANY(\(statuses)) AND (\(system == nil) OR system_id = \(system ?? ""))
            ORDER BY change_seq, outbox_id LIMIT \(limit)
            """, logger: logger
        ).decode((Int64, String, Int64, String, String, String, Int, String?).self) {
            let decoded = (try? decoder.decode([String: Change].self, from: Data(changes.utf8))) ?? [:]
            samples.append(
                Sample(
                    id: id, system: system, resident: resident, status: status, cause: cause,
                    changes: Dictionary(
                        uniqueKeysWithValues: decoded.map { field, change in
                            (field, (Self.mask(change.old, field: field), Self.mask(change.new, field: field)))
                        }), attempts: attempts, lastError: error))
        }
        return samples
    }

    /// A value shown to an operator: codes (sex, marital status…) as they are, phones as the
    /// first 3 and last 4 digits (6 + 4 would show 10 of a mobile's 11), identifiers as first
    /// 6 + last 4, other text by its first character.
    static func mask(_ value: String?, field: String) -> String? {
        guard let value else { return nil }
        if codeFields.contains(field) { return value }
        if field == "phone" { return Masking.phone(value) }
        return Masking.cell(value)
    }

    static let codeFields: Set<String> = ["sex", "marital_status", "political_status", "relationship_to_head", "division_code"]

    /// Starts delivery to a system: its held updates become pending. Returns how many.
    public func release(_ client: PostgresClient, system: String, by actor: String) async throws -> Int {
        try await client.withConnection { connection in
            try await connection.transaction(logger: logger) {
                var known = false
                for try await _ in try await connection.query(
                    """
                    UPDATE outbound_system SET released = true, released_at = now(), released_by = \(actor)
                    WHERE district = \(district) AND system_id = \(system) RETURNING system_id
                    """, logger: logger
                ).decode(String.self) { known = true }
                guard known else { throw Self.unknownSystem(system) }
                var count = 0
                for try await _ in try await connection.query(
                    "UPDATE outbox SET status = 'pending' WHERE district = \(district) AND system_id = \(system) AND status = 'held' RETURNING outbox_id",
                    logger: logger
                ).decode(Int64.self) { count += 1 }
                return count
            }
        }
    }

    /// Puts dead letters (all of a system's, or the given ids) back in line, attempts reset.
    public func retry(_ client: PostgresClient, system: String?, ids: [Int64]) async throws -> Int {
        var count = 0
        for try await _ in try await client.query(
            """
            UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = now()
            WHERE district = \(district) AND status IN ('dead', 'failed') AND delivery_no IS NULL
              AND (\(system == nil) OR system_id = \(system ?? "")) AND (\(ids.isEmpty) OR outbox_id = ANY(\(ids)))
            RETURNING outbox_id
            """, logger: logger
        ).decode(Int64.self) { count += 1 }
        return count
    }

    public func knows(_ client: PostgresClient, system: String) async throws -> Bool {
        var known = false
        for try await _ in try await client.query(
            "SELECT 1 FROM outbound_system WHERE district = \(district) AND system_id = \(system)", logger: logger
        ).decode(Int.self) { known = true }
        return known
    }

    public static func unknownSystem(_ system: String) -> StoreError {
        StoreError(
            .outboxSystemUnknown,
            message: LocalizedText(
                en: "\(system) receives no updates in this district", zh: "本区县中 \(system) 不接收回写"),
            remedy: LocalizedText(
                en: "a system receives updates once a feed of it was ingested with an adapter that has an outbound: section; see `yibiao outbox status`",
                zh: "系统的数据经带有 outbound: 部分的适配器导入后才接收回写；见 `yibiao outbox status`"))
    }
}
