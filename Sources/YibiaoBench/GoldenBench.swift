import Foundation
import Logging
import PostgresNIO
import YibiaoAdapters
import YibiaoCore
import YibiaoMerge
import YibiaoStore
import YibiaoSynth
import YibiaoTestSupport

/// Golden records and the change log on a synthetic district: the pure merge alone, then the
/// whole path in PostgreSQL (stage → match → merge → log), then change-log appends on their own.
func benchGolden(residents: Int, seed: UInt64) async throws {
    let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("yibiao-bench-golden-\(getpid())")
    defer { try? FileManager.default.removeItem(at: directory) }
    _ = try DistrictSynthesizer(configuration: .init(residents: residents, seed: seed), output: directory).run()
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let feeds = [
        ("civil_affairs", "civil_affairs.csv"), ("family_planning", "family_planning.xlsx"), ("party", "party.xml"),
        ("social_security", "social_security.jsonl"),
    ]
    let today = CalendarDate(year: 2026, month: 1, day: 1)!
    print("\ngolden records (\(residents) residents)")

    // The pure merge, on the true clusters (matching is measured on its own).
    var person: [String: Int] = [:]
    for line in try String(contentsOf: directory.appendingPathComponent("truth.csv"), encoding: .utf8).split(separator: "\n").dropFirst() {
        let fields = line.split(separator: ",", omittingEmptySubsequences: false)
        person[fields[0] + "/" + fields[1]] = Int(fields[2])!
    }
    var observations: [Int: [Observation]] = [:]
    var recordID: Int64 = 0
    for (index, (system, file)) in feeds.enumerated() {
        let adapter = try FeedAdapterRegistry.load(root.appendingPathComponent("adapters/\(system).yaml").path)
        try adapter.read(directory.appendingPathComponent(file), today: today) { outcome in
            guard case .record(let record) = outcome, let id = person[system + "/" + record.sourceKey] else { return }
            recordID += 1
            observations[id, default: []].append(Observation(recordID: recordID, system: system, receivedAt: Int64(index), values: record.fields))
        }
    }
    let merger = GoldenRecordMerger()
    let groups = Array(observations.values)
    let mergeStart = ContinuousClock.now
    var values = 0, conflicts = 0
    for group in groups {
        let outcome = merger.merge(group)
        values += outcome.values.count
        conflicts += outcome.conflicts.count
    }
    let mergeSeconds = seconds(ContinuousClock.now - mergeStart)
    print(
        String(
            format: "  pure merge: %d residents (%d records) in %.2f s: %.0f residents/s (one core); %d values, %d conflicts",
            groups.count, Int(recordID), mergeSeconds, Double(groups.count) / mergeSeconds, values, conflicts))

    try await TestDatabase.withFreshDatabase { _, client in
        let district = "110105"
        var staged = 0
        let stageStart = ContinuousClock.now
        for (system, file) in feeds {
            let adapter = try FeedAdapterRegistry.load(root.appendingPathComponent("adapters/\(system).yaml").path)
            staged += try await Ingestor(adapter: adapter, district: district, actor: "bench", today: today, logger: .silent)
                .ingest(directory.appendingPathComponent(file), client: client).staged
        }
        let stageSeconds = seconds(ContinuousClock.now - stageStart)
        let linker = ResidentLinker(district: district, actor: "bench", rules: .standard, logger: .silent)
        let matchStart = ContinuousClock.now
        let first = try await linker.run(client)
        let matchSeconds = seconds(ContinuousClock.now - matchStart)
        let golden = first.golden
        let goldenSeconds = seconds(golden.elapsed), appendSeconds = seconds(golden.appendElapsed)
        print(
            String(
                format: "  in PostgreSQL: staging %d records %.1f s; matching and golden records %.1f s, of which golden %.1f s",
                staged, stageSeconds, matchSeconds, goldenSeconds))
        print(
            String(
                format: "    merge and write: %d residents in %.1f s: %.0f residents/s; %d change-log entries, %.2f s of it waiting for their appends",
                golden.recomputed, goldenSeconds, Double(golden.recomputed) / goldenSeconds, golden.entries, appendSeconds))
        let again = try await linker.run(client)
        print(
            String(
                format: "    an unchanged re-run: %d recomputed, %d entries; the staleness check takes %.2f s",
                again.golden.recomputed, again.golden.entries, seconds(again.golden.elapsed)))

        // Appends on their own: large transactions (a batch) and one-entry transactions (a worker's entry).
        var ids: [Int64] = []
        for try await id in try await client.query("SELECT resident_id FROM resident WHERE status = 'active' ORDER BY resident_id LIMIT 10000").decode(Int64.self) {
            ids.append(id)
        }
        let logger = Logger(label: "bench")
        func entries(_ count: Int, offset: Int) -> [ChangeLog.Entry] {
            (0..<count).map { index in
                ChangeLog.Entry(
                    residentID: ids[(offset + index) % ids.count], cause: "batch", causeRef: "bench", actor: "bench",
                    changes: ["phone": .init(old: "1380000\(String(format: "%04d", index % 10000))", new: "1390000\(String(format: "%04d", index % 10000))")])
            }
        }
        let bulkTotal = residents, bulkChunk = 10_000
        let bulkStart = ContinuousClock.now
        try await client.withConnection { connection in
            for offset in stride(from: 0, to: bulkTotal, by: bulkChunk) {
                try await connection.query("BEGIN", logger: logger)
                try await ChangeLog.append(entries(min(bulkChunk, bulkTotal - offset), offset: offset), district: district, on: connection, logger: .silent)
                try await connection.query("COMMIT", logger: logger)
            }
        }
        let bulkSeconds = seconds(ContinuousClock.now - bulkStart)
        let singleTotal = 2_000
        let singleStart = ContinuousClock.now
        try await client.withConnection { connection in
            for offset in 0..<singleTotal {
                try await connection.query("BEGIN", logger: logger)
                try await ChangeLog.append(entries(1, offset: offset), district: district, on: connection, logger: .silent)
                try await connection.query("COMMIT", logger: logger)
            }
        }
        let singleSeconds = seconds(ContinuousClock.now - singleStart)
        print(
            String(
                format: "  change-log append: %d entries in transactions of %d: %.0f entries/s; %d one-entry transactions: %.0f entries/s",
                bulkTotal, bulkChunk, Double(bulkTotal) / bulkSeconds, singleTotal, Double(singleTotal) / singleSeconds))
        let verifyStart = ContinuousClock.now
        let (checked, broken) = try await ChangeLog.verify(client, district: district, logger: .silent)
        print(
            String(
                format: "  log verify: %d entries in %.1f s: %.0f entries/s%@", checked, seconds(ContinuousClock.now - verifyStart),
                Double(checked) / seconds(ContinuousClock.now - verifyStart), broken == nil ? "" : " — BROKEN"))
        print("  (the benchmark cluster runs with fsync off: durable appends on real disks are slower per commit)")
    }
}
