import Foundation
import PostgresNIO
import Testing
import YibiaoCore
import YibiaoMerge
@testable import YibiaoStore
import Crypto
import YibiaoTestSupport

@Suite struct ChangeLogTests {
    let district = "110105"

    func prepare(_ client: PostgresClient) async throws -> Int64 {
        try await client.query("INSERT INTO district (district, name) VALUES ('110105', '朝阳区')")
        for try await id in try await client.query("INSERT INTO resident (district) VALUES ('110105') RETURNING resident_id").decode(Int64.self) {
            return id
        }
        return 0
    }

    func entry(_ resident: Int64, _ value: String) -> ChangeLog.Entry {
        ChangeLog.Entry(
            residentID: resident, cause: "batch", causeRef: "batch:1", actor: "test",
            changes: ["phone": .init(old: nil, new: value), "name": .init(old: "张伟", new: "張偉/x")])
    }

    func appendInTransaction(_ client: PostgresClient, _ entries: [ChangeLog.Entry]) async throws -> [Int64] {
        try await client.withConnection { connection in
            try await connection.query("BEGIN", logger: Logger(label: "test"))
            let sequences = try await ChangeLog.append(entries, district: district, on: connection, logger: .silent)
            try await connection.query("COMMIT", logger: Logger(label: "test"))
            return sequences
        }
    }

    @Test("an entry's hash is the one documented in docs/merge.md: logs written before stay verifiable")
    func hashFormat() {
        let fields = ["0" + String(repeating: "a", count: 63), "110105", "7", "42", "batch", "\u{0}", "张三", "2026-12-01T00:00:00.000001Z", #"{"phone":{"new":"1","old":null}}"#]
        let text = fields.map { "\($0.utf8.count):\($0);" }.joined()
        let expected = SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
        #expect(
            ChangeLog.entryHash(
                previous: fields[0], district: "110105", seq: 7, residentID: 42, cause: "batch", causeRef: nil, actor: "张三",
                changedAt: fields[7], changes: fields[8]) == expected)
    }

    @Test("changes are put in UTF-8 order of their names: canonical fields by their place, any other name among them by comparison")
    func fieldOrder() {
        let canonical = CanonicalField.all.map(\.qualifiedName)
        #expect(Set(ChangeLog.canonicalOrder.keys) == Set(canonical))
        var generator = SystemRandomNumberGenerator()
        for round in 0..<200 {
            var names = canonical.filter { _ in Bool.random(using: &generator) }
            // Names no canonical field has: a retirement's, and ones that sort between them.
            if round % 3 == 0 { names += ["status", "merged_into", "a", "name_", "zz", "社保"].filter { _ in Bool.random(using: &generator) } }
            let changes = Dictionary(uniqueKeysWithValues: names.map { ($0, GoldenDiff.Change(old: nil, new: "1")) })
            let expected = names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
            #expect(ChangeLog.fieldsInOrder(changes.keys) == expected)
        }
    }

    @Test("changes are stored without their nulls (values only added as one object) and hashed in the canonical form, which every form reads back to")
    func storedWithoutNulls() throws {
        let samples: [[String: GoldenDiff.Change]] = [
            [:],
            ["phone": .init(old: nil, new: "13812345678")],
            ["address": .init(old: "北京市\"朝阳区\"\\1号\n", new: nil), "name": .init(old: "张伟", new: "張偉"), "sex": .init(old: nil, new: nil)],
            ["party.branch": .init(old: "\u{1}第一支部", new: "第二支部"), "birth_date": .init(old: nil, new: "1990")],
            ["name": .init(old: nil, new: "张伟"), "social_security.person_number": .init(old: nil, new: "31000\"1"), "sex": .init(old: nil, new: "1")],
        ]
        // What tells the added-values form from the others.
        #expect(!CanonicalField.all.contains { ["new", "old"].contains($0.qualifiedName) })
        for changes in samples {
            let (canonical, stored) = ChangeLog.changesText(changes)
            #expect(canonical == ChangeLog.canonicalChanges(changes))
            let withoutNulls = CanonicalJSON.object(
                changes.mapValues { change in
                    .object(["old": change.old.map(CanonicalJSON.string), "new": change.new.map(CanonicalJSON.string)].compactMapValues { $0 })
                }
            ).text
            // Values only added: one object of them under "new".
            let onlyAdded = !changes.isEmpty && changes.values.allSatisfy { $0.old == nil && $0.new != nil }
            let added = CanonicalJSON.object(["new": .object(changes.compactMapValues { $0.new.map(CanonicalJSON.string) })]).text
            #expect(stored == (onlyAdded ? added : withoutNulls))
            #expect(!stored.contains("null"))
            #expect(ChangeLog.storedChanges(stored) == changes)
            #expect(ChangeLog.storedChanges(canonical) == changes)
            #expect(ChangeLog.storedChanges(withoutNulls) == changes, "entries stored before the added-values form read alike")
            // What `verify` hashes, from either form as the database returns it.
            #expect(ChangeLog.canonicalJSON(stored) == canonical)
            #expect(ChangeLog.canonicalJSON(canonical) == canonical)
        }
    }

    @Test("fields stored by their number where the district numbers them, by name otherwise; both read back only with the numbers")
    func numberedFields() throws {
        let numbers = FieldNumbers(names: ["phone", "name", "party.branch"])
        let added: [String: GoldenDiff.Change] = ["phone": .init(old: nil, new: "13812345678"), "custom_field": .init(old: nil, new: "7")]
        let (canonical, stored) = ChangeLog.changesText(added, numbers: numbers)
        #expect(stored == #"{"new":{"custom_field":"7","1":"13812345678"}}"#)
        #expect(canonical == ChangeLog.changesText(added).canonical, "the hash covers names, however stored")
        #expect(ChangeLog.storedChanges(stored, numbers: numbers) == added)
        #expect(ChangeLog.storedChanges(stored) == nil, "a number the reader does not have is not read as a field")
        let changed: [String: GoldenDiff.Change] = ["party.branch": .init(old: "一支部", new: nil), "name": .init(old: "张伟", new: "張偉")]
        let general = ChangeLog.changesText(changed, numbers: numbers).stored
        #expect(general == #"{"2":{"new":"張偉","old":"张伟"},"3":{"old":"一支部"}}"#, "in the order of the names")
        #expect(ChangeLog.storedChanges(general, numbers: numbers) == changed)
        #expect(ChangeLog.canonicalJSON(general, numbers: numbers) == ChangeLog.canonicalChanges(changed))
        // Entries written before numbering name their fields: read alike with the numbers.
        #expect(ChangeLog.storedChanges(ChangeLog.changesText(changed).stored, numbers: numbers) == changed)
    }

    @Test("a district's appends number the canonical fields once; entries name them by number, and verify and the readers read them")
    func numberedInTheDatabase() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            let resident = try await prepare(client)
            // An entry written before numbering (by name), then numbered ones.
            let before = ChangeLog.changesText(entry(resident, "0").changes)
            try await client.query(
                """
                INSERT INTO change_log (district, seq, resident_id, cause, cause_ref, actor, changed_at, changes, prev_hash, hash)
                VALUES ('110105', 1, \(resident), 'batch', 'batch:1', 'test', '2026-12-01T00:00:00.000001Z', \(before.stored)::json,
                        decode(\(ChangeLog.genesisHash), 'hex'),
                        decode(\(ChangeLog.entryHash(previous: ChangeLog.genesisHash, district: district, seq: 1, residentID: resident, cause: "batch", causeRef: "batch:1", actor: "test", changedAt: "2026-12-01T00:00:00.000001Z", changes: before.canonical)), 'hex'))
                """)
            try await client.query(
                """
                INSERT INTO change_log_head (district, last_seq, last_hash)
                SELECT district, seq, encode(hash, 'hex') FROM change_log WHERE seq = 1
                """)
            _ = try await appendInTransaction(client, [entry(resident, "1")])
            _ = try await appendInTransaction(client, [entry(resident, "2")])
            let numbers = try await FieldNumbers.load(district: district, client, logger: .silent)
            #expect(numbers.byName.count == CanonicalField.all.count, "numbered once, not once per append")
            #expect(Set(numbers.byName.keys) == Set(CanonicalField.all.map(\.qualifiedName)))
            var texts: [String] = []
            for try await text in try await client.query("SELECT changes::text FROM change_log ORDER BY seq").decode(String.self) { texts.append(text) }
            #expect(texts.count == 3)
            #expect(texts[0].contains("\"phone\""))
            #expect(!texts[2].contains("\"phone\"") && texts[2].contains("\"\(numbers.byName["phone"]!)\""), "\(texts[2])")
            #expect(ChangeLog.storedChanges(texts[2], numbers: numbers) == entry(resident, "2").changes)
            let (checked, broken) = try await ChangeLog.verify(client, district: district, logger: .silent)
            #expect(checked == 3 && broken == nil)
            // An edit to a numbered entry is still found.
            try await client.query("ALTER TABLE change_log DISABLE TRIGGER change_log_append_only")
            let phone = numbers.byName["phone"]!
            try await client.query(PostgresQuery(unsafeSQL: #"UPDATE change_log SET changes = jsonb_set(changes::jsonb, '{\#(phone)}', '{"new": "9"}')::json WHERE seq = 3"#))
            #expect(try await ChangeLog.verify(client, district: district, logger: .silent).firstBreak?.seq == 3)
        }
    }

    @Test("appended entries chain; verify finds them intact")
    func intact() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            let resident = try await prepare(client)
            #expect(try await appendInTransaction(client, [entry(resident, "1"), entry(resident, "2")]) == [1, 2])
            #expect(try await appendInTransaction(client, [entry(resident, "3")]) == [3])
            for try await withNulls in try await client.query("SELECT count(*)::int FROM change_log WHERE changes::text LIKE '%null%'").decode(Int.self) {
                #expect(withNulls == 0)
            }
            let (checked, broken) = try await ChangeLog.verify(client, district: district, logger: .silent)
            #expect(checked == 3)
            #expect(broken == nil)
        }
    }

    @Test("one append larger than a block of 20,000 entries: one gap-free chain across the blocks")
    func acrossBlocks() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            let resident = try await prepare(client)
            #expect(try await appendInTransaction(client, [entry(resident, "0")]) == [1])
            let sequences = try await appendInTransaction(client, (1...41_000).map { entry(resident, String($0)) })
            #expect(sequences == Array(2...41_001))
            let (checked, broken) = try await ChangeLog.verify(client, district: district, logger: .silent)
            #expect(checked == 41_001)
            #expect(broken == nil)
            // Verify hashes thousands of entries at a time on every core: a break deep in the
            // log, in the middle of such a batch, is still the first one named, and counted up to.
            try await client.query("ALTER TABLE change_log DISABLE TRIGGER change_log_append_only")
            try await client.query("UPDATE change_log SET cause_ref = 'edited' WHERE seq IN (30123, 30124, 40000)")
            let tampered = try await ChangeLog.verify(client, district: district, logger: .silent)
            #expect(tampered.checked == 30_123)
            #expect(tampered.firstBreak?.seq == 30_123)
        }
    }

    @Test("an entry edited with SQL is reported, with its sequence number")
    func tampering() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            let resident = try await prepare(client)
            _ = try await appendInTransaction(client, (1...5).map { entry(resident, String($0)) })
            // The append-only trigger stops ordinary edits; a superuser can get round it.
            try await client.query("ALTER TABLE change_log DISABLE TRIGGER change_log_append_only")
            try await client.query("UPDATE change_log SET actor = 'someone else' WHERE seq = 3")
            let (_, broken) = try await ChangeLog.verify(client, district: district, logger: .silent)
            #expect(broken?.seq == 3)
            #expect(broken?.reason.en.contains("edited after it was written") == true)
            try await client.query("DELETE FROM change_log WHERE seq = 4")
            #expect(try await ChangeLog.verify(client, district: district, logger: .silent).firstBreak?.seq == 3)
        }
    }

    @Test("entries do not store the hash they follow, and the chain holds: an entry forged with its hash recomputed breaks the next; an older entry's stored link is checked")
    func chainWithoutStoredLinks() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            let resident = try await prepare(client)
            _ = try await appendInTransaction(client, (1...4).map { entry(resident, String($0)) })
            for try await stored in try await client.query("SELECT count(prev_hash)::int FROM change_log").decode(Int.self) { #expect(stored == 0) }
            #expect(try await ChangeLog.verify(client, district: district, logger: .silent).firstBreak == nil)
            // An entry that stores the hash it follows (written before migration 0033) is checked against it.
            try await client.query("ALTER TABLE change_log DISABLE TRIGGER change_log_append_only")
            try await client.query("UPDATE change_log SET prev_hash = (SELECT hash FROM change_log WHERE seq = 2) WHERE seq = 3")
            #expect(try await ChangeLog.verify(client, district: district, logger: .silent).firstBreak == nil)
            try await client.query("UPDATE change_log SET prev_hash = decode(repeat('ab', 32), 'hex') WHERE seq = 3")
            let dangling = try await ChangeLog.verify(client, district: district, logger: .silent).firstBreak
            #expect(dangling?.seq == 3 && dangling?.reason.en.contains("does not point at the previous entry's hash") == true)
            try await client.query("UPDATE change_log SET prev_hash = NULL WHERE seq = 3")
            // Entry 2 rewritten by someone who also recomputes its hash: its own check passes,
            // the next entry's does not (its hash covers entry 2's).
            var row: (Int64, String, String, String?)?
            for try await values in try await client.query(
                """
                SELECT seq, encode(hash, 'hex'), to_char(changed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), cause_ref
                FROM change_log WHERE seq = 1
                """
            ).decode((Int64, String, String, String?).self) { row = values }
            let (_, first, changedAt, causeRef) = try #require(row)
            let forged = ChangeLog.changesText(entry(resident, "forged").changes)
            let hash = ChangeLog.entryHash(
                previous: first, district: district, seq: 2, residentID: resident, cause: "batch", causeRef: causeRef, actor: "test",
                changedAt: changedAt, changes: forged.canonical)
            try await client.query(
                "UPDATE change_log SET changes = \(forged.stored)::json, hash = decode(\(hash), 'hex') WHERE seq = 2")
            let broken = try await ChangeLog.verify(client, district: district, logger: .silent)
            #expect(broken.firstBreak?.seq == 3 && broken.checked == 3)
        }
    }

    @Test("concurrent appenders: the sequence is gap-free, strictly increasing and in commit order")
    func concurrent() async throws {
        try await TestDatabase.withFreshDatabase { url, client in
            let resident = try await prepare(client)
            // Each transaction notes its numbers just before COMMIT, while it still holds the head
            // row's lock: the order of the notes is the order of the commits.
            let order = CommitOrder()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<6 {
                    group.addTask {
                        try await Database.withClient(url) { own in
                            for round in 0..<5 {
                                try await own.withConnection { connection in
                                    try await connection.query("BEGIN", logger: Logger(label: "test"))
                                    let sequences = try await ChangeLog.append(
                                        [entry(resident, "\(worker)-\(round)"), entry(resident, "x")], district: district, on: connection, logger: .silent)
                                    await order.note(sequences)
                                    try await connection.query("COMMIT", logger: Logger(label: "test"))
                                }
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            var stored: [Int64] = []
            for try await seq in try await client.query("SELECT seq FROM change_log ORDER BY seq").decode(Int64.self) { stored.append(seq) }
            #expect(stored == Array(1...60))
            #expect(await order.sequences == Array(1...60))
            #expect(try await ChangeLog.verify(client, district: district, logger: .silent).firstBreak == nil)
        }
    }
}

actor CommitOrder {
    private(set) var sequences: [Int64] = []
    func note(_ values: [Int64]) { sequences += values }
}
