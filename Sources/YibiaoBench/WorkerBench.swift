import Foundation
import PostgresNIO
import YibiaoAdapters
import YibiaoApplication
import YibiaoStore
import YibiaoSynth
import YibiaoTestSupport

/// `YibiaoBench workers [RESIDENTS] [SECONDS]`: a synthetic district's civil-affairs feed, then
/// 2,500 community workers sending entries through the sync client on loopback.
func benchWorkers(residents: Int, seconds duration: Int) async throws {
    let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("yibiao-bench-workers-\(residents)")
    if !FileManager.default.fileExists(atPath: directory.appendingPathComponent("civil_affairs.csv").path) {
        _ = try DistrictSynthesizer(configuration: .init(residents: residents, seed: 3), output: directory).run()
    }
    try await withBenchHub { hub, client in
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        _ = try await hub.ingest(
            IngestRequest(
                adapter: try FeedAdapterRegistry.load(root.appendingPathComponent("adapters/civil_affairs.yaml").path),
                file: directory.appendingPathComponent("civil_affairs.csv"), district: "110105", actor: "bench"))
        print("\nworkers (a \(residents)-resident district's civil-affairs feed; \(buildKind))")
        try await benchWorkerLoad(hub, client: client, district: "110105", seconds: duration)
    }
}

/// 2,500 simulated workers, each entering a new phone for one of its residents every one to three
/// minutes (a busy district's day compressed), for `seconds`; then what the hub holds is checked.
func benchWorkerLoad(_ hub: Hub, client: PostgresClient, district: String, seconds duration: Int, workers count: Int = 2_500) async throws {
    let setup = ContinuousClock.now
    let workers = try await WorkerLoad.makeWorkers(count, hub: hub, client: client, district: district)
    print(String(format: "  %d workers registered in %.1f s; sending for %d s (each: an entry, then 60–180 s to the next)", count, seconds(ContinuousClock.now - setup), duration))
    try await serveOnLoopback(hub) { base in
        let queues = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("yibiao-bench-queues-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: queues) }
        let load = WorkerLoad(
            base: base, workers: workers, configuration: .init(duration: .seconds(duration), thinkSeconds: 60...180))
        let result = try await load.run(queueRoot: queues)
        let stored = try await WorkerLoad.check(result, client: client, district: district)
        print(
            String(
                format: "  worker entries over HTTP: %d accepted, %.1f entries/s; send → answer (outbox row committed): p50 %.0f ms, p99 %.0f ms",
                result.accepted.count, result.entriesPerSecond, result.percentile(0.5) * 1000, result.percentile(0.99) * 1000))
        print(
            "  conflicts resolved by the worker: \(result.conflicts); sent twice: \(result.resent), answered 'already received': \(result.alreadyReceived); "
                + "unanswered then pushed: \(result.unanswered)")
        let intact = stored.entries == result.accepted.count && stored.changes == result.accepted.count && stored.withoutOutbox == 0
        print(
            "  on the hub: \(stored.entries) entries stored, \(stored.changes) change-log entries, \(stored.withoutOutbox) without an outbox row — "
                + (intact ? "nothing lost or doubled" : "MISMATCH"))
    }
}
