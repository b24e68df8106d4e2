public import Foundation

/// Where the database is, built once from the environment and flags and shared by the CLI, the
/// server and the tests: `YIBIAO_DATABASE_URL` for an external server, else the embedded cluster
/// under the home directory (`--data-dir`, `YIBIAO_HOME`, `./.yibiao`).
public struct DatabaseConfiguration: Sendable {
    /// Local state: the embedded cluster, and later the sync client's queue.
    public var home: URL
    /// An external server; nil means the embedded one.
    public var externalURL: DatabaseURL?
    /// Where the PostgreSQL binaries are (`YIBIAO_PG_BINDIR`).
    public var binDirectory: String?
    /// Connections in the pool.
    public var maximumConnections = 4

    public init(home: URL, externalURL: DatabaseURL? = nil, binDirectory: String? = nil) {
        self.home = home
        self.externalURL = externalURL
        self.binDirectory = binDirectory
    }

    /// The environment's configuration; `dataDirectory` (a flag) wins over `YIBIAO_HOME`.
    public static func fromEnvironment(
        _ environment: [String: String], dataDirectory: String? = nil,
        currentDirectory: String = FileManager.default.currentDirectoryPath
    ) throws -> DatabaseConfiguration {
        let home: URL
        if let dataDirectory {
            home = URL(fileURLWithPath: dataDirectory)
        } else if let env = environment["YIBIAO_HOME"], !env.isEmpty {
            home = URL(fileURLWithPath: env)
        } else {
            home = URL(fileURLWithPath: currentDirectory).appendingPathComponent(".yibiao")
        }
        let external = try environment["YIBIAO_DATABASE_URL"].flatMap { $0.isEmpty ? nil : try DatabaseURL(parsing: $0) }
        let bin = environment["YIBIAO_PG_BINDIR"].flatMap { $0.isEmpty ? nil : $0 }
        return DatabaseConfiguration(home: home, externalURL: external, binDirectory: bin)
    }

    public var embedded: EmbeddedPostgres {
        var configuration = EmbeddedPostgres.Configuration(home: home)
        configuration.binDirectory = binDirectory
        return EmbeddedPostgres(configuration: configuration)
    }

    /// The URL every data command connects to.
    public func url() throws -> DatabaseURL {
        if let externalURL { return externalURL }
        return try DatabaseURL(parsing: embedded.url)
    }
}
