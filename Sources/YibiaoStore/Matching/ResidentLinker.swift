import Foundation
public import Logging
public import PostgresNIO
import YibiaoCore
public import YibiaoMatching
public import YibiaoMerge

/// Links every current source record of a district to exactly one resident. Resident ids are
/// stable: a cluster keeps the oldest id among its records' residents; clusters that join are a
/// merge (the younger id is retired, pointing at the survivor); a resident whose records fall
/// apart is a split (the larger part keeps the id). Links a person pinned, and pair decisions,
/// are never undone by an automatic run.
public struct ResidentLinker: Sendable {
    public struct Summary: Sendable, Hashable {
        public var records = 0
        public var candidatePairs = 0
        public var pairsByBlockingKey: [String: Int] = [:]
        public var residents = 0
        public var newResidents = 0
        public var merges = 0
        public var splits = 0
        /// Records whose resident changed (or that got one for the first time).
        public var relinked = 0
        public var reviewItems = 0
        public var parametersVersion = 0
        /// The golden records this run recomputed and changed.
        public var golden = GoldenRecords.Summary()
    }

    public let district: String
    public let actor: String
    public let rules: SurvivorshipRules
    public let logger: Logger

    public init(district: String, actor: String, rules: SurvivorshipRules, logger: Logger) {
        self.rules = rules
        self.logger = logger
        self.district = district
        self.actor = actor
    }

    /// Trains parameters on the district's current records and makes them the active version.
    @discardableResult
    public func train(
        _ client: PostgresClient, seed: UInt64 = 1, linkThreshold: Double? = nil,
        reviewThreshold: Double? = nil
    ) async throws -> (version: Int, MatchParameters) {
        let records = try await loadRecords(client)
        var base = MatchEngine()
        // Thresholds carry over from the active version unless new ones are given.
        if let (_, active) = try? await storedParameters(client) {
            base.parameters.linkThreshold = active.linkThreshold
            base.parameters.reviewThreshold = active.reviewThreshold
        }
        if let linkThreshold { base.parameters.linkThreshold = linkThreshold }
        if let reviewThreshold { base.parameters.reviewThreshold = reviewThreshold }
        let (engine, _) = base.trained(on: records, seed: seed)
        let encoded = String(decoding: try JSONEncoder().encode(engine.parameters), as: UTF8.self)
        let count = records.count
        return try await client.withConnection { connection in
            try await connection.transaction(logger: logger) {
                var version = 1
                for try await next in try await connection.query(
                    "SELECT coalesce(max(version), 0) + 1 FROM match_parameters WHERE district = \(district)", logger: logger
                ).decode(Int.self) {
                    version = next
                }
                try await connection.query("UPDATE match_parameters SET active = false WHERE district = \(district) AND active", logger: logger)
                try await connection.query(
                    """
                    INSERT INTO match_parameters (district, version, parameters, trained_on, active, created_by)
                    VALUES (\(district), \(version), \(encoded)::jsonb, \(count), true, \(actor))
                    """, logger: logger)
                return (version, engine.parameters)
            }
        }
    }

    func storedParameters(_ client: PostgresClient) async throws -> (Int, MatchParameters)? {
        for try await (version, json) in try await client.query(
            "SELECT version, parameters::text FROM match_parameters WHERE district = \(district) AND active"
        ).decode((Int, String).self) {
            return (version, try JSONDecoder().decode(MatchParameters.self, from: Data(json.utf8)))
        }
        return nil
    }

    /// The active parameters. Trained once the district has enough records, and again automatically once it
    /// has twice as many records as the active version was trained on (the first feed alone
    /// says little about how the others agree); `yibiao match train` retrains at will.
    public func activeParameters(_ client: PostgresClient) async throws -> (version: Int, MatchParameters) {
        var current: (Int, MatchParameters, Int)?
        for try await (version, json, trainedOn) in try await client.query(
            "SELECT version, parameters::text, trained_on FROM match_parameters WHERE district = \(district) AND active"
        ).decode((Int, String, Int).self) {
            current = (version, try JSONDecoder().decode(MatchParameters.self, from: Data(json.utf8)), trainedOn)
        }
        var records = 0
        for try await count in try await client.query(
            "SELECT count(*) FROM source_record WHERE district = \(district) AND is_current"
        ).decode(Int.self) { records = count }
        if let (version, parameters, trainedOn) = current, records <= trainedOn * 2 { return (version, parameters) }
        // A few hundred records say too little to estimate from: the defaults (version 0) serve.
        guard records >= Self.minimumRecordsToTrain else { return current.map { ($0.0, $0.1) } ?? (0, .initial) }
        return try await train(client)
    }

    /// Whether some current record has no resident yet (staged without matching, or a run stopped).
    /// The first batch that staged a current record which has no resident yet (staged without
    /// matching, or a run stopped half-way); nil when every record is linked. What the catching-up
    /// run changes is logged under that batch, not under the run that found it.
    public func firstUnlinkedBatch(_ client: PostgresClient) async throws -> Int64? {
        for try await batch in try await client.query(
            """
            SELECT min(r.batch_id) FROM source_record r WHERE r.district = \(district) AND r.is_current
                AND NOT EXISTS (SELECT 1 FROM link l WHERE l.district = r.district AND l.record_id = r.record_id)
            """, logger: logger
        ).decode(Int64?.self) { return batch }
        return nil
    }

    public static let minimumRecordsToTrain = 1_000
    /// `local_<system>`: a system's own key for the person, kept as an identifier for cross-references.
    static let localKeyScheme = "local_"

    /// Matches and writes the outcome, and brings the golden records of every resident it touched
    /// up to date in the same transaction. With `dryRun`, only reports what would change.
    public func run(_ client: PostgresClient, dryRun: Bool = false, cause: ChangeCause = .link) async throws -> Summary {
        if dryRun { return try await match(client, dryRun: true, cause: cause) }
        // One matching run per district at a time, from reading to commit: a run that read the
        // links before another one committed would undo that one's work.
        return try await client.withConnection { lock in
            try await lock.query("SELECT pg_advisory_lock(hashtext('yibiao:match:' || \(district)))", logger: logger)
            do {
                let summary = try await match(client, dryRun: false, cause: cause)
                try await lock.query("SELECT pg_advisory_unlock(hashtext('yibiao:match:' || \(district)))", logger: logger)
                return summary
            } catch {
                _ = try? await lock.query("SELECT pg_advisory_unlock(hashtext('yibiao:match:' || \(district)))", logger: logger)
                throw error
            }
        }
    }

    private func match(_ client: PostgresClient, dryRun: Bool, cause: ChangeCause) async throws -> Summary {
        let (version, parameters) = try await activeParameters(client)
        let records = try await loadRecords(client)
        var constraints = MatchEngine.Constraints()
        var existing: [Int64: Int64] = [:]
        // Links of current records; a new version of a row inherits its previous version's
        // resident (and a person's pin), so a changed cell never changes a resident's id.
        var inheritedPins: Set<Int64> = []
        for try await (record, resident, pinned, inherited) in try await client.query(
            """
            SELECT r.record_id, coalesce(l.resident_id, previous.resident_id), coalesce(l.pinned, previous.pinned, false),
                   l.record_id IS NULL
            FROM source_record r
            LEFT JOIN link l ON l.district = r.district AND l.record_id = r.record_id
            LEFT JOIN LATERAL (
                SELECT pl.resident_id, pl.pinned FROM source_record p JOIN link pl USING (district, record_id)
                WHERE p.district = r.district AND p.system_id = r.system_id AND p.source_key = r.source_key AND p.version < r.version
                ORDER BY p.version DESC LIMIT 1
            ) previous ON l.record_id IS NULL
            WHERE r.district = \(district) AND r.is_current AND coalesce(l.resident_id, previous.resident_id) IS NOT NULL
            """
        ).decode((Int64, Int64, Bool, Bool).self) {
            existing[record] = resident
            if pinned { constraints.pinned[record] = resident }
            if pinned, inherited { inheritedPins.insert(record) }
        }
        for try await (a, b, same) in try await client.query(
            "SELECT record_a, record_b, same_person FROM pair_decision WHERE district = \(district)"
        ).decode((Int64, Int64, Bool).self) {
            if same { constraints.together.append((a, b)) } else { constraints.apart.append((a, b)) }
        }
        let result = MatchEngine(parameters: parameters).match(records, constraints: constraints)
        var summary = Summary()
        summary.records = records.count
        summary.candidatePairs = result.candidatePairs
        summary.pairsByBlockingKey = result.pairsByBlockingKey
        summary.parametersVersion = version
        summary.reviewItems = result.review.count
        let plan = ResidentPlan(clusters: result.clusters, existing: existing)
        summary.residents = result.clusters.count
        summary.newResidents = plan.newClusters.count
        summary.merges = plan.merges.count
        summary.splits = plan.splits.count
        summary.relinked = plan.relinked(result.clusters, existing: existing)
        if dryRun { return summary }
        summary.golden = try await write(
            plan, result: result, records: records, existing: existing, pinned: constraints.pinned,
            inheritedPins: inheritedPins, cause: cause, client: client)
        return summary
    }

    // MARK: Reading

    func loadRecords(_ client: PostgresClient) async throws -> [MatchRecord] {
        var records: [MatchRecord] = []
        let rows = try await client.query(
            """
            SELECT record_id, national_id, national_id_raw, name_key, pinyin_key, sex, birth_date::text, phone, division_code, address,
                   fields->>'passport_no'
            FROM source_record WHERE district = \(district) AND is_current ORDER BY record_id
            """)
        for try await (id, nationalID, raw, nameKey, pinyin, sex, birth, phone, division, address, passport) in rows.decode(
            (Int64, String?, String?, String?, String?, String?, String?, String?, String?, String?, String?).self)
        {
            let date = birth.flatMap { CalendarDate(iso: $0) }
            records.append(
                MatchRecord(
                    id: id, nationalID: nationalID, nationalIDRaw: raw.map(CitizenID.clean), nameKey: nameKey,
                    pinyinKey: pinyin, sex: sex.flatMap(Sex.init(rawValue:)), birth: date, phone: phone,
                    division: division, address: address,
                    identifiers: passport.map { ["passport": $0] } ?? [:]))
        }
        return records
    }

    // MARK: Writing

    private func write(
        _ plan: ResidentPlan, result: MatchResult, records: [MatchRecord], existing: [Int64: Int64],
        pinned: [Int64: Int64], inheritedPins: Set<Int64>, cause: ChangeCause,
        client: PostgresClient
    ) async throws -> GoldenRecords.Summary {
        // Each record's explanation: the strongest edge that brought it into its cluster.
        var best: [Int64: PairScore] = [:]
        for link in result.links {
            for id in [link.a, link.b] where (best[id]?.probability ?? -1, best[id]?.weight ?? -.infinity) < (link.probability, link.weight) {
                best[id] = link
            }
        }
        return try await client.withConnection { connection in
            do {
                return try await connection.transaction(logger: logger) {
                    try await connection.lockDistrict(district, logger: logger)
                    // New residents for clusters with none.
                    var clusterResident = plan.assignments
                    let needed = plan.newClusters.count
                    if needed > 0 {
                        var fresh: [Int64] = []
                        for try await id in try await connection.query(
                            """
                            INSERT INTO resident (district) SELECT \(district) FROM generate_series(1, \(needed)) RETURNING resident_id
                            """, logger: logger
                        ).decode(Int64.self) { fresh.append(id) }
                        for (cluster, id) in zip(plan.newClusters, fresh.sorted()) { clusterResident[cluster] = id }
                    }
                    // Links: one row per record, written with COPY, applied set-based.
                    try await connection.query(
                        """
                        CREATE TEMP TABLE IF NOT EXISTS staging_link (record_id bigint, resident_id bigint, method text, weight double precision,
                            explanation jsonb, pinned boolean, reason text) ON COMMIT DELETE ROWS
                        """, logger: logger)
                    var copy = CopyText()
                    for (clusterIndex, cluster) in result.clusters.enumerated() {
                        guard let resident = clusterResident[clusterIndex] else { continue }
                        for record in cluster {
                            if inheritedPins.contains(record), let pinnedResident = pinned[record] {
                                // A person's decision carries over to the row's new version.
                                copy.row([
                                    String(record), String(pinnedResident), "manual", nil, "{}", "true",
                                    "carried over from the previous version of this row",
                                ])
                                continue
                            }
                            guard pinned[record] == nil else { continue }
                            let edge = best[record]
                            let method = edge.map { $0.method.rawValue } ?? "new"
                            copy.row([
                                String(record), String(resident), method, edge.map { String($0.weight) },
                                edge.map { MatchExplanation($0, record: record).json } ?? "{}", "false", nil,
                            ])
                        }
                    }
                    if !copy.isEmpty {
                        try await connection.copyFrom(table: "staging_link", logger: logger) { writer in
                            try await writer.write(ByteBuffer(bytes: copy.bytes))
                        }
                        try await connection.analyzeStaging("staging_link", logger: logger)
                    }
                    try await connection.query(
                        """
                        INSERT INTO link (district, record_id, resident_id, method, weight, explanation, decided_by, pinned, reason)
                        SELECT \(district), record_id, resident_id, method, weight, explanation, \(actor), pinned, reason FROM staging_link
                        ON CONFLICT (district, record_id) DO UPDATE SET resident_id = excluded.resident_id, method = excluded.method,
                            weight = excluded.weight, explanation = excluded.explanation, decided_by = excluded.decided_by, decided_at = now()
                        WHERE NOT link.pinned AND (link.resident_id, link.method, link.explanation)
                            IS DISTINCT FROM (excluded.resident_id, excluded.method, excluded.explanation)
                        """, logger: logger)
                    try await connection.analyzeAfterBulk(["resident", "link"], rows: records.count - existing.count, logger: logger)
                    // Every identifier a resident is known by, with the record it came from.
                    try await connection.query(
                        """
                        INSERT INTO resident_identifier (district, resident_id, scheme, value, record_id)
                        SELECT DISTINCT ON (l.resident_id, i.scheme, i.value) \(district), l.resident_id, i.scheme, i.value, r.record_id
                        FROM link l JOIN source_record r USING (district, record_id)
                        CROSS JOIN LATERAL (VALUES ('cn_citizen_id', r.national_id), ('passport', r.fields->>'passport_no'),
                                                   (\(Self.localKeyScheme)::text || r.system_id, r.source_key)) AS i(scheme, value)
                        WHERE l.district = \(district) AND r.is_current AND i.value IS NOT NULL AND i.value <> ''
                        ON CONFLICT DO NOTHING
                        """, logger: logger)
                    // Merges: the younger resident retires, pointing at the survivor.
                    for merge in plan.merges {
                        let moved = merge.moved
                        try await connection.query(
                            """
                            UPDATE resident SET status = 'retired', merged_into = \(merge.surviving), updated_at = now()
                            WHERE district = \(district) AND resident_id = \(merge.retired) AND status = 'active'
                            """, logger: logger)
                        try await connection.query(
                            """
                            INSERT INTO resident_event (district, kind, surviving_id, other_id, moved_records, actor)
                            VALUES (\(district), 'merge', \(merge.surviving), \(merge.retired), \(moved), \(actor))
                            """, logger: logger)
                    }
                    for split in plan.splits {
                        guard let newID = clusterResident[split.cluster] else { continue }
                        let moved = split.moved
                        try await connection.query(
                            """
                            INSERT INTO resident_event (district, kind, surviving_id, other_id, moved_records, actor)
                            VALUES (\(district), 'split', \(split.original), \(newID), \(moved), \(actor))
                            """, logger: logger)
                    }
                    // Review: uncertain pairs against the resident of the other record; decided pairs are not asked again.
                    var clusterOf: [Int64: Int] = [:]
                    for (index, cluster) in result.clusters.enumerated() { for record in cluster { clusterOf[record] = index } }
                    var reviewCopy = CopyText()
                    for pair in result.review {
                        guard let cluster = clusterOf[pair.b], let resident = clusterResident[cluster] else { continue }
                        reviewCopy.row([String(pair.a), String(resident), String(pair.probability), MatchExplanation(pair, record: pair.a).json])
                    }
                    try await connection.query(
                        """
                        CREATE TEMP TABLE IF NOT EXISTS staging_review (record_id bigint, resident_id bigint, weight double precision,
                            explanation jsonb) ON COMMIT DELETE ROWS
                        """, logger: logger)
                    if !reviewCopy.isEmpty {
                        try await connection.copyFrom(table: "staging_review", logger: logger) { writer in
                            try await writer.write(ByteBuffer(bytes: reviewCopy.bytes))
                        }
                        try await connection.analyzeStaging("staging_review", logger: logger)
                        try await connection.query(
                            """
                            INSERT INTO review_item (district, record_id, candidate_resident_id, weight, explanation)
                            SELECT \(district), s.record_id, s.resident_id, s.weight, s.explanation FROM staging_review s
                            JOIN link l ON l.district = \(district) AND l.record_id = s.record_id AND l.resident_id <> s.resident_id
                            ON CONFLICT (district, record_id, candidate_resident_id) DO NOTHING
                            """, logger: logger)
                    }
                    // Golden records of every resident whose records changed, in this transaction.
                    var causes: [Int64: ChangeCause] = [:]
                    for merge in plan.merges { causes[merge.surviving] = ChangeCause("merge", ref: "resident:\(merge.retired)") }
                    for split in plan.splits {
                        guard let newID = clusterResident[split.cluster] else { continue }
                        causes[split.original] = ChangeCause("split", ref: "resident:\(newID)")
                        causes[newID] = ChangeCause("split", ref: "resident:\(split.original)")
                    }
                    return try await GoldenRecords(district: district, rules: rules, logger: logger).refresh(on: connection, cause: cause, actor: actor, causes: causes)
                }
            } catch {
                throw StoreError(
                    .matchWriteFailed,
                    message: LocalizedText(
                        en: "writing the matching results failed: \(PostgresErrorText.summary(error).en)",
                        zh: "写入匹配结果失败：\(PostgresErrorText.summary(error).zh)"),
                    remedy: LocalizedText(en: "nothing was changed; run `yibiao match` again", zh: "未做任何更改；请重新执行 `yibiao match`"),
                    detail: String(reflecting: error))
            }
        }
    }
}
