import Crypto
import Foundation
import Hummingbird
import Logging
import PostgresNIO
import Testing
import YibiaoAdapters
import YibiaoApplication
import YibiaoCore
import YibiaoMerge
import YibiaoStore
import YibiaoSynth
import YibiaoTestSupport

private let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
private let district = "110105"
private let samples = [
    ("civil_affairs.yaml", "civil_affairs.csv"), ("family_planning.yaml", "family_planning.xlsx"), ("party.yaml", "party.xml"),
    ("social_security.yaml", "social_security.jsonl"),
]

private func withHubAndClient(_ body: @escaping @Sendable (Hub, PostgresClient) async throws -> Void) async throws {
    try await TestDatabase.withFreshDatabase { url, client in
        var database = DatabaseConfiguration(home: FileManager.default.temporaryDirectory, externalURL: url)
        database.maximumConnections = 2
        do {
            try await Hub.withHub(HubConfiguration(database: database, logger: .silent)) { hub in try await body(hub, client) }
        } catch {
            Issue.record("\(String(reflecting: error))")
            throw error
        }
    }
}

@discardableResult
private func ingest(_ hub: Hub, adapter: String, file: URL) async throws -> IngestOutcome {
    try await hub.ingest(IngestRequest(adapter: try FeedAdapterRegistry.load(adapter), file: file, district: district, actor: "test"))
}

private func ingestSamples(_ hub: Hub) async throws {
    for (adapter, sample) in samples {
        try await ingest(
            hub, adapter: repository.appendingPathComponent("adapters/\(adapter)").path, file: repository.appendingPathComponent("adapters/samples/\(sample)"))
    }
}

private func scalar<T: PostgresDecodable & Sendable>(_ client: PostgresClient, _ sql: String, as type: T.Type = Int.self) async throws -> T? {
    var value: T?
    for try await row in try await client.query(PostgresQuery(unsafeSQL: sql)).decode(T.self) { value = row }
    return value
}

private func resident(_ hub: Hub, _ system: String, _ key: String) async throws -> Int64 {
    try #require(try await hub.explain(district: district, system: system, key: key)?.residentID)
}

private func spec(_ name: String) throws -> AdapterSpec {
    try AdapterSpec.load(repository.appendingPathComponent("adapters/\(name)"))
}

/// An adapter file with lines added under `outbound:` (an endpoint, fewer attempts).
private func adapter(_ name: String, addingToOutbound lines: [String]) throws -> String {
    let text = try String(contentsOf: repository.appendingPathComponent("adapters/\(name)"), encoding: .utf8)
    let changed = text.replacingOccurrences(of: "outbound:\n", with: "outbound:\n" + lines.map { "  \($0)\n" }.joined())
    let url = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-adapter").appendingPathComponent(name)
    try changed.write(to: url, atomically: true, encoding: .utf8)
    return url.path
}

/// The civil-affairs sample with some rows' cells replaced: the system's next export.
private func civilFeed(replacing changes: [String: [String: String]]) throws -> URL {
    var options = CSVReader.Options()
    options.encoding = .gb18030
    var header: [String] = []
    var rows: [[String: String]] = []
    try CSVReader(url: repository.appendingPathComponent("adapters/samples/civil_affairs.csv"), options: options).read { event in
        switch event {
        case .header(let columns): header = columns
        case .row(let row): rows.append(row.cells)
        case .unreadable: break // the sample's deliberately broken row is left out
        }
    }
    let url = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-next-feed").appendingPathComponent("civil_affairs.csv")
    let writer = try CSVWriter(url: url, columns: header, encoding: .gb18030)
    for var row in rows {
        if let key = row["人员编号"], let change = changes[key] { row.merge(change) { $1 } }
        try writer.append(header.map { row[$0] })
    }
    try writer.finish()
    return url
}

@Suite struct WriteBackTests {
    @Test("an entry owes each system exactly the fields it holds, for the people it has; every system starts held")
    func routing() async throws {
        try await withHubAndClient { hub, client in
            try await ingestSamples(hub)
            // The first load's disagreements wait for a person.
            #expect(try await scalar(client, "SELECT count(*)::int FROM outbox WHERE status NOT IN ('held', 'superseded')") == 0)
            #expect(try await scalar(client, "SELECT count(*)::int FROM outbound_system WHERE NOT released") == 4)

            let id = try await resident(hub, "civil_affairs", "MZ0001")
            let (_, summary) = try await hub.enter(
                district: district, resident: String(id), values: ["phone": "13900001111", "address": "北京市朝阳区建国路88号"], worker: "worker:test")
            #expect(summary.outbox["civil_affairs"]?.fields == ["phone", "address"])
            // Family planning, party and social security keep no address column: they get the phone only.
            #expect(summary.outbox["family_planning"]?.fields == ["phone"])
            #expect(summary.outbox["party"]?.fields == ["phone"])
            #expect(summary.outbox["social_security"]?.fields == ["phone"])
            #expect(summary.outbox.values.allSatisfy { $0.held })
            // The entry system itself has no outbound mapping and receives nothing.
            #expect(summary.outbox["community_entry"] == nil)

            // No update carries a field its system does not send, or names a person it has no record of.
            for name in ["civil_affairs.yaml", "family_planning.yaml", "party.yaml", "social_security.yaml"] {
                let spec = try spec(name)
                let sendable = Set(try #require(OutboundMapper(spec: spec)).fields)
                for try await fields in try await client.query("SELECT fields FROM outbox WHERE system_id = \(spec.system)").decode([String].self) {
                    #expect(Set(fields).isSubset(of: sendable), "\(spec.system) got \(fields)")
                }
            }
            #expect(try await scalar(client, "SELECT count(*)::int FROM outbox o WHERE fields && ARRAY['party.branch', 'social_security.insurance_types']") == 0)
            // A system's more specific value is never replaced by a vaguer one (first marriage by "married").
            let vaguer = try await scalar(
                client,
                """
                SELECT count(*)::int FROM outbox WHERE payload -> 'changes' -> 'marital_status' ->> 'new' = '20'
                  AND payload -> 'changes' -> 'marital_status' ->> 'old' IN ('21', '22', '23')
                """)
            #expect(vaguer == 0)
            let strangers = try await scalar(
                client,
                """
                SELECT count(*)::int FROM outbox o WHERE NOT EXISTS (
                    SELECT 1 FROM source_record r JOIN link l USING (district, record_id)
                    WHERE r.district = o.district AND r.system_id = o.system_id AND r.source_key = o.source_key AND l.resident_id = o.resident_id)
                """)
            #expect(strangers == 0)
            // The plan counts per system and field and masks what it shows.
            let plan = try await hub.outboxPlan(district: district, system: "civil_affairs", sampleSize: 20)
            #expect(plan.items.contains { $0.field == "phone" && $0.updates >= 1 })
            let shown = plan.samples.flatMap { $0.changes.values.flatMap { [$0.old, $0.new] } }.compactMap { $0 }
            #expect(!shown.isEmpty)
            #expect(!shown.contains("13900001111"))
            // Updates are written in the entry's transaction, beside its change-log entry.
            #expect(
                try await scalar(
                    client, "SELECT count(*)::int FROM outbox o JOIN change_log c ON c.district = o.district AND c.seq = o.change_seq AND c.cause = 'entry'")
                    == 4)
        }
    }

    @Test("send: entries_only — such a system gets what people decided, not corrections derived from other feeds")
    func entriesOnly() async throws {
        for entriesOnly in [false, true] {
            try await withHubAndClient { hub, client in
                let party =
                    entriesOnly
                    ? try adapter("party.yaml", addingToOutbound: ["send: entries_only"]) : repository.appendingPathComponent("adapters/party.yaml").path
                try await ingest(hub, adapter: party, file: repository.appendingPathComponent("adapters/samples/party.xml"))
                // Civil affairs then reports a newer phone for the same person: a feed-derived correction.
                let civil = try civilFeed(replacing: ["MZ0001": ["联系电话": "13700000001"]])
                try await ingest(hub, adapter: repository.appendingPathComponent("adapters/civil_affairs.yaml").path, file: civil)
                let derived = try await scalar(client, "SELECT count(*)::int FROM outbox WHERE system_id = 'party' AND cause = 'batch' AND status <> 'superseded'")
                #expect(derived == (entriesOnly ? 0 : 1), "entries_only: \(entriesOnly)")
                let id = try await resident(hub, "party", "DY0001")
                let (_, summary) = try await hub.enter(district: district, resident: String(id), values: ["phone": "13900003333"], worker: "worker:a")
                #expect(summary.outbox["party"]?.fields == ["phone"])
                #expect(try await scalar(client, "SELECT count(*)::int FROM outbox WHERE system_id = 'party' AND cause = 'entry'") == 1)
            }
        }
    }

    @Test("a system that takes new residents is sent those it has no record of, with an empty key; its next feed with them confirms it")
    func newResidents() async throws {
        try await withHubAndClient { hub, client in
            let social = try adapter("social_security.yaml", addingToOutbound: ["new_residents: true"])
            try await ingest(hub, adapter: social, file: repository.appendingPathComponent("adapters/samples/social_security.jsonl"))
            try await ingest(hub, adapter: repository.appendingPathComponent("adapters/party.yaml").path, file: repository.appendingPathComponent("adapters/samples/party.xml"))
            try await ingest(
                hub, adapter: repository.appendingPathComponent("adapters/civil_affairs.yaml").path,
                file: repository.appendingPathComponent("adapters/samples/civil_affairs.csv"))
            let newcomers = try #require(try await scalar(client, "SELECT count(*)::int FROM outbox WHERE system_id = 'social_security' AND record_id = 0"))
            #expect(newcomers >= 1)
            // Only residents social security has no record of; a system without the option gets none.
            let known = try await scalar(
                client,
                """
                SELECT count(*)::int FROM outbox o WHERE o.record_id = 0 AND EXISTS (
                    SELECT 1 FROM link l JOIN source_record r USING (district, record_id)
                    WHERE l.resident_id = o.resident_id AND r.is_current AND r.system_id = o.system_id)
                """)
            #expect(known == 0)
            #expect(try await scalar(client, "SELECT count(*)::int FROM outbox WHERE system_id <> 'social_security' AND record_id = 0") == 0)
            // A newer change to a newcomer replaces its update not sent yet: one open update each.
            let newcomer = try #require(
                try await scalar(client, "SELECT min(resident_id)::int FROM outbox WHERE system_id = 'social_security' AND record_id = 0"))
            _ = try await hub.enter(district: district, resident: String(newcomer), values: ["phone": "13900004444"], worker: "worker:a")
            let updates = "SELECT count(*)::int FROM outbox WHERE system_id = 'social_security' AND resident_id = \(newcomer) AND status = "
            #expect(try await scalar(client, updates + "'superseded'") == 1)
            #expect(try await scalar(client, updates + "'held' AND payload -> 'changes' -> 'phone' ->> 'new' = '13900004444'") == 1)
            #expect(try await scalar(client, updates + "'held'") == 1)

            _ = try await hub.releaseOutbox(district: district, system: "social_security", by: "test")
            let directory = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-outbox")
            let result = try #require(try await hub.deliverOutbox(district: district, systems: ["social_security"], options: .init(directory: directory)).first)
            let file = directory.appendingPathComponent(district).appendingPathComponent("social_security").appendingPathComponent(try #require(result.files.first))
            let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n")
            let fresh = try #require(lines.first { $0.contains(#""aac001":"""#) || $0.contains(#""aac001": """#) })
            // The system gives the newcomer its own number and exports them with the rest.
            var object = try #require(try JSONSerialization.jsonObject(with: Data(fresh.utf8)) as? [String: Any])
            object["aac001"] = "3109000001"
            let sample = try String(contentsOf: repository.appendingPathComponent("adapters/samples/social_security.jsonl"), encoding: .utf8)
            let next = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-next-feed").appendingPathComponent("social_security.jsonl")
            let added = String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
            try (sample.trimmingCharacters(in: .newlines) + "\n" + added + "\n").write(to: next, atomically: true, encoding: .utf8)
            let outcome = try await ingest(hub, adapter: social, file: next)
            #expect(outcome.echoes.confirmed == 1, "\(outcome.echoes)")
            #expect(try await scalar(client, "SELECT count(*)::int FROM outbox WHERE system_id = 'social_security' AND status = 'confirmed' AND record_id <> 0") == 1)
        }
    }

    @Test("an update not sent yet goes when the golden value returns to what the system holds; one in flight counts as held")
    func staleUpdates() async throws {
        try await withHubAndClient { hub, client in
            let civil = repository.appendingPathComponent("adapters/civil_affairs.yaml").path
            let social = repository.appendingPathComponent("adapters/social_security.yaml").path
            try await ingest(hub, adapter: civil, file: repository.appendingPathComponent("adapters/samples/civil_affairs.csv"))
            // Social security reports a newer phone for MZ0001's person: civil affairs is owed it.
            let sample = try String(contentsOf: repository.appendingPathComponent("adapters/samples/social_security.jsonl"), encoding: .utf8)
            let newer = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-feed").appendingPathComponent("social_security.jsonl")
            try sample.replacingOccurrences(of: #""aae005": "13812345678""#, with: #""aae005": "13700000009""#).write(to: newer, atomically: true, encoding: .utf8)
            try await ingest(hub, adapter: social, file: newer)
            let owed = "SELECT count(*)::int FROM outbox WHERE system_id = 'civil_affairs' AND source_key = 'MZ0001' AND status IN ('held', 'pending')"
            #expect(try await scalar(client, owed) == 1)
            // Then civil affairs sends the person again with the old phone, newest of all: the golden
            // phone is civil affairs' own again, and the update it was owed is withdrawn.
            try await ingest(hub, adapter: civil, file: try civilFeed(replacing: ["MZ0001": ["户籍地址": "北京市朝阳区幸福路1号院2号楼3单元402"]]))
            let id = try await resident(hub, "civil_affairs", "MZ0001")
            #expect(try await hub.history(district: district, resident: String(id)).current.fields["phone"]?.value == "13812345678")
            #expect(try await scalar(client, owed) == 0)
            #expect(try await scalar(client, "SELECT count(*)::int FROM outbox WHERE system_id = 'social_security' AND status IN ('held', 'pending')")! >= 1)

            // In flight: social security was sent 13812345678; a later change owes it nothing more
            // for the phone while that update has not come back.
            _ = try await hub.releaseOutbox(district: district, system: "social_security", by: "test")
            let directory = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-outbox")
            _ = try await hub.deliverOutbox(district: district, systems: ["social_security"], options: .init(directory: directory))
            _ = try await hub.enter(district: district, resident: String(id), values: ["address": "北京市朝阳区建国路1号"], worker: "worker:a")
            let resent = try await scalar(
                client, "SELECT count(*)::int FROM outbox WHERE system_id = 'social_security' AND status IN ('held', 'pending') AND 'phone' = ANY(fields)")
            #expect(resent == 0)

            // The golden phone goes back to what social security's record holds while that update
            // is in flight: once it is applied the system holds the phone sent, so it is owed its
            // own phone back, though its record alone agrees with the golden record.
            _ = try await hub.enter(district: district, resident: String(id), values: ["phone": "13700000009"], worker: "worker:a")
            let back = try await scalar(
                client,
                """
                SELECT count(*)::int FROM outbox WHERE system_id = 'social_security' AND status IN ('held', 'pending')
                  AND payload -> 'changes' -> 'phone' ->> 'old' = '13812345678' AND payload -> 'changes' -> 'phone' ->> 'new' = '13700000009'
                """)
            #expect(back == 1)
        }
    }

    @Test("released systems get files in their own format (GB18030 CSV, XLSX, XML, JSONL) that read back through their adapters to the golden values")
    func formatFidelity() async throws {
        try await withHubAndClient { hub, client in
            try await ingestSamples(hub)
            let id = try await resident(hub, "civil_affairs", "MZ0001")
            _ = try await hub.enter(
                district: district, resident: String(id), values: ["phone": "13900001111", "address": "北京市朝阳区建国路88号"], worker: "worker:test")
            let directory = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-outbox")
            let held = try await hub.deliverOutbox(district: district, systems: nil, options: .init(directory: directory))
            #expect(held.allSatisfy { $0.held && $0.files.isEmpty })
            #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent(district).path))

            for (name, _) in samples { _ = try await hub.releaseOutbox(district: district, system: try spec(name).system, by: "test") }
            let results = try await hub.deliverOutbox(district: district, systems: nil, options: .init(directory: directory))
            #expect(results.count == 4)
            for (name, _) in samples {
                let spec = try spec(name)
                let mapper = try #require(OutboundMapper(spec: spec))
                let result = try #require(results.first { $0.system == spec.system })
                #expect(result.files.count == 1, "\(spec.system): \(result)")
                #expect(result.lastError == nil)
                let folder = directory.appendingPathComponent(district).appendingPathComponent(spec.system)
                let file = folder.appendingPathComponent(try #require(result.files.first))
                #expect(file.lastPathComponent.hasSuffix("_000001." + (spec.outbound!.format.typeName)))
                // The manifest names the rows and the file's digest.
                let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent(file.lastPathComponent + ".manifest.json"))) as! [String: Any]
                #expect(manifest["rows"] as? Int == result.sent)
                #expect((manifest["idempotency_keys"] as? [String])?.count == result.sent)
                #expect(manifest["sha256"] as? String == SHA256Hex.of(try Data(contentsOf: file)))
                // Personal data: readable by the owner and the importing group only.
                let mode = try FileManager.default.attributesOfItem(atPath: file.path)[.posixPermissions] as? Int
                #expect(mode == 0o640)

                // Read back through the system's own adapter: every value sent is the golden one.
                var readBack: [String: [String: String]] = [:]
                try YAMLFeedAdapter(spec: mapper.readBack).read(file, today: .todayInChina()) { outcome in
                    switch outcome {
                    case .record(let record): readBack[record.sourceKey] = record.fields
                    case .quarantined(let issue): Issue.record("\(spec.system) file row unreadable: \(issue)")
                    }
                }
                #expect(readBack.count == result.sent)
                var compared = 0
                for try await (key, resident, fields) in try await client.query(
                    "SELECT source_key, resident_id, fields FROM outbox WHERE system_id = \(spec.system) AND status = 'sent'"
                ).decode((String, Int64, [String]).self) {
                    let golden = try await hub.history(district: district, resident: String(resident)).current.fields
                    for field in fields {
                        #expect(readBack[key]?[field] == golden[field]?.value, "\(spec.system) \(field)")
                        compared += 1
                    }
                }
                #expect(compared >= 1)
            }
            // Delivering again sends nothing twice.
            let again = try await hub.deliverOutbox(district: district, systems: nil, options: .init(directory: directory))
            #expect(again.allSatisfy { $0.sent == 0 && $0.files.isEmpty })
        }
    }

    @Test("the next feed bringing our value back is an echo: confirmed, nothing logged; one still carrying the old value is reported and does not win")
    func echoes() async throws {
        try await withHubAndClient { hub, client in
            let civil = repository.appendingPathComponent("adapters/civil_affairs.yaml").path
            try await ingest(hub, adapter: civil, file: repository.appendingPathComponent("adapters/samples/civil_affairs.csv"))
            let first = try await resident(hub, "civil_affairs", "MZ0001"), second = try await resident(hub, "civil_affairs", "MZ0002")
            _ = try await hub.enter(district: district, resident: String(first), values: ["phone": "13900001111", "address": "北京市朝阳区建国路88号"], worker: "worker:a")
            _ = try await hub.enter(district: district, resident: String(second), values: ["phone": "13900002222"], worker: "worker:b")
            _ = try await hub.releaseOutbox(district: district, system: "civil_affairs", by: "test")
            let directory = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-outbox")
            let delivered = try await hub.deliverOutbox(district: district, systems: ["civil_affairs"], options: .init(directory: directory))
            let file = try #require(delivered.first?.files.first)
            // The system imports the file and says so with an empty acknowledgement.
            let folder = directory.appendingPathComponent(district).appendingPathComponent("civil_affairs")
            try Data().write(to: folder.appendingPathComponent(file + ".ack"))
            let acknowledged = try await hub.deliverOutbox(district: district, systems: ["civil_affairs"], options: .init(directory: directory))
            #expect(acknowledged.first?.acknowledged == 2)
            #expect(try await scalar(client, "SELECT count(*)::int FROM outbox WHERE status = 'acknowledged'") == 2)

            let entriesBefore = try await hub.verifyLog(district: district).checked
            // Its next export: the first person with our values, the second with a new address but the old phone.
            let next = try civilFeed(replacing: [
                "MZ0001": ["联系电话": "13900001111", "户籍地址": "北京市朝阳区建国路88号"],
                "MZ0002": ["户籍地址": "北京市朝阳区幸福路9号院1号楼1单元101"],
            ])
            let outcome = try await ingest(hub, adapter: civil, file: next)
            #expect(outcome.staging.newVersions == 2)
            #expect(outcome.echoes.confirmed == 1)
            #expect(outcome.echoes.notApplied == 1)
            #expect(try await scalar(client, "SELECT string_agg(status, ',') FROM outbox WHERE resident_id = \(first)", as: String.self) == "confirmed")
            #expect(try await scalar(client, "SELECT count(*)::int FROM outbox WHERE resident_id = \(second) AND status = 'not_applied'") == 1)
            // The echo changed nothing; the old phone did not come back as news.
            let firstView = try await hub.history(district: district, resident: String(first))
            #expect(firstView.current.fields["phone"]?.value == "13900001111")
            let secondView = try await hub.history(district: district, resident: String(second))
            #expect(secondView.current.fields["phone"]?.value == "13900002222")
            let logged = try await scalar(
                client, "SELECT count(*)::int FROM change_log WHERE resident_id = \(first) AND seq > \(entriesBefore)")
            #expect(logged == 0)
            let phoneLogged = try await scalar(
                client,
                "SELECT count(*)::int FROM change_log WHERE resident_id = \(second) AND seq > \(entriesBefore) AND changes::jsonb ? (SELECT number::text FROM field_number f WHERE f.district = change_log.district AND f.name = 'phone')"
            )
            #expect(phoneLogged == 0)
            #expect(try await hub.verifyLog(district: district).firstBreak == nil)
        }
    }

    @Test("a file that cannot be written retries with backoff, becomes a dead letter after max_attempts, and goes out once retried")
    func retriesAndDeadLetters() async throws {
        try await withHubAndClient { hub, client in
            let civil = try adapter("civil_affairs.yaml", addingToOutbound: ["max_attempts: 3"])
            try await ingest(hub, adapter: civil, file: repository.appendingPathComponent("adapters/samples/civil_affairs.csv"))
            let id = try await resident(hub, "civil_affairs", "MZ0001")
            _ = try await hub.enter(district: district, resident: String(id), values: ["phone": "13900001111"], worker: "worker:a")
            // A code the system has no word for is refused at once: that update alone is dead.
            let other = try await resident(hub, "civil_affairs", "MZ0002")
            let (_, refused) = try await hub.enter(district: district, resident: String(other), values: ["marital_status": "23"], worker: "worker:a")
            #expect(refused.outbox["civil_affairs"]?.refused == 1)
            _ = try await hub.releaseOutbox(district: district, system: "civil_affairs", by: "test")

            // Where the directory should be, a file: nothing can be written.
            let root = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-outbox")
            try Data("x".utf8).write(to: root.appendingPathComponent(district))
            let start = Date()
            var result = try #require(try await hub.deliverOutbox(district: district, systems: nil, options: .init(directory: root, now: start)).first)
            #expect(result.failed == 1 && result.sent == 0)
            let error = try #require(result.lastError)
            #expect(!error.contains("13900001111"))
            let delay = try #require(
                try await scalar(client, "SELECT extract(epoch FROM next_attempt_at - to_timestamp(\(start.timeIntervalSince1970)))::float8 FROM outbox WHERE status = 'failed'", as: Double.self))
            #expect(abs(delay - 30) < 1)
            // Not due yet: not tried.
            result = try #require(try await hub.deliverOutbox(district: district, systems: nil, options: .init(directory: root, now: start.addingTimeInterval(10))).first)
            #expect(result.failed == 0 && result.sent == 0)
            #expect(try await scalar(client, "SELECT attempts FROM outbox WHERE status = 'failed'") == 1)
            // The second failure waits twice as long; the third is the last.
            result = try #require(try await hub.deliverOutbox(district: district, systems: nil, options: .init(directory: root, now: start.addingTimeInterval(31))).first)
            #expect(result.failed == 1)
            let second = try #require(
                try await scalar(client, "SELECT extract(epoch FROM next_attempt_at - to_timestamp(\(start.timeIntervalSince1970)))::float8 FROM outbox WHERE status = 'failed'", as: Double.self))
            #expect(abs(second - 91) < 1)
            result = try #require(try await hub.deliverOutbox(district: district, systems: nil, options: .init(directory: root, now: start.addingTimeInterval(100))).first)
            #expect(result.dead == 1)
            let dead = try await hub.deadLetters(district: district, system: "civil_affairs")
            #expect(dead.count == 2)
            #expect(dead.contains { $0.lastError?.contains("outbound_unmapped_code") == true })
            #expect(dead.allSatisfy { !($0.lastError ?? "").contains("13900001111") })

            // Fixed, and put back in line: it goes out, as file number 1 (no gap in the numbers).
            try FileManager.default.removeItem(at: root.appendingPathComponent(district))
            #expect(try await hub.retryOutbox(district: district, system: "civil_affairs", ids: [dead.first { $0.lastError?.contains("unmapped") == false }!.id]) == 1)
            result = try #require(try await hub.deliverOutbox(district: district, systems: nil, options: .init(directory: root)).first)
            #expect(result.sent == 1)
            #expect(result.files == ["civil_affairs_110105_000001.csv"])
            #expect(try await scalar(client, "SELECT count(*)::int FROM outbox WHERE status = 'dead'") == 1)
        }
    }

    // A time limit names the test should it ever hang (it did once in a full parallel run, 2026-12-03).
    @Test(
        "HTTP delivery: one request per update with its idempotency key; a failing endpoint is retried with backoff until it answers",
        .timeLimit(.minutes(10)))
    func httpEndpoint() async throws {
        let recorder = Recorder(failures: 2)
        let router = Router()
        router.post("updates") { request, _ -> Response in
            let key = request.headers[.init("Idempotency-Key")!] ?? ""
            let body = try await request.body.collect(upTo: 1 << 20)
            return Response(status: await recorder.receive(key: key, body: String(buffer: body)) ? .ok : .serviceUnavailable)
        }
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        var silent = Logger(label: "test-endpoint")
        silent.logLevel = .critical
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in portContinuation.yield(channel.localAddress?.port ?? 0) }, logger: silent)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            try await withHubAndClient { hub, client in
                let social = try adapter("social_security.yaml", addingToOutbound: ["http: {url: \"http://127.0.0.1:\(port)/updates\"}"])
                try await ingest(hub, adapter: social, file: repository.appendingPathComponent("adapters/samples/social_security.jsonl"))
                let id = try await resident(hub, "social_security", "3101000001")
                _ = try await hub.enter(district: district, resident: String(id), values: ["phone": "13900001111"], worker: "worker:a")
                _ = try await hub.releaseOutbox(district: district, system: "social_security", by: "test")
                let pending = try #require(try await scalar(client, "SELECT count(*)::int FROM outbox WHERE status = 'pending'"))
                #expect(pending >= 1)
                let start = Date()
                let directory = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-outbox")
                let result = try #require(try await hub.deliverOutbox(district: district, systems: nil, options: .init(directory: directory, now: start)).first)
                #expect(result.acknowledged == max(0, pending - 2))
                #expect(result.failed == min(2, pending))
                #expect(result.lastError?.contains("HTTP 503") == true)
                // Tried again only when due, until the endpoint answers.
                var at = start
                for _ in 0..<4 {
                    let waiting = try #require(try await hub.deliverOutbox(district: district, systems: nil, options: .init(directory: directory, now: at)).first)
                    #expect(waiting.sent == 0 && waiting.failed == 0, "tried before it was due")
                    at = at.addingTimeInterval(200)
                    let retried = try #require(try await hub.deliverOutbox(district: district, systems: nil, options: .init(directory: directory, now: at)).first)
                    if retried.failed == 0 { break }
                }
                #expect(try await scalar(client, "SELECT count(*)::int FROM outbox WHERE status = 'acknowledged'") == pending)
                // Retried under the same key; each update applied once by the receiver.
                let (received, applied) = await recorder.counts()
                #expect(received == pending + 2)
                #expect(applied == pending)
                let bodies = await recorder.bodies
                #expect(bodies.contains { $0.contains("\"aae005\":\"13900001111\"") })
                // No files for an HTTP system.
                #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent(district).path))
            }
            group.cancelAll()
        }
    }

    @Test("a phone number many people give is never chosen while a real one exists, and is never written back")
    func placeholders() async throws {
        let folder = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-placeholder")
        var configuration = DistrictSynthesizer.Configuration(residents: 1_200, seed: 31)
        configuration.noise = 1
        _ = try DistrictSynthesizer(configuration: configuration, output: folder).run()
        let office = try PhoneNumber.parse(CommunityOffice.phone).get().value
        try await withHubAndClient { hub, client in
            // The synthetic feeds carry the sample files' names.
            for (adapter, file) in samples {
                try await ingest(hub, adapter: repository.appendingPathComponent("adapters/\(adapter)").path, file: folder.appendingPathComponent(file))
            }
            let holders = try #require(try await scalar(client, "SELECT count(DISTINCT coalesce(name_key, name))::int FROM source_record WHERE is_current AND phone = '\(office)'"))
            #expect(holders >= Placeholders.sharedPhoneHolders)
            // Residents with the office phone on one record and a real phone on another.
            let mixed = try #require(
                try await scalar(
                    client,
                    """
                    SELECT count(*)::int FROM resident x WHERE x.status = 'active'
                      AND EXISTS (SELECT 1 FROM link l JOIN source_record r USING (district, record_id) WHERE l.resident_id = x.resident_id AND r.is_current AND r.phone = '\(office)')
                      AND EXISTS (SELECT 1 FROM link l JOIN source_record r USING (district, record_id) WHERE l.resident_id = x.resident_id AND r.is_current AND r.phone <> '\(office)')
                    """))
            #expect(mixed >= 1)
            let won = try await scalar(
                client,
                """
                SELECT count(*)::int FROM resident x WHERE x.status = 'active' AND named_fields(x.district, x.golden) ->> 'phone' = '\(office)'
                  AND EXISTS (SELECT 1 FROM link l JOIN source_record r USING (district, record_id) WHERE l.resident_id = x.resident_id AND r.is_current AND r.phone <> '\(office)')
                """)
            #expect(won == 0)
            #expect(try await scalar(client, "SELECT count(*)::int FROM outbox WHERE payload -> 'changes' -> 'phone' ->> 'new' = '\(office)'") == 0)
            // The systems that hold the office phone for such a person are sent the real one.
            #expect(try await scalar(client, "SELECT count(*)::int FROM outbox WHERE payload -> 'changes' -> 'phone' ->> 'old' = '\(office)'")! >= 1)
        }
    }
}

/// The receiving end of a test endpoint: fails the first requests, then applies each key once.
private actor Recorder {
    var failuresLeft: Int
    var received = 0
    var applied: Set<String> = []
    var bodies: [String] = []

    init(failures: Int) { failuresLeft = failures }

    func receive(key: String, body: String) -> Bool {
        received += 1
        if failuresLeft > 0 {
            failuresLeft -= 1
            return false
        }
        applied.insert(key)
        bodies.append(body)
        return true
    }

    func counts() -> (Int, Int) { (received, applied.count) }
}

/// SHA-256 as hex, for checking manifests.
enum SHA256Hex {
    static func of(_ data: Data) -> String {
        SHA256.hash(data: data).hexString
    }
}
