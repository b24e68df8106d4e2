import Crypto
import Foundation
public import Logging
public import PostgresNIO
public import YibiaoCore

/// Downstream consumers: who they are, why they read, what they are granted, and their tokens
/// (shown once, stored as SHA-256 only).
public struct Consumers: Sendable {
    public struct Consumer: Sendable, Hashable {
        public let district: String
        public let id: String
        public let name: String
        public let purpose: String
        public let legalBasis: String
        public let grant: AccessGrant
        public let ratePerMinute: Int
        public let active: Bool
        /// The token's first characters, never enough to use it.
        public let tokenHint: String
        public let createdAt: String
        public let createdBy: String
        public let tokenRotatedAt: String?
        public let disabledAt: String?
    }

    /// What a person asks for when adding a consumer.
    public struct Definition: Sendable {
        public var id: String
        public var name: String
        public var purpose: String
        public var legalBasis: String
        public var grant: AccessGrant
        public var ratePerMinute: Int

        public init(id: String, name: String, purpose: String, legalBasis: String, grant: AccessGrant, ratePerMinute: Int = 600) {
            self.id = id
            self.name = name
            self.purpose = purpose
            self.legalBasis = legalBasis
            self.grant = grant
            self.ratePerMinute = ratePerMinute
        }
    }

    public let district: String
    public let logger: Logger

    public init(district: String, logger: Logger) {
        self.district = district
        self.logger = logger
    }

    static func newToken(district: String) -> String { AccessTokens.make(prefix: "yb", district: district) }

    static func tokenHash(_ token: String) -> String { AccessTokens.hash(token) }

    /// The district a consumer token names, or nil when it is not one at all.
    public static func district(ofToken token: String) -> String? { AccessTokens.district(of: token, prefix: "yb") }

    /// Adds the consumer and returns its token: the only time the token is ever shown.
    public func add(_ client: PostgresClient, _ definition: Definition, by actor: String, knownSystems: [String: CanonicalField.Domain]) async throws -> (Consumer, token: String) {
        try check(definition, knownSystems: knownSystems)
        let token = Self.newToken(district: district)
        let grant = definition.grant
        let purposes = String(decoding: try JSONEncoder.sorted.encode(grant.facets), as: UTF8.self)
        do {
            try await client.query(
                """
                INSERT INTO district (district, name) VALUES (\(district), \(district)) ON CONFLICT DO NOTHING
                """, logger: logger)
            try await client.query(
                """
                INSERT INTO consumer (district, consumer_id, name, purpose, legal_basis, token_sha256, token_hint, granted_fields,
                                      granted_facets, facet_purposes, unmasked_fields, masked_fields, systems, communities,
                                      rate_per_minute, created_by)
                VALUES (\(district), \(definition.id), \(definition.name), \(definition.purpose), \(definition.legalBasis),
                        \(Self.tokenHash(token)), \(String(token.prefix(14))), \(grant.fields.sorted()), \(grant.facets.keys.sorted()),
                        \(purposes)::jsonb, \(grant.unmasked.sorted()), \(grant.masked.sorted()), \(grant.systems.sorted()),
                        \(grant.communities.sorted()), \(definition.ratePerMinute), \(actor))
                """, logger: logger)
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw StoreError(
                .consumerExists,
                message: LocalizedText(en: "there is already a consumer \(definition.id) in district \(district)", zh: "区县 \(district) 已有使用方 \(definition.id)"),
                remedy: LocalizedText(
                    en: "choose another id, or `yibiao consumer rotate-token \(definition.id)` for a new token",
                    zh: "请换一个编号，或用 `yibiao consumer rotate-token \(definition.id)` 换发令牌"))
        }
        return (try await show(client, id: definition.id), token)
    }

    func check(_ definition: Definition, knownSystems: [String: CanonicalField.Domain]) throws {
        var problems = definition.grant.problems(knownSystems: knownSystems).map(\.message)
        if definition.id.range(of: "^[a-z][a-z0-9_-]{0,62}$", options: .regularExpression) == nil {
            problems.insert(
                LocalizedText(
                    en: "the id \(definition.id) must start with a letter and use only a-z, 0-9, _ and -",
                    zh: "编号 \(definition.id) 须以小写字母开头，只含 a-z、0-9、_ 和 -"), at: 0)
        }
        for (value, en, zh) in [
            (definition.name, "a name", "名称"), (definition.purpose, "a purpose", "用途"), (definition.legalBasis, "a legal basis", "法律依据"),
        ] where value.trimmingCharacters(in: .whitespaces).isEmpty {
            problems.append(LocalizedText(en: "the consumer needs \(en)", zh: "须写明\(zh)"))
        }
        if definition.ratePerMinute < 1 {
            problems.append(LocalizedText(en: "the rate limit must be at least 1 a minute", zh: "频率上限至少为每分钟 1 次"))
        }
        guard problems.isEmpty else {
            throw StoreError(
                .grantInvalid,
                message: LocalizedText(
                    en: "the consumer cannot be added:\n  - " + problems.map(\.en).joined(separator: "\n  - "),
                    zh: "无法添加该使用方：\n  - " + problems.map(\.zh).joined(separator: "\n  - ")),
                remedy: LocalizedText(en: "see `yibiao consumer add --help`", zh: "见 `yibiao consumer add --help`"),
                exitCode: ExitStatus.usage)
        }
    }

    static let columns = """
        consumer_id, name, purpose, legal_basis, granted_fields, granted_facets, facet_purposes::text, unmasked_fields, masked_fields,
        systems, communities, rate_per_minute, active, token_hint,
        to_char(created_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI:SS'), created_by,
        to_char(token_rotated_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI:SS'),
        to_char(disabled_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI:SS')
        """

    public func list(_ client: PostgresClient) async throws -> [Consumer] {
        try await consumers(client, "SELECT \(unescaped: Self.columns) FROM consumer WHERE district = \(district) ORDER BY consumer_id")
    }

    public func show(_ client: PostgresClient, id: String) async throws -> Consumer {
        guard
            let consumer = try await consumers(
                client, "SELECT \(unescaped: Self.columns) FROM consumer WHERE district = \(district) AND consumer_id = \(id)"
            ).first
        else { throw notFound(id) }
        return consumer
    }

    /// The active consumer a bearer token belongs to, or nil: a token of no consumer, of a
    /// disabled one, or not a token at all are the same answer.
    public static func authenticate(_ client: PostgresClient, token: String, logger: Logger) async throws -> Consumer? {
        guard let district = district(ofToken: token) else { return nil }
        return try await Consumers(district: district, logger: logger).consumers(
            client, "SELECT \(unescaped: columns) FROM consumer WHERE district = \(district) AND token_sha256 = \(tokenHash(token)) AND active"
        ).first
    }

    /// Stops the consumer's token working at once; its audit trail stays.
    public func disable(_ client: PostgresClient, id: String, by actor: String) async throws {
        var disabled = false
        for try await _ in try await client.query(
            """
            UPDATE consumer SET active = false, disabled_at = now(), disabled_by = \(actor)
            WHERE district = \(district) AND consumer_id = \(id) AND active RETURNING consumer_id
            """, logger: logger
        ).decode(String.self) { disabled = true }
        if !disabled { _ = try await show(client, id: id) }
    }

    /// A new token; the old one stops working at once.
    public func rotateToken(_ client: PostgresClient, id: String) async throws -> String {
        let token = Self.newToken(district: district)
        var found: Bool?
        for try await active in try await client.query(
            """
            UPDATE consumer SET token_sha256 = \(Self.tokenHash(token)), token_hint = \(String(token.prefix(14))), token_rotated_at = now()
            WHERE district = \(district) AND consumer_id = \(id) AND active RETURNING active
            """, logger: logger
        ).decode(Bool.self) { found = active }
        guard found == nil else { return token }
        let active = try await show(client, id: id).active
        guard active else {
            throw StoreError(
                .consumerDisabled,
                message: LocalizedText(en: "the consumer \(id) is disabled", zh: "使用方 \(id) 已停用"),
                remedy: LocalizedText(en: "add it again under a new id if it is to read again", zh: "如需恢复访问，请以新编号重新添加"))
        }
        throw notFound(id)
    }

    func notFound(_ id: String) -> StoreError {
        StoreError(
            .consumerNotFound,
            message: LocalizedText(en: "there is no consumer \(id) in district \(district)", zh: "区县 \(district) 中没有使用方 \(id)"),
            remedy: LocalizedText(en: "`yibiao consumer list` shows them", zh: "可用 `yibiao consumer list` 查看"))
    }

    private func consumers(_ client: PostgresClient, _ query: PostgresQuery) async throws -> [Consumer] {
        var found: [Consumer] = []
        let rows = try await client.query(query, logger: logger)
        for try await row in rows {
            let (id, name, purpose, basis, fields, _, purposes, unmasked, masked, systems, communities, rate, active, hint, created, createdBy, rotated, disabled) =
                try row.decode(
                    (
                        String, String, String, String, [String], [String], String, [String], [String], [String], [String], Int, Bool, String,
                        String, String, String?, String?
                    ).self)
            let facets = (try? JSONDecoder().decode([String: String].self, from: Data(purposes.utf8))) ?? [:]
            let grant = AccessGrant(
                fields: Set(fields), facets: facets, unmasked: Set(unmasked), masked: Set(masked), systems: Set(systems), communities: Set(communities))
            found.append(
                Consumer(
                    district: district, id: id, name: name, purpose: purpose, legalBasis: basis, grant: grant, ratePerMinute: rate,
                    active: active, tokenHint: hint, createdAt: created, createdBy: createdBy, tokenRotatedAt: rotated, disabledAt: disabled))
        }
        return found
    }
}

/// Bearer tokens: `PREFIX_DISTRICT_` and 40 hex digits (160 random bits), stored as SHA-256 only.
/// The district in the token lets the server look it up in one district (one Citus shard)
/// without a scan of every tenant.
enum AccessTokens {
    static func make(prefix: String, district: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<20).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return "\(prefix)_\(district)_" + bytes.hexString
    }

    static func hash(_ token: String) -> String { SHA256.hash(data: Data(token.utf8)).hexString }

    static func district(of token: String, prefix: String) -> String? {
        let parts = token.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == prefix, parts[1].count == 6, parts[1].allSatisfy(\.isNumber), parts[2].count == 40 else { return nil }
        return String(parts[1])
    }
}

extension JSONEncoder {
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}

extension Consumers.Consumer {
    /// The same consumer reading one community only (a form filled for one community office).
    public func narrowed(toCommunity community: String) -> Consumers.Consumer {
        var grant = self.grant
        grant.communities = [community]
        return Consumers.Consumer(
            district: district, id: id, name: name, purpose: purpose, legalBasis: legalBasis, grant: grant, ratePerMinute: ratePerMinute,
            active: active, tokenHint: tokenHint, createdAt: createdAt, createdBy: createdBy, tokenRotatedAt: tokenRotatedAt,
            disabledAt: disabledAt)
    }
}
