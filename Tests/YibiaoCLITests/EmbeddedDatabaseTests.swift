import Foundation
import Testing
import YibiaoStore
import YibiaoTestSupport
#if canImport(Glibc)
    import Glibc
#endif

/// `yibiao db …` against real clusters, each test in a home of its own.
@Suite(.serialized) struct EmbeddedDatabaseTests {
    let home: URL
    let cli: CLIProcess
    let latest = Migration.bundled.last!

    init() throws {
        home = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-cli")
        cli = CLIProcess(environment: ["YIBIAO_HOME": home.path])
    }

    func cleanUp() {
        _ = try? cli.run("db", "stop")
        try? FileManager.default.removeItem(at: home)
    }

    @Test("start twice, stop twice; status says so with exit 0 or 3")
    func lifecycle() throws {
        defer { cleanUp() }
        let notInitialised = try cli.run("db", "status")
        #expect(notInitialised.status == 3)
        #expect(notInitialised.stdout.contains("State: not initialised"))

        let first = try cli.run("db", "start")
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("Initialised a new database cluster"))
        #expect(first.stdout.contains("Started the embedded database."))

        let second = try cli.run("db", "start")
        #expect(second.status == 0)
        #expect(second.stdout.contains("already running"))

        let migrate = try cli.run("db", "migrate")
        #expect(migrate.stdout.contains("Applied 0001_canonical_schema.sql"))
        let again = try cli.run("db", "migrate")
        #expect(again.stdout == "The schema is up to date.\n")
        // Distribution is for a Citus coordinator: a plain PostgreSQL says so and changes nothing.
        let distribute = try cli.run("db", "distribute")
        #expect(distribute.status == 78)
        #expect(distribute.stderr.contains("no citus extension") && distribute.stderr.contains("CREATE EXTENSION citus"))
        let plan = try cli.run("db", "distribute", "--dry-run")
        #expect(plan.status == 0)
        #expect(plan.stdout.contains("SELECT create_distributed_table('resident', 'district', colocate_with => 'none');"))
        #expect(plan.stdout.contains("no citus extension"))

        let running = try cli.run("db", "status")
        #expect(running.status == 0)
        #expect(running.stdout.contains("State: running"))
        #expect(running.stdout.contains("Schema: migration \(latest.version) (\(latest.fileName)); 0 pending"))

        let url = try cli.run("db", "url")
        #expect(url.stdout.hasPrefix("postgresql://yibiao@/yibiao?host="))

        // The socket directory is private, and the server does not listen on TCP.
        let socketDir = home.appendingPathComponent("pg/run").path
        let attributes = try FileManager.default.attributesOfItem(atPath: socketDir)
        #expect((attributes[.posixPermissions] as? Int) == 0o700)
        let conf = try String(contentsOf: home.appendingPathComponent("pg/data/postgresql.conf"), encoding: .utf8)
        #expect(conf.contains("listen_addresses = ''"))

        let stop = try cli.run("db", "stop")
        #expect(stop.stdout == "Stopped the embedded database.\n")
        let stopAgain = try cli.run("db", "stop")
        #expect(stopAgain.status == 0)
        #expect(stopAgain.stdout == "The embedded database is not running.\n")
        let stopped = try cli.run("db", "status")
        #expect(stopped.status == 3)
        #expect(stopped.stdout.contains("State: stopped"))
    }

    @Test("after kill -9 of the server, start cleans up and the data is still there")
    func crashRecovery() throws {
        defer { cleanUp() }
        #expect(try cli.run("db", "start").status == 0)
        #expect(try cli.run("db", "migrate").status == 0)
        let pidText = try String(contentsOf: home.appendingPathComponent("pg/data/postmaster.pid"), encoding: .utf8)
        let pid = try #require(Int32(pidText.split(separator: "\n")[0]))
        #expect(kill(pid, SIGKILL) == 0)
        // Wait for the process to be gone.
        for _ in 0..<50 where kill(pid, 0) == 0 { usleep(100_000) }

        let status = try cli.run("db", "status")
        #expect(status.status == 3)
        #expect(status.stdout.contains("stale pid file"))

        let start = try cli.run("db", "start")
        #expect(start.status == 0, "\(start.stderr)")
        #expect(start.stdout.contains("Removed a stale pid file"))
        let after = try cli.run("db", "status")
        #expect(after.stdout.contains("Schema: migration \(latest.version) (\(latest.fileName)); 0 pending"))
    }

    @Test("missing PostgreSQL binaries: exit 69 naming the package to install")
    func missingBinaries() throws {
        defer { cleanUp() }
        let empty = home.appendingPathComponent("empty-bin")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        var environment = cli.environment
        environment["YIBIAO_PG_BINDIR"] = empty.path
        let result = try CLIProcess(environment: environment).run("db", "start")
        #expect(result.status == 69)
        #expect(result.stderr.contains("PostgreSQL server programs (initdb, pg_ctl, postgres) were not found"))
        #expect(result.stderr.contains("sudo apt-get install postgresql"))
        environment["LANG"] = "zh_CN.UTF-8"
        let chinese = try CLIProcess(environment: environment).run("db", "start")
        #expect(chinese.stderr.contains("未找到 PostgreSQL 服务器程序"))
    }

    @Test("reset refuses without --yes when not at a terminal, and empties the database with it")
    func reset() throws {
        defer { cleanUp() }
        #expect(try cli.run("db", "start").status == 0)
        #expect(try cli.run("db", "migrate").status == 0)
        let refused = try cli.run("db", "reset")
        #expect(refused.status == 64)
        #expect(refused.stderr.contains("add --yes"))
        let done = try cli.run("db", "reset", "--yes")
        #expect(done.status == 0, "\(done.stderr)")
        #expect(done.stdout.contains("applied \(Migration.bundled.count) migrations to an empty database"))
    }
}
