import Foundation
public import Logging
public import PostgresNIO
import YibiaoAdapters
public import YibiaoCore
public import YibiaoMerge

/// Disagreements the survivorship rules leave to a person, and their resolution: the chosen
/// value becomes an override that holds until a source sends a newer, different value.
public struct Conflicts: Sendable {
    public struct Item: Sendable, Hashable {
        public let id: Int64
        public let residentID: Int64
        public let residentName: String?
        public let field: String
        public let reason: String
        public let status: String
        public let candidates: [FieldConflict.Candidate]
        public let createdAt: String
        /// The golden value now, and where it came from.
        public let current: FieldValue?
        public let resolvedBy: String?
        public let resolutionReason: String?
    }

    public enum Resolution: Sendable, Hashable {
        /// One of the candidates, counted from 1 as `conflicts show` lists them.
        case candidate(Int)
        /// A value a person enters (normalised like a feed's); nil: the field has no value.
        case value(String?)
    }

    public let district: String
    public let rules: SurvivorshipRules
    public let logger: Logger

    public init(district: String, rules: SurvivorshipRules, logger: Logger) {
        self.rules = rules
        self.logger = logger
        self.district = district
    }

    public func list(_ client: PostgresClient, status: String? = "open", field: String? = nil, limit: Int = 50) async throws -> [Item] {
        try await items(
            client, where: "c.district = $1 AND ($2::text IS NULL OR c.status = $2) AND ($3::text IS NULL OR c.field = $3)",
            bindings: [district, status, field], limit: limit)
    }

    public func show(_ client: PostgresClient, id: Int64) async throws -> Item {
        guard let item = try await items(client, where: "c.district = $1 AND c.conflict_id = $2", bindings: [district, id], limit: 1).first else {
            throw notFound(id)
        }
        return item
    }

    /// Counts of open conflicts by field and reason.
    public func openCounts(_ client: PostgresClient) async throws -> [(field: String, reason: String, count: Int)] {
        var result: [(String, String, Int)] = []
        for try await row in try await client.query(
            """
            SELECT field, reason_code, count(*)::bigint FROM conflict WHERE district = \(district) AND status = 'open'
            GROUP BY field, reason_code ORDER BY count(*) DESC, field
            """
        ).decode((String, String, Int).self) { result.append(row) }
        return result.map { (field: $0.0, reason: $0.1, count: $0.2) }
    }

    /// Resolves an open conflict; the resident's golden record and the change log follow in the same transaction.
    @discardableResult
    public func resolve(
        _ client: PostgresClient, id: Int64, resolution: Resolution, author: String, reason: String,
        today: CalendarDate
    ) async throws -> GoldenRecords.Summary {
        let trimmed = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else {
            throw StoreError(
                .reasonRequired, message: LocalizedText(en: "a resolution needs a reason", zh: "处理冲突须说明原因"),
                remedy: LocalizedText(en: "add --reason \"checked the household register\"", zh: "请添加 --reason \"已核对户口簿\""))
        }
        return try await client.withConnection { connection in
            try await connection.transaction(logger: logger) {
                try await connection.lockDistrict(district, logger: logger)
                var found: (Int64, String, String, String)?
                for try await row in try await connection.query(
                    """
                    SELECT resident_id, field, status, candidates::text FROM conflict
                    WHERE district = \(district) AND conflict_id = \(id) FOR UPDATE
                    """, logger: logger
                ).decode((Int64, String, String, String).self) { found = row }
                guard let (resident, field, status, candidatesText) = found else { throw notFound(id) }
                guard status == "open" else {
                    throw StoreError(
                        .conflictNotOpen,
                        message: LocalizedText(en: "conflict \(id) is \(status), not open", zh: "冲突 \(id) 的状态为 \(status)，并非待处理"),
                        remedy: LocalizedText(en: "`yibiao conflicts list` shows the open ones", zh: "`yibiao conflicts list` 列出待处理的冲突"))
                }
                let candidates = (try? JSONDecoder().decode([FieldConflict.Candidate].self, from: Data(candidatesText.utf8))) ?? []
                let value = try chosenValue(resolution, field: field, candidates: candidates, today: today)
                let json = value.map { JSONText.encode($0) }
                try await connection.query(
                    """
                    INSERT INTO override (district, resident_id, field, value, author, reason, conflict_id)
                    VALUES (\(district), \(resident), \(field), \(json)::jsonb, \(author), \(trimmed), \(id))
                    ON CONFLICT (district, resident_id, field) DO UPDATE SET value = excluded.value, author = excluded.author,
                        reason = excluded.reason, conflict_id = excluded.conflict_id, created_at = excluded.created_at
                    """, logger: logger)
                let resolutionJSON = JSONText.encode(["value": value])
                try await connection.query(
                    """
                    UPDATE conflict SET status = 'resolved', resolved_at = now(), resolved_by = \(author), reason = \(trimmed),
                        resolution = \(resolutionJSON)::jsonb
                    WHERE district = \(district) AND conflict_id = \(id)
                    """, logger: logger)
                return try await GoldenRecords(district: district, rules: rules, logger: logger).refresh(
                    on: connection, cause: ChangeCause("resolution", ref: "conflict:\(id)"), actor: author, residents: [resident])
            }
        }
    }

    func chosenValue(_ resolution: Resolution, field: String, candidates: [FieldConflict.Candidate], today: CalendarDate) throws -> String? {
        switch resolution {
        case .candidate(let number):
            guard candidates.indices.contains(number - 1) else {
                throw StoreError(
                    .noSuchCandidate,
                    message: LocalizedText(
                        en: "there is no candidate \(number); the conflict has \(candidates.count)",
                        zh: "没有第 \(number) 个候选值；该冲突共有 \(candidates.count) 个"),
                    remedy: LocalizedText(en: "`yibiao conflicts show` numbers them", zh: "`yibiao conflicts show` 列出了编号"))
            }
            return candidates[number - 1].value
        case .value(nil):
            return nil
        case .value(let text?):
            guard let canonical = CanonicalField.named(field) else { return text }
            switch FieldNormalizer(today: today).normalise(text, as: canonical) {
            case .success(let normalised): return normalised
            case .failure(let problem):
                throw StoreError(
                    .invalidValue,
                    message: LocalizedText(
                        en: "the value is not a valid \(canonical.label.en): \(problem.message.en)",
                        zh: "该值不是有效的\(canonical.label.zh)：\(problem.message.zh)"))
            }
        }
    }

    private func notFound(_ id: Int64) -> StoreError {
        StoreError(
            .conflictNotFound,
            message: LocalizedText(
                en: "there is no conflict \(id) in district \(district)",
                zh: "区县 \(district) 中没有冲突 \(id)"),
            remedy: LocalizedText(en: "`yibiao conflicts list` shows them", zh: "`yibiao conflicts list` 可列出冲突"))
    }

    private func items(_ client: PostgresClient, where condition: String, bindings: [(any PostgresEncodable & Sendable)?], limit: Int) async throws -> [Item] {
        // The name by its number, looked up by the statement itself.
        let name = FieldNumbers.valueSQL("r.golden", "name", district: district, else: "r.district")
        var query = PostgresQuery(
            unsafeSQL: """
                SELECT c.conflict_id, c.resident_id, \(name), c.field, c.reason_code, c.status, c.candidates::text,
                       to_char(c.created_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI'), c.resolved_by, c.reason
                FROM conflict c JOIN resident r ON r.district = c.district AND r.resident_id = c.resident_id
                WHERE \(condition) ORDER BY c.conflict_id LIMIT \(max(limit, 1))
                """)
        for binding in bindings {
            if let binding { try query.binds.append(binding) } else { query.binds.appendNull() }
        }
        typealias Row = (Int64, Int64, String?, String, String, String, String, String, String?, String?)
        var rows: [Row] = []
        for try await row in try await client.query(query).decode(Row.self) { rows.append(row) }
        // The value in use now and where it comes from (computed: provenance is not stored).
        let residents = Array(Set(rows.map(\.1))).sorted()
        let golden = GoldenRecords(district: district, rules: rules, logger: logger)
        let current = try await client.withConnection { try await golden.provenance(on: $0, residents: residents) }
        let decoder = JSONDecoder()
        return rows.map { id, resident, name, field, reason, status, candidates, created, resolvedBy, why in
            Item(
                id: id, residentID: resident, residentName: name, field: field, reason: reason, status: status,
                candidates: (try? decoder.decode([FieldConflict.Candidate].self, from: Data(candidates.utf8))) ?? [],
                createdAt: created, current: current[resident]?[field], resolvedBy: resolvedBy, resolutionReason: why)
        }
    }
}
