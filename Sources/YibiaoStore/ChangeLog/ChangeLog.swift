import Foundation
import Crypto
public import Logging
public import PostgresNIO
public import YibiaoCore
public import YibiaoMerge

/// The per-district change log: gap-free sequence numbers handed out under the lock of the
/// district's `change_log_head` row — so sequence order is commit order and a consumer reading
/// up to N never misses an entry committed later with a smaller number — and a SHA-256 chain
/// over the previous entry's hash, so that tampering is visible (`yibiao log verify`).
public enum ChangeLog {
    public struct Entry: Sendable, Hashable {
        public let residentID: Int64
        /// batch, entry, link, split, merge, resolution
        public let cause: String
        public let causeRef: String?
        public let actor: String
        /// field → (old, new); nil is "no value".
        public let changes: [String: Change]

        public init(residentID: Int64, cause: String, causeRef: String?, actor: String, changes: [String: Change]) {
            self.residentID = residentID
            self.cause = cause
            self.causeRef = causeRef
            self.actor = actor
            self.changes = changes
        }
    }

    /// Old → new of one field; nil is "no value". The merge's diff produces them as they are logged.
    public typealias Change = GoldenDiff.Change

    public static let genesisHash = String(repeating: "0", count: 64)

    /// Appends entries inside the caller's open transaction; returns their sequence numbers.
    /// The head row stays locked until that transaction ends. `numbers`: the district's field
    /// numbers (`FieldNumbers.ensure`), when the caller has them.
    @discardableResult
    public static func append(
        _ entries: [Entry], district: String, numbers known: FieldNumbers? = nil, on connection: PostgresConnection, logger: Logger
    ) async throws -> [Int64] {
        guard !entries.isEmpty else { return [] }
        try await connection.query(
            """
            INSERT INTO change_log_head (district) VALUES (\(district)) ON CONFLICT (district) DO NOTHING
            """, logger: logger)
        var last: (Int64, String) = (0, genesisHash)
        for try await row in try await connection.query(
            """
            SELECT last_seq, last_hash FROM change_log_head WHERE district = \(district) FOR UPDATE
            """, logger: logger
        ).decode((Int64, String).self) { last = row }
        let numbers: FieldNumbers
        if let known { numbers = known } else { numbers = try await FieldNumbers.ensure(district: district, on: connection, logger: logger) }
        // Microsecond precision, as PostgreSQL stores it, so that the hash can be recomputed from the row.
        let changedAt = timestamp(Date())
        var sequences: [Int64] = []
        sequences.reserveCapacity(entries.count)
        var (seq, previous) = last
        // Blocks of entries, each sent before the next is built: a first load's log is never
        // all in memory at once.
        for blockStart in stride(from: 0, to: entries.count, by: 20_000) {
            let block = entries[blockStart..<min(blockStart + 20_000, entries.count)]
            // The canonical JSON of the changes is most of the work, and each entry's alone: on
            // every core. Only the chain itself runs in order.
            let texts = await ParallelSlices.map(block.count, size: ParallelSlices.perCore(block.count, minimum: 2_000)) { range in
                range.map { changesText(block[block.startIndex + $0].changes, numbers: numbers) }
            }.flatMap { $0 }
            var copy = CopyText()
            for (entry, changes) in zip(block, texts) {
                seq += 1
                let hash = entryHash(
                    previous: previous, district: district, seq: seq, residentID: entry.residentID, cause: entry.cause,
                    causeRef: entry.causeRef, actor: entry.actor, changedAt: changedAt, changes: changes.canonical)
                // The digest as bytea's hexadecimal input (`\x…`); CopyText escapes the backslash.
                // The previous entry's is not stored again (migration 0033).
                copy.row([
                    district, String(seq), String(entry.residentID), entry.cause, entry.causeRef, entry.actor, changedAt, changes.stored,
                    "\\x" + hash,
                ])
                sequences.append(seq)
                previous = hash
            }
            try await connection.copy(
                copy, into: "change_log",
                columns: ["district", "seq", "resident_id", "cause", "cause_ref", "actor", "changed_at", "changes", "hash"], logger: logger)
        }
        try await connection.query(
            """
            UPDATE change_log_head SET last_seq = \(seq), last_hash = \(previous) WHERE district = \(district)
            """, logger: logger)
        return sequences
    }

    /// The first entry whose chain is broken, or nil when every entry checks out.
    public struct Break: Sendable, Hashable {
        public let seq: Int64
        public let reason: LocalizedText
    }

    /// Entries are hashed a batch at a time on every core (each entry's hash depends only on its
    /// own fields and the previous entry's stored hash), then checked in order, so the first
    /// break is still the one named. An entry written before migration 0033 also stores the
    /// hash it follows, which must be the previous entry's.
    public static func verify(_ client: PostgresClient, district: String, logger: Logger) async throws -> (checked: Int, firstBreak: Break?) {
        struct Entry: Sendable {
            var seq: Int64, resident: Int64, cause: String, causeRef: String?, actor: String, changedAt: String, changes: String
            var prevHash: String?, hash: String
            /// The hash this entry's own covers: the previous entry's, or the one it stores.
            var follows = ""
        }
        var previous = genesisHash
        var expectedSeq: Int64 = 1
        var checked = 0
        var batch: [Entry] = []
        var numbers = try await FieldNumbers.load(district: district, client, logger: logger)
        func check() async throws -> Break? {
            var follows = previous
            for index in batch.indices {
                batch[index].follows = batch[index].prevHash ?? follows
                follows = batch[index].hash
            }
            let entries = batch
            // nil for changes that do not read; with `asStored`, their text is hashed instead (a
            // hash that cannot match: the entry is reported as edited).
            func hashes(_ numbers: FieldNumbers, asStored: Bool) -> [String?] {
                Array(
                    inThreadSlices(entries.count, minimum: 500) { _, range in
                        entries[range].map { entry -> String? in
                            guard let text = canonicalJSON(entry.changes, numbers: numbers) ?? (asStored ? entry.changes : nil) else { return nil }
                            return entryHash(
                                previous: entry.follows, district: district, seq: entry.seq, residentID: entry.resident,
                                cause: entry.cause, causeRef: entry.causeRef, actor: entry.actor, changedAt: entry.changedAt,
                                changes: text)
                        }
                    }.joined())
            }
            var recomputed = hashes(numbers, asStored: false)
            // Entries committed after the numbers were read may name a field numbered since.
            if recomputed.contains(nil) {
                numbers = try await FieldNumbers.load(district: district, client, logger: logger)
                recomputed = hashes(numbers, asStored: true)
            }
            let hashes = recomputed.map { $0 ?? "" }
            batch.removeAll(keepingCapacity: true)
            for (entry, recomputed) in zip(entries, hashes) {
                checked += 1
                if entry.seq != expectedSeq {
                    return Break(seq: entry.seq, reason: LocalizedText(en: "sequence \(expectedSeq) is missing", zh: "缺少序号 \(expectedSeq)"))
                }
                if entry.follows != previous {
                    return Break(seq: entry.seq, reason: LocalizedText(en: "it does not point at the previous entry's hash", zh: "其前序哈希与上一条记录不符"))
                }
                if recomputed != entry.hash {
                    return Break(
                        seq: entry.seq,
                        reason: LocalizedText(en: "its content does not match its hash (edited after it was written)", zh: "内容与哈希不符（写入后被修改过）"))
                }
                previous = entry.hash
                expectedSeq += 1
            }
            return nil
        }
        let rows = try await client.query(
            """
            SELECT seq, resident_id, cause, cause_ref, actor, to_char(changed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                   changes::text, encode(prev_hash, 'hex'), encode(hash, 'hex')
            FROM change_log WHERE district = \(district) ORDER BY seq
            """, logger: logger)
        for try await (seq, resident, cause, causeRef, actor, changedAt, changes, prevHash, hash) in rows.decode(
            (Int64, Int64, String, String?, String, String, String, String?, String).self)
        {
            batch.append(
                Entry(
                    seq: seq, resident: resident, cause: cause, causeRef: causeRef, actor: actor, changedAt: changedAt, changes: changes,
                    prevHash: prevHash, hash: hash))
            if batch.count == 4_000, let found = try await check() { return (checked, found) }
        }
        let found = try await check()
        return (checked, found)
    }

    // MARK: Hashing

    static func entryHash(
        previous: String, district: String, seq: Int64, residentID: Int64, cause: String, causeRef: String?,
        actor: String, changedAt: String, changes: String
    ) -> String {
        HashChain.link([previous, district, String(seq), String(residentID), cause, causeRef, actor, changedAt, changes])
    }

    /// The changes in canonical JSON (docs/merge.md): what the hash covers.
    static func canonicalChanges(_ changes: [String: Change]) -> String {
        CanonicalJSON.object(changes.mapValues { .object(["old": .optional($0.old), "new": .optional($0.new)]) }).text
    }

    /// The changes as the hash covers them (`canonicalChanges`) and as they are stored, in one
    /// of two forms. Values only added (a new resident, a field filled for the first time — most
    /// entries): `{"new": {field: value, …}}`, without an object per field. Otherwise the
    /// canonical form without its nulls (a missing old or new is none). `storedChanges` reads
    /// both, and the canonical form too (entries written before); `verify` hashes what it reads
    /// in the canonical form, whichever form was stored. Written straight into bytes.
    /// Stored, a field numbered in `numbers` is named by its number (`FieldNumbers`, migration 0029).
    static func changesText(_ changes: [String: Change], numbers: FieldNumbers = .none) -> (canonical: String, stored: String) {
        let fields = fieldsInOrder(changes.keys)
        let onlyAdded = !changes.isEmpty && changes.values.allSatisfy { $0.old == nil && $0.new != nil }
        var canonical: [UInt8] = [UInt8(ascii: "{")], stored: [UInt8] = Array((onlyAdded ? #"{"new":{"# : "{").utf8)
        canonical.reserveCapacity(changes.count * 64)
        stored.reserveCapacity(changes.count * 40)
        for (index, field) in fields.enumerated() {
            let change = changes[field]!
            if index > 0 {
                canonical.append(UInt8(ascii: ","))
                stored.append(UInt8(ascii: ","))
            }
            CanonicalJSON.appendString(field, to: &canonical)
            CanonicalJSON.appendString(numbers.key(field), to: &stored)
            canonical.append(contentsOf: #":{"new":"#.utf8)
            if onlyAdded {
                stored.append(UInt8(ascii: ":"))
            } else {
                stored.append(contentsOf: #":{"#.utf8)
            }
            if let new = change.new {
                CanonicalJSON.appendString(new, to: &canonical)
                if !onlyAdded { stored.append(contentsOf: #""new":"#.utf8) }
                CanonicalJSON.appendString(new, to: &stored)
            } else {
                canonical.append(contentsOf: "null".utf8)
            }
            canonical.append(contentsOf: #","old":"#.utf8)
            if let old = change.old {
                CanonicalJSON.appendString(old, to: &canonical)
                if change.new != nil { stored.append(UInt8(ascii: ",")) }
                stored.append(contentsOf: #""old":"#.utf8)
                CanonicalJSON.appendString(old, to: &stored)
            } else {
                canonical.append(contentsOf: "null".utf8)
            }
            canonical.append(UInt8(ascii: "}"))
            if !onlyAdded { stored.append(UInt8(ascii: "}")) }
        }
        canonical.append(UInt8(ascii: "}"))
        stored.append(contentsOf: Array((onlyAdded ? "}}" : "}").utf8))
        return (String(decoding: canonical, as: UTF8.self), String(decoding: stored, as: UTF8.self))
    }

    /// Each canonical field's place among the others in UTF-8 order of their names.
    static let canonicalOrder: [String: Int] = Dictionary(
        CanonicalField.all.map(\.qualifiedName).sorted { $0.utf8Precedes($1) }.enumerated().map { ($1, $0) }, uniquingKeysWith: min)

    /// The fields in UTF-8 order of their names (the canonical JSON's): canonical fields by their
    /// place (`canonicalOrder`), which spares a first load comparing names some fifty times for
    /// each of its entries; any other name, by comparing them all.
    static func fieldsInOrder(_ fields: Dictionary<String, Change>.Keys) -> [String] {
        var placed: [(place: Int, field: String)] = []
        placed.reserveCapacity(fields.count)
        for field in fields {
            guard let place = canonicalOrder[field] else { return fields.sorted { $0.utf8Precedes($1) } }
            placed.append((place, field))
        }
        placed.sort { $0.place < $1.place }
        return placed.map(\.field)
    }

    /// An entry's changes from its stored document, in any of its forms (`changesText`); nil
    /// when it is not one, or names a field by a number `numbers` does not have. No field is
    /// named `new`: a document whose only key is `new` holds added values.
    public static func storedChanges(_ text: String, numbers: FieldNumbers = .none) -> [String: Change]? {
        guard let object = try? JSONDecoder().decode([String: [String: String?]].self, from: Data(text.utf8)) else { return nil }
        var changes: [String: Change] = [:]
        changes.reserveCapacity(object.count == 1 ? object.first!.value.count : object.count)
        if object.count == 1, let added = object["new"] {
            for (key, value) in added {
                guard let field = numbers.field(key) else { return nil }
                if let value { changes[field] = Change(old: nil, new: value) }
            }
            return changes
        }
        for (key, value) in object {
            guard let field = numbers.field(key) else { return nil }
            changes[field] = Change(old: value["old"] ?? nil, new: value["new"] ?? nil)
        }
        return changes
    }

    /// jsonb reorders keys and spacing: re-serialise what the database returns the same way (what
    /// `verify` hashes); nil when the text is not a stored form `storedChanges` reads.
    static func canonicalJSON(_ text: String, numbers: FieldNumbers = .none) -> String? {
        storedChanges(text, numbers: numbers).map(canonicalChanges)
    }

    static func timestamp(_ date: Date) -> String {
        let micros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        let seconds = micros / 1_000_000, fraction = micros % 1_000_000
        let day = CalendarDate(daysSinceEpoch: Int(seconds / 86_400))!
        let secondOfDay = Int(seconds % 86_400)
        return "\(day.iso)T\((secondOfDay / 3600).zeroPadded(2)):\((secondOfDay / 60 % 60).zeroPadded(2)):\((secondOfDay % 60).zeroPadded(2)).\(fraction.zeroPadded(6))Z"
    }
}

/// The hash of one entry of an append-only chain (change log, audit log): SHA-256 over its
/// fields, each length-prefixed so that no two different entries serialise alike; nil is "\u{0}".
enum HashChain {
    static func link(_ fields: [String?]) -> String {
        var text: [UInt8] = []
        text.reserveCapacity(fields.reduce(0) { $0 + ($1?.utf8.count ?? 1) + 8 })
        for field in fields {
            let value = field ?? "\u{0}"
            text += String(value.utf8.count).utf8
            text.append(UInt8(ascii: ":"))
            text += value.utf8
            text.append(UInt8(ascii: ";"))
        }
        return SHA256.hash(data: text).hexString
    }
}
