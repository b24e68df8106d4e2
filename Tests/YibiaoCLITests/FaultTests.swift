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

    /// Where the server is killed: while rows are staged, or once staging is done and records
    /// are matched and golden records written (one transaction).
    enum Phase: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case staging, matching

        var testDescription: String { rawValue }

        /// True once the ingest is in this phase.
        var query: String {
            switch self {
            case .staging: "SELECT count(*) = 1 FROM ingest_batch WHERE status = 'running'"
            case .matching: "SELECT count(*) = 1 FROM ingest_batch WHERE status = 'finished'"
            }
        }
    }

    @Test(
        "the database killed mid-ingest: exit 69 within 30 s with a message; a re-run converges to a clean run's state",
        arguments: Phase.allCases)
    func databaseKilledMidIngest(phase: Phase) throws {
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
        // Kill the server once the ingest is in the phase.
        var running = false
        let patience = ContinuousClock.now + .seconds(120)
        while !running, ContinuousClock.now < patience, !ingest.isDone {
            let answer = try ProcessRunner().run("/usr/bin/psql", ["-X", "-qtA", url, "-c", phase.query])
            running = answer.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "t"
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
        let statuses = try ProcessRunner().run(
            "/usr/bin/psql", ["-X", "-qtA", url, "-c", "SELECT string_agg(status || ':' || coalesce(error_code, ''), ',' ORDER BY batch_id) FROM ingest_batch"])
        switch phase {
        case .staging:
            #expect(rerun.stdout.contains("had stopped before it finished; it is now marked failed"), "\(rerun.stdout)")
            #expect(statuses.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "failed:interrupted,finished:")
        case .matching:
            // Staging had committed: nothing new is staged, the records left unlinked are matched now.
            #expect(rerun.stdout.contains("staged 0"), "\(rerun.stdout)")
            #expect(rerun.stdout.contains("matching (parameters"), "\(rerun.stdout)")
            #expect(statuses.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "finished:,finished:")
        }
        // Every entry names the batch that staged the resident's records, not the run that caught up.
        let causes = try ProcessRunner().run(
            "/usr/bin/psql",
            [
                "-X", "-qtA", url, "-c",
                """
                SELECT count(*) FROM change_log c WHERE c.cause = 'batch' AND c.cause_ref <> 'batch:' || (
                    SELECT max(r.batch_id) FROM link l JOIN source_record r USING (district, record_id)
                    WHERE l.district = c.district AND l.resident_id = c.resident_id AND r.is_current)
                """,
            ])
        #expect(causes.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "\(causes.stdout)")
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
