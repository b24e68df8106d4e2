import Foundation
import PostgresNIO
import Testing
import YibiaoAdapters
import YibiaoApplication
import YibiaoCore
import YibiaoStore
import YibiaoSynth
import YibiaoTestSupport

@Suite(.serialized) struct WorkerLoadTests {
    /// The full load (5 minutes) runs in `make bench district`; here the same 2,500 workers for
    /// 30 seconds, checked for what must never happen under load.
    @Test("2,500 simulated workers on loopback: every entry stored exactly once, each with its change-log entry and outbox row; entries sent twice answered 'already received'")
    func twoThousandFiveHundredWorkers() async throws {
        let clock = ContinuousClock(), started = clock.now
        let feeds = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-load")
        _ = try DistrictSynthesizer(configuration: .init(residents: 5_000, seed: 5), output: feeds).run()
        try await withCivilAffairs(feeds.appendingPathComponent("civil_affairs.csv"), connections: 16) { hub, client in
            print("load test: district ready after \(clock.now - started)")
            let workers = try await WorkerLoad.makeWorkers(2_500, hub: hub, client: client, district: district)
            try await serveOnLoopback(hub) { base in
                let load = WorkerLoad(
                    base: base, workers: workers, configuration: .init(duration: .seconds(30), thinkSeconds: 120...360, resendShare: 0.05))
                print("load test: 2,500 workers ready after \(clock.now - started)")
                let result = try await load.run(queueRoot: try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-load-queues"))
                print(
                    "load test: \(result.accepted.count) entries accepted, \(result.unanswered) unanswered then pushed, p50 \(result.percentile(0.5)) s, p99 \(result.percentile(0.99)) s, done after \(clock.now - started)"
                )
                #expect(result.accepted.count > 100, "the workers got entries through: \(result.accepted.count)")
                #expect(result.rejected == 0)
                #expect(result.conflicts > 0, "workers share residents here: one worker's entry overtakes what another saw")
                #expect(result.alreadyReceived == result.resent, "every entry sent twice was recognised")
                let stored = try await WorkerLoad.check(result, client: client, district: district)
                #expect(stored.entries == result.accepted.count, "nothing lost, nothing doubled: \(stored) vs \(result.accepted.count)")
                #expect(stored.ofAccepted == result.accepted.count)
                #expect(stored.changes == result.accepted.count, "one change-log entry per entry")
                #expect(stored.withoutOutbox == 0, "each change owed to civil affairs has its outbox row")
            }
        }
    }
}
