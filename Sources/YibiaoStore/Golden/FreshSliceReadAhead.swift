import Logging
import PostgresNIO
import Synchronization
import YibiaoCore
import YibiaoMerge

/// The first slice of the new residents a matching run made, read on a connection of its own
/// while the run still writes its links on its own connection, so that the golden refresh
/// starts merging at once instead of waiting for the slice's records (a first load's refresh
/// waited about a second). The records are found by id — the run knows whose each is — not
/// through the links the run has not written yet. They are the district's committed rows: the
/// run holds the district lock, which every writer of records takes, so the other connection
/// reads what the run's own transaction would.
///
/// The pool may have no connection free: the sessions holding them may be queued on the very
/// district lock this run holds. So the read begins only if it gets a connection before the
/// refresh asks for the slice; otherwise the refresh reads the slice itself, and the read, once
/// it gets a connection, does nothing. Never waited for unless it has begun.
public struct FreshSliceReadAhead: Sendable {
    private final class Claim: Sendable {
        enum State { case waiting, reading, abandoned }
        /// The slice is kept here, not as the task's value, so that taking it lets it go.
        let state = Mutex<(State, GoldenRecords.AheadSlice?)>((.waiting, nil))
    }

    private let claim: Claim
    private let task: Task<Void, any Error>

    /// Starts reading the first slice `golden` would merge of `fresh`, whose records are `records`.
    init(_ golden: GoldenRecords, client: PostgresClient, fresh: Set<Int64>, records: [(record: Int64, resident: Int64)]) {
        let claim = Claim()
        self.claim = claim
        // The pairs as two arrays: a tuple array is not Sendable.
        let recordIDs = records.map(\.record), residentIDs = records.map(\.resident)
        task = Task {
            try await client.withConnection { connection in
                let begins = claim.state.withLock { claimed in
                    guard claimed.0 == .waiting else { return false }
                    claimed.0 = .reading
                    return true
                }
                guard begins else { return }
                let slice = try await golden.readAhead(connection, fresh: fresh, records: recordIDs, residents: residentIDs)
                claim.state.withLock { $0.1 = slice }
            }
        }
    }

    /// The slice, once read; nil when the read had not begun (it never will now), failed, or
    /// was taken before — the refresh then reads the slice itself, as it would without it.
    func take(logger: Logger) async -> GoldenRecords.AheadSlice? {
        let begun = claim.state.withLock { claimed in
            if claimed.0 == .waiting { claimed.0 = .abandoned }
            return claimed.0 == .reading
        }
        guard begun else { return nil }
        do {
            try await task.value
        } catch {
            logger.notice(
                "reading ahead the first new residents failed; they are read with the rest",
                metadata: ["error": "\(PostgresErrorText.summary(error).en)"])
            return nil
        }
        return claim.state.withLock { claimed in
            defer { claimed.1 = nil }
            return claimed.1
        }
    }
}

extension GoldenRecords {
    /// A first slice of new residents as `FreshSliceReadAhead` read it.
    struct AheadSlice: Sendable {
        let residents: [Int64]
        /// Read for a refresh of more than one slice: its placeholders are the district's.
        let sliced: Bool
        let inputs: SliceInputs
        let everywhere: Placeholders?
    }

    /// What `sliceInputs` gives for the first slice of `fresh` (the `loadSlice` smallest ids),
    /// their records given as `records` with `residents` alongside rather than found through
    /// links. New residents have no overrides and no stored values.
    func readAhead(_ connection: PostgresConnection, fresh: Set<Int64>, records: [Int64], residents: [Int64]) async throws -> AheadSlice {
        let sliced = fresh.count > loadSlice
        let slice = Array(fresh.sorted().prefix(max(loadSlice, 1)))
        let inSlice = Set(slice)
        var sliceRecords: [Int64] = [], sliceResidents: [Int64] = []
        for (record, resident) in zip(records, residents) where inSlice.contains(resident) {
            sliceRecords.append(record)
            sliceResidents.append(resident)
        }
        let numbers = try await FieldNumbers.load(district: district, on: connection, logger: logger)
        let everywhere = sliced ? try await placeholders(connection, everywhere: true) : nil
        var (observations, latest, freshDigests) = try await decodeObservations(
            try await connection.query(
                """
                SELECT x.resident_id, \(unescaped: Self.observationColumns)
                FROM unnest(\(sliceRecords)::bigint[], \(sliceResidents)::bigint[]) AS x(record_id, resident_id)
                JOIN source_record r ON r.district = \(district) AND r.record_id = x.record_id AND r.is_current
                """, logger: logger), residents: slice, numbers: numbers, fresh: fresh)
        let placeholders = try await takeOutUnmerged(
            &observations, everywhere: everywhere, unapplied: try await unappliedUpdates(connection, records: sliceRecords), connection)
        return AheadSlice(
            residents: slice, sliced: sliced,
            inputs: SliceInputs(
                observations: observations, latestBatch: latest, freshDigests: freshDigests, placeholders: placeholders, overrides: [:],
                stored: [:]),
            everywhere: everywhere)
    }
}
