import Foundation
public import Logging
public import PostgresNIO
import YibiaoCore

/// What the catalog says about the schema's tables, as distribution needs it.
public struct SchemaCatalog: Sendable, Equatable {
    public enum Placement: String, Sendable, Equatable {
        /// A plain table on the coordinator.
        case local
        /// Hash-distributed by `district`.
        case distributed
        /// Copied to every node.
        case reference
        /// A Citus-managed local table: what a plain table becomes when it gains a foreign key to
        /// a reference table. It cannot be distributed until it is a plain table again.
        case citusLocal = "citus local"
    }

    public struct Table: Sendable, Equatable {
        public var name: String
        public var hasDistrictColumn: Bool
        public var placement: Placement

        public init(name: String, hasDistrictColumn: Bool, placement: Placement = .local) {
            self.name = name
            self.hasDistrictColumn = hasDistrictColumn
            self.placement = placement
        }
    }

    public struct ForeignKey: Sendable, Equatable {
        public var table: String
        public var name: String
        public var referencedTable: String
        /// `pg_get_constraintdef`: `FOREIGN KEY (district, resident_id) REFERENCES resident(...)`.
        public var definition: String

        public init(table: String, name: String, referencedTable: String, definition: String) {
            self.table = table
            self.name = name
            self.referencedTable = referencedTable
            self.definition = definition
        }
    }

    public var tables: [Table]
    public var foreignKeys: [ForeignKey]

    public init(tables: [Table], foreignKeys: [ForeignKey]) {
        self.tables = tables
        self.foreignKeys = foreignKeys
    }
}

/// How the schema is laid out on a Citus cluster: every district table hash-distributed by
/// `district` and colocated with `resident`, so that all of one district's rows sit on one node
/// and every statement that names one district runs there alone; `district` and the tables
/// without a district column that district tables refer to (`source_system`) are reference
/// tables; anything else (`schema_migration`) stays on the coordinator.
public struct DistributionPlan: Sendable, Equatable {
    /// Every district table follows this one.
    public static let anchor = "resident"
    /// The list of tenants: one row per district, wanted on every node.
    public static let tenantTable = "district"

    public var toReference: [String]
    public var toDistribute: [String]
    /// Citus-managed local tables turned back into plain tables first.
    public var toUndistribute: [String]
    /// Dropped before and re-added after, in the same transaction: Citus cannot change a table's
    /// placement while a foreign key ties it to a table of another placement.
    public var foreignKeys: [SchemaCatalog.ForeignKey]

    /// False when the plan was only drawn up (`--dry-run` on a server without citus).
    public var serverHasCitus = true

    public var isEmpty: Bool { toReference.isEmpty && toDistribute.isEmpty && toUndistribute.isEmpty }

    /// What `catalog` still needs; empty when every table is where it belongs.
    public init(catalog: SchemaCatalog) {
        let referenced = Set(catalog.foreignKeys.map(\.referencedTable))
        func wanted(_ table: SchemaCatalog.Table) -> SchemaCatalog.Placement {
            if table.name == Self.tenantTable { return .reference }
            if table.hasDistrictColumn { return .distributed }
            return referenced.contains(table.name) ? .reference : .local
        }
        let moving = catalog.tables.filter { wanted($0) != .local && wanted($0) != $0.placement }
        toUndistribute = moving.filter { $0.placement == .citusLocal }.map(\.name).sorted()
        toReference = moving.filter { wanted($0) == .reference }.map(\.name).sorted()
        // The anchor first: the others name it in colocate_with.
        toDistribute = moving.filter { wanted($0) == .distributed }.map(\.name)
            .sorted { ($0 == Self.anchor ? 0 : 1, $0) < ($1 == Self.anchor ? 0 : 1, $1) }
        let names = Set(moving.map(\.name))
        foreignKeys = catalog.foreignKeys
            .filter { names.contains($0.table) || names.contains($0.referencedTable) }
            .sorted { ($0.table, $0.name) < ($1.table, $1.name) }
    }

    /// The statements, in order, to run in one transaction on the coordinator.
    public var statements: [String] {
        guard !isEmpty else { return [] }
        let quote = Database.quoteIdentifier
        let literal = Database.quoteLiteral
        var sql = [
            // Reference and distributed tables created in one transaction, tied by foreign keys.
            "SET LOCAL citus.multi_shard_modify_mode TO 'sequential'",
            // The append-only guard on the logs raises an error and touches no other row: safe on shards.
            "SET LOCAL citus.enable_unsafe_triggers TO on",
        ]
        sql += foreignKeys.map { "ALTER TABLE \(quote($0.table)) DROP CONSTRAINT \(quote($0.name))" }
        sql += toUndistribute.map { "SELECT undistribute_table(\(literal($0)))" }
        sql += toReference.map { "SELECT create_reference_table(\(literal($0)))" }
        sql += toDistribute.map { table in
            let colocation = table == Self.anchor ? "none" : Self.anchor
            return "SELECT create_distributed_table(\(literal(table)), 'district', colocate_with => \(literal(colocation)))"
        }
        sql += foreignKeys.map { "ALTER TABLE \(quote($0.table)) ADD CONSTRAINT \(quote($0.name)) \($0.definition)" }
        return sql
    }
}

/// `yibiao db distribute`: reading the catalog, and running a plan on a Citus coordinator.
public enum Distribution {
    /// Whether the server has the citus extension in this database.
    public static func hasCitus(_ connection: PostgresConnection, logger: Logger) async throws -> Bool {
        var found = false
        for try await _ in try await connection.query("SELECT 1 FROM pg_extension WHERE extname = 'citus'", logger: logger) {
            found = true
        }
        return found
    }

    /// The public schema's tables and foreign keys; placements from Citus's metadata when it is there.
    public static func catalog(_ connection: PostgresConnection, logger: Logger) async throws -> SchemaCatalog {
        let citus = try await hasCitus(connection, logger: logger)
        let placementSQL =
            citus
            ? """
            (SELECT CASE WHEN p.partmethod = 'h' THEN 'distributed' WHEN p.repmodel = 't' THEN 'reference' ELSE 'citus local' END
             FROM pg_dist_partition p WHERE p.logicalrelid = c.oid)
            """ : "NULL::text"
        let tables = try await connection.query(
            PostgresQuery(
                unsafeSQL: """
                    SELECT c.relname::text,
                           EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'district' AND NOT a.attisdropped),
                           \(placementSQL)
                    FROM pg_class c
                    WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
                    ORDER BY 1
                    """), logger: logger)
        var catalog = SchemaCatalog(tables: [], foreignKeys: [])
        for try await (name, hasDistrict, placement) in tables.decode((String, Bool, String?).self) {
            catalog.tables.append(
                SchemaCatalog.Table(
                    name: name, hasDistrictColumn: hasDistrict, placement: placement.flatMap(SchemaCatalog.Placement.init(rawValue:)) ?? .local))
        }
        let keys = try await connection.query(
            """
            SELECT conrelid::regclass::text, conname::text, confrelid::regclass::text, pg_get_constraintdef(oid)
            FROM pg_constraint
            WHERE contype = 'f' AND connamespace = 'public'::regnamespace
            ORDER BY 1, 2
            """, logger: logger)
        for try await (table, name, referenced, definition) in keys.decode((String, String, String, String).self) {
            catalog.foreignKeys.append(.init(table: table, name: name, referencedTable: referenced, definition: definition))
        }
        return catalog
    }

    /// Whether this database was distributed (its anchor table is): later migrations keep it so.
    public static func isDistributed(_ connection: PostgresConnection, logger: Logger) async throws -> Bool {
        guard try await hasCitus(connection, logger: logger) else { return false }
        var distributed = false
        for try await _ in try await connection.query(
            "SELECT 1 FROM pg_dist_partition WHERE logicalrelid = to_regclass(\(DistributionPlan.anchor)) AND partmethod = 'h'", logger: logger)
        {
            distributed = true
        }
        return distributed
    }

    /// Runs what the catalog still needs, inside the caller's transaction.
    @discardableResult
    public static func apply(_ connection: PostgresConnection, logger: Logger) async throws -> DistributionPlan {
        let plan = DistributionPlan(catalog: try await catalog(connection, logger: logger))
        for statement in plan.statements {
            try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
        }
        return plan
    }

    /// `db distribute`: refuses on a server without citus; otherwise plans and, unless
    /// `dryRun`, applies the plan in one transaction (all or nothing; run again, it does nothing).
    public static func distribute(_ client: PostgresClient, url: DatabaseURL, dryRun: Bool, logger: Logger) async throws -> DistributionPlan {
        try await client.withConnection { connection in
            guard try await hasCitus(connection, logger: logger) else {
                var plan = DistributionPlan(catalog: try await catalog(connection, logger: logger))
                plan.serverHasCitus = false
                if dryRun { return plan }
                throw StoreError(
                    .citusMissing,
                    message: LocalizedText(
                        en: "the database \(url) has no citus extension: there is nothing to distribute on",
                        zh: "数据库 \(url) 未安装 citus 扩展，无法分布"),
                    remedy: LocalizedText(
                        en: "on a Citus coordinator run CREATE EXTENSION citus in this database first (deploy/citus/README.md); "
                            + "a single PostgreSQL needs no distribution",
                        zh: "请先在 Citus 协调节点的该数据库中执行 CREATE EXTENSION citus（见 deploy/citus/README.md）；单机 PostgreSQL 无需分布"),
                    exitCode: ExitStatus.config)
            }
            // Not while a migrator runs.
            try await connection.query("SELECT pg_advisory_lock(\(Migrator.lockKey))", logger: logger)
            do {
                let plan = try await distributeLocked(connection, dryRun: dryRun, logger: logger)
                try await connection.query("SELECT pg_advisory_unlock(\(Migrator.lockKey))", logger: logger)
                return plan
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Migrator.lockKey))", logger: logger)
                throw error
            }
        }
    }

    private static func distributeLocked(_ connection: PostgresConnection, dryRun: Bool, logger: Logger) async throws -> DistributionPlan {
        let plan = DistributionPlan(catalog: try await catalog(connection, logger: logger))
        if dryRun || plan.isEmpty { return plan }
        try await connection.query("BEGIN", logger: logger)
        do {
            try await apply(connection, logger: logger)
            try await connection.query("COMMIT", logger: logger)
        } catch {
            _ = try? await connection.query("ROLLBACK", logger: logger)
            throw StoreError(
                .migrationFailed,
                message: LocalizedText(
                    en: "distributing the tables failed: \(PostgresErrorText.serverMessage(error)); nothing was changed",
                    zh: "分布数据表失败：\(PostgresErrorText.serverMessage(error))；未做任何更改"),
                remedy: LocalizedText(
                    en: "see deploy/citus/README.md; `yibiao db distribute --dry-run` prints the statements",
                    zh: "请参阅 deploy/citus/README.md；`yibiao db distribute --dry-run` 可列出将执行的语句"),
                detail: String(reflecting: error))
        }
        return plan
    }
}
