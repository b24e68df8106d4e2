public import Foundation
public import PostgresNIO
public import YibiaoStore
#if canImport(Glibc)
    import Glibc
#endif

/// A real PostgreSQL for tests: YIBIAO_TEST_DATABASE_URL when set, otherwise one throwaway
/// embedded cluster per test process (the same code path as `yibiao db start`), stopped and
/// deleted when the process exits. Each test gets a fresh, migrated database of its own.
public enum TestDatabase {
    /// Starts the shared server once; later calls reuse it.
    public static func serverURL() throws -> DatabaseURL {
        try shared.get()
    }

    /// Runs `body` against a fresh database with every migration applied; dropped afterwards,
    /// whether `body` succeeds or throws.
    public static func withFreshDatabase<Result: Sendable>(
        migrated: Bool = true,
        _ body: @escaping @Sendable (DatabaseURL, PostgresClient) async throws -> Result
    ) async throws -> Result {
        let url = try serverURL().with(database: "test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: ""))
        do {
            try await whileServerFull { try await Database.createDatabaseIfMissing(url) }
        } catch let error as StoreError {
            // The server's own words (SQLSTATE, "too many clients", a timeout): a test that
            // cannot reach the shared server says why, not only that it could not.
            throw TestDatabaseUnreachable(summary: error.description, detail: error.detail ?? "")
        }
        do {
            let result = try await Database.withClient(url) { client in
                if migrated { try await Migrator(logger: .silent).migrate(client) }
                return try await body(url, client)
            }
            try await whileServerFull { try await Database.dropDatabase(url) }
            return result
        } catch let error as StoreError where error.errorCode == .databaseUnreachable {
            try? await whileServerFull { try await Database.dropDatabase(url) }
            // As above: why the shared server could not be reached, in its own words.
            throw TestDatabaseUnreachable(summary: error.description, detail: error.detail ?? "")
        } catch {
            try? await whileServerFull { try await Database.dropDatabase(url) }
            throw error
        }
    }

    /// Runs an idempotent step (create or drop a test database) again while the shared server
    /// answers "too many clients" (SQLSTATE 53300): dozens of tests in parallel can fill its
    /// connection slots for a moment, and such a step failing then failed whole tests at once.
    /// A few at a time: a hundred tests starting at once each held a connection to the server's
    /// `postgres` database while their `CREATE DATABASE` waited its turn — a third of the slots
    /// at the peak of a run, on top of the tests' own pools.
    static func whileServerFull(_ step: () async throws -> Void) async throws {
        await databaseSteps.enter()
        do {
            try await retryWhileFull(step)
            await databaseSteps.leave()
        } catch {
            await databaseSteps.leave()
            throw error
        }
    }

    private static func retryWhileFull(_ step: () async throws -> Void) async throws {
        for attempt in 0..<20 {
            do {
                return try await step()
            } catch let error as StoreError where error.errorCode == .databaseUnreachable && (error.detail ?? "").contains("53300") && attempt < 19 {
                try await Task.sleep(for: .milliseconds(100 * (attempt + 1)))
            }
        }
    }

    /// A new, empty directory under the system's temp directory, reachable by the `postgres`
    /// user when tests run as root.
    /// Removed when the test process exits.
    public static func makeTemporaryDirectory(prefix: String = "yibiao-test") throws -> URL {
        let url = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(
            at: url, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o755])
        TemporaryDirectories.register(url)
        return url
    }

    private static let shared = SharedServer()
    private static let databaseSteps = AdmissionGate(admitting: 6)
}

/// Lets `admitting` callers in at once; the others wait their turn, in order.
actor AdmissionGate {
    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(admitting count: Int) { free = count }

    func enter() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func leave() {
        if waiting.isEmpty {
            free += 1
        } else {
            waiting.removeFirst().resume()
        }
    }
}

/// The lazily started embedded cluster, guarded by a lock: tests run in parallel.
private final class SharedServer: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<DatabaseURL, any Error>?

    func get() throws -> DatabaseURL {
        try lock.withLock {
            if let result { return try result.get() }
            let outcome = Result { try start() }
            result = outcome
            return try outcome.get()
        }
    }

    private func start() throws -> DatabaseURL {
        if let text = ProcessInfo.processInfo.environment["YIBIAO_TEST_DATABASE_URL"], !text.isEmpty {
            return try DatabaseURL(parsing: text)
        }
        SharedServerCleanup.removeOrphans()
        let home = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-testdb")
        try String(getpid()).write(to: home.appendingPathComponent(SharedServerCleanup.ownerFile), atomically: true, encoding: .utf8)
        var configuration = EmbeddedPostgres.Configuration(home: home)
        configuration.fastUnsafe = true
        // Dozens of tests migrate their own database at once; a migration that rewrites every
        // district table holds hundreds of locks, more than the default lock table shares out.
        configuration.settings["max_locks_per_transaction"] = "512"
        // And every suite's pools and servers at once: the default 100 was once exceeded ("too
        // many clients") by a run on a loaded machine, and 300 since (idle backends cost little).
        configuration.settings["max_connections"] = "500"
        let server = EmbeddedPostgres(configuration: configuration)
        try server.start()
        SharedServerCleanup.register(server)
        return try DatabaseURL(parsing: server.url)
    }
}

/// Stops the shared cluster when the test process exits (atexit takes no closure context).
private enum SharedServerCleanup {
    nonisolated(unsafe) static var server: EmbeddedPostgres?
    static let ownerFile = "owner.pid"

    /// Clusters left by test processes that crashed (no atexit ran): stop and delete them.
    static func removeOrphans() {
        let temp = URL(fileURLWithPath: NSTemporaryDirectory())
        let names = (try? FileManager.default.contentsOfDirectory(atPath: temp.path)) ?? []
        for name in names where name.hasPrefix("yibiao-testdb-") {
            let home = temp.appendingPathComponent(name)
            let owner = (try? String(contentsOf: home.appendingPathComponent(ownerFile), encoding: .utf8))
                .flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            if let owner, kill(owner, 0) == 0 { continue }
            try? EmbeddedPostgres(configuration: .init(home: home)).destroy()
            try? FileManager.default.removeItem(at: home)
        }
    }

    static func register(_ server: EmbeddedPostgres) {
        self.server = server
        atexit {
            try? SharedServerCleanup.server?.destroy()
            if let home = SharedServerCleanup.server?.configuration.home {
                try? FileManager.default.removeItem(at: home)
            }
        }
    }
}

/// Directories tests asked for, deleted at exit (after the shared cluster is stopped).
private enum TemporaryDirectories {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var urls: [URL] = []
    nonisolated(unsafe) private static var registered = false

    static func register(_ url: URL) {
        lock.withLock {
            urls.append(url)
            if !registered {
                registered = true
                atexit { TemporaryDirectories.removeAll() }
            }
        }
    }

    static func removeAll() {
        let all = lock.withLock { urls }
        for url in all where !url.lastPathComponent.hasPrefix("yibiao-testdb-") {
            try? FileManager.default.removeItem(at: url)
        }
    }
}

/// The shared test server refused a test's new database, with what the server said.
public struct TestDatabaseUnreachable: Error, CustomStringConvertible {
    public let summary: String
    public let detail: String
    public var description: String { "\(summary) — \(detail)" }
}
