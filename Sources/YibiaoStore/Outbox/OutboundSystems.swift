import Foundation
public import Logging
public import PostgresNIO
public import YibiaoAdapters
import YibiaoCore

/// The systems of a district that can receive updates: each with the outbound mapping of the
/// adapter its latest feed came through (kept in the database, so that an entry made anywhere
/// routes without the adapter files) and whether a person has released its delivery.
public struct OutboundSystems: Sendable {
    public struct System: Sendable {
        public let mapper: OutboundMapper
        public let released: Bool
        public let lastDeliveryNo: Int64

        public var id: String { mapper.spec.system }
    }

    public let district: String
    public let logger: Logger

    public init(district: String, logger: Logger) {
        self.district = district
        self.logger = logger
    }

    /// Records (or updates) the adapter a system's feed came through. A system seen for the first
    /// time starts held; a later adapter keeps the release as it was.
    public func register(_ spec: AdapterSpec, on connection: PostgresConnection) async throws {
        guard OutboundMapper(spec: spec) != nil, !spec.sourceText.isEmpty else { return }
        try await connection.query(
            """
            INSERT INTO outbound_system (district, system_id, adapter, adapter_yaml, adapter_sha256)
            VALUES (\(district), \(spec.system), \(spec.fileName), \(spec.sourceText), \(spec.sourceSHA256))
            ON CONFLICT (district, system_id) DO UPDATE SET adapter = excluded.adapter, adapter_yaml = excluded.adapter_yaml,
                adapter_sha256 = excluded.adapter_sha256, updated_at = excluded.updated_at
            WHERE outbound_system.adapter_sha256 IS DISTINCT FROM excluded.adapter_sha256
            """, logger: logger)
    }

    public func register(_ spec: AdapterSpec, _ client: PostgresClient) async throws {
        try await client.withConnection { try await register(spec, on: $0) }
    }

    /// The district's receiving systems by id. An adapter that no longer reads is left out, with
    /// a warning: its updates wait rather than go out in a shape nobody checked.
    public func load(on connection: PostgresConnection) async throws -> [String: System] {
        var systems: [String: System] = [:]
        for try await (system, adapter, yaml, released, last) in try await connection.query(
            """
            SELECT system_id, adapter, adapter_yaml, released, last_delivery_no FROM outbound_system
            WHERE district = \(district) ORDER BY system_id
            """, logger: logger
        ).decode((String, String, String, Bool, Int64).self) {
            guard let spec = Self.parsed(yaml, fileName: adapter), let mapper = OutboundMapper(spec: spec) else {
                logger.warning("stored adapter no longer reads; its updates wait", metadata: ["system": "\(system)"])
                continue
            }
            systems[system] = System(mapper: mapper, released: released, lastDeliveryNo: last)
        }
        return systems
    }

    /// Parsed adapters by their text: every entry routes through them, and parsing YAML four
    /// times per entry would be most of its cost.
    static func parsed(_ yaml: String, fileName: String) -> AdapterSpec? {
        let key = fileName + "\u{0}" + yaml
        if let spec = cache.withLock({ $0[key] }) { return spec }
        guard let spec = try? AdapterSpec.parse(yaml, fileName: fileName) else { return nil }
        cache.withLock { cached in
            if cached.count > 256 { cached.removeAll() }
            cached[key] = spec
        }
        return spec
    }

    private static let cache = LockedDictionary()

    public func load(_ client: PostgresClient) async throws -> [String: System] {
        try await client.withConnection { try await load(on: $0) }
    }
}

/// A dictionary behind a lock, for the process-wide adapter cache.
private final class LockedDictionary: @unchecked Sendable {
    private let lock = NSLock()
    private var value: [String: AdapterSpec] = [:]

    func withLock<Result>(_ body: (inout [String: AdapterSpec]) -> Result) -> Result {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}
