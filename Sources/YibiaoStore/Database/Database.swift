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

    public static func clientConfiguration(for url: DatabaseURL, maximumConnections: Int = 4) -> PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        switch url.endpoint {
        case .unixSocket(let path):
            configuration = .init(unixSocketPath: path, username: url.user, password: url.password, database: url.database)
        case .tcp(let host, let port):
            let tls: PostgresClient.Configuration.TLS =
                switch url.tls {
                case .disable: .disable
                case .prefer: .prefer(.makeClientConfiguration())
                case .require: .require(.makeClientConfiguration())
                }
            configuration = .init(host: host, port: port, username: url.user, password: url.password, database: url.database, tls: tls)
        }
        configuration.options.maximumConnections = maximumConnections
        return configuration
    }

    /// Runs `body` with a pool connected to `url`; the pool is closed when `body` returns or throws.
    @discardableResult
    public static func withClient<Result: Sendable>(
        _ url: DatabaseURL,
        logger: Logger = .silent,
        maximumConnections: Int = 4,
        _ body: @Sendable (PostgresClient) async throws -> Result
    ) async throws -> Result {
        let client = PostgresClient(configuration: clientConfiguration(for: url, maximumConnections: maximumConnections), backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await probe(url, logger: logger)
            return try await body(client)
        }
    }

    /// One direct connection, so that a server that is not there fails at once with a clear
    /// message instead of the pool retrying in the background.
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
                switch url.tls {
                case .disable: .disable
                case .prefer: .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
                case .require: .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
                }
            configuration = .init(host: host, port: port, username: url.user, password: url.password, database: url.database, tls: tls)
        }
        configuration.options.connectTimeout = TimeAmount.nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)
        do {
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
        } catch {
            throw unreachable(url, error)
        }
    }

    static func unreachable(_ url: DatabaseURL, _ error: any Error) -> StoreError {
        StoreError(
            .databaseUnreachable,
            message: LocalizedText(en: "cannot connect to the database \(url)", zh: "无法连接数据库 \(url)"),
            remedy: LocalizedText(
                en: "start the embedded database with `yibiao db start`, or check YIBIAO_DATABASE_URL",
                zh: "请用 `yibiao db start` 启动内置数据库，或检查 YIBIAO_DATABASE_URL"),
            exitCode: ExitStatus.unavailable,
            detail: String(reflecting: error))
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
}

extension Logger {
    /// For callers that have nothing to log to (tests, one-off tools).
    public static let silent = Logger(label: "yibiao", factory: { _ in SwiftLogNoOpLogHandler() })
}
