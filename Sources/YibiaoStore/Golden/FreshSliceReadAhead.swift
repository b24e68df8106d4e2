import Logging
import PostgresNIO
import Synchronization
import YibiaoCore
import YibiaoMerge

/// The slices of the new residents a matching run made, read on a connection of its own: the
/// first while the run still writes its links, so that the golden refresh starts merging at
/// once; each later one while the refresh merges the slice before it. On the run's connection
/// those reads queued behind the refresh's writes, one server process doing both — the
/// bottleneck of a first load's refresh — where here a second process reads beside it.
///
/// The records are found by id — the run knows whose each is — not through the links, which
/// another connection cannot see before the run commits. They are the district's committed
/// rows: the run holds the district lock, which every writer of records takes, so the other
/// connection reads what the run's own transaction would.
///
/// The pool may have no connection free: the sessions holding them may be queued on the very
/// district lock this run holds. So the reads begin only if a connection comes before the
/// refresh asks for the first slice; otherwise the refresh reads every slice itself, and the
/// reader, once it gets a connection, does nothing. Never waited for unless it has begun.
public final class FreshSliceReadAhead: Sendable {
    private enum Phase { case waiting, reading, abandoned }

    /// What the caller and the reading task share; the task holds this, not the read-ahead, so
    /// that the read-ahead going away ends the task (`deinit`).
    private final class Shared: Sendable {
        let phase = Mutex(Phase.waiting)
    }

    private struct Request: Sendable {
        let residents: [Int64]
        let sliced: Bool
        let reply: CheckedContinuation<GoldenRecords.AheadSlice?, Never>
    }

    private let shared: Shared
    private let requests: AsyncStream<Request>.Continuation
    private let task: Task<Void, Never>
    /// The first slice asked for waits (up to ten seconds) for the reads to begin, rather than
    /// giving them up: for tests of what is read ahead (never in a run: the pool may have no
    /// connection to give until this run ends).
    private let waitsToBegin: Bool

    /// Starts reading the first slice `golden` would merge of `fresh`, whose records are `records`.
    init(
        _ golden: GoldenRecords, client: PostgresClient, fresh: Set<Int64>, records: [(record: Int64, resident: Int64)],
        waitsToBegin: Bool = false
    ) {
        self.waitsToBegin = waitsToBegin
        let (stream, requests) = AsyncStream.makeStream(of: Request.self)
        self.requests = requests
        let shared = Shared()
        self.shared = shared
        // The pairs as two arrays: a tuple array is not Sendable.
        let recordIDs = records.map(\.record), residentIDs = records.map(\.resident)
        let first = Array(fresh.sorted().prefix(max(golden.loadSlice, 1)))
        let firstSliced = fresh.count > golden.loadSlice
        task = Task {
            try? await client.withConnection { connection in
                let begins = shared.phase.withLock { phase in
                    guard phase == .waiting else { return false }
                    phase = .reading
                    return true
                }
                guard begins else { return }
                var reader = GoldenRecords.FreshSliceReader(golden, fresh: fresh, records: recordIDs, residents: residentIDs)
                // A failed read is not tried again: the refresh reads what is left itself.
                var failed = false
                func read(_ residents: [Int64], sliced: Bool) async -> GoldenRecords.AheadSlice? {
                    guard !failed else { return nil }
                    do {
                        return try await reader.read(residents, sliced: sliced, on: connection)
                    } catch {
                        failed = true
                        golden.logger.notice(
                            "reading new residents ahead failed; the refresh reads them itself",
                            metadata: ["error": "\(PostgresErrorText.summary(error).en)"])
                        return nil
                    }
                }
                var predicted = await read(first, sliced: firstSliced)
                for await request in stream {
                    if let read = predicted, read.residents == request.residents, read.sliced == request.sliced {
                        predicted = nil
                        request.reply.resume(returning: read)
                    } else {
                        predicted = nil
                        request.reply.resume(returning: await read(request.residents, sliced: request.sliced))
                    }
                }
            }
        }
    }

    deinit { requests.finish() }

    /// The inputs of `residents` (a slice of the refresh, every one of them new), read on the
    /// other connection; nil when the reads had not begun (they never will now) or one failed
    /// — the refresh then reads the slice itself.
    func slice(_ residents: [Int64], sliced: Bool) async -> GoldenRecords.AheadSlice? {
        if waitsToBegin {
            let deadline = ContinuousClock.now + .seconds(10)
            while shared.phase.withLock({ $0 == .waiting }), ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(1)) }
        }
        guard begunOrAbandoned() else { return nil }
        return await withCheckedContinuation { reply in
            if case .terminated = requests.yield(Request(residents: residents, sliced: sliced, reply: reply)) {
                reply.resume(returning: nil)
            }
        }
    }

    /// No more slices: the reader lets its connection go. Waits for it only if it has begun.
    func finish() async {
        requests.finish()
        if begunOrAbandoned() { await task.value }
    }

    /// Whether the reads have begun; if they have not, they never will.
    private func begunOrAbandoned() -> Bool {
        shared.phase.withLock { phase in
            if phase == .waiting { phase = .abandoned }
            return phase == .reading
        }
    }
}

extension GoldenRecords {
    /// A slice of new residents as `FreshSliceReadAhead` read it.
    struct AheadSlice: Sendable {
        let residents: [Int64]
        /// Read for a refresh of more than one slice: its placeholders are the district's.
        let sliced: Bool
        let inputs: SliceInputs
        let everywhere: Placeholders?
    }

    /// Reads what `sliceInputs` gives for slices of new residents, their records given by id
    /// rather than found through links. New residents have no overrides and no stored values.
    struct FreshSliceReader {
        let golden: GoldenRecords
        let fresh: Set<Int64>
        /// Each new resident's records.
        let records: [Int64: [Int64]]
        private var numbers: FieldNumbers?
        private var everywhere: Placeholders?

        init(_ golden: GoldenRecords, fresh: Set<Int64>, records: [Int64], residents: [Int64]) {
            self.golden = golden
            self.fresh = fresh
            var byResident: [Int64: [Int64]] = [:]
            byResident.reserveCapacity(fresh.count)
            for (record, resident) in zip(records, residents) { byResident[resident, default: []].append(record) }
            self.records = byResident
        }

        mutating func read(_ slice: [Int64], sliced: Bool, on connection: PostgresConnection) async throws -> AheadSlice {
            var sliceRecords: [Int64] = [], sliceResidents: [Int64] = []
            for resident in slice {
                for record in records[resident] ?? [] {
                    sliceRecords.append(record)
                    sliceResidents.append(resident)
                }
            }
            // Both read once, for every slice: facet numbers were given as records were staged
            // (committed), and the district's shared phones only by its records.
            let numbers: FieldNumbers
            if let known = self.numbers {
                numbers = known
            } else {
                numbers = try await FieldNumbers.load(district: golden.district, on: connection, logger: golden.logger)
                self.numbers = numbers
            }
            if sliced, everywhere == nil { everywhere = try await golden.placeholders(connection, everywhere: true) }
            let district = golden.district
            var (observations, latest, freshDigests) = try await golden.decodeObservations(
                try await connection.query(
                    """
                    SELECT x.resident_id, \(unescaped: GoldenRecords.observationColumns)
                    FROM unnest(\(sliceRecords)::bigint[], \(sliceResidents)::bigint[]) AS x(record_id, resident_id)
                    JOIN source_record r ON r.district = \(district) AND r.record_id = x.record_id AND r.is_current
                    """, logger: golden.logger), residents: slice, numbers: numbers, fresh: fresh)
            let placeholders = try await golden.takeOutUnmerged(
                &observations, everywhere: sliced ? everywhere : nil,
                unapplied: try await golden.unappliedUpdates(connection, records: sliceRecords), connection)
            return AheadSlice(
                residents: slice, sliced: sliced,
                inputs: SliceInputs(
                    observations: observations, latestBatch: latest, freshDigests: freshDigests, placeholders: placeholders, overrides: [:],
                    stored: [:]),
                everywhere: sliced ? everywhere : nil)
        }
    }
}
