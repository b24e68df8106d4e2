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
        /// Whether the run matched the whole district, or only what was waiting and its neighbourhood.
        public var wholeDistrict = false
        /// Records that were waiting in the queue.
        public var queued = 0
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
        /// Wall time of the whole run, golden records included.
        public var elapsed: Duration = .zero
    }

    public let district: String
    public let actor: String
    public let rules: SurvivorshipRules
    public let logger: Logger
    /// Records taken off the queue by one run from which the queue is vacuumed after it.
    public var vacuumQueueAfter = 10_000
    /// Hears each stage of a run as it starts (the golden refresh's too).
    public var progress: RunProgressObserver?
    /// New residents a run makes, with no record of the district linked before (a first load),
    /// from which the golden refresh's slices of them are read on another connection, the first
    /// while the links are written (`FreshSliceReadAhead`).
    public var readAheadFrom = 5_000
    /// The refresh waits (up to ten seconds) for the read-ahead to begin rather than reading
    /// every slice itself if it has not (`FreshSliceReadAhead.waitsToBegin`): for tests that
    /// check what the read-ahead reads, which it otherwise may lose its race to.
    public var readAheadWaitsToBegin = false
    /// The fewest record ids a part of a whole district's read spans (`loadAllRecords`).
    public var wholeReadPartFrom: Int64 = 20_000
    /// Residents the golden refresh merges at a time (`GoldenRecords.loadSlice`), when not its own.
    public var goldenLoadSlice: Int?

    /// The refresh a run ends with, reporting to the same `progress`.
    var golden: GoldenRecords {
        var golden = GoldenRecords(district: district, rules: rules, logger: logger)
        golden.progress = progress
        if let goldenLoadSlice { golden.loadSlice = goldenLoadSlice }
        return golden
    }

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
        try await train(
            client, on: try await loadRecords(client, ids: nil).0, seed: seed, linkThreshold: linkThreshold, reviewThreshold: reviewThreshold)
    }

    /// Trains on records loaded already (a matching run that is about to match them all), with
    /// their candidate pairs when found already.
    func train(
        _ client: PostgresClient, on records: [MatchRecord], blocking: MatchEngine.Blocking? = nil, seed: UInt64 = 1,
        linkThreshold: Double? = nil, reviewThreshold: Double? = nil
    ) async throws -> (version: Int, MatchParameters) {
        var base = MatchEngine()
        // Thresholds carry over from the active version unless new ones are given.
        if let (_, active) = try? await storedParameters(client) {
            base.parameters.linkThreshold = active.linkThreshold
            base.parameters.reviewThreshold = active.reviewThreshold
        }
        if let linkThreshold { base.parameters.linkThreshold = linkThreshold }
        if let reviewThreshold { base.parameters.reviewThreshold = reviewThreshold }
        let (engine, _) = await base.trained(on: records, seed: seed, blocking: blocking)
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

    /// Stored parameters, or nil when they were trained for comparisons with other levels.
    static func decodeParameters(_ json: String) throws -> MatchParameters? {
        let parameters = try JSONDecoder().decode(MatchParameters.self, from: Data(json.utf8))
        return parameters.fitsComparisons ? parameters : nil
    }

    func storedParameters(_ client: PostgresClient) async throws -> (Int, MatchParameters)? {
        for try await (version, json) in try await client.query(
            "SELECT version, parameters::text FROM match_parameters WHERE district = \(district) AND active"
        ).decode((Int, String).self) {
            return try Self.decodeParameters(json).map { (version, $0) }
        }
        return nil
    }

    /// The active parameters. Trained once the district has enough records, and again automatically once it
    /// has twice as many records as the active version was trained on (the first feed alone
    /// says little about how the others agree); `yibiao match train` retrains at will.
    /// When they had to be trained, also the district's records they were trained on and their
    /// candidate pairs (a new version matches the whole district next: loaded and blocked once,
    /// not twice). `currentRecords`: the district's current records, counted by the caller.
    func activeParameters(
        _ client: PostgresClient, currentRecords records: Int
    ) async throws -> (version: Int, parameters: MatchParameters, district: LoadedDistrict?) {
        var current: (Int, MatchParameters, Int)?
        for try await (version, json, trainedOn) in try await client.query(
            "SELECT version, parameters::text, trained_on FROM match_parameters WHERE district = \(district) AND active"
        ).decode((Int, String, Int).self) {
            // Parameters of earlier comparisons are retrained rather than read with the wrong levels.
            current = try Self.decodeParameters(json).map { (version, $0, trainedOn) }
        }
        if let (version, parameters, trainedOn) = current, records <= trainedOn * 2 { return (version, parameters, nil) }
        // A few hundred records say too little to estimate from: the defaults (version 0) serve.
        guard records >= Self.minimumRecordsToTrain else { return current.map { ($0.0, $0.1, nil) } ?? (0, .initial, nil) }
        var timer = PhaseTimer("training", logger: logger)
        progress?(RunProgress(.training))
        let (loaded, keys) = try await loadRecords(client, ids: nil)
        timer.lap("load district", rows: loaded.count)
        // Every candidate pair compared once: training counts the vectors, matching scores them.
        let blocking = await MatchEngine().blocking(of: loaded).comparing(loaded)
        timer.lap("blocking and comparing", rows: blocking.pairCount)
        let (version, parameters) = try await train(client, on: loaded, blocking: blocking)
        timer.lap("train", rows: loaded.count)
        return (version, parameters, LoadedDistrict(records: loaded, keys: keys, blocking: blocking))
    }

    /// The first batch among the records waiting to be matched (staged without matching, or a
    /// run stopped half-way); nil when none waits. What the catching-up run changes is logged
    /// under that batch, not under the run that found it.
    public func firstUnlinkedBatch(_ client: PostgresClient) async throws -> Int64? {
        for try await batch in try await client.query(
            """
            SELECT min(r.batch_id) FROM match_queue q JOIN source_record r ON r.district = q.district AND r.record_id = q.record_id
            WHERE q.district = \(district) AND r.is_current
            """, logger: logger
        ).decode(Int64?.self) { return batch }
        return nil
    }

    public static let minimumRecordsToTrain = 1_000

    /// Matches and writes the outcome, and brings the golden records of every resident it touched
    /// up to date in the same transaction. With `dryRun`, only reports what would change.
    ///
    /// Incremental by default: the records waiting in `match_queue` are matched against the
    /// candidates their keys reach, with every record of the residents those belong to, and only
    /// those residents are clustered again. The whole district is matched when `full` is asked
    /// (`match --rerun`), when the parameters changed since the last run, when rows staged before
    /// lookup keys existed are there, or when most of the district is waiting anyway.
    public func run(_ client: PostgresClient, dryRun: Bool = false, cause: ChangeCause = .link, full: Bool = false) async throws -> Summary {
        if dryRun { return try await match(client, dryRun: true, cause: cause, full: full) }
        // One matching run per district at a time, from reading to commit: a run that read the
        // links before another one committed would undo that one's work.
        return try await client.withConnection { lock in
            try await lock.query("SELECT pg_advisory_lock(hashtext('yibiao:match:' || \(district)))", logger: logger)
            do {
                let summary = try await match(client, dryRun: false, cause: cause, full: full)
                try await lock.query("SELECT pg_advisory_unlock(hashtext('yibiao:match:' || \(district)))", logger: logger)
                return summary
            } catch {
                _ = try? await lock.query("SELECT pg_advisory_unlock(hashtext('yibiao:match:' || \(district)))", logger: logger)
                throw error
            }
        }
    }

    /// A run's records and results, emptied by the write once the links are written.
    /// Unchecked: one run's task alone uses it, handing it to its own connection closure and
    /// waiting for it, never to two tasks at once.
    final class HeldRun: @unchecked Sendable {
        var work: WorkSet
        var result: MatchResult?

        init(work: WorkSet) { self.work = work }
    }

    /// The records one run matches, and what it knows of the district beyond them.
    struct WorkSet {
        /// In id order (both loads sort them).
        var records: [MatchRecord]
        var context: MatchEngine.Context
        /// The queued records this run takes off the queue (with every record it matched).
        var queued: [Int64]
        /// Every current record of the district, not a neighbourhood.
        var whole: Bool
        /// Current records that have no lookup keys yet (staged before they existed).
        var keyless: [MatchRecord] = []
        /// The records' candidate pairs, when a training found them already.
        var blocking: MatchEngine.Blocking?
    }

    /// The district's current records as a training loaded them, with their lookup keys and
    /// candidate pairs.
    struct LoadedDistrict {
        var records: [MatchRecord]
        var keys: [Int64: [Int64]]
        var blocking: MatchEngine.Blocking
    }

    private func match(_ client: PostgresClient, dryRun: Bool, cause: ChangeCause, full: Bool) async throws -> Summary {
        let started = ContinuousClock.now
        var summary = try await matchOnce(client, dryRun: dryRun, cause: cause, full: full)
        summary.elapsed = ContinuousClock.now - started
        return summary
    }

    private func matchOnce(_ client: PostgresClient, dryRun: Bool, cause: ChangeCause, full: Bool) async throws -> Summary {
        var timer = PhaseTimer("match", logger: logger)
        progress?(RunProgress(.matching))
        // The queue before the records: a record staged in between is loaded and matched before
        // it leaves the queue; read the other way round, it could leave the queue unmatched.
        let queued = try await queuedRecords(client)
        let state = try await matchState(client)
        var active = try await activeParameters(client, currentRecords: state.current)
        let (version, parameters) = (active.version, active.parameters)
        timer.lap(active.district == nil ? "parameters" : "load district and train", rows: active.district?.records.count)
        var summary = Summary()
        summary.parametersVersion = version
        // Past a twentieth of the district, reading it all in one pass costs less than key by key.
        let whole = full || state.keyless || state.matchedWith != version || queued.count > max(2_000, state.current / 20)
        summary.wholeDistrict = whole
        summary.queued = queued.count
        if !whole && queued.isEmpty {
            // Nothing to match; golden records still follow a change of rules.
            if !dryRun {
                summary.golden = try await golden.refresh(client, cause: cause, actor: actor, residents: [])
            }
            return summary
        }
        // The run's records and results are held by `run` alone, so that the write can let them
        // go before the golden refresh (they were a fifth of a first load's peak).
        let run = HeldRun(
            work: whole
                ? try await wholeDistrict(client, queued: queued, keyless: state.keyless, loaded: active.district)
                : try await neighbourhood(of: queued, currentRecords: state.current, client))
        active.district = nil
        timer.lap(whole ? "load district" : "load neighbourhood", rows: run.work.records.count)
        // A whole run reads every row anyway: no list of ids to narrow by.
        let ids = whole ? [] : run.work.records.map(\.id)
        var constraints = MatchEngine.Constraints()
        var existing: [Int64: Int64] = [:]
        // Links of current records; a new version of a row inherits its previous version's
        // resident (and a person's pin), so a changed cell never changes a resident's id.
        var inheritedPins: Set<Int64> = []
        var newVersions: Set<Int64> = []
        var stored: [Int64: StoredLink] = [:]
        for try await row in try await client.query(
            """
            SELECT r.record_id, coalesce(l.resident_id, previous.resident_id), coalesce(l.pinned, previous.pinned, false),
                   l.record_id IS NULL, l.method, l.other_record
            FROM source_record r
            LEFT JOIN link l ON l.district = r.district AND l.record_id = r.record_id
            LEFT JOIN LATERAL (
                SELECT pl.resident_id, pl.pinned FROM source_record p JOIN link pl USING (district, record_id)
                WHERE p.district = \(district) AND p.system_id = r.system_id AND p.source_key = r.source_key AND NOT p.is_current
                    AND p.version < r.version
                ORDER BY p.version DESC LIMIT 1
            ) previous ON l.record_id IS NULL
            WHERE r.district = \(district) AND r.is_current AND (\(whole) OR r.record_id = ANY(\(ids)))
                AND coalesce(l.resident_id, previous.resident_id) IS NOT NULL
                -- A district's first run has no link to find: checked once, before any record is
                -- read (a third of a second of a first load, each record's lateral probe).
                AND EXISTS (SELECT 1 FROM link WHERE district = \(district))
            """
        ) {
            var cells = RowReader(row)
            let (record, resident, pinned, inherited) = (try cells.int64(), try cells.int64(), try cells.bool(), try cells.bool())
            let (method, other) = (try cells.text(), try cells.optionalInt64())
            existing[record] = resident
            if let method { stored[record] = StoredLink(method: method, otherRecord: other) }
            if inherited { newVersions.insert(record) }
            if pinned { constraints.pinned[record] = resident }
            if pinned, inherited { inheritedPins.insert(record) }
        }
        for try await (a, b, same) in try await client.query(
            """
            SELECT record_a, record_b, same_person FROM pair_decision
            WHERE district = \(district) AND (\(whole) OR (record_a = ANY(\(ids)) AND record_b = ANY(\(ids))))
            """
        ).decode((Int64, Int64, Bool).self) {
            if same { constraints.together.append((a, b)) } else { constraints.apart.append((a, b)) }
        }
        timer.lap("load links and decisions", rows: existing.count)
        progress?(RunProgress(.matching, done: nil, of: run.work.records.count))
        // In a scope of its own: past it, only `run` holds the results.
        let plan: ResidentPlan
        do {
            let match = await MatchEngine(parameters: parameters).match(
                run.work.records, constraints: constraints, context: run.work.context, blocking: run.work.blocking)
            run.work.blocking = nil
            run.result = match
            plan = ResidentPlan(
                clusters: match.clusters, existing: existing, pinned: constraints.pinned,
                identified: Set(run.work.records.lazy.filter { $0.nationalID != nil }.map(\.id)))
            timer.lap("score and cluster", rows: match.candidatePairs)
            summary.records = run.work.records.count
            summary.candidatePairs = match.candidatePairs
            summary.pairsByBlockingKey = match.pairsByBlockingKey
            summary.reviewItems = match.review.count
            summary.residents = match.clusters.count
            summary.newResidents = plan.newClusters.count
            summary.merges = plan.merges.count
            summary.splits = plan.splits.count
            summary.relinked = plan.relinked(match.clusters, existing: existing)
            if dryRun { return summary }
        }
        progress?(RunProgress(.links, done: nil, of: run.work.records.count))
        summary.golden = try await write(
            plan, run: run, existing: existing, stored: stored, pinned: constraints.pinned,
            inheritedPins: inheritedPins, newVersions: newVersions, cause: cause, parametersVersion: version, client: client)
        timer.lap("write")
        return summary
    }

    // MARK: Reading

    struct MatchState {
        var matchedWith: Int?
        var keyless: Bool
        var current: Int
    }

    func matchState(_ client: PostgresClient) async throws -> MatchState {
        var state = MatchState(matchedWith: nil, keyless: false, current: 0)
        for try await (matched, keyless, current) in try await client.query(
            """
            SELECT (SELECT matched_with_parameters FROM district_state WHERE district = \(district)),
                   EXISTS (SELECT 1 FROM source_record WHERE district = \(district) AND is_current AND match_keys IS NULL),
                   (SELECT count(*) FROM source_record WHERE district = \(district) AND is_current)
            """, logger: logger
        ).decode((Int?, Bool, Int).self) {
            state = MatchState(matchedWith: matched, keyless: keyless, current: current)
        }
        return state
    }

    func queuedRecords(_ client: PostgresClient) async throws -> [Int64] {
        var ids: [Int64] = []
        for try await id in try await client.query(
            "SELECT record_id FROM match_queue WHERE district = \(district) ORDER BY record_id", logger: logger
        ).decode(Int64.self) { ids.append(id) }
        return ids
    }

    private func wholeDistrict(
        _ client: PostgresClient, queued: [Int64], keyless: Bool, loaded: LoadedDistrict?
    ) async throws -> WorkSet {
        // Records a training loaded moments ago stand for the district: reading again would
        // differ only by a concurrent ingest's rows, and those wait in the queue for the next run
        // (the queue was read before the training).
        let (records, keys) = if let loaded { (loaded.records, loaded.keys) } else { try await loadRecords(client, ids: nil) }
        return WorkSet(
            records: records, context: MatchEngine.Context(), queued: queued, whole: true,
            keyless: keyless ? records.filter { keys[$0.id] == nil } : [], blocking: loaded?.blocking)
    }

    /// The queued records, the current records sharing a blocking key with them (blocks the
    /// district holds too many of are left out, as a whole run would), and every record of the
    /// residents those belong to; with the district-wide sizes and frequencies of their keys.
    /// Keys with the birth date in them (`MatchEngine.birthDayKinds`) and the phone's are not
    /// stored: their blocks are found among the current records born on the day (`bornOn`),
    /// whole, and among those with the phone (`sharingPhones`).
    private func neighbourhood(of queued: [Int64], currentRecords: Int, _ client: PostgresClient) async throws -> WorkSet {
        // Staging leaves new keys in the GIN index's pending list, which every lookup scans in
        // full: merged into the index first, a lookup costs tens of microseconds, not a millisecond.
        // Only the lookups by key use that index: the reads by id, day and phone go on meanwhile
        // (a large load's leftover list takes 0.3–0.4 s to merge).
        async let pendingKeysMerged: Void = {
            _ = try await client.query("SELECT gin_clean_pending_list('source_record_match_keys'::regclass)", logger: logger)
        }()
        let (queuedRecords, queuedKeys) = try await loadRecords(client, ids: queued)
        let engine = MatchEngine()
        // The lookups below depend only on what was read before them: each on a connection of
        // its own, side by side (the server's cores and this process's decoding overlap).
        async let bornOnTheirDays = bornOn(Set(queuedRecords.compactMap { $0.birth?.iso }), client)
        async let phoneBlocks = sharingPhones(Set(queuedRecords.compactMap(\.phone)), client)
        // A resident's records: those of the queued records' residents now, the candidates' below.
        async let queuedMates = loadResidentMates(of: queued, client)
        try await pendingKeysMerged
        async let storedBlocks = blockMembers(Set(queuedKeys.values.flatMap { $0 }), client)
        var (records, keys) = (queuedRecords, queuedKeys)
        var members = try await storedBlocks
        var bornThatDay = try await bornOnTheirDays
        for (key, holders) in try await phoneBlocks { members[key] = holders }
        for record in records {
            let unstored = Self.unstoredKeys(of: record)
            keys[record.id, default: []] += unstored
            for key in unstored where MatchEngine.birthDayKinds.contains(MatchEngine.kind(ofStoredKey: key)) {
                members[key] = bornThatDay.members[key] ?? []
            }
        }
        var loaded = Set(records.map(\.id))
        // Candidates, then the residents they and the queued records belong to (a new version's
        // resident is its previous version's), then every current record of those residents.
        let candidateIDs = Array(
            Set(members.filter { $0.value.count <= engine.blockLimit(forStoredKey: $0.key) }.values.flatMap { $0 }).subtracting(loaded))
        async let candidateMates = loadResidentMates(of: candidateIDs, client)
        let (candidates, candidateKeys) = try await loadRecords(client, ids: candidateIDs)
        for record in candidates where loaded.insert(record.id).inserted {
            records.append(record)
            keys[record.id] = (candidateKeys[record.id] ?? []) + Self.unstoredKeys(of: record)
        }
        for (mates, mateKeys) in [try await queuedMates, try await candidateMates] {
            for record in mates where loaded.insert(record.id).inserted {
                records.append(record)
                keys[record.id] = (mateKeys[record.id] ?? []) + Self.unstoredKeys(of: record)
            }
        }
        // The district-wide frequencies of the loaded records' names and phones, read while the
        // remaining blocks are.
        let (names, phones) = (Set(records.compactMap(\.nameKey)), Set(records.compactMap(\.phone)))
        async let frequencies = termFrequencies(names: names, phones: phones, total: currentRecords, client)
        // The other keys matter only where they could make a pair: held by two loaded records or
        // more. A block one of them holds alone pairs nothing, oversized or not, so its size is
        // not asked for (about half the lookups of a 1 % feed).
        var holders: [Int64: Int] = [:]
        for recordKeys in keys.values {
            for key in Set(recordKeys) where members[key] == nil { holders[key, default: 0] += 1 }
        }
        let missing = Set(holders.filter { $0.value > 1 }.keys)
        let missingByDay = missing.filter { MatchEngine.birthDayKinds.contains(MatchEngine.kind(ofStoredKey: $0)) }
        let missingByPhone = missing.filter { MatchEngine.kind(ofStoredKey: $0) == MatchEngine.phoneKind }
        let missingPhones =
            missingByPhone.isEmpty
            ? [] : Set(records.compactMap { record in MatchEngine.phoneKey(of: record).flatMap { missingByPhone.contains($0) ? record.phone : nil } })
        let missingDays =
            missingByDay.isEmpty
            ? [] : Set(records.filter { !missingByDay.isDisjoint(with: keys[$0.id] ?? []) }.compactMap { $0.birth?.iso }).subtracting(bornThatDay.days)
        async let missingStored = blockMembers(missing.subtracting(missingByDay).subtracting(missingByPhone), client)
        async let missingPhoneBlocks = sharingPhones(missingPhones, client)
        async let missingDayBlocks = bornOn(missingDays, client)
        members.merge(try await missingStored) { $1 }
        members.merge(try await missingPhoneBlocks) { $1 }
        if !missingByDay.isEmpty {
            bornThatDay.merge(try await missingDayBlocks)
            for key in missingByDay { members[key] = bornThatDay.members[key] ?? [] }
        }
        // Blocking compares keys as text: the text of each stored key found oversized.
        let oversizedStored = Set(members.filter { $0.value.count > engine.blockLimit(forStoredKey: $0.key) }.keys)
        var oversized: Set<String> = []
        if !oversizedStored.isEmpty {
            for record in records {
                for (kind, key) in MatchEngine.blockingKeys(of: record)
                where oversizedStored.contains(MatchEngine.storedKey(kind: kind, key: key)) {
                    oversized.insert(key)
                }
            }
        }
        records.sort { $0.id < $1.id }
        return WorkSet(
            records: records,
            context: MatchEngine.Context(oversizedBlocks: oversized, frequencies: try await frequencies.countingAddresses(among: records)),
            queued: queued, whole: false)
    }

    /// A link row as the run decides it, put into text when it is sent (`cells`, in the order
    /// of the link statements' columns).
    struct LinkRow {
        var record: Int64
        var resident: Int64
        var method: String
        /// Weight, the other record, probability and comparisons number of the pair it rests on.
        var evidence: (weight: Double, other: Int64, probability: Double, comparisons: Int32)? = nil
        /// Pinned by a person, with their reason.
        var reason: String? = nil

        var cells: [String?] {
            [
                String(record), String(resident), method, evidence.map { String($0.weight) }, evidence.map { String($0.other) },
                evidence.map { String($0.probability) }, evidence.map { String($0.comparisons) }, reason == nil ? "false" : "true", reason,
            ]
        }
    }

    /// A record's keys that are not stored (`MatchEngine.lookupKeys`): its birth-day keys and
    /// its phone's.
    static func unstoredKeys(of record: MatchRecord) -> [Int64] {
        MatchEngine.birthDayKeys(of: record) + (MatchEngine.phoneKey(of: record).map { [$0] } ?? [])
    }

    /// The phone keys' blocks (`MatchEngine.phoneKey`): the current records with each phone, up
    /// to one past the block size matching skips, through the B-tree of phones.
    private func sharingPhones(_ phones: Set<String>, _ client: PostgresClient) async throws -> [Int64: [Int64]] {
        var members: [Int64: [Int64]] = [:]
        var keyOf: [String: Int64] = [:]
        for phone in phones {
            let key = MatchEngine.phoneKey(phone)
            keyOf[phone] = key
            members[key] = []
        }
        let limit = MatchEngine().maximumBlockSize + 1
        try await Self.inChunks(Array(phones)) { chunk in
            for try await (phone, id) in try await client.query(
                """
                SELECT w.phone, m.record_id FROM unnest(\(chunk)::text[]) AS w(phone)
                CROSS JOIN LATERAL (
                    SELECT r.record_id FROM source_record r
                    WHERE r.district = \(district) AND r.is_current AND r.phone IS NOT NULL AND r.phone = w.phone LIMIT \(limit)
                ) m
                """, logger: logger
            ).decode((String, Int64).self) {
                if let key = keyOf[phone] { members[key, default: []].append(id) }
            }
        }
        return members
    }

    /// `body` over the values in chunks of 5,000: the arrays one statement binds stay small.
    static func inChunks<Value>(_ values: [Value], _ body: ([Value]) async throws -> Void) async throws {
        for start in stride(from: 0, to: values.count, by: 5_000) {
            try await body(Array(values[start..<min(start + 5_000, values.count)]))
        }
    }

    /// The blocks of birth-day keys (`MatchEngine.birthDayKeys`) of the current records born on
    /// the days read: every holder of such a key is among them, so each block is whole.
    struct BirthDayBlocks {
        var days: Set<String> = []
        var members: [Int64: [Int64]] = [:]

        mutating func merge(_ other: BirthDayBlocks) {
            days.formUnion(other.days)
            members.merge(other.members) { $0 + $1 }
        }
    }

    /// The current records born on `days` (full ISO dates), read through the B-tree of birth
    /// dates, and the blocks of their birth-day keys.
    private func bornOn(_ days: Set<String>, _ client: PostgresClient) async throws -> BirthDayBlocks {
        var blocks = BirthDayBlocks(days: days)
        guard !days.isEmpty else { return blocks }
        let (records, _) = try await decodeRecords(
            client.query(
                """
                SELECT \(unescaped: Self.recordColumns(keys: "NULL::bigint[]")) FROM source_record r
                WHERE r.district = \(district) AND r.is_current AND r.birth_date IS NOT NULL AND r.birth_date = ANY(\(Array(days))::text[])
                """, logger: logger))
        for record in records {
            for key in Set(MatchEngine.birthDayKeys(of: record)) { blocks.members[key, default: []].append(record.id) }
        }
        return blocks
    }

    /// The current records holding each blocking key, up to one past the block size matching
    /// skips (a key on thousands of records costs no more than a small block).
    /// One GIN lookup per key: with a list of keys in one `&&`, the planner estimates a large
    /// share of the table and scans it all, comparing every row with the whole list.
    private func blockMembers(_ keys: Set<Int64>, _ client: PostgresClient) async throws -> [Int64: [Int64]] {
        var members: [Int64: [Int64]] = [:]
        for key in keys { members[key] = [] }
        let limit = MatchEngine().maximumBlockSize + 1
        try await Self.inChunks(Array(keys)) { chunk in
            for try await (key, id) in try await client.query(
                """
                SELECT w.k, m.record_id FROM unnest(\(chunk)::bigint[]) AS w(k)
                CROSS JOIN LATERAL (
                    SELECT r.record_id FROM source_record r
                    WHERE r.district = \(district) AND r.is_current AND r.match_keys @> ARRAY[w.k] LIMIT \(limit)
                ) m
                """, logger: logger
            ).decode((Int64, Int64).self) { members[key, default: []].append(id) }
        }
        return members
    }

    /// District-wide frequencies of the given names and phones among `total` current records.
    /// Names are counted through the index of stored keys: every current record holds its name's
    /// key (`MatchEngine.storedNameKey`), and the incremental path runs only when no current
    /// record is without keys. One lookup per name, as `blockMembers` does; the column
    /// comparison keeps a key shared by two hashes out of the count. Phones have a B-tree of
    /// their own, which every golden refresh needs (`GoldenRecords.placeholders`).
    private func termFrequencies(names: Set<String>, phones: Set<String>, total: Int, _ client: PostgresClient) async throws
        -> TermFrequencies
    {
        var nameCounts: [String: Int] = [:], phoneCounts: [String: Int] = [:]
        let (nameList, phoneList) = (Array(names), Array(phones))
        let nameKeys = nameList.map(MatchEngine.storedNameKey)
        for try await (name, count) in try await client.query(
            """
            SELECT w.name, c.n FROM unnest(\(nameKeys)::bigint[], \(nameList)::text[]) AS w(k, name)
            CROSS JOIN LATERAL (
                SELECT count(*) AS n FROM source_record r
                WHERE r.district = \(district) AND r.is_current AND r.match_keys @> ARRAY[w.k] AND coalesce(r.name_key, r.name) = w.name
            ) c
            WHERE c.n > 0
            """, logger: logger
        ).decode((String, Int).self) { nameCounts[name] = count }
        var holders: [String: Int] = [:]
        for try await (phone, count, names) in try await client.query(
            """
            SELECT phone, count(*), count(DISTINCT coalesce(name_key, name)) FROM source_record
            WHERE district = \(district) AND is_current AND phone IS NOT NULL AND phone = ANY(\(phoneList)) GROUP BY phone
            """, logger: logger
        ).decode((String, Int, Int).self) {
            phoneCounts[phone] = count
            holders[phone] = names
        }
        return TermFrequencies(names: nameCounts, phones: phoneCounts, phoneHolders: holders, total: total)
    }

    static let recordColumns = recordColumns(keys: "r.match_keys")

    /// The columns a `MatchRecord` is read from, then `keys` (a bigint[]).
    static func recordColumns(keys: String) -> String {
        """
        r.record_id, r.national_id, r.national_id_raw, r.name, coalesce(r.name_key, r.name), r.pinyin_key, r.sex, r.birth_date::text, r.phone,
        r.division_code, r.address, \(StoredPairs.valueSQL("r.fields", "'passport_no'")),
        \(StoredPairs.valueSQL("r.fields", "'social_security_no'")), \(keys)
        """
    }

    /// Current records: all of them (`ids` nil) or the ones given; with their stored lookup keys.
    /// Read whole, the district's keys serve only to tell which records have none: an empty list
    /// stands for "has keys" (the keys themselves were a few hundred MB of a first load's peak).
    func loadRecords(_ client: PostgresClient, ids: [Int64]?) async throws -> ([MatchRecord], [Int64: [Int64]]) {
        guard let ids else { return try await loadAllRecords(client) }
        // Put in order here: sorted by the server, a district's rows spilled to disk on the way.
        var (records, keys) = try await decodeRecords(
            client.query(
                """
                SELECT \(unescaped: Self.recordColumns) FROM source_record r
                WHERE r.district = \(district) AND r.is_current AND r.record_id = ANY(\(ids))
                """, logger: logger))
        records.sort { $0.id < $1.id }
        return (records, keys)
    }

    /// Every current record of the district, its ids read in parts side by side: decoding the
    /// rows, not the server's scan, bounds a read of them all (a first load's 246,624 records:
    /// one core decoding for over a second while the other did little).
    private func loadAllRecords(_ client: PostgresClient) async throws -> ([MatchRecord], [Int64: [Int64]]) {
        var bounds: (Int64?, Int64?) = (nil, nil)
        for try await range in try await client.query(
            "SELECT min(record_id), max(record_id) FROM source_record WHERE district = \(district) AND is_current", logger: logger
        ).decode((Int64?, Int64?).self) { bounds = range }
        guard let low = bounds.0, let high = bounds.1 else { return ([], [:]) }
        let parts = min(Int64(max(1, ProcessInfo.processInfo.activeProcessorCount)), (high - low) / max(wholeReadPartFrom, 1) + 1)
        let step = (high - low) / parts + 1
        let columns = Self.recordColumns(keys: "CASE WHEN r.match_keys IS NOT NULL THEN '{}'::bigint[] END")
        var records: [MatchRecord] = [], keys: [Int64: [Int64]] = [:]
        try await withThrowingTaskGroup(of: ([MatchRecord], [Int64: [Int64]]).self) { group in
            for part in 0..<parts {
                let first = low + part * step, last = min(high, low + (part + 1) * step - 1)
                group.addTask {
                    try await decodeRecords(
                        client.query(
                            """
                            SELECT \(unescaped: columns) FROM source_record r
                            WHERE r.district = \(district) AND r.is_current AND r.record_id BETWEEN \(first) AND \(last)
                            """, logger: logger))
                }
            }
            for try await (partRecords, partKeys) in group {
                records += partRecords
                keys.merge(partKeys) { kept, _ in kept }
            }
        }
        records.sort { $0.id < $1.id }
        return (records, keys)
    }

    /// Every current record of the residents the given records are (or, as a new version, were) linked to.
    /// Previous versions are looked up from each given record (the sort keeps the planner from
    /// turning the lateral into a join): statistics taken before a feed superseded its rows
    /// count none superseded, and a plan led by them probed the whole id list once per
    /// superseded row — 18 s for 1,243 changed rows among 9,236 at 200,000 residents, 0.05 s so.
    private func loadResidentMates(of ids: [Int64], _ client: PostgresClient) async throws -> ([MatchRecord], [Int64: [Int64]]) {
        try await decodeRecords(
            client.query(
                """
                WITH residents AS (
                    SELECT l.resident_id FROM link l WHERE l.district = \(district) AND l.record_id = ANY(\(ids))
                    UNION
                    SELECT pl.resident_id FROM source_record r
                    CROSS JOIN LATERAL (
                        SELECT p.record_id FROM source_record p
                        WHERE p.district = \(district) AND p.system_id = r.system_id AND p.source_key = r.source_key
                            AND NOT p.is_current AND p.version < r.version
                        ORDER BY p.version
                    ) p
                    JOIN link pl ON pl.district = \(district) AND pl.record_id = p.record_id
                    WHERE r.district = \(district) AND r.record_id = ANY(\(ids))
                )
                SELECT \(unescaped: Self.recordColumns) FROM residents x
                JOIN link l ON l.district = \(district) AND l.resident_id = x.resident_id
                JOIN source_record r ON r.district = l.district AND r.record_id = l.record_id AND r.is_current
                """, logger: logger))
    }

    private func decodeRecords(_ rows: PostgresRowSequence) async throws -> ([MatchRecord], [Int64: [Int64]]) {
        var records: [MatchRecord] = []
        var keys: [Int64: [Int64]] = [:]
        for try await row in rows {
            // In the order of `recordColumns`.
            var cells = RowReader(row)
            let id = try cells.int64()
            records.append(
                MatchRecord(
                    storedID: id, nationalID: try cells.text(), nationalIDRaw: try cells.text(), name: try cells.text(),
                    nameKey: try cells.text(), pinyinKey: try cells.text(), sex: try cells.text(), birthDate: try cells.text(),
                    phone: try cells.text(), division: try cells.text(), address: try cells.text(),
                    identifiers: MatchRecord.otherIdentifiers(passport: try cells.text(), socialSecurity: try cells.text())))
            if let stored = try cells.decode([Int64]?.self) { keys[id] = stored }
        }
        return (records, keys)
    }

    // MARK: Writing

    /// What a record's link says now, as far as deciding whether it must be written again.
    struct StoredLink {
        var method: String
        /// The record its explanation names (nil for a record alone).
        var otherRecord: Int64?
    }

    private func write(
        _ plan: ResidentPlan, run: HeldRun, existing: [Int64: Int64], stored: [Int64: StoredLink],
        pinned: [Int64: Int64], inheritedPins: Set<Int64>, newVersions: Set<Int64>, cause: ChangeCause, parametersVersion: Int,
        client: PostgresClient
    ) async throws -> GoldenRecords.Summary {
        let whole = run.work.whole
        let recordCount = run.work.records.count
        let dequeued = run.work.queued.count
        // Each record's explanation: the strongest edge that brought it into its cluster.
        // (The results are read through `run` each time: a local copy would hold them through
        // the golden refresh.)
        var best: [Int64: PairScore] = [:]
        for link in run.result?.links ?? [] {
            for id in [link.a, link.b] where (best[id]?.probability ?? -1, best[id]?.weight ?? -.infinity) < (link.probability, link.weight) {
                best[id] = link
            }
        }
        return try await client.withConnection { connection in
            do {
                var timer = PhaseTimer("match write", logger: logger)
                let summary = try await connection.transaction(logger: logger) {
                    try await connection.lockDistrict(district, logger: logger)
                    // New residents for clusters with none: their ids only. The golden refresh
                    // inserts each whole; inserted empty here, each was written twice (a dead
                    // version and index entries per new resident of a first load).
                    var clusterResident = plan.assignments
                    var freshResidents: Set<Int64> = []
                    let needed = plan.newClusters.count
                    if needed > 0 {
                        var fresh: [Int64] = []
                        // The sequence found once (OFFSET 0 keeps the planner from putting the
                        // lookup back into every row): looked up by name for each id, the 147,002
                        // of a first load took 0.45 s, against 0.05 s.
                        for try await id in try await connection.query(
                            """
                            SELECT nextval(s.sequence)
                            FROM (SELECT pg_get_serial_sequence('resident', 'resident_id')::regclass AS sequence OFFSET 0) s,
                                 generate_series(1, \(needed)::bigint)
                            """, logger: logger
                        ).decode(Int64.self) { fresh.append(id) }
                        for (cluster, id) in zip(plan.newClusters, fresh.sorted()) { clusterResident[cluster] = id }
                        freshResidents = Set(fresh)
                        timer.lap("new resident ids", rows: needed)
                    }
                    var clusterOf: [Int64: Int] = [:]
                    for (index, cluster) in (run.result?.clusters ?? []).enumerated() { for record in cluster { clusterOf[record] = index } }
                    // Links: one row per record whose link is new or no longer holds, sent as arrays, applied set-based.
                    // Each names its comparisons by their number in the district (`LinkComparisons`).
                    var comparisons = try await LinkComparisons.numbering(best.values, district: district, on: connection, logger: logger)
                    var copy = StagedRows(columns: 9)
                    // Sent in parts: the links of a whole district in one statement were a few
                    // hundred MB of a first load's peak (the rows, then their encoding).
                    func flush() async throws {
                        guard !copy.isEmpty else { return }
                        try await connection.query(
                            """
                            INSERT INTO link (district, record_id, resident_id, method, weight, other_record, probability, comparisons_id,
                                              decided_by, pinned, reason)
                            SELECT \(district), s.record_id::bigint, s.resident_id::bigint, s.method, s.weight::double precision,
                                s.other_record::bigint, s.probability::real, s.comparisons_id::integer, \(actor), s.pinned::boolean, s.reason
                            FROM unnest(\(copy.column(0))::text[], \(copy.column(1))::text[], \(copy.column(2))::text[], \(copy.column(3))::text[],
                                        \(copy.column(4))::text[], \(copy.column(5))::text[], \(copy.column(6))::text[], \(copy.column(7))::text[],
                                        \(copy.column(8))::text[])
                                AS s(record_id, resident_id, method, weight, other_record, probability, comparisons_id, pinned, reason)
                            ON CONFLICT (district, record_id) DO UPDATE SET resident_id = excluded.resident_id, method = excluded.method,
                                weight = excluded.weight, other_record = excluded.other_record, probability = excluded.probability,
                                comparisons_id = excluded.comparisons_id, decided_by = excluded.decided_by,
                                -- The column's default: Citus allows no volatile function here.
                                decided_at = excluded.decided_at
                            WHERE NOT link.pinned
                                AND (link.resident_id, link.method, link.weight, link.other_record, link.probability, link.comparisons_id)
                                    IS DISTINCT FROM (excluded.resident_id, excluded.method, excluded.weight, excluded.other_record,
                                                      excluded.probability, excluded.comparisons_id)
                            """, logger: logger)
                        copy = StagedRows(columns: 9)
                    }
                    // A record with no link row yet (new, or a new version of a row) cannot meet
                    // one: its link is copied in, not upserted (14 µs a row as an upsert; most
                    // links of a first load or a large feed). The links were read before the
                    // district lock was taken, so another session (an entry) may have linked one
                    // since: those are looked up again under the lock and upserted.
                    var unlinked: Set<Int64> = []
                    for cluster in run.result?.clusters ?? [] {
                        for record in cluster where existing[record] == nil || newVersions.contains(record) { unlinked.insert(record) }
                    }
                    if !unlinked.isEmpty {
                        for try await record in try await connection.query(
                            "SELECT record_id FROM link WHERE district = \(district) AND record_id = ANY(\(Array(unlinked)))", logger: logger
                        ).decode(Int64.self) { unlinked.remove(record) }
                    }
                    // Copied in after the loop, in one COPY whose rows are put into text while the
                    // server stores the ones before (`copyInParts`): kept until then as numbers.
                    var fresh: [LinkRow] = []
                    func add(_ row: LinkRow) {
                        if unlinked.contains(row.record) { fresh.append(row) } else { copy.row(row.cells) }
                    }
                    // Records that are new or change resident: only they can bring a resident new identifiers.
                    // Each with the resident its link names.
                    var moved: [(record: Int64, resident: Int64)] = []
                    var movedToFresh: [(record: Int64, resident: Int64)] = []
                    for (clusterIndex, cluster) in (run.result?.clusters ?? []).enumerated() {
                        guard let resident = clusterResident[clusterIndex] else { continue }
                        for record in cluster where existing[record] != resident || newVersions.contains(record) {
                            let linked = pinned[record] ?? resident
                            if freshResidents.contains(linked) {
                                movedToFresh.append((record, linked))
                            } else {
                                moved.append((record, linked))
                            }
                        }
                        for record in cluster {
                            if inheritedPins.contains(record), let pinnedResident = pinned[record] {
                                // A person's decision carries over to the row's new version.
                                add(LinkRow(record: record, resident: pinnedResident, method: "manual", reason: "carried over from the previous version of this row"))
                                continue
                            }
                            guard pinned[record] == nil else { continue }
                            let edge = best[record]
                            let method = edge.map { $0.method.rawValue } ?? "new"
                            // A link that still holds — same resident, same method, the record it
                            // names still the same person's — keeps the evidence it was decided on
                            // and is not written again: a whole run rewrites only what moved.
                            if let link = stored[record], existing[record] == resident, !newVersions.contains(record), link.method == method,
                                link.otherRecord.map({ clusterOf[$0] == clusterIndex }) ?? (edge == nil)
                            {
                                continue
                            }
                            add(
                                LinkRow(
                                    record: record, resident: resident, method: method,
                                    evidence: edge.map { ($0.weight, $0.a == record ? $0.b : $0.a, $0.probability, comparisons.number(of: $0)) }))
                        }
                        if copy.count >= 50_000 { try await flush() }
                    }
                    // A first load's new residents: the refresh's slices of them are read on
                    // another connection, the first while this one writes the links and identifiers.
                    let readAhead =
                        existing.isEmpty && freshResidents.count >= readAheadFrom
                        ? FreshSliceReadAhead(
                            golden, client: client, fresh: freshResidents, records: movedToFresh, waitsToBegin: readAheadWaitsToBegin) : nil
                    try await flush()
                    try await connection.copyInParts(
                        fresh.count, into: "link",
                        columns: [
                            "district", "record_id", "resident_id", "method", "weight", "other_record", "probability", "comparisons_id", "pinned",
                            "reason", "decided_by",
                        ], logger: logger
                    ) { range, text in
                        for row in fresh[range] { text.row([district] + row.cells + [actor]) }
                    }
                    try await comparisons.store(district: district, on: connection, logger: logger)
                    timer.lap("links", rows: recordCount)
                    // The columns the next statements join and filter on: statistics of the evidence
                    // would cost time per feed and guide no plan.
                    try await connection.analyzeAfterBulk(
                        ["link (district, record_id, resident_id)"], rows: recordCount - existing.count,
                        logger: logger)
                    // Every identifier a resident is known by, with the record it came from. A
                    // resident made in this transaction has none yet, and no other session can give
                    // it one: its records' identifiers need no conflict check (most of a first load).
                    // A system's own key is not among them: its record and link already say whose
                    // it is (a third of these rows once, read by nothing).
                    // The run holds each record's identifiers (`MatchRecord`, read from the same
                    // columns): sent as arrays, not found again by joining links to records. A
                    // resident's identifier is sent once, with the first of its records giving it.
                    let held = run.work.records
                    func heldRecord(_ id: Int64) -> MatchRecord? {
                        var (low, high) = (0, held.count)
                        while low < high {
                            let middle = (low + high) / 2
                            if held[middle].id < id { low = middle + 1 } else { high = middle }
                        }
                        return low < held.count && held[low].id == id ? held[low] : nil
                    }
                    for (records, onConflict) in [(movedToFresh, ""), (moved, "ON CONFLICT DO NOTHING")] where !records.isEmpty {
                        var residents: [Int64] = [], schemes: [String] = [], values: [String] = [], sources: [Int64] = []
                        var current: Int64?
                        var given: [(scheme: String, value: String)] = []
                        for (record, resident) in records.sorted(by: { ($0.resident, $0.record) < ($1.resident, $1.record) }) {
                            if resident != current {
                                current = resident
                                given.removeAll(keepingCapacity: true)
                            }
                            guard let match = heldRecord(record) else { continue }
                            for identifier in Self.identifiers(of: match) where !given.contains(where: { $0 == identifier }) {
                                given.append(identifier)
                                residents.append(resident)
                                schemes.append(identifier.scheme)
                                values.append(identifier.value)
                                sources.append(record)
                            }
                        }
                        guard !residents.isEmpty else { continue }
                        if onConflict.isEmpty {
                            // New residents' (most of a first load): copied in, nothing to check.
                            try await connection.copyInParts(
                                residents.count, into: "resident_identifier", columns: ["district", "resident_id", "scheme", "value", "record_id"],
                                logger: logger
                            ) { range, text in
                                for index in range {
                                    text.row([district, String(residents[index]), schemes[index], values[index], String(sources[index])])
                                }
                            }
                            continue
                        }
                        try await connection.query(
                            """
                            INSERT INTO resident_identifier (district, resident_id, scheme, value, record_id)
                            SELECT \(district), i.resident_id, i.scheme, i.value, i.record_id
                            FROM unnest(\(residents)::bigint[], \(schemes)::text[], \(values)::text[], \(sources)::bigint[])
                                AS i(resident_id, scheme, value, record_id)
                            \(unescaped: onConflict)
                            """, logger: logger)
                    }
                    timer.lap("link statistics, identifiers", rows: moved.count + movedToFresh.count)
                    // Merges: the younger resident retires, pointing at the survivor.
                    for merge in plan.merges {
                        try await connection.query(
                            """
                            UPDATE resident SET status = 'retired', merged_into = \(merge.surviving), updated_at = now()
                            WHERE district = \(district) AND resident_id = \(merge.retired) AND status = 'active'
                            """, logger: logger)
                    }
                    // Review: uncertain pairs against the resident of the other record (written
                    // after the refresh, with the events); decided pairs are not asked again.
                    var review = StagedRows(columns: 4)
                    for pair in run.result?.review ?? [] {
                        guard let cluster = clusterOf[pair.b], let resident = clusterResident[cluster] else { continue }
                        review.row([String(pair.a), String(resident), String(pair.probability), MatchExplanation(pair, record: pair.a).json])
                    }
                    // Golden records of every resident whose records changed, in this transaction.
                    var causes: [Int64: ChangeCause] = [:]
                    for merge in plan.merges { causes[merge.surviving] = ChangeCause("merge", ref: "resident:\(merge.retired)") }
                    for split in plan.splits {
                        guard let newID = clusterResident[split.cluster] else { continue }
                        causes[split.original] = ChangeCause("split", ref: "resident:\(newID)")
                        causes[newID] = ChangeCause("split", ref: "resident:\(split.original)")
                    }
                    try await finishRun(connection, work: run.work, parametersVersion: parametersVersion)
                    timer.lap("merges, review, queue", rows: recordCount)
                    // The records, scores and clusters are not needed past this point: let them go
                    // before the golden refresh loads its own.
                    run.work.records = []
                    run.work.keyless = []
                    run.result = nil
                    best = [:]
                    clusterOf = [:]
                    // Only the residents this run could have changed: before and after.
                    let touched = whole ? nil : Array(Set(existing.values).union(clusterResident.values).subtracting(freshResidents)).sorted()
                    let summary: GoldenRecords.Summary
                    do {
                        summary = try await golden.refresh(
                            on: connection, cause: cause, actor: actor, causes: causes, residents: touched, fresh: freshResidents,
                            readAhead: readAhead)
                    } catch {
                        await readAhead?.finish()
                        throw error
                    }
                    // Its connection let go, waited for only if the reads began.
                    await readAhead?.finish()
                    // Events and review items name residents the refresh has just inserted.
                    try await writeEvents(plan, clusterResident: clusterResident, review: review, on: connection)
                    return summary
                }
                // A queue drained of many rows gives its pages back now (VACUUM truncates empty
                // ones) rather than holding a first load's worth of dead rows until autovacuum
                // comes by; its key index, which VACUUM never shrinks, is rebuilt from the few
                // rows left (a first load left 8 MB, 32 bytes a record, of an empty index). The
                // rebuild waits for no one: a writer holding the queue skips it this time.
                // Committed already: a failure here costs space, not the run.
                if dequeued >= vacuumQueueAfter {
                    do {
                        try await connection.query("VACUUM match_queue", logger: logger)
                        try await connection.transaction(logger: logger) {
                            try await connection.query("SET LOCAL lock_timeout = '200ms'", logger: logger)
                            try await connection.query("REINDEX TABLE match_queue", logger: logger)
                        }
                    } catch {
                        logger.warning("tidying the match queue failed", metadata: ["error": "\(PostgresErrorText.summary(error).en)"])
                    }
                }
                return summary
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

    /// A run's merges and splits as resident events, and its review items.
    private func writeEvents(
        _ plan: ResidentPlan, clusterResident: [Int: Int64], review: StagedRows, on connection: PostgresConnection
    ) async throws {
        for merge in plan.merges {
            try await connection.query(
                """
                INSERT INTO resident_event (district, kind, surviving_id, other_id, moved_records, actor)
                VALUES (\(district), 'merge', \(merge.surviving), \(merge.retired), \(merge.moved), \(actor))
                """, logger: logger)
        }
        for split in plan.splits {
            guard let newID = clusterResident[split.cluster] else { continue }
            try await connection.query(
                """
                INSERT INTO resident_event (district, kind, surviving_id, other_id, moved_records, actor)
                VALUES (\(district), 'split', \(split.original), \(newID), \(split.moved), \(actor))
                """, logger: logger)
        }
        guard !review.isEmpty else { return }
        try await connection.query(
            """
            INSERT INTO review_item (district, record_id, candidate_resident_id, weight, explanation)
            SELECT \(district), s.record_id::bigint, s.resident_id::bigint, s.weight::double precision, s.explanation::jsonb
            FROM unnest(\(review.column(0))::text[], \(review.column(1))::text[], \(review.column(2))::text[], \(review.column(3))::text[])
                 AS s(record_id, resident_id, weight, explanation)
            JOIN link l ON l.district = \(district) AND l.record_id = s.record_id::bigint AND l.resident_id <> s.resident_id::bigint
            ON CONFLICT (district, record_id, candidate_resident_id) DO NOTHING
            """, logger: logger)
    }

    /// Takes what this run matched off the queue, fills lookup keys of rows staged before they
    /// existed, and records the parameters the links were made with.
    private func finishRun(_ connection: PostgresConnection, work: WorkSet, parametersVersion: Int) async throws {
        // In a whole run every queued record is among the records too: each id sent once.
        let matched = Array(Set(work.records.map(\.id)).union(work.queued))
        try await connection.query(
            "DELETE FROM match_queue WHERE district = \(district) AND record_id = ANY(\(matched))", logger: logger)
        if !work.keyless.isEmpty {
            let ids = work.keyless.map(\.id)
            let keys = work.keyless.map { PostgresArrayText.literal(MatchEngine.lookupKeys(of: $0)) }
            try await connection.query(
                """
                UPDATE source_record r SET match_keys = s.match_keys::bigint[]
                FROM unnest(\(ids)::bigint[], \(keys)::text[]) AS s(record_id, match_keys)
                WHERE r.district = \(district) AND r.record_id = s.record_id
                """, logger: logger)
        }
        try await connection.query(
            """
            INSERT INTO district_state (district, matched_with_parameters) VALUES (\(district), \(parametersVersion))
            ON CONFLICT (district) DO UPDATE SET matched_with_parameters = excluded.matched_with_parameters
            """, logger: logger)
    }
}

extension ResidentLinker {
    /// The identifiers a resident is known by from this record (`resident_identifier`): its valid
    /// citizen ID, passport and social-security numbers, as `source_record` holds them.
    static func identifiers(of record: MatchRecord) -> [(scheme: String, value: String)] {
        var result: [(String, String)] = []
        if let id = record.nationalID, !id.isEmpty { result.append(("cn_citizen_id", id)) }
        for scheme in ["passport", "social_security"] {
            if let value = record.identifiers[scheme], !value.isEmpty { result.append((scheme, value)) }
        }
        return result
    }
}

extension MatchRecord {
    /// A record from the matching columns `source_record` stores: staging computes a row's lookup
    /// keys from this very record, and `ResidentLinker` matches it, so both see the same values.
    init(
        storedID id: Int64, nationalID: String?, nationalIDRaw: String?, name: String?, nameKey: String?, pinyinKey: String?, sex: String?,
        birthDate: String?, phone: String?, division: String?, address: String?, identifiers: [String: String]
    ) {
        self.init(
            id: id, nationalID: nationalID, nationalIDRaw: nationalIDRaw.map(CitizenID.clean), nameKey: nameKey,
            pinyinKey: pinyinKey, sex: sex.flatMap(Sex.init(rawValue:)),
            phone: phone, division: division, address: address, identifiers: identifiers,
            nameParts: name.map(NameNormalizer.parts(ofDisplay:)))
        setBirth(iso: birthDate)
    }
}
