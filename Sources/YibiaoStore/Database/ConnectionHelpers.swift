import Logging
public import PostgresNIO

extension PostgresConnection {
    /// One writer per district at a time, to the end of the transaction: ingest chunks, matching,
    /// worker entries and resolutions queue here.
    public func lockDistrict(_ district: String, logger: Logger) async throws {
        try await query("SELECT pg_advisory_xact_lock(hashtext('yibiao:district:' || \(district)))", logger: logger)
    }

    /// Fresh statistics for a table that just grew many times over (a district's first ingest):
    /// until autovacuum catches up, minutes later, the planner takes it for nearly empty and
    /// joins it by nested loops, which turns a 10,000-row statement from milliseconds into seconds.
    func analyze(_ table: String, logger: Logger) async throws {
        try await query(PostgresQuery(unsafeSQL: "ANALYZE \(table)"), logger: logger)
    }

    /// `rows` into `table`'s `columns` with COPY (text format).
    func copy(_ rows: CopyText, into table: String, columns: [String], logger: Logger) async throws {
        try await copyFrom(table: table, columns: columns, logger: logger) { writer in
            try await writer.write(ByteBuffer(bytes: rows.bytes))
        }
    }

    /// `count` rows into `table`'s `columns` with one COPY (text format), `encode` putting the
    /// rows of each part (a range of `0..<count`) into text while the server stores the parts
    /// before: the two sides overlap, where building every row first left the server idle, then
    /// this process.
    func copyInParts(
        _ count: Int, into table: String, columns: [String], partSize: Int = 4_000, logger: Logger,
        _ encode: (Range<Int>, inout CopyText) -> Void
    ) async throws {
        guard count > 0 else { return }
        try await copyFrom(table: table, columns: columns, logger: logger) { writer in
            for start in stride(from: 0, to: count, by: partSize) {
                var text = CopyText()
                encode(start..<min(start + partSize, count), &text)
                try await writer.write(ByteBuffer(bytes: text.bytes))
            }
        }
    }

    /// `analyze` for tables a statement of `rows` rows just filled, when that is many.
    func analyzeAfterBulk(_ tables: [String], rows: Int, logger: Logger) async throws {
        guard rows >= 2_000 else { return }
        for table in tables { try await analyze(table, logger: logger) }
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    func transaction<Result: Sendable>(logger: Logger, _ body: () async throws -> Result) async throws -> Result {
        try await query("BEGIN", logger: logger)
        do {
            let result = try await body()
            try await query("COMMIT", logger: logger)
            return result
        } catch {
            _ = try? await query("ROLLBACK", logger: logger)
            throw error
        }
    }
}
