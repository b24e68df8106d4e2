public import Foundation
public import Logging
public import PostgresNIO
import Crypto
public import YibiaoCore

/// One numbered SQL file of `schemas/migrations/` (`0001_canonical_schema.sql`).
public struct Migration: Sendable, Hashable {
    public let version: Int
    public let fileName: String
    public let sql: String

    public init(fileName: String, sql: String) {
        self.fileName = fileName
        self.sql = sql
        self.version = Int(fileName.prefix { $0.isNumber }) ?? 0
    }

    /// SHA-256 of the file's text, hex: a changed applied file is caught by it.
    public var checksum: String {
        SHA256.hash(data: Data(sql.utf8)).hexString
    }

    /// The migrations compiled into this binary (generated from schemas/migrations/).
    public static let bundled: [Migration] = EmbeddedMigrations.files
        .map { Migration(fileName: $0.0, sql: $0.1) }
        .sorted { $0.version < $1.version }
}

/// Applies migrations in order, each in its own transaction, recording version and checksum
/// in `schema_migration`. Concurrent migrators wait for each other (advisory lock).
public struct Migrator: Sendable {
    public struct AppliedMigration: Sendable, Hashable {
        public let version: Int
        public let fileName: String
        public let checksum: String
        public let appliedAt: Date
    }

    public let migrations: [Migration]
    public let logger: Logger

    /// Arbitrary constant: the advisory lock key that serialises migrators.
    static let lockKey: Int64 = 0x5942_4d49_4752 // "YBMIGR"

    public init(migrations: [Migration] = Migration.bundled, logger: Logger) {
        self.migrations = migrations
        self.logger = logger
    }

    /// Applies every pending migration and returns the ones applied now.
    @discardableResult
    public func migrate(_ client: PostgresClient) async throws -> [Migration] {
        try await client.withConnection { connection in
            try await connection.query("SELECT pg_advisory_lock(\(Self.lockKey))", logger: logger)
            do {
                let applied = try await migrateLocked(connection)
                try await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
                return applied
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
                throw error
            }
        }
    }

    /// What the database has applied (empty for a new database).
    public func applied(_ client: PostgresClient) async throws -> [AppliedMigration] {
        try await client.withConnection { try await readApplied($0) }
    }

    /// Migrations of this binary not yet applied.
    public func pending(_ client: PostgresClient) async throws -> [Migration] {
        let done = Set(try await applied(client).map(\.version))
        return migrations.filter { !done.contains($0.version) }
    }

    private func migrateLocked(_ connection: PostgresConnection) async throws -> [Migration] {
        try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS schema_migration (
                version integer PRIMARY KEY,
                file_name text NOT NULL,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """, logger: logger)
        let applied = try await readApplied(connection)
        try verify(applied)
        let done = Set(applied.map(\.version))
        var newlyApplied: [Migration] = []
        // On a distributed database, each new table is distributed the moment it is created, so
        // that the migration's next statements (its foreign keys) meet it in place.
        let distributed = try await Distribution.isDistributed(connection, logger: logger)
        for migration in migrations where !done.contains(migration.version) {
            try await apply(migration, on: connection, distributed: distributed)
            newlyApplied.append(migration)
        }
        return newlyApplied
    }

    /// A changed applied file, or a database newer than this binary, stops everything.
    func verify(_ applied: [AppliedMigration]) throws {
        let known = Dictionary(uniqueKeysWithValues: migrations.map { ($0.version, $0) })
        for record in applied {
            guard let migration = known[record.version] else {
                throw StoreError(
                    .migrationUnknown,
                    message: LocalizedText(
                        en: "the database has migration \(record.fileName), which this yibiao does not know",
                        zh: "数据库已应用迁移 \(record.fileName)，但当前 yibiao 版本不认识它"),
                    remedy: LocalizedText(
                        en: "use the yibiao version that migrated this database, or a newer one",
                        zh: "请使用迁移该数据库的 yibiao 版本或更新版本"),
                    exitCode: ExitStatus.config)
            }
            if migration.checksum != record.checksum {
                throw StoreError(
                    .migrationChanged,
                    message: LocalizedText(
                        en: "migration \(migration.fileName) was changed after it was applied to this database",
                        zh: "迁移文件 \(migration.fileName) 在应用到该数据库之后被修改过"),
                    remedy: LocalizedText(
                        en: "restore the file as it was and put the change in a new, higher-numbered migration",
                        zh: "请恢复该文件原样，并把修改写进一个编号更大的新迁移文件"),
                    exitCode: ExitStatus.config,
                    detail: "applied checksum \(record.checksum), file checksum \(migration.checksum)")
            }
        }
    }

    private func apply(_ migration: Migration, on connection: PostgresConnection, distributed: Bool) async throws {
        logger.info("applying migration", metadata: ["file": "\(migration.fileName)"])
        try await connection.query("BEGIN", logger: logger)
        do {
            for statement in SQLScript.statements(in: migration.sql) {
                do {
                    try await connection.query(PostgresQuery(unsafeSQL: statement.text), logger: logger)
                    if distributed, Self.createsTable(statement.text) {
                        try await Distribution.apply(connection, logger: logger)
                    }
                } catch {
                    throw StoreError(
                        .migrationFailed,
                        message: LocalizedText(
                            en: "migration \(migration.fileName) failed at line \(statement.line): \(PostgresErrorText.serverMessage(error))",
                            zh: "迁移 \(migration.fileName) 在第 \(statement.line) 行失败：\(PostgresErrorText.serverMessage(error))"),
                        remedy: LocalizedText(
                            en: "nothing of this migration was applied; fix the file and run `yibiao db migrate` again",
                            zh: "该迁移未做任何更改；请修正文件后重新执行 `yibiao db migrate`"),
                        detail: String(reflecting: error))
                }
            }
            let version = migration.version
            let fileName = migration.fileName
            let checksum = migration.checksum
            try await connection.query(
                "INSERT INTO schema_migration (version, file_name, checksum) VALUES (\(version), \(fileName), \(checksum))",
                logger: logger)
            try await connection.query("COMMIT", logger: logger)
        } catch {
            _ = try? await connection.query("ROLLBACK", logger: logger)
            throw error
        }
    }

    /// Whether a statement of a migration is a CREATE TABLE (after its leading comments).
    public static func createsTable(_ statement: String) -> Bool {
        let code = statement.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("--") }.joined(separator: " ")
        let words = code.split(whereSeparator: \.isWhitespace).prefix(5).map { $0.uppercased() }
        guard words.first == "CREATE" else { return false }
        return words.dropFirst().prefix(3).contains("TABLE")
    }

    private func readApplied(_ connection: PostgresConnection) async throws -> [AppliedMigration] {
        let exists = try await connection.query("SELECT to_regclass('schema_migration') IS NOT NULL", logger: logger)
        var tableExists = false
        for try await (value) in exists.decode(Bool.self) { tableExists = value }
        guard tableExists else { return [] }
        let rows = try await connection.query(
            "SELECT version, file_name, checksum, applied_at FROM schema_migration ORDER BY version", logger: logger)
        var result: [AppliedMigration] = []
        for try await (version, fileName, checksum, appliedAt) in rows.decode((Int, String, String, Date).self) {
            result.append(AppliedMigration(version: version, fileName: fileName, checksum: checksum, appliedAt: appliedAt))
        }
        return result
    }
}

/// What a failed query may say to a person.
public enum PostgresErrorText {
    /// The server's own words. Only for schema statements (migrations), which quote no personal
    /// data; on the data path use `summary`, since a server message can quote a row's values.
    public static func serverMessage(_ error: any Error) -> String {
        if let psql = error as? PSQLError, let info = psql.serverInfo {
            let text = info[.message] ?? "\(psql.code)"
            return info[.sqlState].map { "\(text) (SQLSTATE \($0))" } ?? text
        }
        return "\(error)"
    }

    /// The kind of failure and its SQLSTATE, never the server's text.
    public static func summary(_ error: any Error) -> LocalizedText {
        guard let psql = error as? PSQLError else {
            return LocalizedText(en: "an unexpected error (\(type(of: error)))", zh: "意外错误（\(type(of: error))）")
        }
        guard let state = psql.serverInfo?[.sqlState] else {
            return LocalizedText(en: "the connection to the database was lost", zh: "与数据库的连接已断开")
        }
        let kind: LocalizedText =
            switch state.prefix(2) {
            case "08", "57": LocalizedText(en: "the database server went away", zh: "数据库服务器已不可用")
            case "53":
                state == "53100"
                    ? LocalizedText(en: "the database disk is full", zh: "数据库磁盘已满")
                    : LocalizedText(en: "the database server ran out of resources", zh: "数据库服务器资源不足")
            case "54": LocalizedText(en: "a value is too large for the database", zh: "某个值超出数据库的限制")
            case "23": LocalizedText(en: "the data broke a rule of the schema", zh: "数据违反了数据库结构的约束")
            case "40": LocalizedText(en: "the transaction collided with another one", zh: "事务与其他事务冲突")
            default: LocalizedText(en: "the database refused the statement", zh: "数据库拒绝执行该语句")
            }
        return LocalizedText(en: "\(kind.en) (SQLSTATE \(state))", zh: "\(kind.zh)（SQLSTATE \(state)）")
    }

    public static func sqlState(_ error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }
}
