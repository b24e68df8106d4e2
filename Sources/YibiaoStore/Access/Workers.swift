import Foundation
public import Logging
public import PostgresNIO
public import YibiaoCore

/// Community workers (网格员) who enter data through the API: each bound to communities of its
/// district, with a token shown once and stored as SHA-256 only.
public struct Workers: Sendable {
    public struct Worker: Sendable, Hashable {
        public let district: String
        public let id: String
        public let name: String
        public let communities: Set<String>
        /// Facets it may change beside the core fields.
        public let facets: Set<CanonicalField.Domain>
        public let active: Bool
        public let tokenHint: String
        public let createdAt: String

        /// As the change log and batches record who acted.
        public var actor: String { "worker:\(id)" }
        public var fields: WorkerFields { WorkerFields(facets: facets) }
    }

    public let district: String
    public let logger: Logger

    public init(district: String, logger: Logger) {
        self.district = district
        self.logger = logger
    }

    public func add(
        _ client: PostgresClient, id: String, name: String, communities: Set<String>, facets: Set<CanonicalField.Domain> = [], by actor: String
    ) async throws -> (Worker, token: String) {
        var problems: [LocalizedText] = []
        if id.range(of: "^[a-z0-9][a-z0-9_.-]{0,62}$", options: .regularExpression) == nil {
            problems.append(
                LocalizedText(en: "the id \(id) may use only a-z, 0-9, _, . and -", zh: "编号 \(id) 只能包含 a-z、0-9、_、. 和 -"))
        }
        if name.trimmingCharacters(in: .whitespaces).isEmpty { problems.append(LocalizedText(en: "the worker needs a name", zh: "须写明姓名")) }
        if communities.isEmpty {
            problems.append(LocalizedText(en: "give the worker's community (--community CODE)", zh: "请给出所属社区（--community 代码）"))
        }
        for community in communities.sorted() {
            if case .failure(let error) = DivisionCodeTable.standard.validateCommunity(community) {
                problems.append(LocalizedText(en: "\(community): \(error.message.en)", zh: "\(community)：\(error.message.zh)"))
            } else if !community.hasPrefix(district) {
                problems.append(LocalizedText(en: "\(community) is not a community of \(district)", zh: "\(community) 不是 \(district) 的社区"))
            }
        }
        guard problems.isEmpty else {
            throw StoreError(
                .grantInvalid,
                message: LocalizedText(
                    en: "the worker cannot be added:\n  - " + problems.map(\.en).joined(separator: "\n  - "),
                    zh: "无法添加该工作人员：\n  - " + problems.map(\.zh).joined(separator: "\n  - ")),
                exitCode: ExitStatus.usage)
        }
        let token = AccessTokens.make(prefix: "ybw", district: district)
        do {
            try await client.query("INSERT INTO district (district, name) VALUES (\(district), \(district)) ON CONFLICT DO NOTHING", logger: logger)
            try await client.query(
                """
                INSERT INTO worker (district, worker_id, name, communities, facets, token_sha256, token_hint, created_by)
                VALUES (\(district), \(id), \(name), \(communities.sorted()), \(facets.map(\.rawValue).sorted()), \(AccessTokens.hash(token)),
                        \(String(token.prefix(15))), \(actor))
                """, logger: logger)
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw StoreError(
                .consumerExists,
                message: LocalizedText(en: "there is already a worker \(id) in district \(district)", zh: "区县 \(district) 已有工作人员 \(id)"),
                remedy: LocalizedText(en: "`yibiao worker rotate-token \(id)` issues a new token", zh: "可用 `yibiao worker rotate-token \(id)` 换发令牌"))
        }
        return (try await show(client, id: id), token)
    }

    static let columns = """
        worker_id, name, communities, facets, active, token_hint, to_char(created_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI:SS')
        """

    public func list(_ client: PostgresClient) async throws -> [Worker] {
        try await workers(client, "SELECT \(unescaped: Self.columns) FROM worker WHERE district = \(district) ORDER BY worker_id")
    }

    public func show(_ client: PostgresClient, id: String) async throws -> Worker {
        guard let worker = try await workers(client, "SELECT \(unescaped: Self.columns) FROM worker WHERE district = \(district) AND worker_id = \(id)").first
        else {
            throw StoreError(
                .consumerNotFound,
                message: LocalizedText(en: "there is no worker \(id) in district \(district)", zh: "区县 \(district) 中没有工作人员 \(id)"),
                remedy: LocalizedText(en: "`yibiao worker list` shows them", zh: "可用 `yibiao worker list` 查看"))
        }
        return worker
    }

    public static func authenticate(_ client: PostgresClient, token: String, logger: Logger) async throws -> Worker? {
        guard let district = AccessTokens.district(of: token, prefix: "ybw") else { return nil }
        return try await Workers(district: district, logger: logger).workers(
            client, "SELECT \(unescaped: columns) FROM worker WHERE district = \(district) AND token_sha256 = \(AccessTokens.hash(token)) AND active"
        ).first
    }

    public func disable(_ client: PostgresClient, id: String) async throws {
        _ = try await show(client, id: id)
        try await client.query(
            "UPDATE worker SET active = false, disabled_at = coalesce(disabled_at, now()) WHERE district = \(district) AND worker_id = \(id)",
            logger: logger)
    }

    public func rotateToken(_ client: PostgresClient, id: String) async throws -> String {
        guard try await show(client, id: id).active else {
            throw StoreError(.consumerDisabled, message: LocalizedText(en: "the worker \(id) is disabled", zh: "工作人员 \(id) 已停用"))
        }
        let token = AccessTokens.make(prefix: "ybw", district: district)
        try await client.query(
            """
            UPDATE worker SET token_sha256 = \(AccessTokens.hash(token)), token_hint = \(String(token.prefix(15))), token_rotated_at = now()
            WHERE district = \(district) AND worker_id = \(id)
            """, logger: logger)
        return token
    }

    /// The community a resident's golden record places them in (nil: none, or no such resident).
    public func community(_ client: PostgresClient, resident: Int64) async throws -> String?? {
        for try await community in try await client.query(
            "SELECT community_code FROM resident WHERE district = \(district) AND resident_id = \(resident)",
            logger: logger
        ).decode(String?.self) { return .some(community) }
        return .none
    }

    /// A resident a worker looked up: their current values of the fields the worker may read.
    public struct Found: Sendable, Hashable {
        public let nationalID: String
        public let resident: Int64
        public let fields: [String: String]
        /// field → when the change log last changed it (ISO 8601, UTC): tells an entry made
        /// offline whether the hub's value is newer than what the worker could have seen.
        public let changedAt: [String: String]
    }

    /// The residents of the worker's communities holding these citizen ID numbers (cleaned,
    /// valid). An ID of nobody, of a merged-away resident or of someone outside the worker's
    /// communities is simply absent: the worker cannot tell those apart. Where an ID is also kept
    /// as a relative's by another resident, its owner (whose golden ID it is) answers.
    ///
    /// `residents`: also these resident ids (a returned form names its residents so, its ID
    /// column being masked); answered with their golden ID number, or an empty one.
    public func lookup(_ client: PostgresClient, worker: Worker, nationalIDs: [String], residents: [Int64] = []) async throws -> [Found] {
        guard !nationalIDs.isEmpty || !residents.isEmpty else { return [] }
        let fields = worker.fields.readable
        // Golden records key fields by number (`field_number`): named in the statement, so that
        // only the readable fields leave the database; the owner's ID number likewise.
        let nationalID = FieldNumbers.valueSQL("r.golden", "national_id", district: district, else: "r.district")
        var found: [Found] = []
        for try await (id, resident, keys, values, changedKeys, changedTimes) in try await client.query(
            """
            SELECT owner.value, owner.resident_id, coalesce(g.keys, '{}'), coalesce(g.values, '{}'),
                   changed.keys, changed.times
            FROM (
                (SELECT DISTINCT ON (i.value) i.value, i.resident_id
                 FROM resident_identifier i
                 JOIN resident r ON r.district = i.district AND r.resident_id = i.resident_id AND r.status = 'active'
                 WHERE i.district = \(district) AND i.scheme = 'cn_citizen_id' AND i.value = ANY(\(nationalIDs))
                 ORDER BY i.value, (\(unescaped: nationalID) IS NOT DISTINCT FROM i.value) DESC, i.resident_id)
                UNION ALL
                SELECT coalesce(\(unescaped: nationalID), ''), r.resident_id
                FROM resident r
                WHERE r.district = \(district) AND r.resident_id = ANY(\(residents)) AND r.status = 'active'
            ) owner
            JOIN resident r ON r.district = \(district) AND r.resident_id = owner.resident_id
            LEFT JOIN LATERAL (\(unescaped: FieldNumbers.namedValuesSQL("r.golden", fields: fields, district: district, else: "r.district"))) g ON true
            CROSS JOIN LATERAL (
                SELECT coalesce(array_agg(field ORDER BY field), '{}') AS keys, coalesce(array_agg(at ORDER BY field), '{}') AS times
                FROM (
                    SELECT coalesce(n.name, f.key) AS field,
                           to_char(max(c.changed_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at
                    FROM change_log c
                    -- Values only added are stored as {"new": {field: value}} (`ChangeLog.changesText`),
                    -- a field by its number in `field_number` where it has one.
                    CROSS JOIN LATERAL json_object_keys(coalesce(c.changes -> 'new', c.changes)) AS f(key)
                    LEFT JOIN field_number n ON n.district = c.district AND n.number::text = f.key
                    WHERE c.district = \(district) AND c.resident_id = owner.resident_id AND coalesce(n.name, f.key) = ANY(\(fields))
                    GROUP BY 1
                ) last
            ) changed
            WHERE r.community_code = ANY(\(worker.communities.sorted()))
            """, logger: logger
        ).decode((String, Int64, [String], [String], [String], [String]).self) {
            found.append(
                Found(
                    nationalID: id, resident: resident, fields: Dictionary(zip(keys, values), uniquingKeysWith: { first, _ in first }),
                    changedAt: Dictionary(uniqueKeysWithValues: zip(changedKeys, changedTimes))))
        }
        return found
    }

    private func workers(_ client: PostgresClient, _ query: PostgresQuery) async throws -> [Worker] {
        var found: [Worker] = []
        for try await (id, name, communities, facets, active, hint, created) in try await client.query(query, logger: logger).decode(
            (String, String, [String], [String], Bool, String, String).self)
        {
            found.append(
                Worker(
                    district: district, id: id, name: name, communities: Set(communities),
                    facets: Set(facets.compactMap(CanonicalField.Domain.init(rawValue:))), active: active, tokenHint: hint, createdAt: created))
        }
        return found
    }
}
