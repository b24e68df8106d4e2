import Foundation
import PostgresNIO
import YibiaoCore
public import YibiaoStore

/// Write-back: what each system is owed, its plan while held, delivery, acknowledgements and
/// dead letters.
extension Hub {
    public func outboxStatus(district: String) async throws -> [OutboxQueries.SystemStatus] {
        try await OutboxQueries(district: district, logger: logger).status(client)
    }

    /// What would be sent: counts per system and field, and a few updates with masked values.
    public func outboxPlan(district: String, system: String?, sampleSize: Int = 5) async throws
        -> (items: [OutboxQueries.PlanItem], samples: [OutboxQueries.Sample])
    {
        let queries = OutboxQueries(district: district, logger: logger)
        if let system, !(try await queries.knows(client, system: system)) { throw OutboxQueries.unknownSystem(system) }
        return (
            try await queries.plan(client, system: system),
            try await queries.samples(client, system: system, statuses: ["held", "pending", "failed"], limit: sampleSize)
        )
    }

    /// Starts delivery to a system; returns how many held updates became pending.
    public func releaseOutbox(district: String, system: String, by actor: String) async throws -> Int {
        try await OutboxQueries(district: district, logger: logger).release(client, system: system, by: actor)
    }

    public func deliverOutbox(district: String, systems: [String]?, options: OutboxDelivery.Options) async throws -> [OutboxDelivery.SystemResult] {
        if let systems {
            let queries = OutboxQueries(district: district, logger: logger)
            for system in systems where !(try await queries.knows(client, system: system)) { throw OutboxQueries.unknownSystem(system) }
        }
        let results = try await OutboxDelivery(district: district, logger: logger).deliver(client, systems: systems, options: options)
        // A delivery discloses residents' data to a system: on record like a consumer's read.
        for result in results where result.sent > 0 {
            try await audit(district, actor: "hub", "outbox_deliver", subject: "system:\(result.system)", AuditLog.Detail(count: result.sent))
        }
        return results
    }

    /// A system's acknowledgement of one delivered file (its `.ack` text: rejected keys, or
    /// nothing). Returns (acknowledged, rejected).
    public func acknowledgeDelivery(district: String, system: String, file: String, ackText: String) async throws -> (Int, Int) {
        var number: Int64?
        for try await value in try await client.query(
            """
            SELECT delivery_no FROM outbox_delivery WHERE district = \(district) AND system_id = \(system)
              AND (file_name = \(file) OR delivery_no::text = ltrim(\(file), '0'))
            """, logger: logger
        ).decode(Int64.self) { number = value }
        guard let number else {
            throw StoreError(
                .deliveryNotFound,
                message: LocalizedText(en: "\(system) has no delivered file \(file)", zh: "\(system) 没有已投递的文件 \(file)"),
                remedy: LocalizedText(en: "see `yibiao outbox status` for the files delivered", zh: "已投递的文件见 `yibiao outbox status`"))
        }
        return try await OutboxDelivery(district: district, logger: logger).acknowledge(
            client, system: system, delivery: number, ackText: ackText, now: Date())
    }

    public func deadLetters(district: String, system: String?, limit: Int = 50) async throws -> [OutboxQueries.Sample] {
        try await OutboxQueries(district: district, logger: logger).samples(client, system: system, statuses: ["dead"], limit: limit)
    }

    public func retryOutbox(district: String, system: String?, ids: [Int64]) async throws -> Int {
        try await OutboxQueries(district: district, logger: logger).retry(client, system: system, ids: ids)
    }
}
