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
                || (SELECT count(*) FROM resident r CROSS JOIN LATERAL jsonb_object_keys(r.golden) f) || ' values, '
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
        #expect(lost.status != 0)
        switch phase {
        case .staging:
            #expect(lost.status == 69, "\(lost.stdout)\n\(lost.stderr)")
            #expect(lost.stderr.contains("数据库已无响应"), "\(lost.stderr)")
            #expect(lost.stderr.contains("yibiao db start"))
        case .matching:
            // While matching reads records, PostgresNIO 1.33.2 can trap on a connection that dies
            // mid-stream (RowStreamStateMachine.channelReadComplete); then the process ends with
            // SIGILL instead of our message. What matters here holds either way: it ends, and the
            // re-run below converges. docs/architecture.md records the dependency's limit.
            // A query that fails because the server died is reported as the lost server, not as
            // the driver's connection error.
            #expect(
                (lost.status == 69 && lost.stderr.contains("数据库已无响应")) || lost.stderr.contains("RowStreamStateMachine"),
                "\(lost.stdout)\n\(lost.stderr)")
        }

        // Start again, run the same ingest: the interrupted batch is named and marked failed.
        let restart = try cli.run("db", "start")
        #expect(restart.status == 0)
        let rerun = try cli.run("ingest", "--no-progress", adapter, feed)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        let statuses = try ProcessRunner().run(
            "/usr/bin/psql", ["-X", "-qtA", url, "-c", "SELECT string_agg(status || ':' || coalesce(error_code, ''), ',' ORDER BY batch_id) FROM ingest_batch"])
        switch phase {
        case .staging:
            // The batch says failed as soon as the server is back, before anything is run again.
            #expect(restart.stdout.contains("had stopped before it finished; it is now marked failed"), "\(restart.stdout)")
            #expect(statuses.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "failed:interrupted,finished:")
        case .matching:
            // Staging had committed: the file is not read again, the records left waiting are matched now.
            #expect(rerun.stdout.contains("is unchanged since batch 1"), "\(rerun.stdout)")
            #expect(rerun.stdout.contains("matching (parameters"), "\(rerun.stdout)")
            #expect(statuses.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "finished:")
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

/// The data directory's disk fills up during an ingest.
@Suite struct DiskFullTests {
    @Test("disk full under the database: a clear message and a non-zero exit; with space again, a re-run converges to a clean run's state")
    func diskFull() throws {
        // A small file system of its own for the data directory (tests run as root here, as in CI).
        let mountPoint = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-cli-diskfull")
        let mount = try ProcessRunner().run("/bin/mount", ["-t", "tmpfs", "-o", "size=256m,mode=0755", "tmpfs", mountPoint.path])
        try #require(mount.succeeded, "cannot mount a tmpfs for the test: \(mount.stderr)")
        defer { _ = try? ProcessRunner().run("/bin/umount", ["-l", mountPoint.path]) }
        let home = mountPoint.appendingPathComponent("home")
        let environment = ["YIBIAO_HOME": home.path, "YIBIAO_DISTRICT": "110105"]
        let cli = CLIProcess(environment: environment)
        defer { _ = try? cli.run("db", "stop") }
        let start = try cli.run("db", "start")
        try #require(start.status == 0, "\(start.stdout)\(start.stderr)")
        #expect(try cli.run("db", "migrate").status == 0)
        let district = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-diskfull-feeds")
        #expect(try cli.run("synth", "--residents", "9000", "--seed", "5", "--out", district.path).status == 0)
        let adapter = root.appendingPathComponent("adapters/social_security.yaml").path
        let feed = district.appendingPathComponent("social_security.jsonl").path
        let url = try cli.run("db", "url").stdout.trimmingCharacters(in: .whitespacesAndNewlines)

        // Leave about 2 MB free: far less than the feed needs.
        let filler = mountPoint.appendingPathComponent("filler")
        let free = try #require(try FileManager.default.attributesOfFileSystem(forPath: mountPoint.path)[.systemFreeSize] as? Int)
        let fill = try ProcessRunner().run("/usr/bin/fallocate", ["-l", String(max(free - (2 << 20), 0)), filler.path])
        try #require(fill.succeeded, "\(fill.stderr)")
        let full = try cli.run("ingest", "--no-progress", adapter, feed)
        #expect(full.status != 0, "\(full.stdout)")
        #expect(full.stderr.contains("disk is full") || full.stderr.contains("stopped answering"), "\(full.stderr)")
        #expect(!full.stderr.contains("No space left"), "the server's own words stay in debug detail")

        // Space again: whatever the server did (refused the write or restarted), a re-run finishes.
        try FileManager.default.removeItem(at: filler)
        _ = try cli.run("db", "start")
        let rerun = try cli.run("ingest", "--no-progress", adapter, feed)
        #expect(rerun.status == 0, "\(rerun.stdout)\(rerun.stderr)")
        let recovered = try FaultTests.state(url)
        #expect(try cli.run("db", "reset", "--yes").status == 0)
        #expect(try cli.run("ingest", "--no-progress", adapter, feed).status == 0)
        #expect(try FaultTests.state(url) == recovered)
    }
}
