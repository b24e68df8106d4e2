import Foundation
public import Logging
public import PostgresNIO
import NIOSSL
import YibiaoCore

/// Opens a connection pool for the length of a piece of work.
public enum Database {
    /// Runs `body` with a pool for the configured database.
    @discardableResult
    public static func withClient<Result: Sendable>(
        _ configuration: DatabaseConfiguration, logger: Logger,
        _ body: @Sendable (PostgresClient) async throws -> Result
    ) async throws -> Result {
        try await withClient(try configuration.url(), logger: logger, maximumConnections: configuration.maximumConnections, body)
    }

    public static func clientConfiguration(for url: DatabaseURL, maximumConnections: Int = 4) throws -> PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        switch url.endpoint {
        case .unixSocket(let path):
            configuration = .init(unixSocketPath: path, username: url.user, password: url.password, database: url.database)
        case .tcp(let host, let port):
            let tls: PostgresClient.Configuration.TLS =
                switch (url.tls, try tlsConfiguration(for: url)) {
                case (_, nil): .disable
                case (.prefer, let tls?): .prefer(tls)
                case (_, let tls?): .require(tls)
                }
            configuration = .init(host: host, port: port, username: url.user, password: url.password, database: url.database, tls: tls)
        }
        configuration.options.maximumConnections = maximumConnections
        // The pipeline's set-based statements pass the planner's JIT threshold, and compiling
        // them cost more than it saved: the largest feed of a 200,000-resident district took
        // 42.9 / 42.6 s with JIT, 39.3 / 38.5 s without (server time 28 → 25 s). Ours only.
        // Random reads priced near sequential ones (the default prices them 4 ×, for spinning
        // disks): an incremental match's lookups of a few thousand rows by id or resident were
        // planned as scans of `resident` and `link` — its 1 %-changed feed 4.2–4.3 → 3.5–3.9 s
        // once autovacuum had analysed the tables, 0.1–0.3 s less right after a load; a whole
        // run's plans did not change for the worse (measured turn about on the 200,000 district).
        configuration.options.additionalStartupParameters = [("jit", "off"), ("random_page_cost", "1.1")]
        return configuration
    }

    /// libpq's meaning of each `sslmode`: `prefer` and `require` encrypt but trust any
    /// certificate; `verify-ca` checks the issuer against `sslrootcert`; `verify-full` also the
    /// host name. nil: no TLS (`disable`, and `allow` until a server refuses plain connections).
    static func tlsConfiguration(for url: DatabaseURL) throws -> TLSConfiguration? {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch url.tls {
        case .disable, .allow:
            return nil
        case .prefer, .require:
            tls.certificateVerification = .none
            return tls
        case .verifyCA:
            tls.certificateVerification = .noHostnameVerification
        case .verifyFull:
            tls.certificateVerification = .fullVerification
        }
        if let path = url.rootCertificatePath ?? defaultRootCertificate() {
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw StoreError(
                    .databaseURLInvalid,
                    message: LocalizedText(
                        en: "the certificate authority file \(path) (sslrootcert) cannot be read",
                        zh: "无法读取证书颁发机构文件 \(path)（sslrootcert）"),
                    remedy: LocalizedText(
                        en: "set sslrootcert in YIBIAO_DATABASE_URL to the PEM file of the CA that signed the server's certificate",
                        zh: "请在 YIBIAO_DATABASE_URL 中把 sslrootcert 设为签发服务器证书的 CA 的 PEM 文件"),
                    exitCode: ExitStatus.config)
            }
            tls.trustRoots = .file(path)
        }
        return tls
    }

    /// libpq's default CA file, when the user has one.
    private static func defaultRootCertificate() -> String? {
        let path = FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".postgresql/root.crt").path
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// Runs `body` with a pool connected to `url`; the pool is closed when `body` returns or throws.
    @discardableResult
    public static func withClient<Result: Sendable>(
        _ url: DatabaseURL,
        logger: Logger = .silent,
        maximumConnections: Int = 4,
        _ body: @Sendable (PostgresClient) async throws -> Result
    ) async throws -> Result {
        // One direct connection first, so that a server that is not there fails at once with a
        // clear message instead of the pool retrying in the background.
        let resolved = try await resolve(url, logger: logger)
        let client = PostgresClient(configuration: try clientConfiguration(for: resolved, maximumConnections: maximumConnections), backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }

    /// The URL a pool should use: `sslmode=allow` becomes what the server accepted (plain, or
    /// TLS after a refusal); other modes are kept. Fails with `unreachable`'s message.
    public static func resolve(_ url: DatabaseURL, logger: Logger) async throws -> DatabaseURL {
        guard url.tls == .allow else {
            try await probe(url, logger: logger)
            return url
        }
        var plain = url
        plain.tls = .disable
        do {
            try await probe(plain, logger: logger)
            return plain
        } catch let error as StoreError where error.code == StoreError.Code.databaseRefusedPlain.rawValue {
            var encrypted = url
            encrypted.tls = .require
            try await probe(encrypted, logger: logger)
            return encrypted
        }
    }

    /// When the server process started (`pg_postmaster_start_time()`), on a connection of its
    /// own: a different answer later means the server restarted and every older connection is gone.
    @discardableResult
    static func probe(_ url: DatabaseURL, logger: Logger, timeout: Duration = .seconds(10)) async throws -> String {
        var configuration: PostgresConnection.Configuration
        switch url.endpoint {
        case .unixSocket(let path):
            configuration = .init(unixSocketPath: path, username: url.user, password: url.password, database: url.database)
        case .tcp(let host, let port):
            let tls: PostgresConnection.Configuration.TLS =
                switch (url.tls, try tlsConfiguration(for: url)) {
                case (_, nil): .disable
                case (.prefer, let tls?): .prefer(try NIOSSLContext(configuration: tls))
                case (_, let tls?): .require(try NIOSSLContext(configuration: tls))
                }
            configuration = .init(host: host, port: port, username: url.user, password: url.password, database: url.database, tls: tls)
        }
        configuration.options.connectTimeout = TimeAmount.nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)
        // A server with every connection slot taken, or still starting, says so at once: asked
        // again over a few seconds rather than reported unreachable.
        var waits = [200, 400, 800, 1_600, 3_200][...]
        while true {
            do {
                return try await probeOnce(configuration, logger: logger)
            } catch let error as PSQLError where !waits.isEmpty && ["53300", "57P03"].contains(error.serverInfo?[.sqlState] ?? "") {
                let wait = waits.removeFirst()
                logger.info("database busy; connecting again", metadata: ["sqlstate": "\(error.serverInfo?[.sqlState] ?? "")", "wait_ms": "\(wait)"])
                try await Task.sleep(for: .milliseconds(wait))
            } catch {
                throw unreachable(url, error)
            }
        }
    }

    private static func probeOnce(_ configuration: PostgresConnection.Configuration, logger: Logger) async throws -> String {
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
        var started = ""
        do {
            for try await text in try await connection.query("SELECT pg_postmaster_start_time()::text", logger: logger).decode(String.self) {
                started = text
            }
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
        return started
    }

    /// Creates the database on the server when it does not exist yet (needs CREATEDB).
    public static func createDatabaseIfMissing(_ url: DatabaseURL, logger: Logger = .silent) async throws {
        let name = url.database
        try await withClient(url.with(database: "postgres"), logger: logger) { client in
            let rows = try await client.query("SELECT 1 FROM pg_database WHERE datname = \(name)")
            var exists = false
            for try await _ in rows { exists = true }
            if !exists {
                try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(quoteIdentifier(name))"))
            }
        }
    }

    /// Drops the database (used by `db reset` and the test harness).
    public static func dropDatabase(_ url: DatabaseURL, logger: Logger = .silent) async throws {
        let name = url.database
        try await withClient(url.with(database: "postgres"), logger: logger) { client in
            try await client.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(quoteIdentifier(name)) WITH (FORCE)"))
        }
    }

    /// The server's version, as `SHOW server_version` says it.
    public static func serverVersion(_ client: PostgresClient, logger: Logger) async throws -> String {
        for try await text in try await client.query("SHOW server_version", logger: logger).decode(String.self) { return text }
        return ""
    }

    public static func quoteIdentifier(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// `text` as an SQL string literal, for fragments spliced into statements.
    public static func quoteLiteral(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }

    /// A district code as an SQL literal, for fragments spliced into statements: Citus routes a
    /// statement to one node only when each table read names its district by value. A code of
    /// digits is safe as a literal; anything else falls back to `column`.
    static func districtLiteral(_ district: String, else column: String) -> String {
        !district.isEmpty && district.utf8.allSatisfy({ (0x30...0x39).contains($0) }) ? "'\(district)'" : column
    }
}

extension Logger {
    /// For callers that have nothing to log to (tests, one-off tools).
    public static let silent = Logger(label: "yibiao", factory: { _ in SwiftLogNoOpLogHandler() })
}
