import Foundation
import Logging
import PostgresNIO
import YibiaoAdapters
import YibiaoApplication
import YibiaoCore
import YibiaoStore
import YibiaoSynth
import YibiaoTestSupport

/// `make bench district`: the whole pipeline on a synthetic district, every figure beside the
/// floor measured in the same run — a raw COPY of the same rows into unindexed text tables.
/// Which parts of the district benchmark run: all of them, or the floor and one way of the first
/// load alone in this process, so that its peak memory is its own.
enum DistrictBenchPart: String {
    case all
    case feedByFeed = "feed-by-feed"
    case allAtOnce = "all-at-once"
}

func benchDistrict(residents: Int, seed: UInt64, part: DistrictBenchPart = .all) async throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let directory = root.appendingPathComponent(".build/bench-district-\(residents)-\(seed)-v\(DistrictSynthesizer.layoutVersion)")
    let feeds = [
        ("civil_affairs", "civil_affairs.csv"), ("family_planning", "family_planning.xlsx"), ("party", "party.xml"),
        ("social_security", "social_security.jsonl"),
    ]
    if !FileManager.default.fileExists(atPath: directory.appendingPathComponent("manifest.json").path) {
        print("generating the district (\(residents) residents, seed \(seed)) in \(directory.path)")
        try? FileManager.default.removeItem(at: directory)
        _ = try DistrictSynthesizer(configuration: .init(residents: residents, seed: seed), output: directory).run()
    }
    let adapters = try feeds.map { try FeedAdapterRegistry.load(root.appendingPathComponent("adapters/\($0.0).yaml").path) }
    let files = feeds.map { directory.appendingPathComponent($0.1) }

    // The rows as text, read before anything is timed: the floor is the COPY alone.
    var tables: [(columns: [String], rows: [[String]])] = []
    for (adapter, file) in zip(adapters, files) {
        var columns: [String] = []
        var rows: [[String]] = []
        try adapter.read(file, today: .todayInChina()) { outcome in
            switch outcome {
            case .record(let record):
                if columns.isEmpty { columns = record.raw.keys.sorted() }
                rows.append(columns.map { record.raw[$0] ?? "" })
            case .quarantined: break
            }
        }
        tables.append((columns, rows))
    }
    let totalRows = tables.reduce(0) { $0 + $1.rows.count }
    print("\ndistrict (\(residents) residents, \(totalRows) feed rows in \(feeds.count) feeds; \(buildKind), \(ProcessInfo.processInfo.activeProcessorCount) cores)")

    let prepared = tables
    let floor = try await TestDatabase.withFreshDatabase(migrated: false) { _, client in
        try await client.withConnection { connection in
            var copies: [CopyText] = []
            for (index, table) in prepared.enumerated() {
                let columns = table.columns.indices.map { "c\($0) text" }.joined(separator: ", ")
                try await connection.query(PostgresQuery(unsafeSQL: "CREATE TABLE floor_\(index) (\(columns))"), logger: .silent)
                var copy = CopyText()
                for row in table.rows { copy.row(row) }
                copies.append(copy)
            }
            let start = ContinuousClock.now
            for (index, copy) in copies.enumerated() {
                try await connection.copyFrom(table: "floor_\(index)", logger: .silent) { writer in
                    try await writer.write(ByteBuffer(bytes: copy.bytes))
                }
            }
            return seconds(ContinuousClock.now - start)
        }
    }
    tables = []
    let run = DistrictRun(adapters: adapters, files: files, floor: floor)
    run.figure("raw COPY (the floor)", floor, rows: totalRows)
    let district = run.district

    // Feed by feed, as the README shows, then everything else on the loaded district.
    if part != .allAtOnce {
        try await withBenchHub { hub, client in
            var fullLoad = 0.0
            var outboxRows = 0, outboxTime = 0.0
            print("  first load, feed by feed:")
            resetPeakMemory()
            let cpuAtStart = CPUReading.now()
            for index in feeds.indices {
                let (time, outcome) = try await run.ingest(hub, index)
                fullLoad += time
                outboxRows += outcome.matching?.golden.outbox.values.reduce(0) { $0 + $1.updates + $1.refused } ?? 0
                outboxTime += outcome.matching.map { seconds($0.golden.outboxElapsed) } ?? 0
                run.figure("  \(feeds[index].0) (\(outcome.staging.staged) staged)", time, rows: outcome.staging.read)
                run.phases(time, outcome)
            }
            run.figure("whole district, feed by feed", fullLoad, rows: totalRows)
            print("      " + CPUReading.now().since(cpuAtStart))
            print(String(format: "    peak memory of the load: %.0f MB", peakMemoryMB()))
            print(String(format: "    outbox: %d updates written in %.2f s during the load, %.0f rows/s", outboxRows, outboxTime, Double(outboxRows) / max(outboxTime, 1e-6)))
            try await printDatabaseSize(client, "    database after the first load")
            guard part == .all else { return }

            let unchanged = feeds.count - 1
            let (noop, outcome) = try await run.ingest(hub, unchanged)
            run.figure("re-ingest of an unchanged feed (\(outcome.staging.staged) staged)", noop)
            let matchStart = ContinuousClock.now
            let idle = try await hub.match(district: district, actor: "bench")
            run.figure("match with nothing to do (\(idle.records) records read)", seconds(ContinuousClock.now - matchStart))

            let changedFile = directory.appendingPathComponent("social_security-1pct.jsonl")
            let changedRows = try writeOnePercentChanged(files[unchanged], to: changedFile)
            let (changed, changedOutcome) = try await run.ingest(hub, unchanged, file: changedFile)
            run.figure("feed with 1 % of rows changed (\(changedOutcome.staging.staged) of \(changedRows))", changed)
            run.phases(changed, changedOutcome)
            print(String(format: "    = %.1f %% of the full load", 100 * changed / fullLoad))
            var ids: [Int64] = []
            for try await id in try await client.query(
                "SELECT resident_id FROM resident WHERE district = \(district) AND status = 'active' ORDER BY resident_id LIMIT 200"
            ).decode(Int64.self) { ids.append(id) }
            var latencies: [Double] = [], outboxShare: [Double] = []
            for (index, id) in ids.enumerated() {
                let start = ContinuousClock.now
                let (_, summary) = try await hub.enter(
                    district: district, resident: String(id), values: ["phone": "139\(String(format: "%08d", 12_345_678 + index))"], worker: "bench")
                latencies.append(seconds(ContinuousClock.now - start) * 1000)
                outboxShare.append(seconds(summary.outboxElapsed) * 1000)
            }
            latencies.sort()
            outboxShare.sort()
            if !latencies.isEmpty {
                let p99 = latencies[min(latencies.count - 1, Int(Double(latencies.count) * 0.99))]
                print(
                    String(
                        format: "  worker entries: %d, p50 %.1f ms, p99 %.1f ms (of which the outbox: p50 %.1f ms)", latencies.count,
                        latencies[latencies.count / 2], p99, outboxShare[outboxShare.count / 2]))
            }
            // Another 1 % staged alone, then matched, as `ingest --no-match` and `match` do: the
            // match reads statistics taken before the feed superseded its rows. (After the
            // worker entries, so that the entries are timed as in earlier runs.)
            let otherFile = directory.appendingPathComponent("social_security-1pct-b.jsonl")
            let otherRows = try writeOnePercentChanged(files[unchanged], to: otherFile, everyHundredth: 37, prefix: "1360")
            let (staged, _) = try await run.ingest(hub, unchanged, file: otherFile, match: false)
            let laterStart = ContinuousClock.now
            let later = try await hub.match(district: district, actor: "bench")
            let matched = seconds(ContinuousClock.now - laterStart)
            run.figure("another 1 %, staged alone, then match (\(later.records) read)", staged + matched)
            print(String(format: "      staging %.1f s · match %.1f s (of \(otherRows) changed rows)", staged, matched))

            try await benchDelivery(hub, run: run)
            let reportStart = ContinuousClock.now
            let report = try await hub.qualityReport(district: district, reader: "bench")
            let page = QualityReportPage.html(report)
            print(
                String(
                    format: "  data-quality report: %.2f s (%d residents, %.0f KB of HTML)", seconds(ContinuousClock.now - reportStart),
                    report.activeResidents, Double(page.utf8.count) / 1000))
            try await benchAccess(hub, client: client, district: district)
            print("  community workers through the sync client:")
            try await benchWorkerLoad(hub, client: client, district: district, seconds: 300)
            try await printDatabaseSize(client, "  database after all of the above")
            print("  largest relations:")
            for try await (name, size) in try await client.query(
                """
                SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 2 DESC LIMIT 8
                """
            ).decode((String, Int).self) { print(String(format: "    %-22@ %6.0f MB", name as NSString, Double(size) / 1e6)) }
        }
    }

    if part == .all {
        // In a process of its own: after everything above, this one's memory would count what the
        // earlier parts left behind (glibc keeps what it freed), not what the load needs.
        // This process's peak before the child's lines, each process's figure printed once.
        print(String(format: "  peak memory of this process (from the first load on): %.0f MB", peakMemoryMB()))
        print("  the first load all at once, in a process of its own (with its own floor):")
        // Written out before the child writes: into a file, print's lines wait in a buffer and
        // came out after the child's.
        fflush(nil)
        let child = Process()
        child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        child.arguments = ["district", String(residents), String(seed), DistrictBenchPart.allAtOnce.rawValue]
        try child.run()
        child.waitUntilExit()
    } else if part == .allAtOnce {
        try await withBenchHub { hub, client in
            resetPeakMemory()
            let start = ContinuousClock.now
            let cpuAtStart = CPUReading.now()
            for index in feeds.indices { _ = try await run.ingest(hub, index, match: false) }
            let staged = seconds(ContinuousClock.now - start)
            let cpuAfterStaging = CPUReading.now()
            _ = try await hub.match(district: district, actor: "bench")
            let total = seconds(ContinuousClock.now - start)
            let cpuAtEnd = CPUReading.now()
            run.figure("whole district, all at once", total, rows: totalRows)
            print("      " + cpuAtEnd.since(cpuAtStart))
            run.figure("  of which staging", staged, rows: totalRows)
            print("      " + cpuAfterStaging.since(cpuAtStart))
            run.figure("  and matching, golden records, outbox", total - staged)
            print("      " + cpuAtEnd.since(cpuAfterStaging))
            print(String(format: "    peak memory of the load: %.0f MB", peakMemoryMB()))
            try await printDatabaseSize(client, "    database after the load")
        }
    }
    // The child that loads all at once ends the output with this note.
    if part != .all {
        print(String(format: "  peak memory of this process: %.0f MB", peakMemoryMB()))
        print("  (the benchmark cluster runs with fsync off; each figure is one run)")
    }
}

/// The feeds and the floor every figure is set against.
private struct DistrictRun: Sendable {
    let adapters: [any FeedAdapter]
    let files: [URL]
    let floor: Double
    let district = "110105"

    @Sendable func figure(_ label: String, _ time: Double, rows: Int? = nil) {
        let rate = rows.map { String(format: ", %8.0f rows/s", Double($0) / time) } ?? ""
        print(String(format: "  %-44@ %7.2f s  %6.1f × floor%@", label as NSString, time, time / floor, rate))
    }

    /// Where an ingest's time went.
    @Sendable func phases(_ total: Double, _ outcome: IngestOutcome) {
        guard let matching = outcome.matching else { return }
        let match = seconds(matching.elapsed), golden = seconds(matching.golden.elapsed), log = seconds(matching.golden.appendElapsed)
        let outbox = seconds(matching.golden.outboxElapsed)
        print(
            String(
                format: "      staging %.1f s · matching %.1f s (%@, %d records) · golden records %.1f s (%d residents) · change log %.1f s · outbox %.1f s",
                total - match, match - golden, (matching.wholeDistrict ? "whole district" : "incremental") as NSString, matching.records,
                golden - log - outbox, matching.golden.recomputed, log, outbox))
    }

    @Sendable func ingest(_ hub: Hub, _ index: Int, file: URL? = nil, match: Bool = true) async throws -> (Double, IngestOutcome) {
        let start = ContinuousClock.now
        let outcome = try await hub.ingest(
            IngestRequest(adapter: adapters[index], file: file ?? files[index], district: district, actor: "bench", match: match))
        return (seconds(ContinuousClock.now - start), outcome)
    }
}

/// Delivery per format once every system is released, then the latency from a committed
/// entry to its delivered file.
private func benchDelivery(_ hub: Hub, run: DistrictRun) async throws {
    let folder = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("yibiao-bench-outbox-\(UUID().uuidString.prefix(8))")
    defer { try? FileManager.default.removeItem(at: folder) }
    let systems = try await hub.outboxStatus(district: run.district).map(\.system)
    print("  write-back delivery (every system released):")
    for system in systems {
        _ = try await hub.releaseOutbox(district: run.district, system: system, by: "bench")
        let start = ContinuousClock.now
        let result = try await hub.deliverOutbox(district: run.district, systems: [system], options: .init(directory: folder))
        let time = seconds(ContinuousClock.now - start)
        let sent = result.reduce(0) { $0 + $1.sent }, files = result.reduce(0) { $0 + $1.files.count }
        let format = run.adapters.compactMap { ($0 as? YAMLFeedAdapter)?.spec }.first { $0.system == system }?.outbound?.format.typeName ?? "?"
        print(String(format: "    %-16@ %-6@ %7d rows in %d files, %.2f s, %8.0f rows/s", system as NSString, format as NSString, sent, files, time, Double(sent) / max(time, 1e-6)))
    }
    var latencies: [Double] = []
    for index in 0..<100 {
        let id = Int64(1_000 + index * 7)
        guard (try? await hub.enter(district: run.district, resident: String(id), values: ["address": "北京市朝阳区建国路\(index + 1)号"], worker: "bench")) != nil else { continue }
        let start = ContinuousClock.now
        _ = try await hub.deliverOutbox(district: run.district, systems: ["civil_affairs"], options: .init(directory: folder))
        latencies.append(seconds(ContinuousClock.now - start) * 1000)
    }
    latencies.sort()
    if !latencies.isEmpty {
        let p99 = latencies[min(latencies.count - 1, Int(Double(latencies.count) * 0.99))]
        print(String(format: "    committed entry → its civil_affairs file written: %d entries, p50 %.1f ms, p99 %.1f ms", latencies.count, latencies[latencies.count / 2], p99))
    }
}

/// A hub on a fresh database of the benchmark cluster.
func withBenchHub(_ body: @escaping @Sendable (Hub, PostgresClient) async throws -> Void) async throws {
    try await TestDatabase.withFreshDatabase { url, client in
        let database = DatabaseConfiguration(home: FileManager.default.temporaryDirectory, externalURL: url)
        try await Hub.withHub(HubConfiguration(database: database, logger: benchLogger)) { hub in try await body(hub, client) }
    }
}

/// Silent, unless `BENCH_LOG=info` (or another level) asks for the pipeline's phase timings on stderr.
let benchLogger: Logger = {
    guard let level = ProcessInfo.processInfo.environment["BENCH_LOG"].flatMap(Logger.Level.init(rawValue:)) else { return .silent }
    var logger = Logger(label: "bench", factory: { StreamLogHandler.standardError(label: $0) })
    logger.logLevel = level
    return logger
}()

/// The database's size per source record (every version of every row counts one).
private func printDatabaseSize(_ client: PostgresClient, _ label: String) async throws {
    var bytes = 0, records = 0
    for try await (size, count) in try await client.query(
        "SELECT pg_database_size(current_database()), (SELECT count(*) FROM source_record)::bigint"
    ).decode((Int, Int).self) { (bytes, records) = (size, count) }
    print(String(format: "%@: %.0f MB, %.0f bytes per source record (%d records)", label as NSString, Double(bytes) / 1e6, Double(bytes) / Double(max(records, 1)), records))
}

/// The feed with one row in a hundred given another phone number; returns how many changed.
private func writeOnePercentChanged(_ source: URL, to target: URL, everyHundredth row: Int = 7, prefix: String = "1370") throws -> Int {
    let text = try String(contentsOf: source, encoding: .utf8)
    var changed = 0
    var lines: [String] = []
    for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        guard index % 100 == row, let range = line.range(of: #""aae005": "[0-9]{11}""#, options: .regularExpression) else {
            lines.append(String(line))
            continue
        }
        changed += 1
        lines.append(line.replacingCharacters(in: range, with: "\"aae005\": \"\(prefix)\(String(format: "%07d", index))\""))
    }
    try lines.joined(separator: "\n").write(to: target, atomically: true, encoding: .utf8)
    return changed
}
