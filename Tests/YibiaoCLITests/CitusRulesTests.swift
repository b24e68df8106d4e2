import Foundation
import Logging
import PostgresNIO
import Testing
import YibiaoStore
import YibiaoTestSupport

/// Citus is not in the package registries here, so the rules that let it route every statement
/// to one district's node are checked on plain PostgreSQL: the whole demo (ingest, match,
/// golden records, conflicts, entries, write-back, extracts, the API, the workers' sync) runs
/// against a server that records every statement, and each recorded statement is checked.
@Suite struct CitusRulesTests {
    @Test("every statement of a full run is Citus-safe: one district per scan, no temporary table beside district tables, immutable ON CONFLICT updates")
    func fullRun() async throws {
        let home = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-citus-rules")
        var configuration = EmbeddedPostgres.Configuration(home: home.appendingPathComponent("server"))
        configuration.port = 5433
        configuration.fastUnsafe = true
        configuration.settings = StatementRules.serverSettings
        let server = EmbeddedPostgres(configuration: configuration)
        try server.start()
        defer { try? server.destroy() }
        let url = try DatabaseURL(parsing: server.url)
        try await StatementRules.startRecording(url)

        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let environment = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "LANG": "C.UTF-8",
            "YIBIAO_HOME": home.appendingPathComponent("demo").path, "YIBIAO_DATABASE_URL": server.url,
            "YIBIAO_DEMO_RESIDENTS": "1000",
            // The demo's own psql queries are the reader's, not the pipeline's: not recorded.
            "PGOPTIONS": "-c pg_stat_statements.track=none",
        ]
        let demo = try ProcessRunner().run(
            "/bin/bash", [repository.appendingPathComponent("scripts/demo.sh").path], environment: environment, inheritEnvironment: false)
        // The outcome alone in the condition: the recorded issue then starts with what went wrong
        // (the demo's stderr names the failing line), not with the whole Output.
        let demoSucceeded = demo.succeeded
        try #require(demoSucceeded, "demo failed (status \(demo.status)): \(demo.stderr.suffix(3000))\nlast output: \(demo.stdout.suffix(1500))")

        let report = try await StatementRules.check(url)
        for violation in report.violations { print(violation) }
        #expect(report.violations.isEmpty, "\(report.violations.count) statements break the rules (printed above)")
        // The run reached every part of the pipeline.
        #expect(report.checkedOnDistrictTables >= 100, "\(report.checkedOnDistrictTables) statements checked")
        for table in ["source_record", "link", "resident", "conflict", "change_log", "outbox", "consumer", "audit_log", "worker", "worker_entry"] {
            #expect(report.tablesTouched.contains(table), "no checked statement touched \(table)")
        }

        // The checker itself: one statement breaking each rule, beside one keeping them all.
        try await StatementRules.startRecording(url)
        try await Database.withClient(url) { client in
            try await client.withConnection { connection in
                try await connection.query("SELECT count(*) FROM resident WHERE status = 'active'", logger: .silent)
                try await connection.query("CREATE TEMP TABLE wanted (resident_id bigint)", logger: .silent)
                try await connection.query(
                    "SELECT r.golden FROM resident r JOIN wanted w USING (resident_id) WHERE r.district = '110105'", logger: .silent)
                try await connection.query(
                    """
                    INSERT INTO district (district, name) VALUES ('110105', 'x')
                    ON CONFLICT (district) DO UPDATE SET name = excluded.name || now()::text
                    """, logger: .silent)
                let (district, resident) = ("110105", Int64(1))
                try await connection.query("SELECT golden FROM resident WHERE district = \(district) AND resident_id = \(resident)", logger: .silent)
            }
        }
        let planted = try await StatementRules.check(url)
        #expect(planted.violations.map(\.rule).sorted() == ["immutable ON CONFLICT", "one district", "temporary table"], "\(planted.violations)")
    }
}
