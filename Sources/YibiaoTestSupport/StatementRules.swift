import Foundation
import PostgresNIO
import Logging
public import YibiaoStore

/// The rules that let Citus run a statement on the one node holding a district (docs/citus.md),
/// checked on the statements a real run sent, as `pg_stat_statements` recorded them:
/// 1. every scan of a district table is bounded by `district = <one value>` — PostgreSQL's own
///    generic plan says so, equalities it derived through joins included;
/// 2. no statement reads a temporary table together with a district table (Citus cannot
///    push a session-local table to a worker);
/// 3. an `ON CONFLICT … DO UPDATE` calls immutable functions only (Citus's demand).
public enum StatementRules {
    public struct Violation: Sendable, CustomStringConvertible {
        public var rule: String
        public var statement: String
        public var detail: String
        public var description: String { "[\(rule)] \(detail)\n    \(statement.replacingOccurrences(of: "\n", with: " ").prefix(400))" }
    }

    public struct Report: Sendable {
        /// Statements recorded in the database.
        public var recorded = 0
        /// Statements that touched a district table and were checked.
        public var checkedOnDistrictTables = 0
        /// District tables some statement read or wrote.
        public var tablesTouched: Set<String> = []
        public var violations: [Violation] = []
    }

    /// Server settings that make `pg_stat_statements` record every statement (and its text).
    public static let serverSettings = [
        "shared_preload_libraries": "pg_stat_statements", "pg_stat_statements.max": "20000", "pg_stat_statements.track": "top",
        "pg_stat_statements.track_utility": "on",
    ]

    /// Statements that must span districts, with the reason; kept short on purpose.
    public static let crossDistrictAllowed: [(pattern: String, why: String)] = [
        (
            "SELECT DISTINCT district FROM ingest_batch WHERE status = $1",
            "`yibiao db start` after a crash looks in every district for batches a killed process left running"
        )
    ]

    /// Creates `url`'s database with the extension and every migration applied (migrations run
    /// once, before `db distribute`; they are not the pipeline), then forgets what was recorded.
    public static func startRecording(_ url: DatabaseURL) async throws {
        try await Database.createDatabaseIfMissing(url)
        try await Database.withClient(url) { client in
            try await client.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            _ = try await Migrator(logger: .silent).migrate(client)
            try await client.query("SELECT pg_stat_statements_reset()")
        }
    }

    /// Checks every statement recorded for `url`'s database.
    public static func check(_ url: DatabaseURL) async throws -> Report {
        try await Database.withClient(url) { client in
            try await client.withConnection { connection in
                try await check(connection)
            }
        }
    }

    static func check(_ connection: PostgresConnection) async throws -> Report {
        let logger = Logger.silent
        let catalog = try await Distribution.catalog(connection, logger: logger)
        let districtTables = Set(catalog.tables.filter { $0.hasDistrictColumn }.map(\.name))
        var statements: [String] = []
        let recorded = try await connection.query(
            """
            SELECT query FROM pg_stat_statements s
            WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND s.toplevel
            ORDER BY s.queryid
            """, logger: logger)
        for try await text in recorded.decode(String.self) { statements.append(text) }
        var report = Report()
        report.recorded = statements.count
        try await connection.query("SET pg_stat_statements.track = none", logger: logger)
        for statement in statements {
            try await check(statement, districtTables: districtTables, connection: connection, report: &report)
        }
        return report
    }

    private static func firstWord(_ statement: String) -> String {
        let code = statement.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("--") }.joined(separator: " ")
        return code.split(whereSeparator: { $0.isWhitespace || $0 == "(" }).first.map { $0.uppercased() } ?? ""
    }

    /// `pg_stat_statements` replaces constants with parameters, even where SQL's grammar wants a
    /// keyword or a typed literal; these put back something PostgreSQL parses the same way.
    static func parseable(_ normalized: String) -> String {
        normalized
            .replacing(/extract\(\$\d+ FROM/, with: "extract(epoch FROM")
            .replacing(/interval (\$\d+)/) { "\($0.output.1)::interval" }
    }

    /// Prepares `statement` as `rule_check` in a new transaction with generic plans. A parameter
    /// whose type the normalized text hides (a literal the recorder replaced, `x * $4`) is
    /// declared `text`, then `numeric`, until PostgreSQL accepts the statement.
    private static func prepare(_ statement: String, connection: PostgresConnection) async throws {
        let logger = Logger.silent
        var declared: [Int: String] = [:]
        while true {
            // A prepared statement outlives ROLLBACK: deallocated before each try.
            try await connection.query("DEALLOCATE ALL", logger: logger)
            try await connection.query("BEGIN", logger: logger)
            try await connection.query("SET LOCAL plan_cache_mode = force_generic_plan", logger: logger)
            let types = (0..<(declared.keys.max() ?? 0)).map { declared[$0 + 1] ?? "unknown" }
            let signature = types.isEmpty ? "" : "(" + types.joined(separator: ", ") + ")"
            do {
                try await connection.query(PostgresQuery(unsafeSQL: "PREPARE rule_check\(signature) AS " + parseable(statement)), logger: logger)
                return
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "42P18" {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                guard let match = (error.serverInfo?[.message] ?? "").firstMatch(of: /parameter \$(\d+)/), let index = Int(match.output.1),
                    declared[index] != "numeric"
                else { throw error }
                declared[index] = declared[index] == nil ? "text" : "numeric"
            }
        }
    }

    private static func check(_ statement: String, districtTables: Set<String>, connection: PostgresConnection, report: inout Report) async throws {
        let logger = Logger.silent
        let word = firstWord(statement)
        if crossDistrictAllowed.contains(where: { statement.contains($0.pattern) }) { return }
        if word == "COPY" {
            // COPY t FROM STDIN routes each row by its district; COPY (query) TO is a query.
            return
        }
        guard ["SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "MERGE", "VALUES"].contains(word) else { return }
        do {
            try await prepare(statement, connection: connection)
            var parameters = 0
            for try await count in try await connection.query(
                "SELECT cardinality(parameter_types) FROM pg_prepared_statements WHERE name = 'rule_check'", logger: logger
            ).decode(Int.self) {
                parameters = count
            }
            let arguments = parameters == 0 ? "" : "(" + Array(repeating: "NULL", count: parameters).joined(separator: ", ") + ")"
            var planText = ""
            for try await text in try await connection.query(
                PostgresQuery(unsafeSQL: "EXPLAIN (VERBOSE, FORMAT JSON) EXECUTE rule_check\(arguments)"), logger: logger
            ).decode(String.self) {
                planText += text
            }
            try await connection.query("ROLLBACK", logger: logger)
            inspect(plan: planText, statement: statement, districtTables: districtTables, report: &report)
        } catch {
            _ = try? await connection.query("ROLLBACK", logger: logger)
            let state = (error as? PSQLError)?.serverInfo?[.sqlState] ?? ""
            let message = (error as? PSQLError)?.serverInfo?[.message] ?? "\(error)"
            // A relation this session cannot see is another session's temporary table.
            let rule = state == "42P01" ? "temporary table" : "not checkable"
            report.violations.append(Violation(rule: rule, statement: statement, detail: message))
            return
        }
        if statement.range(of: "DO UPDATE", options: .caseInsensitive) != nil {
            try await checkConflictUpdate(statement, connection: connection, report: &report)
        }
    }

    /// Walks the plan: every scan of a district table must carry `district = <param or constant>`.
    private static func inspect(plan text: String, statement: String, districtTables: Set<String>, report: inout Report) {
        guard let json = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]],
            let root = json.first?["Plan"] as? [String: Any]
        else {
            report.violations.append(Violation(rule: "not checkable", statement: statement, detail: "no plan"))
            return
        }
        var touched = false
        var temporary: [String] = []
        var unbounded: [String] = []
        func walk(_ node: [String: Any]) {
            if let relation = node["Relation Name"] as? String {
                let schema = node["Schema"] as? String ?? ""
                if schema.hasPrefix("pg_temp") {
                    temporary.append(relation)
                } else if districtTables.contains(relation) {
                    touched = true
                    report.tablesTouched.insert(relation)
                    let isTarget = (node["Node Type"] as? String) == "ModifyTable"
                    if !isTarget {
                        let conditions = ["Index Cond", "Filter", "Recheck Cond", "TID Cond"].compactMap { node[$0] as? String }.joined(separator: " AND ")
                        if !boundsDistrict(conditions) { unbounded.append("\(relation) (\(conditions.isEmpty ? "no condition" : conditions))") }
                    }
                }
            }
            for child in node["Plans"] as? [[String: Any]] ?? [] { walk(child) }
        }
        walk(root)
        if touched { report.checkedOnDistrictTables += 1 }
        if touched && !temporary.isEmpty {
            report.violations.append(Violation(rule: "temporary table", statement: statement, detail: "joins \(temporary.joined(separator: ", ")) to district tables"))
        }
        if !unbounded.isEmpty {
            report.violations.append(Violation(rule: "one district", statement: statement, detail: "scans without district = …: \(unbounded.joined(separator: "; "))"))
        }
    }

    /// `district = $1`, `(x.district)::bpchar = '110105'::bpchar` and the like; not `district = y.district`.
    static func boundsDistrict(_ conditions: String) -> Bool {
        conditions.contains(/district\)?(::[a-z_ ]+)?\)? = \(?(\$\d+|'[0-9]{6}')/)
            || conditions.contains(/(\$\d+|'[0-9]{6}')(::[a-z_ ]+)?\)? = \(?([a-z_]+\.)?district\b/)
    }

    /// Every function named after DO UPDATE SET must be immutable.
    private static func checkConflictUpdate(_ statement: String, connection: PostgresConnection, report: inout Report) async throws {
        guard let range = statement.range(of: "DO UPDATE", options: .caseInsensitive) else { return }
        var clause = String(statement[range.upperBound...]).replacing(/--[^\n]*/, with: "")
        if let returning = clause.range(of: "RETURNING", options: .caseInsensitive) { clause = String(clause[..<returning.lowerBound]) }
        let names = Set(clause.matches(of: /([A-Za-z_][A-Za-z0-9_]*)\s*\(/).map { String($0.output.1).lowercased() })
        for name in names.sorted() {
            var volatile = false
            for try await value in try await connection.query(
                "SELECT bool_or(provolatile <> 'i') FROM pg_proc WHERE proname = \(name)", logger: .silent
            ).decode(Bool?.self) {
                volatile = value ?? false
            }
            if volatile {
                report.violations.append(Violation(rule: "immutable ON CONFLICT", statement: statement, detail: "\(name)() is not immutable"))
            }
        }
    }
}
