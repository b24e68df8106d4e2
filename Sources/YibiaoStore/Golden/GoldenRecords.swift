import Foundation
import Crypto
public import Logging
public import PostgresNIO
import YibiaoAdapters
import YibiaoCore
public import YibiaoMerge

/// Why a golden record changed, as the change log records it.
public struct ChangeCause: Sendable, Hashable {
    /// batch, entry, link, split, merge, resolution
    public let kind: String
    public let ref: String?

    public init(_ kind: String, ref: String? = nil) {
        self.kind = kind
        self.ref = ref
    }

    public static func batch(_ id: Int64) -> ChangeCause { ChangeCause("batch", ref: "batch:\(id)") }
    public static let link = ChangeCause("link")
}

/// Keeps golden records in step with their inputs. A resident whose current records, overrides
/// or rules differ from what its golden record was computed from is merged again (in memory,
/// `YibiaoMerge`), and only what changed is written: the golden values, the resident's
/// columns, conflicts, households and one change-log entry per resident whose values changed, all
/// in the caller's transaction. Re-running is harmless: unchanged inputs are not even loaded.
public struct GoldenRecords: Sendable {
    public struct Summary: Sendable, Hashable {
        public var recomputed = 0
        public var changed = 0
        public var retired = 0
        public var entries = 0
        public var conflictsRaised = 0
        public var conflictsSuperseded = 0
        /// Per field: golden values changed, conflicts raised, conflicts settled by the sources.
        public var valuesChangedByField: [String: Int] = [:]
        public var conflictsRaisedByField: [String: Int] = [:]
        public var conflictsSupersededByField: [String: Int] = [:]
        /// Wall time of the refresh, and of its change-log appends alone — the part it waited
        /// for: a slice's append runs while the next slice merges.
        public var elapsed: Duration = .zero
        public var appendElapsed: Duration = .zero
        /// Per receiving system: what the changes owe it (`OutboxWriter`), and its wall time.
        public var outbox: [String: OutboxWriter.Receipt] = [:]
        public var outboxElapsed: Duration = .zero
        /// Slices of new residents read on another connection (`FreshSliceReadAhead`).
        public var slicesReadAhead = 0
    }

    public let district: String
    public let merger: GoldenRecordMerger
    /// Part of every resident's input digest: other rules, other golden records.
    public let rulesFingerprint: String
    public let logger: Logger
    /// Residents loaded and merged at a time by a refresh (every source value of a first load's
    /// residents at once was several hundred MB of its peak).
    public var loadSlice = 25_000
    /// Hears the refresh's stages: residents merged so far, then households, then the outbox.
    public var progress: RunProgressObserver?

    public init(district: String, rules: SurvivorshipRules, logger: Logger) {
        self.logger = logger
        self.district = district
        self.merger = GoldenRecordMerger(rules: rules)
        self.rulesFingerprint = SHA256.hash(data: Data(rules.canonicalText.utf8)).hexString
    }

    /// Recomputes every stale resident of the district (or only `residents`) inside the caller's
    /// open transaction, which must hold the district lock (`PostgresConnection.lockDistrict`).
    /// `fresh`: ids a matching run reserved for new residents and linked records to; each is
    /// inserted here with its golden values (no row of theirs exists yet). `readAhead`: slices
    /// of them read on another connection, the first already begun (`FreshSliceReadAhead`).
    /// With `dryRun`, computes the same and writes nothing (`yibiao rules diff`).
    @discardableResult
    public func refresh(
        on connection: PostgresConnection, cause: ChangeCause, actor: String,
        causes: [Int64: ChangeCause] = [:], residents: [Int64]? = nil, fresh: Set<Int64> = [], readAhead: FreshSliceReadAhead? = nil,
        dryRun: Bool = false
    ) async throws -> Summary {
        let started = ContinuousClock.now
        var timer = PhaseTimer("golden records", logger: logger)
        // Other rules than the district's golden records were made with: all of them, once.
        let rulesChanged = try await rulesChanged(connection)
        var stale = try await staleResidents(connection, only: rulesChanged ? nil : residents)
        if !fresh.isEmpty {
            // Their digests are computed as their slices' records load (`loadObservations`).
            stale += fresh.map { StaleResident(id: $0, mergedInto: nil, hash: "") }
            stale.sort { $0.id < $1.id }
        }
        if rulesChanged, !dryRun { try await recordRules(connection) }
        var summary = Summary()
        guard !stale.isEmpty else {
            summary.elapsed = ContinuousClock.now - started
            return summary
        }
        summary.recomputed = stale.count
        timer.lap("stale residents", rows: stale.count)
        let active = stale.filter { $0.mergedInto == nil }
        progress?(RunProgress(.goldenRecords, done: 0, of: active.count))
        let open = try await loadOpenConflicts(connection, residents: stale.map(\.id))
        // Read once for the records, the change log and the outbox of this refresh.
        let numbers = try await FieldNumbers.ensure(district: district, on: connection, logger: logger)
        var hashes: [Int64: String] = [:]
        for resident in active { hashes[resident.id] = resident.hash }
        // Residents are loaded and merged a slice at a time (`loadSlice`). Past one slice, the
        // district's shared phones are read once for all of them.
        let sliced = active.count > loadSlice
        let slices = stride(from: 0, to: active.count, by: max(loadSlice, 1)).map {
            Array(active[$0..<min($0 + max(loadSlice, 1), active.count)])
        }
        // Slices of new residents only are read on the read-ahead's connection; the first was
        // being read while the run wrote its links. The rest are, if the first was.
        var ahead: AheadSlice?
        if let readAhead, let first = slices.first?.map(\.id), first.allSatisfy(fresh.contains) {
            ahead = await readAhead.slice(first, sliced: sliced)
        }
        let reader = ahead == nil ? nil : readAhead
        summary.slicesReadAhead = ahead == nil ? 0 : 1
        let everywhere: Placeholders?
        if !sliced {
            everywhere = nil
        } else if let read = ahead?.everywhere {
            everywhere = read
        } else {
            everywhere = try await self.placeholders(connection, everywhere: true)
        }
        var placeholders = everywhere ?? Placeholders()
        // Residents whose household could have changed: a phone number entered moves nobody.
        var householdResidents: [Int64] = []
        var owing: [OutboxWriter.Cause] = []
        // What the outbox looks at (`OutboxWriter.mayBeOwed`): the receiving systems' fields,
        // read before the merge, and the changed residents' records that hold other values.
        let receiving = dryRun ? [:] : try await OutboundSystems(district: district, logger: logger).load(on: connection)
        let outbound = receiving.mapValues(\.mapper.fields)
        var mayBeOwed: [Int64] = []
        // Each slice's conflicts and change-log entries are written once it is merged: what a
        // slice changed is never held for the whole district (it was most of a first load's peak).
        // Counted here (`settle`); written (`store`) while the next slice merges.
        func settle(_ residents: [StaleResident], merged: [Int64: MergedResident], latestBatch: [Int64: Int64]) -> Settled {
            var residentRows = StagedRows(columns: Self.residentColumns)
            var closeRows = StagedRows(columns: 2), raiseRows = StagedRows(columns: 4)
            var entries: [ChangeLog.Entry] = []
            for resident in residents {
                // A batch's change is logged under the batch that staged the resident's newest record:
                // after a crash, the batch that staged it, not the run that caught up.
                let entryCause =
                    causes[resident.id]
                    ?? (cause.kind == "batch" ? latestBatch[resident.id].map(ChangeCause.batch) : nil) ?? cause
                if let survivor = resident.mergedInto {
                    // Retired into another resident: its conflicts are the survivor's now.
                    summary.retired += 1
                    for field in (open[resident.id] ?? [:]).keys.sorted() { closeRows.row([String(resident.id), field]) }
                    residentRows.row(Self.residentRow(resident.id, golden: nil, changed: false, hash: resident.hash, numbers: numbers))
                    entries.append(
                        ChangeLog.Entry(
                            residentID: resident.id, cause: "merge", causeRef: "resident:\(survivor)", actor: actor,
                            changes: [
                                "status": .init(old: "active", new: "retired"),
                                "merged_into": .init(old: nil, new: String(survivor)),
                            ]))
                    continue
                }
                guard let diff = merged[resident.id] else { continue }
                for field in diff.supersede { closeRows.row([String(resident.id), field]) }
                for conflict in diff.raise {
                    raiseRows.row([String(resident.id), conflict.field, conflict.reason.rawValue, JSONText.encode(conflict.candidates)])
                }
                summary.conflictsRaised += diff.raise.count
                summary.conflictsSuperseded += diff.supersede.count
                for field in diff.changes.keys { summary.valuesChangedByField[field, default: 0] += 1 }
                for conflict in diff.raise { summary.conflictsRaisedByField[conflict.field, default: 0] += 1 }
                for field in diff.supersede { summary.conflictsSupersededByField[field, default: 0] += 1 }
                if !diff.changes.isEmpty {
                    summary.changed += 1
                    mayBeOwed += diff.mayBeOwed
                    if diff.changes.keys.contains(where: Households.inputs.contains) { householdResidents.append(resident.id) }
                    entries.append(
                        ChangeLog.Entry(
                            residentID: resident.id, cause: entryCause.kind, causeRef: entryCause.ref, actor: actor,
                            changes: diff.changes))
                }
            }
            return Settled(residents: residentRows, close: closeRows, raise: raiseRows, entries: entries)
        }
        /// Writes what `settle` counted.
        @Sendable func store(_ settled: Settled) async throws -> Stored {
            guard !dryRun else { return Stored(owing: [], entries: settled.entries.count, elapsed: .zero) }
            try await write(connection, residents: settled.residents, close: settled.close, raise: settled.raise)
            let appending = ContinuousClock.now
            let sequences = try await ChangeLog.append(settled.entries, district: district, numbers: numbers, on: connection, logger: logger)
            let owing = zip(settled.entries, sequences).compactMap { entry, seq in
                entry.cause == "merge"
                    ? nil : OutboxWriter.Cause(seq: seq, residentID: entry.residentID, kind: entry.cause, changed: Set(entry.changes.keys))
            }
            return Stored(owing: owing, entries: sequences.count, elapsed: ContinuousClock.now - appending)
        }
        func count(_ stored: Stored, waited: Duration? = nil) {
            owing += stored.owing
            summary.entries += stored.entries
            summary.appendElapsed += waited ?? stored.elapsed
        }
        // While a slice merges and is written, the next slice's inputs load: the server reads
        // them while this process merges (a small gain: decoding them needs the same cores).
        // The queries queue on the one connection; a slice's inputs are records, links,
        // overrides and its own residents' stored values, which no other slice's writes touch.
        var inputs: SliceInputs? = ahead?.inputs
        ahead = nil // not held beside the slices that follow
        if inputs == nil, let first = slices.first {
            inputs = try await sliceInputs(connection, first.map(\.id), fresh: fresh, everywhere: everywhere, numbers: numbers)
        }
        timer.lap("load records, placeholders, updates not applied, overrides, stored values", rows: slices.first?.count ?? 0)
        var done = 0
        // The previous slice's conflicts and log, written while this one merges: the server
        // stores them while this process merges (the queries queue on the one connection, and no
        // slice's writes touch another slice's residents).
        var unstored: Settled?
        for (index, residents) in slices.enumerated() {
            guard let current = inputs else { break }
            let slice = residents.map(\.id)
            let following = index + 1 < slices.count ? slices[index + 1].map(\.id) : nil
            async let next: (inputs: SliceInputs, readAhead: Bool)? = {
                guard let following else { return nil }
                if let reader, following.allSatisfy(fresh.contains), let read = await reader.slice(following, sliced: sliced) {
                    return (read.inputs, true)
                }
                return (try await sliceInputs(connection, following, fresh: fresh, everywhere: everywhere, numbers: numbers), false)
            }()
            let previous = unstored
            async let previousStored: Stored? = {
                guard let previous else { return nil }
                return try await store(previous)
            }()
            placeholders = current.placeholders
            for (resident, digest) in current.freshDigests { hashes[resident] = digest }
            // The pure merge of the slice's residents, and their rows for the database, split
            // across cores; each part's rows are written as soon as they are merged.
            let merged = try await Self.mergeInParallel(
                slice, merger: merger, observations: current.observations, overrides: current.overrides, stored: current.stored, open: open,
                hashes: hashes, fresh: fresh, numbers: numbers, outbound: outbound
            ) { rows in
                if !dryRun { try await writeResidents(rows, connection) }
            }
            timer.lap("merge", rows: slice.count)
            unstored = settle(residents, merged: merged, latestBatch: current.latestBatch)
            let waiting = ContinuousClock.now
            if let stored = try await previousStored { count(stored, waited: ContinuousClock.now - waiting) }
            timer.lap("the previous slice's conflicts and change log", rows: previous?.entries.count ?? 0)
            done += slice.count
            progress?(RunProgress(.goldenRecords, done: done, of: active.count))
            let loaded = try await next
            inputs = loaded?.inputs
            if loaded?.readAhead == true { summary.slicesReadAhead += 1 }
            if following != nil { timer.lap("rest of the next slice's loading", rows: inputs?.observations.count ?? 0) }
        }
        if let last = unstored {
            count(try await store(last))
            timer.lap("the last slice's conflicts and change log", rows: last.entries.count)
        }
        let retired = stale.filter { $0.mergedInto != nil }
        count(try await store(settle(retired, merged: [:], latestBatch: [:])))
        if dryRun {
            summary.elapsed = ContinuousClock.now - started
            return summary
        }
        // The matching run analysed `resident` before its new residents were inserted here.
        try await connection.analyzeAfterBulk(["resident (district, resident_id, status)"], rows: fresh.count, logger: logger)
        progress?(RunProgress(.households))
        try await Households(district: district, logger: logger).update(connection, residents: householdResidents + retired.map(\.id), numbers: numbers, fresh: fresh)
        timer.lap("households", rows: householdResidents.count)
        let writingOutbox = ContinuousClock.now
        progress?(RunProgress(.outbox))
        summary.outbox = try await OutboxWriter(district: district, logger: logger).write(
            owing, records: mayBeOwed, systems: receiving, placeholders: placeholders, numbers: numbers, on: connection)
        summary.outboxElapsed = ContinuousClock.now - writingOutbox
        timer.lap("outbox", rows: summary.outbox.values.reduce(0) { $0 + $1.updates })
        summary.elapsed = ContinuousClock.now - started
        return summary
    }

    /// What the rest of a refresh needs of one merged resident once its row is encoded: the
    /// changes to log and the conflicts to raise and close. The merged values themselves are
    /// in the row; keeping them too held about 8 KB per resident (1.2 GB in a first load).
    struct MergedResident: Sendable, Hashable {
        var changes: [String: GoldenDiff.Change]
        var raise: [FieldConflict]
        var supersede: [String]
        /// Its records that may be owed an update (`OutboxWriter.mayBeOwed`); only when it changed.
        var mayBeOwed: [Int64]

        init(_ diff: GoldenDiff, mayBeOwed: [Int64] = []) {
            changes = diff.changes
            raise = diff.raise
            supersede = diff.supersede
            self.mayBeOwed = mayBeOwed
        }
    }

    /// Merges and diffs each resident; slices of residents run side by side. A resident with a
    /// digest in `hashes` also gets its `resident` row, encoded in its slice.
    /// `rowsReady` gets each slice's rows, in the caller's task, while the next slices merge
    /// (`ParallelSlices.forEach`: the rows of a district are never all in memory).
    /// `outbound`: each receiving system's fields, to find a changed resident's records that may
    /// be owed an update.
    static func mergeInParallel(
        _ residents: [Int64], merger: GoldenRecordMerger, observations: [Int64: [Observation]],
        overrides: [Int64: [String: Override]], stored: [Int64: [String: String]], open: [Int64: [String: FieldConflict]],
        hashes: [Int64: String] = [:], fresh: Set<Int64> = [], numbers: FieldNumbers, outbound: [String: [String]] = [:],
        rowsReady: (StagedRows) async throws -> Void
    ) async throws -> [Int64: MergedResident] {
        @Sendable func mergeSlice(_ slice: ArraySlice<Int64>) -> ([(Int64, MergedResident)], StagedRows) {
            var rows = StagedRows(columns: residentColumns)
            let merged = slice.map { id in
                let records = observations[id] ?? []
                let outcome = merger.merge(records, overrides: overrides[id] ?? [:])
                let diff = GoldenDiff(stored: stored[id] ?? [:], openConflicts: open[id] ?? [:], outcome: outcome)
                if let hash = hashes[id] {
                    // Same values: only the digest moves (a whole-district run recomputes many
                    // residents and changes few). A new resident is written whole.
                    let isNew = fresh.contains(id)
                    let same = !isNew && diff.changes.isEmpty
                    rows.row(
                        residentRow(
                            id, golden: same ? nil : outcome.values, changed: !diff.changes.isEmpty, hash: hash, numbers: numbers,
                            isNew: isNew))
                }
                let owed = diff.changes.isEmpty ? [] : OutboxWriter.mayBeOwed(records, golden: outcome.values, outbound: outbound)
                return (id, MergedResident(diff, mayBeOwed: owed))
            }
            return (merged, rows)
        }
        var result: [Int64: MergedResident] = [:]
        result.reserveCapacity(residents.count)
        try await ParallelSlices.forEach(residents.count, size: mergePartSize(residents.count), { range in mergeSlice(residents[range]) }) {
            merged, rows in
            for (id, resident) in merged { result[id] = resident }
            try await rowsReady(rows)
        }
        return result
    }

    /// Residents merged per part: two parts per core. Parts of 10,000 split a slice of 25,000
    /// into 10 + 10 + 5, and the last part merged on one core while the other waited.
    static func mergePartSize(_ residents: Int) -> Int {
        max(1, ParallelSlices.perCore(residents, minimum: 2_000) / 2)
    }

    /// Recomputes what is stale in a transaction of its own (after a crash, or on demand).
    @discardableResult
    public func refresh(
        _ client: PostgresClient, cause: ChangeCause, actor: String, residents: [Int64]? = nil,
        dryRun: Bool = false
    ) async throws -> Summary {
        try await client.withConnection { connection in
            try await connection.transaction(logger: logger) {
                try await connection.lockDistrict(district, logger: logger)
                return try await refresh(on: connection, cause: cause, actor: actor, residents: residents, dryRun: dryRun)
            }
        }
    }

    // MARK: Reading

    struct StaleResident {
        let id: Int64
        let mergedInto: Int64?
        let hash: String
    }

    func rulesChanged(_ connection: PostgresConnection) async throws -> Bool {
        var stored: String?
        for try await value in try await connection.query(
            "SELECT golden_rules_sha256 FROM district_state WHERE district = \(district)", logger: logger
        ).decode(String?.self) { stored = value }
        return stored != rulesFingerprint
    }

    func recordRules(_ connection: PostgresConnection) async throws {
        try await connection.query(
            """
            INSERT INTO district_state (district, golden_rules_sha256) VALUES (\(district), \(rulesFingerprint))
            ON CONFLICT (district) DO UPDATE SET golden_rules_sha256 = excluded.golden_rules_sha256
            """, logger: logger)
    }

    func staleResidents(_ connection: PostgresConnection, only: [Int64]?) async throws -> [StaleResident] {
        if let only, only.isEmpty { return [] }
        let restrict = only != nil
        let ids = only ?? []
        var stale: [StaleResident] = []
        // The digest: current records (id and content) and overrides, and the rules.
        let rows = try await connection.query(
            """
            SELECT resident_id, merged_into, digest::text FROM (
                SELECT res.resident_id, res.merged_into, res.inputs_hash,
                    -- An MD5 digest, kept as a uuid (its 16 bytes; migration 0036).
                    md5(CASE WHEN res.status = 'retired' THEN 'retired:' || res.merged_into::text ELSE
                        \(rulesFingerprint) || '|' || \(unescaped: Self.recordsDigest) || '|' ||
                        coalesce((SELECT string_agg(o.field || '=' || coalesce(o.value::text, 'null') || '@' || o.created_at::text, ',' ORDER BY o.field)
                                  FROM override o WHERE o.district = \(district) AND o.resident_id = res.resident_id), '')
                    END)::uuid AS digest
                FROM resident res
                LEFT JOIN link l ON l.district = res.district AND l.resident_id = res.resident_id
                LEFT JOIN source_record r ON r.district = l.district AND r.record_id = l.record_id AND r.is_current
                WHERE res.district = \(district) AND (NOT \(restrict) OR res.resident_id = ANY(\(ids)))
                GROUP BY res.district, res.resident_id
            ) inputs
            WHERE digest IS DISTINCT FROM inputs_hash
            ORDER BY resident_id
            """, logger: logger)
        // A first load's every resident: read cell by cell (`RowReader`).
        for try await row in rows {
            var cells = RowReader(row)
            stale.append(StaleResident(id: try cells.int64(), mergedInto: try cells.optionalInt64(), hash: try cells.string()))
        }
        return stale
    }

    /// The part of a resident's digest its current records (`r`) make.
    static let recordsDigest = "coalesce(string_agg(r.record_id::text || ':' || encode(r.content_hash, 'hex'), ',' ORDER BY r.record_id), '')"

    /// A new resident's digest (no row yet), the one `staleResidents` gives a resident of the same
    /// current records (id and content hash) and no overrides: computed here from the records
    /// the refresh reads anyway, not by the server from the same rows again.
    static func freshDigest(rulesFingerprint: String, records: [(id: Int64, contentHash: [UInt8])]) -> String {
        // The text hashed, written as bytes (`id:hash,id:hash`): a first load digests every resident.
        var text = Array(rulesFingerprint.utf8)
        text.reserveCapacity(text.count + 2 + records.count * 84)
        text.append(UInt8(ascii: "|"))
        for (index, record) in records.sorted(by: { $0.id < $1.id }).enumerated() {
            if index > 0 { text.append(UInt8(ascii: ",")) }
            text += String(record.id).utf8
            text.append(UInt8(ascii: ":"))
            record.contentHash.appendHexDigits(to: &text)
        }
        text.append(UInt8(ascii: "|"))
        // As the server prints a uuid: 8-4-4-4-12 lower-case digits.
        let digest = Array(Insecure.MD5.hash(data: text))
        var uuid: [UInt8] = []
        uuid.reserveCapacity(36)
        for (start, end) in [(0, 4), (4, 6), (6, 8), (8, 10), (10, 16)] {
            if start > 0 { uuid.append(UInt8(ascii: "-")) }
            digest[start..<end].appendHexDigits(to: &uuid)
        }
        return String(decoding: uuid, as: UTF8.self)
    }

    /// What a slice of residents is merged from.
    struct SliceInputs: Sendable {
        var observations: [Int64: [Observation]]
        var latestBatch: [Int64: Int64]
        /// The digests of the slice's new residents (`freshDigest`).
        var freshDigests: [Int64: String]
        var placeholders: Placeholders
        var overrides: [Int64: [String: Override]]
        var stored: [Int64: [String: String]]
    }

    func sliceInputs(
        _ connection: PostgresConnection, _ slice: [Int64], fresh: Set<Int64>, everywhere: Placeholders?, numbers: FieldNumbers
    ) async throws -> SliceInputs {
        let (observations, latest, placeholders, freshDigests) = try await mergeInputs(
            connection, residents: slice, everywhere: everywhere, numbers: numbers, fresh: fresh)
        // A new resident has no overrides and no stored values yet.
        let existing = fresh.isEmpty ? slice : slice.filter { !fresh.contains($0) }
        return SliceInputs(
            observations: observations, latestBatch: latest, freshDigests: freshDigests, placeholders: placeholders,
            overrides: try await loadOverrides(connection, residents: existing),
            stored: try await loadStoredValues(connection, residents: existing, numbers: numbers))
    }

    /// The residents' current records as the merge takes them — without placeholder phones
    /// (`everywhere`: the district's, read once for many slices; else those among the records)
    /// and without values an update we sent replaced and the system did not apply — the newest
    /// batch among them, and the placeholders used. The refresh and `provenance` both read here,
    /// so provenance is computed from what the refresh merged.
    /// `numbers`: the district's field numbers, when the caller has read them.
    /// `fresh`: new residents, whose digests (`freshDigest`) are computed from the records read.
    func mergeInputs(
        _ connection: PostgresConnection, residents: [Int64], everywhere: Placeholders? = nil, numbers: FieldNumbers? = nil, fresh: Set<Int64> = []
    ) async throws -> (observations: [Int64: [Observation]], latestBatch: [Int64: Int64], placeholders: Placeholders, freshDigests: [Int64: String]) {
        var (observations, latest, freshDigests) = try await loadObservations(connection, residents: residents, numbers: numbers, fresh: fresh)
        let placeholders = try await takeOutUnmerged(
            &observations, everywhere: everywhere, unapplied: try await unappliedUpdates(connection, residents: residents), connection)
        return (observations, latest, placeholders, freshDigests)
    }

    /// Takes out of `observations` what the merge does not see — placeholder phones
    /// (`everywhere`, else those among them) and values of `unapplied` updates — and returns the
    /// placeholders. `mergeInputs` and the read-ahead (`readAhead`) both end here.
    func takeOutUnmerged(
        _ observations: inout [Int64: [Observation]], everywhere: Placeholders?, unapplied: [Int64: Set<String>],
        _ connection: PostgresConnection
    ) async throws -> Placeholders {
        let placeholders: Placeholders
        if let everywhere { placeholders = everywhere } else { placeholders = try await self.placeholders(connection, among: observations) }
        if !placeholders.isEmpty || !unapplied.isEmpty {
            for (resident, list) in observations {
                observations[resident] = placeholders.filter(Self.withoutUnapplied(list, unapplied))
            }
        }
        return placeholders
    }

    /// The residents' current records, the newest batch among them, and the digests of those of
    /// them that are `fresh` (`freshDigest`).
    func loadObservations(_ connection: PostgresConnection, residents: [Int64], numbers known: FieldNumbers? = nil, fresh: Set<Int64> = [])
        async throws -> (observations: [Int64: [Observation]], latestBatch: [Int64: Int64], freshDigests: [Int64: String])
    {
        guard !residents.isEmpty else { return ([:], [:], [:]) }
        // Facet fields come by number. Read first: no other query may run on the connection
        // while the rows below stream in.
        let numbers: FieldNumbers
        if let known { numbers = known } else { numbers = try await FieldNumbers.load(district: district, on: connection, logger: logger) }
        let rows = try await connection.query(
            """
            SELECT l.resident_id, \(unescaped: Self.observationColumns)
            FROM link l JOIN source_record r ON r.district = l.district AND r.record_id = l.record_id AND r.is_current
            WHERE l.district = \(district) AND l.resident_id = ANY(\(residents))
            """, logger: logger)
        return try await decodeObservations(rows, residents: residents, numbers: numbers, fresh: fresh)
    }

    /// What an observation is read from (after its resident's id): the documents as stored,
    /// taken apart here (`StoredPairs`) — taking them apart on the server was most of this
    /// read's time there.
    static let observationColumns = """
        r.record_id, r.system_id, (extract(epoch FROM r.received_at) * 1000000)::bigint,
        r.fields, r.facet, r.name, r.batch_id, \(SourceRecordWriter.liftedFields.map { "r.\($0)::text" }.joined(separator: ", ")),
        r.content_hash
        """

    /// Rows of a resident's id and `observationColumns`, as `loadObservations` returns them.
    func decodeObservations(_ rows: PostgresRowSequence, residents: [Int64], numbers: FieldNumbers, fresh: Set<Int64>)
        async throws -> (observations: [Int64: [Observation]], latestBatch: [Int64: Int64], freshDigests: [Int64: String])
    {
        var result: [Int64: [Observation]] = [:]
        var latest: [Int64: Int64] = [:]
        var freshRecords: [Int64: [(id: Int64, contentHash: [UInt8])]] = [:]
        for try await row in rows {
            var cells = RowReader(row)
            let (resident, record, system, receivedAt) = (try cells.int64(), try cells.int64(), try cells.string(), try cells.int64())
            guard let fields = StoredPairs.pairs(try cells.string()) else { throw StoreError.documentUnreadable("fields", id: record) }
            guard let facet = StoredPairs.pairs(try cells.string()) else { throw StoreError.documentUnreadable("facet", id: record) }
            let (name, batch) = (try cells.text(), try cells.int64())
            var lifted: [String?] = []
            lifted.reserveCapacity(SourceRecordWriter.liftedFields.count)
            for _ in SourceRecordWriter.liftedFields { lifted.append(try cells.text()) }
            // The last column, read only for a new resident's digest.
            if fresh.contains(resident) { freshRecords[resident, default: []].append((record, try cells.bytes() ?? [])) }
            latest[resident] = max(latest[resident] ?? batch, batch)
            var values: [String: String] = [:]
            values.reserveCapacity(fields.count + facet.count + lifted.count)
            // The record's columns, then `fields` and the facet (`SourceRecordWriter.allFields`).
            for (key, value) in zip(SourceRecordWriter.liftedFields, lifted) where value != nil { values[key] = value }
            // `fields` by name, the facet by number; a number nobody gave cannot be read as any
            // field: left out rather than guessed. (A JSON null is no value, as jsonb_each_text
            // and the merge's SQL read it.)
            for (key, value) in fields { if let value, let field = numbers.field(key) { values[field] = value } }
            for (key, value) in facet { if let value, let field = numbers.field(key) { values[field] = value } }
            // The normalised display form, not the feed's spelling.
            values["name"] = name
            result[resident, default: []].append(Observation(recordID: record, system: system, receivedAt: receivedAt, values: values))
        }
        var freshDigests: [Int64: String] = [:]
        for resident in residents where fresh.contains(resident) {
            freshDigests[resident] = Self.freshDigest(rulesFingerprint: rulesFingerprint, records: freshRecords[resident] ?? [])
        }
        return (result, latest, freshDigests)
    }

    /// Phone numbers among `observations` that many different people give (`Placeholders`); with
    /// `everywhere`, every such phone number of the district.
    func placeholders(
        _ connection: PostgresConnection, among observations: [Int64: [Observation]] = [:], everywhere: Bool = false
    ) async throws -> Placeholders {
        var phones: Set<String> = []
        for list in observations.values { for observation in list { if let phone = observation.values["phone"] { phones.insert(phone) } } }
        guard everywhere || !phones.isEmpty else { return Placeholders() }
        var shared: Set<String> = []
        // A few phones are looked up by the index; many (a first load) cost less as one scan.
        // Two statements, not one with a switch in it: a plan made for both would scan.
        var binds = PostgresBindings()
        binds.append(district)
        binds.append(Placeholders.sharedPhoneHolders)
        let lookedUp = !everywhere && phones.count <= 5_000
        if lookedUp { binds.append(Array(phones)) }
        let query = PostgresQuery(
            unsafeSQL: Self.sharedPhonesSQL(district: "$1", holders: "$2", condition: lookedUp ? "phone = ANY($3)" : "phone IS NOT NULL"),
            binds: binds)
        for try await phone in try await connection.query(query, logger: logger).decode(String.self) where everywhere || phones.contains(phone) {
            shared.insert(phone)
        }
        return Placeholders(phones: shared)
    }

    /// SQL for the phone numbers that `holders` or more different names give (`Placeholders`)
    /// among the current records of `district` that `condition` admits; the three are SQL. The
    /// distinct holders are found by hashing, not a count(DISTINCT), which sorts every group
    /// (0.43 → 0.30 s for the district's 246,624 records). The golden refresh and the quality
    /// report both ask it.
    static func sharedPhonesSQL(district: String, holders: String, condition: String) -> String {
        """
        SELECT phone FROM (
            SELECT DISTINCT phone, coalesce(name_key, name) AS holder FROM source_record
            WHERE district = \(district) AND is_current AND \(condition)) AS h
        GROUP BY phone HAVING count(holder) >= \(holders)
        """
    }

    /// Per record: fields still carrying the value an update we delivered replaced — the system
    /// did not apply it (`OutboxEchoes`). Such a value is not news, so the merge does not see it.
    func unappliedUpdates(_ connection: PostgresConnection, residents: [Int64]) async throws -> [Int64: Set<String>] {
        guard !residents.isEmpty else { return [:] }
        return try await unappliedUpdates(
            connection,
            "JOIN link l ON l.district = r.district AND l.record_id = r.record_id WHERE l.resident_id = ANY($2)", residents)
    }

    /// The same of the given current records.
    func unappliedUpdates(_ connection: PostgresConnection, records: [Int64]) async throws -> [Int64: Set<String>] {
        guard !records.isEmpty else { return [:] }
        return try await unappliedUpdates(connection, "WHERE r.record_id = ANY($2)", records)
    }

    /// `restriction`: the join and condition that pick the records, given `ids` as $2.
    private func unappliedUpdates(_ connection: PostgresConnection, _ restriction: String, _ ids: [Int64]) async throws -> [Int64: Set<String>] {
        var result: [Int64: Set<String>] = [:]
        var binds = PostgresBindings()
        binds.append(district)
        binds.append(ids)
        for try await (record, field) in try await connection.query(
            PostgresQuery(
                unsafeSQL: """
                    SELECT r.record_id, f.field FROM outbox o
                    JOIN source_record r ON r.district = o.district AND r.system_id = o.system_id AND r.source_key = o.source_key AND r.is_current
                    \(OutboxWriter.outboxFields(district: district))
                    \(restriction) AND o.district = $1 AND o.status = 'not_applied'
                      AND (\(OutboxWriter.recordValue)) IS NOT DISTINCT FROM o.payload -> 'changes' -> f.field ->> 'old'
                    """, binds: binds), logger: logger
        ).decode((Int64, String).self) { result[record, default: []].insert(field) }
        return result
    }

    static func withoutUnapplied(_ observations: [Observation], _ unapplied: [Int64: Set<String>]) -> [Observation] {
        guard !unapplied.isEmpty else { return observations }
        return observations.map { observation in
            guard let fields = unapplied[observation.recordID] else { return observation }
            return Observation(
                recordID: observation.recordID, system: observation.system, receivedAt: observation.receivedAt,
                values: observation.values.filter { !fields.contains($0.key) })
        }
    }

    func loadOverrides(_ connection: PostgresConnection, residents: [Int64]) async throws -> [Int64: [String: Override]] {
        var result: [Int64: [String: Override]] = [:]
        guard !residents.isEmpty else { return result }
        for try await (resident, field, value, createdAt) in try await connection.query(
            """
            SELECT resident_id, field, value #>> '{}', (extract(epoch FROM created_at) * 1000000)::bigint
            FROM override WHERE district = \(district) AND resident_id = ANY(\(residents))
            """, logger: logger
        ).decode((Int64, String, String?, Int64).self) {
            result[resident, default: [:]][field] = Override(field: field, value: value, createdAt: createdAt)
        }
        return result
    }

    /// Where each of the residents' golden values comes from: the merge the refresh made,
    /// computed again from the same inputs (provenance is derived, so it is not stored). A
    /// stored value the merge does not give now — a retired resident's, or one kept while
    /// other rules wait for the next run — is given as stored, with the rule `stored`.
    public func provenance(on connection: PostgresConnection, residents: [Int64]) async throws -> [Int64: [String: FieldValue]] {
        let numbers = try await FieldNumbers.load(district: district, on: connection, logger: logger)
        let observations = try await mergeInputs(connection, residents: residents, numbers: numbers).observations
        let overrides = try await loadOverrides(connection, residents: residents)
        let stored = try await loadStoredValues(connection, residents: residents, numbers: numbers)
        var result: [Int64: [String: FieldValue]] = [:]
        for resident in residents {
            let merged = merger.merge(observations[resident] ?? [], overrides: overrides[resident] ?? [:]).values
            let kept = stored[resident] ?? [:]
            var fields: [String: FieldValue] = [:]
            for (field, value) in kept {
                fields[field] =
                    merged[field].flatMap { $0.value == value ? $0 : nil }
                    ?? FieldValue(value: value, recordID: nil, system: nil, rule: Self.storedRule)
            }
            // A person's "no value" is a field without a value, stored as absent.
            for (field, value) in merged where value.value == nil && kept[field] == nil { fields[field] = value }
            result[resident] = fields
        }
        return result
    }

    /// The rule `provenance` gives a stored value the merge does not give now.
    public static let storedRule = "stored"

    /// The residents' stored golden values, by field name (`numbers`: how the documents store them).
    func loadStoredValues(_ connection: PostgresConnection, residents: [Int64], numbers: FieldNumbers) async throws
        -> [Int64: [String: String]]
    {
        var result: [Int64: [String: String]] = [:]
        guard !residents.isEmpty else { return result }
        // One row per resident, its document as jsonb prints it (`JSONBObjectText`).
        for try await row in try await connection.query(
            """
            SELECT r.resident_id, r.golden::text FROM resident r
            WHERE r.district = \(district) AND r.resident_id = ANY(\(residents)) AND r.golden <> '{}'
            """, logger: logger
        ) {
            var cells = RowReader(row)
            let resident = try cells.int64()
            guard let pairs = JSONBObjectText.pairs(try cells.string()) else { throw StoreError.documentUnreadable("golden record", id: resident) }
            var stored: [String: String] = [:]
            for (key, value) in pairs {
                guard let value else { continue }
                // A number `numbers` lacks was committed after they were read (never inside a
                // refresh, which numbers under the district lock): kept under its key.
                let field = numbers.field(key) ?? key
                if stored[field] == nil { stored[field] = value }
            }
            result[resident] = stored
        }
        return result
    }

    func loadOpenConflicts(_ connection: PostgresConnection, residents: [Int64]) async throws -> [Int64: [String: FieldConflict]] {
        var result: [Int64: [String: FieldConflict]] = [:]
        guard !residents.isEmpty else { return result }
        let decoder = JSONDecoder()
        for try await (resident, field, reason, candidates) in try await connection.query(
            """
            SELECT resident_id, field, reason_code, candidates::text
            FROM conflict WHERE district = \(district) AND status = 'open' AND resident_id = ANY(\(residents))
            """, logger: logger
        ).decode((Int64, String, String, String).self) {
            let list = (try? decoder.decode([FieldConflict.Candidate].self, from: Data(candidates.utf8))) ?? []
            result[resident, default: [:]][field] = FieldConflict(
                field: field, reason: FieldConflict.Reason(rawValue: reason) ?? .sourcesDisagree,
                candidates: list)
        }
        return result
    }

    // MARK: Writing

    /// The resident's row: its golden values and the columns an index or check needs, or only
    /// its digest when `golden` is nil (retired, or unchanged).
    /// `isNew`: a resident with no row yet, inserted rather than updated.
    static func residentRow(
        _ id: Int64, golden: [String: FieldValue]?, changed: Bool, hash: String, numbers: FieldNumbers, isNew: Bool = false
    ) -> [String?] {
        guard let golden else { return [String(id), "true", "false", hash] + Array(repeating: nil, count: residentColumns - 5) + ["false"] }
        func value(_ field: String) -> String? { golden[field]?.value }
        var death = value("death_date")
        // The column refuses a death before birth; the conflict says so and a person decides.
        if let date = death.flatMap(PartialDate.init(iso:)), let birth = value("birth_date").flatMap(PartialDate.init(iso:)),
            date.isCertainlyBefore(birth)
        {
            death = nil
        }
        return [
            String(id), "false", changed ? "true" : "false", hash, value("birth_date"), death, goldenDocument(golden, numbers: numbers), value("community_code"),
            isNew ? "true" : "false",
        ]
    }

    /// `resident.golden`: field → value, for every field that has one, each field named by its
    /// number where the district numbers it (`FieldNumbers`, migration 0032).
    static func goldenDocument(_ golden: [String: FieldValue], numbers: FieldNumbers) -> String {
        // Pairs, not a dictionary: the fields are distinct, and so are their numbers.
        var stored: [(key: String, value: String)] = []
        stored.reserveCapacity(golden.count)
        for (field, value) in golden { if let value = value.value { stored.append((numbers.key(field), value)) } }
        return CanonicalJSON.objectText(pairs: stored)
    }

    /// A slice's rows of residents (retired ones), conflicts closed and raised, and change-log
    /// entries, counted and not yet written.
    struct Settled: Sendable {
        var residents: StagedRows
        var close: StagedRows
        var raise: StagedRows
        var entries: [ChangeLog.Entry]
    }

    /// What storing a `Settled` gave: the outbox's causes, the entries appended, the append's time.
    struct Stored: Sendable {
        var owing: [OutboxWriter.Cause]
        var entries: Int
        var elapsed: Duration
    }

    /// Columns of `residentRow`.
    static let residentColumns = 9

    /// Applies resident rows: golden values with their digest, or the digest alone.
    private func writeResidents(_ rows: StagedRows, _ connection: PostgresConnection) async throws {
        guard !rows.isEmpty else { return }
        let c = rows.column
        // Each statement joins a slice to `resident`: skipped when the slice has no row of its kind.
        let hashOnly = rows.columns[1].count { $0 == "true" }
        let new = rows.columns[8].indices.filter { rows.columns[8][$0] == "true" }
        if !new.isEmpty {
            // Copied in (a fifth less of the server's time than an insert from arrays). A new
            // resident's first values make its version 2, as an update of an empty row did (what
            // it was read as before, by API clients' ETags among others).
            let columns = rows.columns
            try await connection.copyInParts(
                new.count, into: "resident",
                columns: ["district", "resident_id", "inputs_hash", "birth_date", "death_date", "golden", "community_code", "version"],
                logger: logger
            ) { range, text in
                for row in new[range] {
                    text.row([
                        district, columns[0][row], columns[3][row], columns[4][row], columns[5][row], columns[6][row], columns[7][row],
                        columns[2][row] == "true" ? "2" : "1",
                    ])
                }
            }
        }
        if hashOnly + new.count < rows.count {
            try await connection.query(
                """
                UPDATE resident r SET inputs_hash = s.inputs_hash::uuid, birth_date = s.birth_date, death_date = s.death_date,
                    golden = s.golden::jsonb, community_code = s.community_code, version = r.version + s.changed::boolean::int,
                    updated_at = CASE WHEN s.changed::boolean THEN now() ELSE r.updated_at END
                FROM unnest(\(c(0))::text[], \(c(1))::text[], \(c(2))::text[], \(c(3))::text[], \(c(4))::text[], \(c(5))::text[], \(c(6))::text[],
                            \(c(7))::text[], \(c(8))::text[])
                     AS s(resident_id, hash_only, changed, inputs_hash, birth_date, death_date, golden, community_code, is_new)
                WHERE r.district = \(district) AND r.resident_id = s.resident_id::bigint AND NOT s.hash_only::boolean AND NOT s.is_new::boolean
                """, logger: logger)
        }
        guard hashOnly > 0 else { return }
        try await connection.query(
            """
            UPDATE resident r SET inputs_hash = s.inputs_hash::uuid
            FROM unnest(\(c(0))::text[], \(c(1))::text[], \(c(3))::text[]) AS s(resident_id, hash_only, inputs_hash)
            WHERE r.district = \(district) AND r.resident_id = s.resident_id::bigint AND s.hash_only::boolean
            """, logger: logger)
    }

    /// Applies the resident rows not written during the merge (retired residents) and the
    /// conflicts to raise and close.
    private func write(
        _ connection: PostgresConnection, residents: StagedRows, close: StagedRows, raise: StagedRows
    ) async throws {
        try await writeResidents(residents, connection)
        if !close.isEmpty {
            try await connection.query(
                """
                UPDATE conflict c SET status = 'superseded', resolved_at = now()
                FROM unnest(\(close.column(0))::text[], \(close.column(1))::text[]) AS s(resident_id, field)
                WHERE c.district = \(district) AND c.resident_id = s.resident_id::bigint AND c.field = s.field AND c.status = 'open'
                """, logger: logger)
        }
        if !raise.isEmpty {
            try await connection.query(
                """
                INSERT INTO conflict (district, resident_id, field, candidates, reason_code)
                SELECT \(district), s.resident_id::bigint, s.field, s.candidates::jsonb, s.reason_code
                FROM unnest(\(raise.column(0))::text[], \(raise.column(1))::text[], \(raise.column(2))::text[], \(raise.column(3))::text[])
                     AS s(resident_id, field, reason_code, candidates)
                """, logger: logger)
        }
    }
}
