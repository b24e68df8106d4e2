import Foundation
import PostgresNIO
import Testing
import YibiaoAdapters
import YibiaoApplication
import YibiaoCore
import YibiaoMatching
import YibiaoStore
import YibiaoSynth
import YibiaoTestSupport

private let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The largest feed first: the parameters trained on it hold for the rest (the district does not
/// double again), so the later feeds are matched incrementally.
private let feeds = [
    ("social_security", "social_security.jsonl"), ("civil_affairs", "civil_affairs.csv"), ("family_planning", "family_planning.xlsx"),
    ("party", "party.xml"),
]

/// One synthetic district for the suite, written once.
private let district: URL = {
    let directory = try! TestDatabase.makeTemporaryDirectory(prefix: "yibiao-incremental")
    _ = try! DistrictSynthesizer(configuration: .init(residents: 3_000, seed: 23), output: directory).run()
    return directory
}()

private func withHub(_ body: @escaping @Sendable (Hub) async throws -> Void) async throws {
    try await withHubAndClient { hub, _ in try await body(hub) }
}

private func withHubAndClient(_ body: @escaping @Sendable (Hub, PostgresClient) async throws -> Void) async throws {
    try await TestDatabase.withFreshDatabase { url, client in
        var database = DatabaseConfiguration(home: FileManager.default.temporaryDirectory, externalURL: url)
        database.maximumConnections = 2
        try await Hub.withHub(HubConfiguration(database: database, logger: .silent)) { hub in try await body(hub, client) }
    }
}

/// What the foreign keys dropped from the bulk paths would have guarded (migration 0006), and
/// what the pipeline promises besides: every violation found, by name and count.
private func integrityViolations(_ client: PostgresClient) async throws -> [String: Int] {
    let checks = [
        "current record without exactly one link": """
        SELECT count(*) FROM source_record r WHERE r.is_current
            AND (SELECT count(*) FROM link l WHERE l.district = r.district AND l.record_id = r.record_id) <> 1
        """,
        "link to a missing record": "SELECT count(*) FROM link l WHERE NOT EXISTS (SELECT 1 FROM source_record r WHERE r.district = l.district AND r.record_id = l.record_id)",
        "current record linked to a retired or missing resident": """
        SELECT count(*) FROM link l JOIN source_record r USING (district, record_id) WHERE r.is_current
            AND NOT EXISTS (SELECT 1 FROM resident x WHERE x.district = l.district AND x.resident_id = l.resident_id AND x.status = 'active')
        """,
        "identifier of a missing resident or record": """
        SELECT count(*) FROM resident_identifier i
        WHERE NOT EXISTS (SELECT 1 FROM resident x WHERE x.district = i.district AND x.resident_id = i.resident_id)
           OR NOT EXISTS (SELECT 1 FROM source_record r WHERE r.district = i.district AND r.record_id = i.record_id)
        """,
        "change-log entry of a missing resident": "SELECT count(*) FROM change_log c WHERE NOT EXISTS (SELECT 1 FROM resident x WHERE x.district = c.district AND x.resident_id = c.resident_id)",
        "household member of a missing household or resident": """
        SELECT count(*) FROM household_member m
        WHERE NOT EXISTS (SELECT 1 FROM household h WHERE h.district = m.district AND h.household_id = m.household_id)
           OR NOT EXISTS (SELECT 1 FROM resident x WHERE x.district = m.district AND x.resident_id = m.resident_id)
        """,
        "record of a missing batch": "SELECT count(*) FROM source_record r WHERE NOT EXISTS (SELECT 1 FROM ingest_batch b WHERE b.district = r.district AND b.batch_id = r.batch_id)",
        "active resident without a current record": """
        SELECT count(*) FROM resident x WHERE x.status = 'active' AND NOT EXISTS (
            SELECT 1 FROM link l JOIN source_record r USING (district, record_id)
            WHERE l.district = x.district AND l.resident_id = x.resident_id AND r.is_current)
        """,
        // A link kept from an earlier run must still explain itself by a record of its resident.
        "link explained by a record of another resident": """
        SELECT count(*) FROM link l JOIN source_record r USING (district, record_id)
        JOIN link o ON o.district = l.district AND o.record_id = l.other_record
        JOIN source_record other ON other.district = o.district AND other.record_id = o.record_id
        WHERE r.is_current AND other.is_current AND o.resident_id <> l.resident_id
        """,
        "identifier of a current record missing from its resident's": """
        SELECT count(*) FROM link l JOIN source_record r USING (district, record_id)
        CROSS JOIN LATERAL (VALUES ('cn_citizen_id', r.national_id), ('passport', field_value(r.fields, 'passport_no')),
                                   ('social_security', field_value(r.fields, 'social_security_no'))) AS i(scheme, value)
        WHERE r.is_current AND i.value IS NOT NULL AND i.value <> ''
          AND NOT EXISTS (SELECT 1 FROM resident_identifier x
                          WHERE x.district = l.district AND x.resident_id = l.resident_id AND x.scheme = i.scheme AND x.value = i.value)
        """,
        "link naming comparisons the district does not have": """
        SELECT count(*) FROM link l WHERE l.comparisons_id IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM link_comparisons c WHERE c.district = l.district AND c.comparisons_id = l.comparisons_id)
        """,
        "resident or household of a district the table lacks": """
        SELECT (SELECT count(*) FROM resident x WHERE NOT EXISTS (SELECT 1 FROM district d WHERE d.district = x.district))
             + (SELECT count(*) FROM household h WHERE NOT EXISTS (SELECT 1 FROM district d WHERE d.district = h.district))
        """,
        "record without lookup keys": "SELECT count(*) FROM source_record WHERE is_current AND match_keys IS NULL",
        "record still waiting to be matched": "SELECT count(*) FROM match_queue",
    ]
    var violations: [String: Int] = [:]
    for (name, sql) in checks {
        for try await count in try await client.query(PostgresQuery(unsafeSQL: sql)).decode(Int.self) where count > 0 {
            violations[name] = count
        }
    }
    return violations
}

private func ingest(_ hub: Hub, _ feed: (String, String), file: URL? = nil, match: Bool = true) async throws -> IngestOutcome {
    try await hub.ingest(
        IngestRequest(
            adapter: try FeedAdapterRegistry.load(repository.appendingPathComponent("adapters/\(feed.0).yaml").path),
            file: file ?? district.appendingPathComponent(feed.1), district: "110105", actor: "test", match: match))
}

/// Residents as sets of records (system/key): resident ids differ between databases, people do not.
private func partition(_ hub: Hub) async throws -> Set<Set<String>> {
    var byResident: [Int64: Set<String>] = [:]
    try await hub.crossReferences(district: "110105") { reference in
        byResident[reference.residentID, default: []].insert(reference.system + "/" + reference.sourceKey)
    }
    return Set(byResident.values)
}

@Suite struct IncrementalMatchingTests {
    @Test("feed by feed, each ingest matches only what it brought; a whole re-match and an all-at-once load give the same residents")
    func incrementalEqualsWhole() async throws {
        let incremental = try await confirmationOfIncremental()
        try await withHub { hub in
            for feed in feeds { _ = try await ingest(hub, feed, match: false) }
            let once = try await hub.match(district: "110105", actor: "test")
            #expect(once.wholeDistrict)
            #expect(try await partition(hub) == incremental)
        }
    }

    /// Loads the district feed by feed and checks each step; returns the residents it made.
    private func confirmationOfIncremental() async throws -> Set<Set<String>> {
        let result = LockedBox<Set<Set<String>>>([])
        try await withHubAndClient { hub, client in
            var loaded = 0
            for (index, feed) in feeds.enumerated() {
                let outcome = try await ingest(hub, feed)
                let matching = try #require(outcome.matching)
                if index > 0 {
                    // Only the new records and what their keys reach: well short of the district.
                    #expect(!matching.wholeDistrict, "\(feed.0)")
                    #expect(matching.queued == outcome.staging.staged)
                    #expect(matching.records < loaded + outcome.staging.staged, "\(feed.0): \(matching.records) records read")
                }
                loaded += outcome.staging.staged
                #expect(try await integrityViolations(client) == [:], "after \(feed.0)")
            }
            let residents = try await partition(hub)
            // Nothing waits: a second match reads nothing.
            let idle = try await hub.match(district: "110105", actor: "test")
            #expect(idle.records == 0 && !idle.wholeDistrict)
            // The whole district again: the same residents, no merges, no splits, nothing logged.
            let whole = try await hub.match(district: "110105", actor: "test", wholeDistrict: true)
            #expect(whole.wholeDistrict && whole.records == loaded)
            #expect(whole.relinked == 0 && whole.merges == 0 && whole.splits == 0 && whole.newResidents == 0)
            #expect(whole.golden.entries == 0)
            #expect(try await partition(hub) == residents)
            result.value = residents
        }
        return result.value
    }

    @Test("new residents are written once, with their values: no dead versions after a first feed, and a second feed's only from residents that existed")
    func newResidentsWrittenOnce() async throws {
        try await withHubAndClient { hub, client in
            try await client.query("CREATE EXTENSION IF NOT EXISTS pgstattuple")
            func residents() async throws -> (rows: Int, dead: Int) {
                var result = (0, 0)
                for try await row in try await client.query("SELECT tuple_count::int, dead_tuple_count::int FROM pgstattuple('resident')")
                    .decode((Int, Int).self)
                { result = row }
                return result
            }
            let first = try #require(try await ingest(hub, feeds[0]).matching)
            let afterFirst = try await residents()
            #expect(first.newResidents > 1_000 && afterFirst.rows == first.newResidents)
            #expect(afterFirst.dead == 0, "a new resident was written twice")
            let second = try #require(try await ingest(hub, feeds[1]).matching)
            let afterSecond = try await residents()
            #expect(second.newResidents > 0)
            // One version each of the residents that existed and were recomputed, none of the new.
            let existingRecomputed = second.golden.recomputed - second.newResidents
            #expect(existingRecomputed > 0 && afterSecond.dead <= existingRecomputed, "\(afterSecond.dead) dead versions, \(existingRecomputed) residents updated")
            #expect(try await integrityViolations(client) == [:])
        }
    }

    @Test("lookup keys cleared (as migrations 0007 and 0017 do) are filled by the next run with what staging wrote; no resident changes")
    func clearedKeysRefilled() async throws {
        try await withHubAndClient { hub, client in
            for feed in feeds.prefix(2) { _ = try await ingest(hub, feed) }
            let before = try await partition(hub)
            func storedKeys() async throws -> [Int64: [Int64]] {
                var keys: [Int64: [Int64]] = [:]
                for try await (id, list) in try await client.query(
                    "SELECT record_id, match_keys FROM source_record WHERE is_current AND match_keys IS NOT NULL"
                ).decode((Int64, [Int64]).self) { keys[id] = list }
                return keys
            }
            let staged = try await storedKeys()
            #expect(staged.count > 1_000 && staged.values.allSatisfy { !$0.isEmpty })
            try await client.query("UPDATE source_record SET match_keys = NULL WHERE is_current")
            let run = try await hub.match(district: "110105", actor: "test")
            #expect(run.wholeDistrict)
            #expect(try await storedKeys() == staged)
            #expect(run.relinked == 0 && run.merges == 0 && run.splits == 0 && run.newResidents == 0 && run.golden.entries == 0)
            #expect(try await partition(hub) == before)
            #expect(try await integrityViolations(client) == [:])
        }
    }

    @Test("a feed with a few changed rows re-matches those rows and changes only their residents' golden records")
    func changedRows() async throws {
        try await withHubAndClient { hub, client in
            for feed in feeds { _ = try await ingest(hub, feed) }
            let before = try await partition(hub)
            let source = district.appendingPathComponent("social_security.jsonl")
            var lines = try String(contentsOf: source, encoding: .utf8).split(separator: "\n").map(String.init)
            var changed = 0
            for index in stride(from: 3, to: lines.count, by: 97) {
                guard let range = lines[index].range(of: #""aae005": "[0-9]{11}""#, options: .regularExpression) else { continue }
                lines[index].replaceSubrange(range, with: "\"aae005\": \"1370\(String(format: "%07d", index))\"")
                changed += 1
            }
            let file = district.appendingPathComponent("social_security-changed-\(UUID().uuidString).jsonl")
            try lines.joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)
            let outcome = try await ingest(hub, feeds[0], file: file)
            #expect(outcome.staging.newVersions == changed)
            let matching = try #require(outcome.matching)
            #expect(!matching.wholeDistrict && matching.queued == changed)
            #expect(matching.golden.changed == changed)
            #expect(matching.golden.recomputed < 4 * changed)
            #expect(try await partition(hub) == before)
            #expect(try await integrityViolations(client) == [:])
        }
    }

    @Test("a birth day's or a phone's block too large to compare is skipped by an incremental run as by a whole one: such blocks are read whole")
    func oversizedBirthDayBlock() async throws {
        // Seventy namesakes born the same day, sharing a phone: compared, they would be linked;
        // but every key they share makes a block of seventy, past the largest compared.
        // Sixty-five come first; the last five are matched incrementally, their blocks mostly
        // records already stored, which the run must count whole to skip them as a whole run does.
        let namesakes = (1...70).map { n in
            #"{"aac001": "39900000\#(String(format: "%02d", n))", "aac003": "张伟", "aac004": "1", "aac006": "19850302", "aae005": "13900009999"}"#
        }
        let feed = try String(contentsOf: district.appendingPathComponent(feeds[0].1), encoding: .utf8).trimmingCharacters(in: .newlines)
        func file(_ count: Int) throws -> URL {
            let file = district.appendingPathComponent("social_security-namesakes-\(UUID().uuidString).jsonl")
            try (feed + "\n" + namesakes.prefix(count).joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
            return file
        }
        let (first, all) = (try file(65), try file(70))
        func namesakesTogether(_ residents: Set<Set<String>>) -> Int {
            residents.filter { $0.filter { $0.hasPrefix("social_security/399") }.count > 1 }.count
        }
        let incremental = LockedBox<Set<Set<String>>>([])
        try await withHubAndClient { hub, client in
            _ = try await ingest(hub, feeds[0], file: first)
            let matching = try #require(try await ingest(hub, feeds[0], file: all).matching)
            #expect(!matching.wholeDistrict && matching.queued == 5)
            incremental.value = try await partition(hub)
            #expect(try await integrityViolations(client) == [:])
        }
        #expect(namesakesTogether(incremental.value) == 0)
        try await withHub { hub in
            _ = try await ingest(hub, feeds[0], file: all, match: false)
            let once = try await hub.match(district: "110105", actor: "test")
            #expect(once.wholeDistrict)
            #expect(try await partition(hub) == incremental.value)
        }
    }

    @Test("a long run says which stage it is in: training, matching, links, golden records counted to the end, households, write-back")
    func stagesReported() async throws {
        try await withHub { hub in
            let heard = LockedBox<[RunProgress]>([])
            let adapter = try FeedAdapterRegistry.load(repository.appendingPathComponent("adapters/\(feeds[0].0).yaml").path)
            let outcome = try await hub.ingest(
                IngestRequest(adapter: adapter, file: district.appendingPathComponent(feeds[0].1), district: "110105", actor: "test"),
                stages: { heard.value.append($0) })
            var order: [RunProgress.Stage] = []
            for progress in heard.value where order.last != progress.stage { order.append(progress.stage) }
            #expect(order == [.matching, .training, .matching, .links, .goldenRecords, .households, .outbox])
            let golden = heard.value.filter { $0.stage == .goldenRecords }
            let residents = try #require(outcome.matching).golden.recomputed
            #expect(golden.first == RunProgress(.goldenRecords, done: 0, of: residents))
            #expect(golden.last == RunProgress(.goldenRecords, done: residents, of: residents))
            #expect(golden.map { $0.done ?? -1 } == golden.map { $0.done ?? -1 }.sorted())
            #expect(heard.value.first { $0.stage == .links }?.total == outcome.matching?.records)

            // Nothing to do: no stage but the look at the queue; and without an observer, none heard.
            heard.value = []
            _ = try await hub.match(district: "110105", actor: "test", stages: { heard.value.append($0) })
            #expect(heard.value.map(\.stage) == [.matching])
            _ = try await hub.match(district: "110105", actor: "test")
            #expect(heard.value.count == 1)
        }
    }
}

@Suite struct RunProgressTextTests {
    @Test("a stage reads as words and its count, in both languages")
    func text() {
        #expect(RunProgress(.goldenRecords, done: 5_000, of: 131_219).text == LocalizedText(en: "golden records 5000/131219", zh: "黄金记录 5000/131219"))
        #expect(RunProgress(.matching, of: 246_624).text.en == "matching (246624)")
        #expect(RunProgress(.outbox).text == LocalizedText(en: "write-back updates", zh: "回写更新"))
        #expect(Set(RunProgress.Stage.allCases.map { RunProgress($0).text.zh }).count == RunProgress.Stage.allCases.count)
    }
}

/// A value a `@Sendable` closure hands back.
final class LockedBox<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

/// FEBRL 4 through the product's own path: two feeds ingested one after the other (adapters,
/// staging, lookup keys, training, the second feed matched against the first), measured against
/// the truth — data we did not write, with Latin-script names and another identifier scheme.
@Suite struct PublicBenchmarkIngestTests {
    @Test("FEBRL 4 feed by feed through the hub: F1 at least 0.998, every record linked once")
    func febrl4ThroughTheHub() async throws {
        let febrl = repository.appendingPathComponent(".build/febrl")
        #expect(FileManager.default.fileExists(atPath: febrl.appendingPathComponent("dataset4a.csv").path), "run scripts/fetch-febrl.sh")
        try await withHubAndClient { hub, client in
            for part in ["4a", "4b"] {
                let outcome = try await hub.ingest(
                    IngestRequest(
                        adapter: try FeedAdapterRegistry.load(repository.appendingPathComponent("bench/febrl/febrl\(part).yaml").path),
                        file: febrl.appendingPathComponent("dataset\(part).csv"), district: "110105", actor: "test"))
                #expect(outcome.staging.reconciles)
                #expect(outcome.staging.staged == 5_000)
            }
            var predicted: [Int64: [Int64]] = [:]
            var truth: [Int64: Int] = [:]
            var next: Int64 = 0
            try await hub.crossReferences(district: "110105") { reference in
                next += 1
                predicted[reference.residentID, default: []].append(next)
                truth[next] = Int(reference.sourceKey.split(separator: "-")[1])
            }
            let quality = PairwiseQuality(predicted: Array(predicted.values), truth: truth)
            #expect(truth.count == 10_000)
            #expect(quality.truePairs == 5_000)
            // Trained on the first feed alone (no one in it twice), as a district's first ingest is.
            #expect(quality.f1 >= 0.998, "precision \(quality.precision) recall \(quality.recall)")
            #expect(try await integrityViolations(client).isEmpty)
        }
    }
}
