import Foundation
import PostgresNIO
import Testing
import YibiaoAdapters
import YibiaoCore
import YibiaoMerge
import YibiaoStore
import YibiaoTestSupport

/// Golden records end to end on a real database: ingest → match → merge → change log.
@Suite struct GoldenRecordTests {
    let today = CalendarDate(year: 2026, month: 11, day: 21)!
    let district = "110105"

    /// A civil-affairs feed as JSON Lines, so that tests can write it inline.
    static let civilAffairsSpec = """
        system: civil_affairs
        name: {zh: 民政系统, en: Civil affairs}
        format: {type: jsonl}
        source_key: key
        fields:
          name: {column: name, required: true}
          national_id: id
          sex: sex
          birth_date: birth
          death_date: death
          phone: phone
          address: address
          household_book_no: book
          relationship_to_head: relation
          passport_no: passport
          social_security_no: ssn
        """

    func adapter(_ system: String, directory: URL) throws -> any FeedAdapter {
        if system == "social_security" {
            return try FeedAdapterRegistry.load(repositoryRoot.appendingPathComponent("adapters/social_security.yaml").path)
        }
        let spec = directory.appendingPathComponent("civil_affairs.yaml")
        try Self.civilAffairsSpec.write(to: spec, atomically: true, encoding: .utf8)
        return try FeedAdapterRegistry.load(spec.path)
    }

    /// Ingests a feed and matches, as `yibiao ingest` does; returns the matching summary.
    @discardableResult
    func ingest(_ system: String, _ lines: [String], client: PostgresClient) async throws -> ResidentLinker.Summary {
        let directory = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-golden")
        let file = directory.appendingPathComponent("\(system).jsonl")
        try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        let summary = try await Ingestor(adapter: try adapter(system, directory: directory), district: district, actor: "test", today: today, logger: .silent)
            .ingest(file, client: client)
        return try await ResidentLinker(district: district, actor: "test", rules: .standard, logger: .silent).run(client, cause: .batch(summary.batchID))
    }

    func count(_ client: PostgresClient, _ sql: String) async throws -> Int {
        for try await value in try await client.query(PostgresQuery(unsafeSQL: sql)).decode(Int.self) { return value }
        return -1
    }

    func text(_ client: PostgresClient, _ sql: String) async throws -> String? {
        for try await value in try await client.query(PostgresQuery(unsafeSQL: sql)).decode(String?.self) { return value }
        return nil
    }

    func resident(_ client: PostgresClient, system: String, key: String) async throws -> Int64 {
        for try await id in try await client.query(
            """
            SELECT l.resident_id FROM source_record r JOIN link l USING (district, record_id)
            WHERE r.system_id = \(system) AND r.source_key = \(key) AND r.is_current
            """
        ).decode(Int64.self) { return id }
        Issue.record("no resident for \(system) \(key)")
        return -1
    }

    static let zhang = #"{"key": "c1", "name": "张伟", "id": "110105198503020118", "sex": "男", "birth": "1985-03-02", "phone": "13812345678", "address": "朝阳区幸福路1号", "book": "B001", "relation": "户主"}"#
    static let wang = #"{"key": "c2", "name": "王芳", "id": "11010519870615022X", "sex": "女", "birth": "1987-06-15", "book": "B001", "relation": "妻"}"#
    static let zhangSS = #"{"aac001": "s1", "aac002": "110105198503020118", "aac003": "张伟", "aac004": "1", "aac006": "19850302", "aab004": "某某科技有限公司"}"#

    @Test("golden records with provenance; unchanged feeds log nothing; one changed cell logs exactly one entry")
    func changeLogDiscipline() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            let first = try await ingest("civil_affairs", [Self.zhang, Self.wang], client: client)
            #expect(first.golden.changed == 2)
            // New residents' digests, computed in this process, are the ones the server computes.
            #expect(try await GoldenRecords(district: district, rules: .standard, logger: .silent).refresh(client, cause: .link, actor: "test").recomputed == 0)
            try await ingest("social_security", [Self.zhangSS], client: client)
            let zhang = try await resident(client, system: "civil_affairs", key: "c1")
            #expect(try await resident(client, system: "social_security", key: "s1") == zhang)

            let record = try await ResidentHistory(district: district, logger: .silent).current(client, resident: zhang)
            #expect(record.fields["name"]?.value == "张伟")
            #expect(record.fields["birth_date"]?.value == "1985-03-02")
            #expect(record.fields["phone"]?.system == "civil_affairs")
            #expect(record.fields["social_security.employer_name"]?.value == "某某科技有限公司")
            #expect(record.fields["social_security.employer_name"]?.rule == "domain_owner")
            #expect(record.records.map(\.system) == ["civil_affairs", "social_security"])
            #expect(
                try await count(client, "SELECT count(*) FROM resident WHERE named_fields(district, golden) ->> 'name' = '张伟' AND birth_date = '1985-03-02' AND named_fields(district, golden) ->> 'phone' = '13812345678'")
                    == 1)

            let entries = try await count(client, "SELECT count(*) FROM change_log")
            #expect(entries == 3, "two residents created, one enriched by social security")
            // The same feeds again: nothing changes, nothing is logged.
            try await ingest("civil_affairs", [Self.zhang, Self.wang], client: client)
            try await ingest("social_security", [Self.zhangSS], client: client)
            let again = try await GoldenRecords(district: district, rules: .standard, logger: .silent).refresh(client, cause: .link, actor: "test")
            #expect(again.recomputed == 0)
            #expect(try await count(client, "SELECT count(*) FROM change_log") == entries)
            // Every resident recomputed a slice at a time (a first load's are, 25,000 at a time):
            // the same values, nothing logged.
            try await client.query("UPDATE resident SET inputs_hash = NULL")
            var sliced = GoldenRecords(district: district, rules: .standard, logger: .silent)
            sliced.loadSlice = 1
            let recomputed = try await sliced.refresh(client, cause: .link, actor: "test")
            #expect(recomputed.recomputed == 2 && recomputed.changed == 0 && recomputed.entries == 0)
            #expect(try await count(client, "SELECT count(*) FROM change_log") == entries)

            // One cell changed in one feed: exactly one entry, for that resident, with that change.
            let changed = Self.zhang.replacingOccurrences(of: "13812345678", with: "13987654321")
            let summary = try await ingest("civil_affairs", [changed, Self.wang], client: client)
            #expect(summary.golden.entries == 1)
            #expect(try await count(client, "SELECT count(*) FROM change_log") == entries + 1)
            let timeline = try await ResidentHistory(district: district, logger: .silent).timeline(client, resident: zhang)
            let last = try #require(timeline.last)
            #expect(last.changes == ["phone": GoldenDiff.Change(old: "13812345678", new: "13987654321")])
            #expect(last.cause == "batch")
            #expect(last.source?.hasPrefix("civil_affairs civil_affairs.jsonl") == true)
            #expect(try await count(client, "SELECT count(*) FROM resident WHERE named_fields(district, golden) ->> 'phone' = '13987654321' AND version = 4") == 1)
            #expect(try await ChangeLog.verify(client, district: district, logger: .silent).firstBreak == nil)
        }
    }

    @Test("every identifier a resident is known by comes from its records (citizen ID, passport, social security); a record joining a resident adds only what is new")
    func identifiersKnown() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            let smith = #"{"key": "f1", "name": "John Smith", "passport": "E12345678", "ssn": "S-1", "sex": "男", "birth": "1980-01-02", "phone": "13900000001"}"#
            try await ingest("civil_affairs", [Self.zhang, Self.wang, smith], client: client)
            func known() async throws -> Set<String> {
                var result: Set<String> = []
                for try await (resident, scheme, value) in try await client.query("SELECT resident_id, scheme, value FROM resident_identifier")
                    .decode((Int64, String, String).self)
                { result.insert("\(resident) \(scheme) \(value)") }
                return result
            }
            let zhang = try await resident(client, system: "civil_affairs", key: "c1")
            let wang = try await resident(client, system: "civil_affairs", key: "c2")
            let john = try await resident(client, system: "civil_affairs", key: "f1")
            let first: Set<String> = [
                "\(zhang) cn_citizen_id 110105198503020118", "\(wang) cn_citizen_id 11010519870615022X", "\(john) passport E12345678",
                "\(john) social_security S-1",
            ]
            #expect(try await known() == first)
            // The same person under another key, with another social-security number: an
            // incremental run links the record to him and adds the new number alone.
            let again = #"{"key": "f2", "name": "John Smith", "passport": "E12345678", "ssn": "S-2", "sex": "男", "birth": "1980-01-02", "phone": "13900000001"}"#
            let run = try await ingest("civil_affairs", [Self.zhang, Self.wang, smith, again], client: client)
            #expect(!run.wholeDistrict)
            #expect(try await resident(client, system: "civil_affairs", key: "f2") == john)
            #expect(try await known() == first.union(["\(john) social_security S-2"]))
        }
    }

    @Test("provenance is the merge computed again; a stored value the merge does not give is shown as stored")
    func provenanceComputed() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            try await ingest("civil_affairs", [Self.zhang], client: client)
            try await ingest("social_security", [Self.zhangSS], client: client)
            let zhang = try await resident(client, system: "civil_affairs", key: "c1")
            let civil = try await count(client, "SELECT record_id FROM source_record WHERE system_id = 'civil_affairs' AND source_key = 'c1' AND is_current")
            let history = ResidentHistory(district: district, logger: .silent)
            let before = try await history.current(client, resident: zhang)
            #expect(before.fields["name"] == FieldValue(value: "张伟", recordID: Int64(civil), system: "civil_affairs", rule: "most_frequent"))
            #expect(before.fields.values.allSatisfy { $0.rule != GoldenRecords.storedRule && $0.recordID != nil })
            // A stored value the records do not give (other rules waiting for the next run, say).
            try await client.query(
                """
                UPDATE resident SET golden = jsonb_set(golden, ARRAY[(SELECT number::text FROM field_number WHERE name = 'phone')], '"13000000000"')
                WHERE resident_id = \(zhang)
                """)
            let after = try await history.current(client, resident: zhang)
            #expect(after.fields["phone"] == FieldValue(value: "13000000000", recordID: nil, system: nil, rule: GoldenRecords.storedRule))
            #expect(after.fields["name"] == before.fields["name"])
            #expect(after.fields.count == before.fields.count)
        }
    }

    @Test("a refresh a slice at a time, each slice's log written before the next loads, writes what one pass writes")
    func slicedRefresh() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            try await ingest("civil_affairs", [Self.zhang, Self.wang], client: client)
            try await ingest("social_security", [Self.zhangSS], client: client)
            let golden = """
                SELECT resident_id, named_fields(district, golden) ->> 'name', named_fields(district, golden) ->> 'phone',
                       named_fields(district, golden) ->> 'address', golden::text
                FROM resident ORDER BY resident_id
                """
            func rows() async throws -> [String] {
                var result: [String] = []
                for try await (id, name, phone, address, values) in try await client.query(PostgresQuery(unsafeSQL: golden)).decode(
                    (Int64, String?, String?, String?, String).self)
                {
                    result.append("\(id) \(name ?? "-") \(phone ?? "-") \(address ?? "-") \(values)")
                }
                return result
            }
            let once = try await rows()
            let logged = try await count(client, "SELECT count(*) FROM change_log")
            // Every resident's golden record lost: each slice of one must write its resident again.
            try await client.query("UPDATE resident SET golden = '{}', inputs_hash = NULL")
            var sliced = GoldenRecords(district: district, rules: .standard, logger: .silent)
            sliced.loadSlice = 1
            let summary = try await sliced.refresh(client, cause: .link, actor: "test")
            #expect(summary.recomputed == 2 && summary.changed == 2 && summary.entries == 2)
            #expect(try await rows() == once)
            #expect(try await count(client, "SELECT count(*) FROM change_log") == logged + 2)
            #expect(try await ChangeLog.verify(client, district: district, logger: .silent).firstBreak == nil)
        }
    }

    @Test("history as of a past time replays the log")
    func asOf() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            try await ingest("civil_affairs", [Self.zhang], client: client)
            let zhang = try await resident(client, system: "civil_affairs", key: "c1")
            var between = ""
            for try await time in try await client.query("SELECT (max(changed_at) + interval '1 millisecond')::text FROM change_log").decode(String.self) { between = time }
            try await Task.sleep(for: .milliseconds(20))
            try await ingest("civil_affairs", [Self.zhang.replacingOccurrences(of: "13812345678", with: "13987654321")], client: client)
            let history = ResidentHistory(district: district, logger: .silent)
            #expect(try await history.asOf(client, resident: zhang, time: between)["phone"] == "13812345678")
            #expect(try await history.asOf(client, resident: zhang, time: "2100-01-01 00:00+08")["phone"] == "13987654321")
            #expect(try await history.asOf(client, resident: zhang, time: "2000-01-01 00:00+08").isEmpty)
            #expect(try await history.find(client, "110105198503020118") == zhang)
            #expect(ResidentHistory.parseTime("2026-11-21") == "2026-11-21 23:59:59.999999+08")
            #expect(ResidentHistory.parseTime("2026-11-21 10:30") == "2026-11-21 10:30+08")
            #expect(ResidentHistory.parseTime("2026-11-21T10:30:00Z") == "2026-11-21T10:30:00Z")
            #expect(ResidentHistory.parseTime("yesterday") == nil)
            #expect(ResidentHistory.parseTime("2026-13-01") == nil)
        }
    }

    @Test("trusted sources disagree → a conflict; a resolution holds; a newer different value raises a new conflict")
    func conflicts() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            try await ingest("civil_affairs", [Self.zhang], client: client)
            let otherBirth = Self.zhangSS.replacingOccurrences(of: #""aac006": "19850302""#, with: #""aac006": "19850320""#)
            try await ingest("social_security", [otherBirth], client: client)
            let zhang = try await resident(client, system: "civil_affairs", key: "c1")
            let conflicts = Conflicts(district: district, rules: .standard, logger: .silent)
            let open = try await conflicts.list(client)
            #expect(open.count == 1)
            let conflict = try #require(open.first)
            #expect(conflict.field == "birth_date" && conflict.residentID == zhang && conflict.reason == "trusted_sources_disagree")
            #expect(conflict.candidates.map(\.value) == ["1985-03-02", "1985-03-20"])
            #expect(conflict.current?.value == "1985-03-02", "civil affairs is trusted more: the provisional value")

            await #expect(throws: StoreError.self) {
                try await conflicts.resolve(client, id: conflict.id, resolution: .candidate(3), author: "reviewer", reason: "x", today: today)
            }
            await #expect(throws: StoreError.self) {
                try await conflicts.resolve(client, id: conflict.id, resolution: .candidate(2), author: "reviewer", reason: " ", today: today)
            }
            let resolved = try await conflicts.resolve(
                client, id: conflict.id, resolution: .candidate(2), author: "reviewer",
                reason: "household register checked", today: today)
            #expect(resolved.entries == 1)
            #expect(try await conflicts.list(client).isEmpty)
            let after = try await ResidentHistory(district: district, logger: .silent).current(client, resident: zhang)
            #expect(after.fields["birth_date"] == FieldValue(value: "1985-03-20", recordID: nil, system: nil, rule: "override"))
            let timeline = try await ResidentHistory(district: district, logger: .silent).timeline(client, resident: zhang)
            #expect(timeline.last?.cause == "resolution" && timeline.last?.actor == "reviewer")
            await #expect(throws: StoreError.self) {
                try await conflicts.resolve(client, id: conflict.id, resolution: .candidate(1), author: "reviewer", reason: "again", today: today)
            }

            // The same feeds again: the resolution holds, no new conflict.
            try await ingest("civil_affairs", [Self.zhang], client: client)
            try await ingest("social_security", [otherBirth], client: client)
            #expect(try await conflicts.list(client).isEmpty)
            // A source sends a newer, different value: raised, not silently overwritten.
            try await Task.sleep(for: .milliseconds(5))
            try await ingest("civil_affairs", [Self.zhang.replacingOccurrences(of: "1985-03-02", with: "1985-03-12")], client: client)
            let raised = try await conflicts.list(client)
            #expect(raised.map(\.reason) == ["newer_than_override"])
            #expect(raised.first?.current?.value == "1985-03-20")
            // A new value entered by hand is normalised like a feed's; an invalid one is refused.
            await #expect(throws: StoreError.self) {
                try await conflicts.resolve(client, id: raised[0].id, resolution: .value("1985-02-30"), author: "reviewer", reason: "r", today: today)
            }
            try await conflicts.resolve(client, id: raised[0].id, resolution: .value("1985年3月12日"), author: "reviewer", reason: "register", today: today)
            #expect(try await count(client, "SELECT count(*) FROM resident WHERE birth_date = '1985-03-12'") == 1)
            #expect(try await ChangeLog.verify(client, district: district, logger: .silent).firstBreak == nil)
        }
    }

    @Test("a worker's entry is a source with its own priority, logged as an entry; bad values save nothing")
    func workerEntry() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            try await ingest("civil_affairs", [Self.zhang], client: client)
            let zhang = try await resident(client, system: "civil_affairs", key: "c1")
            let entries = WorkerEntries(district: district, worker: "worker:li", rules: .standard, logger: .silent)
            await #expect(throws: StoreError.self) {
                try await entries.enter(client, resident: zhang, values: ["phone": "12", "phnoe": "1"], today: today)
            }
            #expect(try await count(client, "SELECT count(*) FROM source_record WHERE system_id = 'community_entry'") == 0)
            let summary = try await entries.enter(client, resident: zhang, values: ["phone": "139 1234 5678", "marital_status": "已婚"], today: today)
            #expect(summary.entries == 1)
            try await entries.enter(client, resident: zhang, values: ["address": "朝阳区幸福路1号院3号楼201"], today: today)
            let record = try await ResidentHistory(district: district, logger: .silent).current(client, resident: zhang)
            #expect(record.fields["phone"]?.value == "13912345678")
            #expect(record.fields["phone"]?.system == "community_entry")
            #expect(record.fields["marital_status"]?.value == "20")
            #expect(record.fields["address"]?.value == "朝阳区幸福路1号院3号楼201")
            let timeline = try await ResidentHistory(district: district, logger: .silent).timeline(client, resident: zhang)
            #expect(timeline.suffix(2).map(\.cause) == ["entry", "entry"])
            // Matching again keeps the entry with its resident (pinned): the entry's record has no
            // blocking keys of its own and clusters alone, which is not a new person.
            let rerun = try await ResidentLinker(district: district, actor: "test", rules: .standard, logger: .silent).run(client)
            #expect(rerun.newResidents == 0)
            #expect(rerun.splits == 0)
            #expect(try await resident(client, system: "community_entry", key: "resident:\(zhang)") == zhang)
            #expect(try await count(client, "SELECT count(*) FROM resident") == 1)
            #expect(try await count(client, "SELECT count(*) FROM resident_event") == 0)
            #expect(try await count(client, "SELECT count(*) FROM source_record WHERE system_id = 'community_entry' AND is_current") == 1)
            // Earlier values that cannot be read back stop the entry; they are never dropped.
            try await client.query(
                """
                UPDATE source_record SET fields = '{"passport_no": 5}'
                WHERE system_id = 'community_entry' AND is_current
                """, logger: .silent)
            let versions = "SELECT count(*) FROM source_record WHERE system_id = 'community_entry'"
            let before = try await count(client, versions)
            await #expect(throws: StoreError.self) {
                try await entries.enter(client, resident: zhang, values: ["phone": "13912345679"], today: today)
            }
            #expect(try await count(client, versions) == before)
        }
    }

    @Test("households: members from the register; the head's new address is the household's; a move and a death close the membership with a reason")
    func households() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            try await ingest("civil_affairs", [Self.zhang, Self.wang], client: client)
            #expect(try await count(client, "SELECT count(*) FROM household WHERE household_book_no = 'B001' AND address = '朝阳区幸福路1号'") == 1)
            #expect(try await count(client, "SELECT count(*) FROM household_member WHERE until IS NULL") == 2)
            #expect(try await count(client, "SELECT count(*) FROM household_member WHERE relationship = '02'") == 1)
            // Households are assembled again only from the fields they are made of: a phone
            // number leaves them as they were; the head's address moves the household's.
            let zhang = try await resident(client, system: "civil_affairs", key: "c1")
            let entries = WorkerEntries(district: district, worker: "worker:li", rules: .standard, logger: .silent)
            let members = "SELECT string_agg(concat_ws(':', household_id, resident_id, relationship, since, until), ',' ORDER BY resident_id) FROM household_member"
            let before = try await text(client, members)
            #expect(try await entries.enter(client, resident: zhang, values: ["phone": "13912345678"], today: today).entries == 1)
            #expect(try await text(client, members) == before)
            try await entries.enter(client, resident: zhang, values: ["address": "朝阳区幸福路1号院3号楼201"], today: today)
            #expect(try await count(client, "SELECT count(*) FROM household WHERE household_book_no = 'B001' AND address = '朝阳区幸福路1号院3号楼201'") == 1)
            #expect(try await text(client, members) == before)
            let movedWang = Self.wang.replacingOccurrences(of: "B001", with: "B002")
            let deadZhang = Self.zhang.replacingOccurrences(of: #""book""#, with: #""death": "2026-10-01", "book""#)
            // A new resident heads the household Wang moves to, in the same batch: the run
            // updates memberships only of residents who may have one (not the new), and
            // still moves Wang.
            let newLi = #"{"key": "c3", "name": "李娜", "id": "110105199001011232", "sex": "女", "birth": "1990-01-01", "address": "朝阳区光华路9号", "book": "B002", "relation": "户主"}"#
            try await ingest("civil_affairs", [deadZhang, movedWang, newLi], client: client)
            #expect(try await count(client, "SELECT count(*) FROM household_member WHERE left_because = 'moved' AND until IS NOT NULL") == 1)
            #expect(try await count(client, "SELECT count(*) FROM household WHERE household_book_no = 'B002' AND address = '朝阳区光华路9号'") == 1)
            let inB002 = try await text(
                client,
                """
                SELECT string_agg(concat_ws(':', m.relationship, m.since IS NOT NULL), ',' ORDER BY m.relationship)
                FROM household_member m JOIN household h USING (district, household_id)
                WHERE h.household_book_no = 'B002' AND m.until IS NULL
                """)
            #expect(inB002 == "02:f,12:t")
            #expect(try await count(client, "SELECT count(*) FROM household_member WHERE left_because = 'died' AND until = '2026-10-01'") == 1)
            #expect(
                try await count(
                    client,
                    """
                    SELECT count(*) FROM household_member m JOIN household h USING (district, household_id)
                    WHERE h.household_book_no = 'B002' AND m.until IS NULL AND m.relationship = '12'
                    """) == 1)
            #expect(try await count(client, "SELECT count(*) FROM resident WHERE death_date = '2026-10-01'") == 1)
        }
    }

    @Test("households rebuilt by a refresh a slice at a time are those assembled as the feed came in")
    func householdsSliced() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            try await ingest("civil_affairs", [Self.zhang, Self.wang], client: client)
            let households = """
                SELECT string_agg(concat_ws(':', h.household_book_no, h.address, h.division_code, m.resident_id, m.relationship, m.since, m.until), ','
                    ORDER BY m.resident_id)
                FROM household h JOIN household_member m USING (district, household_id)
                """
            let once = try #require(try await text(client, households))
            #expect(once.contains("B001:朝阳区幸福路1号"))
            // Lost, and every golden record with them: the refresh, one resident a slice, rebuilds them.
            try await client.query("DELETE FROM household_member")
            try await client.query("DELETE FROM household")
            try await client.query("UPDATE resident SET golden = '{}', inputs_hash = NULL")
            var sliced = GoldenRecords(district: district, rules: .standard, logger: .silent)
            sliced.loadSlice = 1
            let summary = try await sliced.refresh(client, cause: .link, actor: "test")
            #expect(summary.recomputed == 2 && summary.changed == 2)
            #expect(try await text(client, households) == once)
        }
    }

    @Test("a merge and a split are logged with their causes; the retired resident's entry points at the survivor")
    func mergeAndSplit() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            try await ingest("civil_affairs", [Self.zhang], client: client)
            // Social security without the ID: a resident of its own at first.
            let noID = #"{"aac001": "s9", "aac003": "张伟", "aac004": "1", "aac006": "19860302", "aae005": "13700000000"}"#
            try await ingest("social_security", [noID], client: client)
            let a = try await resident(client, system: "civil_affairs", key: "c1")
            let b = try await resident(client, system: "social_security", key: "s9")
            #expect(a != b)
            let decisions = ManualDecisions(district: district, author: "reviewer", logger: .silent)
            let ra = try await decisions.record(client, system: "civil_affairs", key: "c1")
            let rb = try await decisions.record(client, system: "social_security", key: "s9")
            try await decisions.merge(client, ra, rb, reason: "same person, checked")
            let merged = try await ResidentLinker(district: district, actor: "reviewer", rules: .standard, logger: .silent).run(client)
            #expect(merged.merges == 1 && merged.golden.retired == 1)
            let history = ResidentHistory(district: district, logger: .silent)
            #expect(try await history.timeline(client, resident: b).last?.changes["merged_into"]?.new == String(a))
            #expect(try await history.timeline(client, resident: a).last?.cause == "merge")
            let fresh = try await decisions.split(client, record: rb, reason: "not the same after all", rules: .standard)
            #expect(try await history.timeline(client, resident: fresh).map(\.cause) == ["split"])
            #expect(try await history.timeline(client, resident: a).last?.cause == "split")
            #expect(try await history.current(client, resident: a).fields["phone"]?.value == "13812345678")
            #expect(try await ChangeLog.verify(client, district: district, logger: .silent).firstBreak == nil)
        }
    }

    @Test("ingests and entries running at once on one district: the log is gap-free, strictly increasing, in commit order")
    func concurrentIngestsAndEntries() async throws {
        try await TestDatabase.withFreshDatabase { url, client in
            try await ingest("civil_affairs", [Self.zhang, Self.wang], client: client)
            let zhang = try await resident(client, system: "civil_affairs", key: "c1")
            try await withThrowingTaskGroup(of: Void.self) { group in
                for feed in 0..<3 {
                    group.addTask {
                        try await Database.withClient(url) { own in
                            let lines = (0..<20).map { index in
                                let body = "1101051990\(String(format: "%02d", feed + 1))\(String(format: "%02d", index + 1))\(100 + feed)"
                                let id = body + String(CitizenID.checkCharacter(forFirst17: body.compactMap(\.wholeNumberValue)))
                                return
                                    #"{"aac001": "f\#(feed)-\#(index)", "aac002": "\#(id)", "aac003": "\#(["周杰", "吴敏", "郑洁"][feed])", "aac004": "1", "aac006": "1990\#(String(format: "%02d", feed + 1))\#(String(format: "%02d", index + 1))"}"#
                            }
                            try await ingest("social_security", lines, client: own)
                        }
                    }
                }
                for worker in 0..<3 {
                    group.addTask {
                        try await Database.withClient(url) { own in
                            for round in 0..<4 {
                                try await WorkerEntries(district: district, worker: "worker:\(worker)", rules: .standard, logger: .silent).enter(
                                    own, resident: zhang, values: ["phone": "1391234\(worker)\(round)00"], today: today)
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            var sequences: [Int64] = []
            var times: [String] = []
            for try await (seq, time) in try await client.query(
                "SELECT seq, to_char(changed_at, 'YYYY-MM-DD HH24:MI:SS.US') FROM change_log ORDER BY seq"
            ).decode((Int64, String).self) {
                sequences.append(seq)
                times.append(time)
            }
            #expect(sequences == Array(1...Int64(sequences.count)))
            #expect(sequences.count == 2 + 60 + 12)
            // Times are taken under the head row's lock: in sequence order they never go back.
            #expect(times == times.sorted())
            #expect(try await ChangeLog.verify(client, district: district, logger: .silent).firstBreak == nil)
        }
    }
}
