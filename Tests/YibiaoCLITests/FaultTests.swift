import Foundation
import Testing
import YibiaoStore
import YibiaoTestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// What a person sees when the database goes away under a running command.
@Suite struct FaultTests {
    /// The state a run leaves, in numbers that must not depend on how it got there.
    static func state(_ url: String) throws -> String {
        let query = """
            SELECT (SELECT count(*) FROM source_record WHERE is_current) || ' records, '
                || (SELECT count(*) FROM link) || ' links, '
                || (SELECT count(*) FROM resident WHERE status = 'active') || ' residents, '
                || (SELECT count(*) FROM resident_field) || ' values, '
                || (SELECT count(*) FROM change_log) || ' entries, '
                || (SELECT count(*) FROM quarantine) || ' quarantined'
            """
        return try ProcessRunner().run("/usr/bin/psql", ["-X", "-qtA", url, "-c", query]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test("the database killed mid-ingest: exit 69 within 30 s with a message; the next run marks the batch failed and converges to a clean run's state")
    func databaseKilledMidIngest() throws {
        let home = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-cli-fault")
        let environment = ["YIBIAO_HOME": home.path, "YIBIAO_DISTRICT": "110105"]
        let cli = CLIProcess(environment: environment)
        defer {
            _ = try? cli.run("db", "stop")
            try? FileManager.default.removeItem(at: home)
        }
        #expect(try cli.run("db", "start").status == 0)
        #expect(try cli.run("db", "migrate").status == 0)
        let district = home.appendingPathComponent("district")
        #expect(try cli.run("synth", "--residents", "9000", "--seed", "11", "--out", district.path).status == 0)
        let adapter = root.appendingPathComponent("adapters/social_security.yaml").path
        let feed = district.appendingPathComponent("social_security.jsonl").path
        let url = try cli.run("db", "url").stdout.trimmingCharacters(in: .whitespacesAndNewlines)

        let zh = CLIProcess(environment: environment.merging(["LANG": "zh_CN.UTF-8"]) { $1 })
        // On a thread of its own: the test pool's threads may all be busy waiting on processes.
        let ingest = BackgroundRun { try zh.run("ingest", "--no-progress", adapter, feed) }
        // Kill the server once the batch is running.
        var running = false
        let patience = ContinuousClock.now + .seconds(120)
        while !running, ContinuousClock.now < patience, !ingest.isDone {
            let count = try ProcessRunner().run("/usr/bin/psql", ["-X", "-qtA", url, "-c", "SELECT count(*) FROM ingest_batch WHERE status = 'running'"])
            running = count.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1"
        }
        try #require(running, "the ingest finished before the server could be stopped under it")
        let started = ContinuousClock.now
        let pidText = try String(contentsOf: home.appendingPathComponent("pg/data/postmaster.pid"), encoding: .utf8)
        let pid = try #require(pidText.split(separator: "\n").first.flatMap { Int32($0) })
        #expect(kill(pid, SIGKILL) == 0)
        let lost = try ingest.wait()
        #expect(ContinuousClock.now - started < .seconds(30))
        #expect(lost.status == 69, "\(lost.stdout)\n\(lost.stderr)")
        #expect(lost.stderr.contains("数据库已无响应"), "\(lost.stderr)")
        #expect(lost.stderr.contains("yibiao db start"))

        // Start again, run the same ingest: the interrupted batch is named and marked failed.
        #expect(try cli.run("db", "start").status == 0)
        let rerun = try cli.run("ingest", "--no-progress", adapter, feed)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(rerun.stdout.contains("had stopped before it finished; it is now marked failed"), "\(rerun.stdout)")
        let statuses = try ProcessRunner().run("/usr/bin/psql", ["-X", "-qtA", url, "-c", "SELECT string_agg(status || ':' || coalesce(error_code, ''), ',' ORDER BY batch_id) FROM ingest_batch"])
        #expect(statuses.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "failed:interrupted,finished:")
        // Residents whose records the interrupted batch staged are logged under that batch.
        let causes = try ProcessRunner().run(
            "/usr/bin/psql",
            [
                "-X", "-qtA", url, "-c",
                "SELECT count(*) FILTER (WHERE c.cause_ref = 'batch:' || b.batch_id) > 0 FROM change_log c, ingest_batch b WHERE b.status = 'failed'",
            ])
        #expect(causes.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "t", "\(causes.stdout)")
        let recovered = try Self.state(url)

        // A clean run of the same feed gives the same state.
        #expect(try cli.run("db", "reset", "--yes").status == 0)
        #expect(try cli.run("ingest", "--no-progress", adapter, feed).status == 0)
        #expect(try Self.state(url) == recovered)
        #expect(try cli.run("log", "verify").status == 0)
    }
}

/// A blocking call on a thread of its own.
final class BackgroundRun<Value: Sendable>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var result: Result<Value, any Error>?

    init(_ body: @escaping @Sendable () throws -> Value) {
        let thread = Thread { [self] in
            let outcome = Result { try body() }
            lock.withLock { result = outcome }
            done.signal()
        }
        thread.start()
    }

    var isDone: Bool { lock.withLock { result != nil } }

    func wait() throws -> Value {
        done.wait()
        return try lock.withLock { result! }.get()
    }
}
