public import Foundation
import YibiaoYAML
public import Logging
public import PostgresNIO
public import YibiaoCore
public import YibiaoMerge
public import YibiaoStore

/// Everything a front end needs to open the hub: where the database is, which survivorship
/// rules are in force, and where to log. Built once from the environment and flags.
public struct HubConfiguration: Sendable {
    public var database: DatabaseConfiguration
    public var rules: SurvivorshipRules
    /// The rules file in force; nil for the rules built into the binary.
    public var rulesFile: String?
    public var logger: Logger

    public init(database: DatabaseConfiguration, rules: SurvivorshipRules = .standard, rulesFile: String? = nil, logger: Logger) {
        self.database = database
        self.rules = rules
        self.rulesFile = rulesFile
        self.logger = logger
    }

    /// `YIBIAO_DATABASE_URL` / `YIBIAO_HOME` / `YIBIAO_PG_BINDIR` for the database, `--rules` or
    /// `YIBIAO_RULES` for the survivorship rules (the embedded file when neither is given).
    public static func fromEnvironment(
        _ environment: [String: String], dataDirectory: String? = nil, rulesFile: String? = nil,
        logger: Logger
    ) throws -> HubConfiguration {
        let database = try DatabaseConfiguration.fromEnvironment(environment, dataDirectory: dataDirectory)
        let file = rulesFile ?? environment["YIBIAO_RULES"].flatMap { $0.isEmpty ? nil : $0 }
        let rules = try file.map { try SurvivorshipRules.load(URL(fileURLWithPath: $0)) } ?? .standard
        return HubConfiguration(database: database, rules: rules, rulesFile: file, logger: logger)
    }
}

/// The application layer: one call per use case, the same for the CLI, the HTTP server and the
/// sync client. It owns the connection pool for the length of `withHub`; every call names the
/// district it works in, so one hub serves many districts.
public struct Hub: Sendable {
    public let configuration: HubConfiguration
    let client: PostgresClient

    /// For a long-running front end that runs the pool as a service of its own (`yibiao serve`
    /// runs it in its ServiceGroup): the caller runs `client.run()`.
    public init(configuration: HubConfiguration, client: PostgresClient) {
        self.configuration = configuration
        self.client = client
    }

    /// Answers when the database does: for a readiness check.
    public func ping() async throws {
        for try await _ in try await client.query("SELECT 1", logger: logger).decode(Int.self) {}
    }

    public var rules: SurvivorshipRules { configuration.rules }
    public var logger: Logger { configuration.logger }

    /// Opens the pool (failing at once, with a clear message, when the server is not there),
    /// runs `body`, and closes the pool.
    /// If the server stops answering meanwhile, it throws `StoreError.Code.databaseLost` within
    /// seconds instead of waiting on it (`DatabaseWatchdog`).
    @discardableResult
    public static func withHub<Result: Sendable>(
        _ configuration: HubConfiguration,
        _ body: @escaping @Sendable (Hub) async throws -> Result
    ) async throws -> Result {
        let url = try configuration.database.url()
        return try await DatabaseWatchdog.run(url, logger: configuration.logger) {
            try await Database.withClient(configuration.database, logger: configuration.logger) { client in
                try await body(Hub(configuration: configuration, client: client))
            }
        }
    }
}

extension SurvivorshipRules {
    /// A rules file on disk (`--rules`, `YIBIAO_RULES`); errors name the line and key.
    public static func load(_ url: URL) throws -> SurvivorshipRules {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw SurvivorshipRulesError(
                .rules, fileName: url.lastPathComponent,
                problem: LocalizedText(en: "cannot read the rules file \(url.path)", zh: "无法读取规则文件 \(url.path)"),
                fix: LocalizedText(en: "check the path given to --rules or YIBIAO_RULES", zh: "请检查 --rules 或 YIBIAO_RULES 给出的路径"))
        }
        return try parse(text, fileName: url.lastPathComponent)
    }
}

extension CalendarDate {
    /// Today in China Standard Time: birth dates after it are impossible.
    public static func todayInChina(_ now: Date = Date()) -> CalendarDate {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 8 * 3600)!
        let parts = calendar.dateComponents([.year, .month, .day], from: now)
        return CalendarDate(year: parts.year!, month: parts.month!, day: parts.day!)!
    }
}
