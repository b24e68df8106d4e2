public import Logging
public import PostgresNIO

/// Rows that could not be read or mapped, as the ingest kept them: file, row, column, raw
/// value, reason.
public struct QuarantinedRows: Sendable {
    public struct Row: Sendable, Hashable {
        public let id: Int64
        public let batchID: Int64
        public let system: String
        public let fileName: String
        public let rowNumber: Int64
        public let column: String?
        /// The cell as read; it can be personal data (an ID number), so front ends mask it.
        public let rawValue: String?
        public let reasonCode: String
        public let messageEN: String
        public let messageZH: String
        public let createdAt: String
    }

    public let district: String
    public let logger: Logger

    public init(district: String, logger: Logger) {
        self.district = district
        self.logger = logger
    }

    /// The columns `rows` decodes, in its order.
    private static let select = """
        SELECT q.quarantine_id, q.batch_id, b.system_id, q.file_name, q.row_number, q.column_name, q.raw_value,
               q.reason_code, q.message_en, q.message_zh, q.created_at::text
        FROM quarantine q JOIN ingest_batch b USING (district, batch_id)
        """

    /// Newest batch first, then by row.
    public func list(_ client: PostgresClient, batch: Int64? = nil, reason: String? = nil, limit: Int = 50) async throws -> [Row] {
        try await rows(
            client,
            query: """
                \(unescaped: Self.select)
                WHERE q.district = \(district)
                  AND (\(batch)::bigint IS NULL OR q.batch_id = \(batch))
                  AND (\(reason)::text IS NULL OR q.reason_code = \(reason))
                ORDER BY q.batch_id DESC, q.row_number LIMIT \(limit)
                """)
    }

    public func row(_ client: PostgresClient, id: Int64) async throws -> Row? {
        try await rows(client, query: "\(unescaped: Self.select) WHERE q.district = \(district) AND q.quarantine_id = \(id)").first
    }

    private func rows(_ client: PostgresClient, query: PostgresQuery) async throws -> [Row] {
        var result: [Row] = []
        for try await (id, batch, system, file, row, column, raw, code, en, zh, at) in try await client.query(query, logger: logger).decode(
            (Int64, Int64, String, String, Int64, String?, String?, String, String, String, String).self)
        {
            result.append(
                Row(
                    id: id, batchID: batch, system: system, fileName: file, rowNumber: row, column: column, rawValue: raw,
                    reasonCode: code, messageEN: en, messageZH: zh, createdAt: at))
        }
        return result
    }
}
