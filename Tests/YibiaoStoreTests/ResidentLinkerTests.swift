import Foundation
import PostgresNIO
import Synchronization
import Testing
import YibiaoAdapters
import YibiaoCore
import YibiaoMatching
import YibiaoMerge
import YibiaoStore
import YibiaoTestSupport

@Suite struct ResidentLinkerTests {
    let today = CalendarDate(year: 2026, month: 11, day: 21)!
    let district = "110105"

    func ingest(_ lines: [String], client: PostgresClient) async throws {
        let directory = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-link")
        let file = directory.appendingPathComponent("ss-\(UUID().uuidString).jsonl")
        try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        let adapter = try FeedAdapterRegistry.load(repositoryRoot.appendingPathComponent("adapters/social_security.yaml").path)
        _ = try await Ingestor(adapter: adapter, district: district, actor: "test", today: today, logger: .silent).ingest(file, client: client)
    }

    func residents(_ client: PostgresClient) async throws -> [String: Int64] {
        var result: [String: Int64] = [:]
        for try await (key, resident) in try await client.query(
            """
            SELECT r.source_key, l.resident_id FROM source_record r JOIN link l USING (district, record_id) WHERE r.is_current
            """
        ).decode((String, Int64).self) { result[key] = resident }
        return result
    }

    func count(_ client: PostgresClient, _ sql: String) async throws -> Int {
        for try await value in try await client.query(PostgresQuery(unsafeSQL: sql)).decode(Int.self) { return value }
        return -1
    }

    @Test("every record gets exactly one resident; a re-run changes nothing and keeps the ids")
    func stable() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            try await ingest(
                [
                    #"{"aac001": "1", "aac002": "110105198503020118", "aac003": "张伟", "aac004": "1", "aac006": "19850302"}"#,
                    #"{"aac001": "2", "aac002": "110105198503020118", "aac003": "張偉", "aac004": "1", "aac006": "19850302"}"#,
                    #"{"aac001": "3", "aac002": "11010519870615022X", "aac003": "王芳", "aac004": "2", "aac006": "19870615"}"#,
                ], client: client)
            var linker = ResidentLinker(district: district, actor: "test", rules: .standard, logger: .silent)
            // A run that drains many queued records gives the queue's pages back (here: "many" is one).
            linker.vacuumQueueAfter = 1
            // The run's own VACUUM is under test: autovacuum, drawn by the 20,000 rows below, could
            // analyze the queue beside it and hold a snapshot that keeps its dead rows (seen once
            // in the whole parallel run, where this test takes minutes).
            try await client.query("ALTER TABLE match_queue SET (autovacuum_enabled = false)")
            #expect(try await count(client, "SELECT pg_relation_size('match_queue')") > 0)
            // And its key index, which VACUUM leaves at its largest: a drained queue of 20,000 rows.
            try await client.query(
                "INSERT INTO match_queue (district, record_id) SELECT '110106', n FROM generate_series(1, 20000) AS n")
            try await client.query("DELETE FROM match_queue WHERE district = '110106'")
            #expect(try await count(client, "SELECT pg_relation_size('match_queue_pkey')") > 100_000)
            let first = try await linker.run(client)
            #expect(try await count(client, "SELECT pg_relation_size('match_queue')") == 0)
            #expect(try await count(client, "SELECT pg_relation_size('match_queue_pkey')") <= 16_384)
            #expect(first.residents == 2)
            #expect(first.newResidents == 2)
            let ids = try await residents(client)
            #expect(ids["1"] == ids["2"])
            #expect(ids["1"] != ids["3"])
            let second = try await linker.run(client)
            #expect(second.relinked == 0)
            #expect(second.newResidents == 0)
            #expect(try await residents(client) == ids)
            #expect(try await count(client, "SELECT count(*) FROM link WHERE method = 'deterministic'") >= 1)
            #expect(try await count(client, "SELECT count(*) FROM resident_identifier WHERE scheme = 'cn_citizen_id'") == 2)
            // A system's own key is its record's, whose link says whose it is: not an identifier row too.
            #expect(try await count(client, "SELECT count(*) FROM resident_identifier WHERE scheme LIKE 'local%'") == 0)
            let (version, parameters) = try await linker.train(client, linkThreshold: 0.995, reviewThreshold: 0.6)
            #expect(version == 1)
            #expect(parameters.linkThreshold == 0.995 && parameters.reviewThreshold == 0.6)
            #expect(try await linker.train(client).1.linkThreshold == 0.995)
        }
    }

    @Test("a record that bridges two residents merges them: the older id survives, the event says what moved")
    func merge() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            let linker = ResidentLinker(district: district, actor: "test", rules: .standard, logger: .silent)
            try await ingest(
                [
                    #"{"aac001": "1", "aac002": "110105198503020118", "aac003": "张伟", "aac004": "1", "aac006": "19850302"}"#,
                    #"{"aac001": "2", "aac003": "张伟", "aac004": "1", "aac006": "19860302", "aae005": "13812345678"}"#,
                ], client: client)
            _ = try await linker.run(client)
            let before = try await residents(client)
            #expect(before["1"] != before["2"])
            try await ingest(
                [
                    #"{"aac001": "1", "aac002": "110105198503020118", "aac003": "张伟", "aac004": "1", "aac006": "19850302"}"#,
                    #"{"aac001": "2", "aac003": "张伟", "aac004": "1", "aac006": "19860302", "aae005": "13812345678"}"#,
                    #"{"aac001": "3", "aac002": "110105198503020118", "aac003": "张伟", "aac004": "1", "aac006": "19860302", "aae005": "13812345678"}"#,
                ], client: client)
            let summary = try await linker.run(client)
            let after = try await residents(client)
            #expect(after["1"] == after["2"] && after["2"] == after["3"])
            #expect(summary.merges == 1)
            let survivor = min(before["1"]!, before["2"]!)
            #expect(after["1"] == survivor)
            let retired = max(before["1"]!, before["2"]!)
            #expect(try await count(client, "SELECT count(*) FROM resident WHERE resident_id = \(retired) AND status = 'retired' AND merged_into = \(survivor)") == 1)
            #expect(try await count(client, "SELECT count(*) FROM resident_event WHERE kind = 'merge' AND surviving_id = \(survivor) AND other_id = \(retired) AND cardinality(moved_records) = 1") == 1)
        }
    }

    @Test("a person's pinned link and 'different people' decision survive automatic runs")
    func decisionsStay() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            let linker = ResidentLinker(district: district, actor: "test", rules: .standard, logger: .silent)
            try await ingest(
                [
                    #"{"aac001": "1", "aac002": "110105198503020118", "aac003": "张伟", "aac004": "1", "aac006": "19850302", "aae005": "13812345678"}"#,
                    #"{"aac001": "2", "aac003": "张伟", "aac004": "1", "aac006": "19850302", "aae005": "13812345678"}"#,
                ], client: client)
            _ = try await linker.run(client)
            #expect(try await residents(client)["1"] == residents(client)["2"])
            // A person says record 2 is someone else, and pins it to a resident of its own.
            try await client.query(
                """
                INSERT INTO pair_decision (district, record_a, record_b, same_person, author, reason)
                SELECT '110105', min(record_id), max(record_id), false, 'worker:li', 'different person, checked in person' FROM source_record
                """)
            let ids = try await client.query("INSERT INTO resident (district) VALUES ('110105') RETURNING resident_id").decode(Int64.self)
            var own: Int64 = 0
            for try await id in ids { own = id }
            try await client.query(
                """
                UPDATE link SET resident_id = \(own), method = 'manual', pinned = true, reason = 'checked in person', decided_by = 'worker:li'
                WHERE record_id = (SELECT record_id FROM source_record WHERE source_key = '2')
                """)
            let summary = try await linker.run(client)
            let after = try await residents(client)
            #expect(after["2"] == own)
            #expect(after["1"] != own)
            #expect(summary.reviewItems == 0)
        }
    }

    @Test("a changed row (a new version) keeps its resident id")
    func newVersionKeepsResident() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            let linker = ResidentLinker(district: district, actor: "test", rules: .standard, logger: .silent)
            try await ingest([#"{"aac001": "9", "aac003": "欧阳娜娜", "aac004": "2", "aac006": "19920101", "aae005": "13712345671"}"#], client: client)
            _ = try await linker.run(client)
            let before = try await residents(client)["9"]
            try await ingest([#"{"aac001": "9", "aac003": "欧阳娜娜", "aac004": "2", "aac006": "19920101", "aae005": "13712345679"}"#], client: client)
            let summary = try await linker.run(client)
            #expect(try await residents(client)["9"] == before)
            #expect(summary.newResidents == 0)
            #expect(try await count(client, "SELECT count(*) FROM resident") == 1)
        }
    }

    @Test("split and merge commands' decisions hold across runs, with author and reason")
    func splitAndMerge() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            let linker = ResidentLinker(district: district, actor: "test", rules: .standard, logger: .silent)
            let decisions = ManualDecisions(district: district, author: "worker:wang", logger: .silent)
            try await ingest(
                [
                    #"{"aac001": "1", "aac002": "110105198503020118", "aac003": "张伟", "aac004": "1", "aac006": "19850302"}"#,
                    #"{"aac001": "2", "aac002": "110105198503020118", "aac003": "张伟", "aac004": "1", "aac006": "19850302"}"#,
                    #"{"aac001": "3", "aac003": "赵磊", "aac004": "1", "aac006": "19830707"}"#,
                ], client: client)
            _ = try await linker.run(client)
            #expect(try await residents(client)["1"] == residents(client)["2"])
            // Record 2 shares the ID by a data-entry mistake: a person splits it off.
            let two = try await decisions.record(client, system: "social_security", key: "2")
            let own = try await decisions.split(client, record: two, reason: "ID typed from the wrong form", rules: .standard)
            _ = try await linker.run(client)
            var ids = try await residents(client)
            #expect(ids["2"] == own)
            #expect(ids["1"] != own)
            #expect(try await count(client, "SELECT count(*) FROM resident_event WHERE kind = 'split' AND actor = 'worker:wang' AND reason = 'ID typed from the wrong form'") == 1)
            // Records 1 and 3 are declared the same person (a name change, say).
            let one = try await decisions.record(client, system: "social_security", key: "1")
            let three = try await decisions.record(client, system: "social_security", key: "3")
            try await decisions.merge(client, one, three, reason: "name changed in 2020, checked the household register")
            _ = try await linker.run(client)
            ids = try await residents(client)
            #expect(ids["1"] == ids["3"])
            #expect(ids["2"] == own)
            _ = try await linker.run(client)
            #expect(try await residents(client) == ids)
            await #expect(throws: StoreError.self) { try await decisions.record(client, system: "social_security", key: "404") }
        }
    }

    @Test("review: open items show both sides; a decision is kept and the item is not asked again")
    func review() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            try await ingest(
                [
                    #"{"aac001": "1", "aac002": "110105198503020118", "aac003": "张伟", "aac004": "1", "aac006": "19850302"}"#,
                    #"{"aac001": "3", "aac003": "张伟", "aac004": "1", "aac006": "19860302", "aae005": "13900000001"}"#,
                ], client: client)
            _ = try await ResidentLinker(district: district, actor: "test", rules: .standard, logger: .silent).run(client)
            try await client.query("DELETE FROM review_item")
            try await client.query(
                """
                INSERT INTO review_item (district, record_id, candidate_resident_id, weight)
                SELECT '110105', r3.record_id, l1.resident_id, 0.7
                FROM source_record r3, source_record r1 JOIN link l1 USING (district, record_id)
                WHERE r3.source_key = '3' AND r1.source_key = '1'
                """)
            let queue = ReviewQueue(district: district, author: "worker:li", logger: .silent)
            let items = try await queue.openItems(client)
            try #require(items.count == 1)
            #expect(items[0].record.key == "3")
            #expect(items[0].candidate.map(\.key) == ["1"])
            #expect(items[0].record.fields["name"] == "张伟")
            try await queue.decide(client, items[0], .different, reason: "different mothers' names on file")
            #expect(try await queue.openItems(client).isEmpty)
            #expect(try await count(client, "SELECT count(*) FROM pair_decision WHERE NOT same_person AND author = 'worker:li'") == 1)
            _ = try await ResidentLinker(district: district, actor: "test", rules: .standard, logger: .silent).run(client)
            let ids = try await residents(client)
            #expect(ids["1"] != ids["3"])
        }
    }

    /// A first load of people with one or two rows each (the second with another phone), nine
    /// of them giving one phone (a placeholder the merge leaves out).
    func firstLoadRows() -> [String] {
        (1...14).flatMap { person -> [String] in
            let birth = "198001" + String(format: "%02d", person)
            let first17 = "110105" + birth + String(format: "%03d", person)
            let id = first17 + String(CitizenID.checkCharacter(forFirst17: first17.map { Int(String($0))! }))
            let phone = person <= 9 ? "13800000000" : "1390000\(String(format: "%04d", person))"
            // Fourteen different names: the remainders by 4 and 7 repeat only after 28.
            let name = ["张", "王", "李", "赵"][person % 4] + ["伟", "芳", "娜", "敏", "静", "强", "磊"][person % 7]
            let row = #"{"aac001": "\#(person)", "aac002": "\#(id)", "aac003": "\#(name)", "aac004": "1", "aac006": "\#(birth)", "aae005": "\#(phone)"}"#
            guard person % 3 == 0 else { return [row] }
            let again = row.replacingOccurrences(of: #""aac001": "\#(person)""#, with: #""aac001": "\#(person)b""#)
                .replacingOccurrences(of: phone, with: "1370000\(String(format: "%04d", person))")
            return [row, again]
        }
    }

    /// What a first load made: residents with their golden records and digests, the change log,
    /// conflicts and links.
    func firstLoadOutcome(_ client: PostgresClient) async throws -> [String] {
        var rows: [String] = []
        for sql in [
            "SELECT resident_id || ' ' || golden::text || ' ' || inputs_hash::text FROM resident ORDER BY resident_id",
            "SELECT seq || ' ' || resident_id || ' ' || cause || ' ' || changes::text FROM change_log ORDER BY seq",
            "SELECT resident_id || ' ' || field || ' ' || status || ' ' || candidates::text FROM conflict ORDER BY resident_id, field",
            "SELECT record_id || ' ' || resident_id || ' ' || method FROM link ORDER BY record_id",
        ] {
            for try await row in try await client.query(PostgresQuery(unsafeSQL: sql)).decode(String.self) { rows.append(row) }
        }
        return rows
    }

    @Test("a first load's slices of new residents read on another connection give what reading them after the links gives")
    func slicesReadAhead() async throws {
        func load(readingAhead: Bool) async throws -> (outcome: [String], readAhead: Int) {
            try await TestDatabase.withFreshDatabase { _, client in
                try await ingest(firstLoadRows(), client: client)
                var linker = ResidentLinker(district: district, actor: "test", rules: .standard, logger: .silent)
                linker.goldenLoadSlice = 4
                linker.readAheadFrom = readingAhead ? 1 : .max
                linker.readAheadWaitsToBegin = true
                let summary = try await linker.run(client)
                #expect(summary.newResidents == 14)
                #expect(summary.golden.changed == 14)
                // The placeholder phone is nobody's.
                #expect(try await count(client, "SELECT count(*) FROM resident WHERE golden::text LIKE '%13800000000%'") == 0)
                #expect(try await count(client, "SELECT count(*) FROM resident WHERE golden::text LIKE '%13900000010%'") == 1)
                return (try await firstLoadOutcome(client), summary.golden.slicesReadAhead)
            }
        }
        // The refresh waits for the read-ahead to begin (in a run it would read the slices
        // itself if the read-ahead lost its race to the first one).
        let ahead = try await load(readingAhead: true)
        let after = try await load(readingAhead: false)
        // Fourteen residents, four at a time: every slice read ahead, or none.
        #expect(ahead.readAhead == 4)
        #expect(after.readAhead == 0)
        #expect(ahead.outcome == after.outcome)
    }

    @Test("a whole district read in parts side by side gives what one read gives")
    func wholeDistrictReadInParts() async throws {
        func load(partFrom: Int64) async throws -> [String] {
            try await TestDatabase.withFreshDatabase { _, client in
                try await ingest(firstLoadRows(), client: client)
                var linker = ResidentLinker(district: district, actor: "test", rules: .standard, logger: .silent)
                linker.wholeReadPartFrom = partFrom
                let summary = try await linker.run(client)
                // Every record read once, in whichever part, and linked.
                #expect(summary.records == firstLoadRows().count)
                #expect(try await count(client, "SELECT count(*) FROM link") == firstLoadRows().count)
                return try await firstLoadOutcome(client)
            }
        }
        let inParts = try await load(partFrom: 1), whole = try await load(partFrom: .max)
        #expect(inParts == whole)
    }

    @Test("the read-ahead's connection goes back to the pool when the run ends", .timeLimit(.minutes(10)))
    func readAheadLetsItsConnectionGo() async throws {
        try await TestDatabase.withFreshDatabase { url, shared in
            try await ingest(firstLoadRows(), client: shared)
            try await Database.withClient(url, maximumConnections: 3) { client in
                var linker = ResidentLinker(district: district, actor: "test", rules: .standard, logger: .silent)
                linker.goldenLoadSlice = 4
                linker.readAheadFrom = 1
                // The refresh waits for the read-ahead to begin (else it may lose its race).
                linker.readAheadWaitsToBegin = true
                // The run's lock and transaction hold two connections; the read-ahead the third.
                let summary = try await linker.run(client)
                #expect(summary.golden.slicesReadAhead == 4)
                // All three free again: three sessions hold one each at once (a connection kept
                // by the read-ahead would leave the third waiting past the time limit).
                final class Holding: Sendable { let count = Mutex(0) }
                let holding = Holding()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<3 {
                        group.addTask {
                            try await client.withConnection { _ in
                                holding.count.withLock { $0 += 1 }
                                while holding.count.withLock({ $0 }) < 3 { try await Task.sleep(for: .milliseconds(10)) }
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
        }
    }

    @Test("with no connection free for it, the read-ahead is not waited for: a first load on a pool with none to spare completes alike")
    func readAheadNeverWaitedFor() async throws {
        try await TestDatabase.withFreshDatabase { url, shared in
            let expected = try await TestDatabase.withFreshDatabase { _, client in
                try await ingest(firstLoadRows(), client: client)
                var linker = ResidentLinker(district: district, actor: "test", rules: .standard, logger: .silent)
                linker.goldenLoadSlice = 4
                linker.readAheadFrom = .max
                _ = try await linker.run(client)
                return try await firstLoadOutcome(client)
            }
            try await ingest(firstLoadRows(), client: shared)
            // A run holds two connections (its run lock; its transaction from the district lock
            // to its commit): none is left for the read-ahead.
            let summary = try await Database.withClient(url, maximumConnections: 2) { client in
                var linker = ResidentLinker(district: district, actor: "test", rules: .standard, logger: .silent)
                linker.goldenLoadSlice = 4
                linker.readAheadFrom = 1
                return try await linker.run(client)
            }
            #expect(summary.golden.slicesReadAhead == 0)
            #expect(try await firstLoadOutcome(shared) == expected)
        }
    }
}
