import AsyncHTTPClient
import Crypto
public import Foundation
public import Logging
import NIOCore
import NIOHTTP1
public import PostgresNIO
import YibiaoAdapters
import YibiaoCore

/// Delivers released updates: as numbered files in each system's own import format, or as one
/// HTTP request per update. Every step survives a kill: a file's rows are fixed in the database
/// before it is written, written under a temporary name and renamed, described by a manifest
/// (rows, SHA-256, the idempotency keys) written last, and marked sent only after that — a
/// re-run finishes the same file with the same rows. Failures retry with exponential backoff
/// and become dead letters after the system's `max_attempts`.
public struct OutboxDelivery: Sendable {
    public struct Options: Sendable {
        /// Files go to `directory/<district>/<system>/`.
        public var directory: URL
        public var now: Date
        public var rowsPerFile: Int
        public var requestTimeout: TimeAmount

        public init(directory: URL, now: Date = Date(), rowsPerFile: Int = 50_000, requestTimeout: TimeAmount = .seconds(30)) {
            self.directory = directory
            self.now = now
            self.rowsPerFile = rowsPerFile
            self.requestTimeout = requestTimeout
        }
    }

    public struct SystemResult: Sendable, Hashable {
        public let system: String
        public var held = false
        public var files: [String] = []
        public var sent = 0
        public var acknowledged = 0
        public var failed = 0
        public var dead = 0
        /// Acknowledgement files read.
        public var acknowledgements = 0
        /// The last failure, without personal data.
        public var lastError: String?
    }

    public let district: String
    public let logger: Logger

    public init(district: String, logger: Logger) {
        self.district = district
        self.logger = logger
    }

    /// Seconds to wait after the `attempt`-th failure: 30 s, doubling, at most 6 hours.
    public static func backoff(afterAttempt attempt: Int) -> TimeInterval {
        min(30 * pow(2, Double(max(attempt, 1) - 1)), 6 * 3600)
    }

    public func directory(for system: String, in options: Options) -> URL {
        options.directory.appendingPathComponent(district, isDirectory: true).appendingPathComponent(system, isDirectory: true)
    }

    public func deliver(_ client: PostgresClient, systems only: [String]? = nil, options: Options) async throws -> [SystemResult] {
        let systems = try await OutboundSystems(district: district, logger: logger).load(client)
        var results: [SystemResult] = []
        for (id, system) in systems.sorted(by: { $0.key < $1.key }) where only == nil || only!.contains(id) {
            var result = SystemResult(system: id)
            guard system.released else {
                result.held = true
                results.append(result)
                continue
            }
            if let endpoint = system.mapper.outbound.endpoint {
                try await post(client, system: system, endpoint: endpoint, options: options, into: &result)
            } else {
                try await readAcknowledgements(client, system: system, options: options, into: &result)
                try await writeFiles(client, system: system, options: options, into: &result)
            }
            results.append(result)
        }
        return results
    }

    // MARK: Files

    struct Delivery: Sendable {
        let number: Int64
        let fileName: String
    }

    func fileName(_ system: OutboundSystems.System, number: Int64) -> String {
        let ext =
            switch system.mapper.outbound.format {
            case .csv: "csv"
            case .xlsx: "xlsx"
            case .xml: "xml"
            case .jsonLines, .json: "jsonl"
            }
        return "\(system.id)_\(district)_\(String(number).leftPadded(to: 6)).\(ext)"
    }

    func writeFiles(_ client: PostgresClient, system: OutboundSystems.System, options: Options, into result: inout SystemResult) async throws {
        let folder = directory(for: system.id, in: options)
        while true {
            // A file begun and not finished comes first, with the rows it was given: the
            // receiver imports files in order, so no later number is handed out before it.
            guard let delivery = try await nextDelivery(client, system: system, options: options) else { return }
            do {
                // Personal data: the owner and the importing group only.
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
                let rows = try await boundRows(client, system: system.id, delivery: delivery.number)
                let (sha, keys) = try write(rows, system: system, delivery: delivery, folder: folder)
                try await markWritten(client, system: system.id, delivery: delivery, sha256: sha, now: options.now)
                result.files.append(delivery.fileName)
                result.sent += keys.count
            } catch let error as PSQLError {
                throw error
            } catch {
                let message = Self.describe(error)
                let (failed, dead) = try await markFailed(
                    client, system: system, delivery: delivery.number, error: message, now: options.now)
                result.failed += failed
                result.dead += dead
                result.lastError = message
                return
            }
        }
    }

    /// The unfinished delivery if it is due, else a new one with the due rows, else nil.
    func nextDelivery(_ client: PostgresClient, system: OutboundSystems.System, options: Options) async throws -> Delivery? {
        let now = options.now
        return try await client.withConnection { connection in
            try await connection.transaction(logger: logger) {
                var last: Int64 = 0
                for try await value in try await connection.query(
                    "SELECT last_delivery_no FROM outbound_system WHERE district = \(district) AND system_id = \(system.id) FOR UPDATE",
                    logger: logger
                ).decode(Int64.self) { last = value }
                var open: (Int64, String, Bool)?
                for try await row in try await connection.query(
                    """
                    SELECT d.delivery_no, d.file_name, coalesce(bool_and(o.next_attempt_at <= \(now)), true)
                    FROM outbox_delivery d LEFT JOIN outbox o ON o.district = d.district AND o.system_id = d.system_id
                        AND o.delivery_no = d.delivery_no AND o.status IN ('pending', 'failed')
                    WHERE d.district = \(district) AND d.system_id = \(system.id) AND d.status = 'writing'
                    GROUP BY d.delivery_no, d.file_name ORDER BY d.delivery_no LIMIT 1
                    """, logger: logger
                ).decode((Int64, String, Bool).self) { open = row }
                if let (number, name, due) = open { return due ? Delivery(number: number, fileName: name) : nil }
                let number = last + 1
                let name = fileName(system, number: number)
                let bound = try await connection.query(
                    """
                    WITH due AS (
                        SELECT outbox_id FROM outbox
                        WHERE district = \(district) AND system_id = \(system.id) AND status IN ('pending', 'failed')
                          AND delivery_no IS NULL AND next_attempt_at <= \(now)
                        ORDER BY change_seq, outbox_id LIMIT \(options.rowsPerFile)
                    )
                    UPDATE outbox o SET delivery_no = \(number) FROM due
                    WHERE o.district = \(district) AND o.outbox_id = due.outbox_id
                    RETURNING o.outbox_id
                    """, logger: logger)
                var count = 0
                for try await _ in bound.decode(Int64.self) { count += 1 }
                guard count > 0 else { return nil }
                try await connection.query(
                    """
                    INSERT INTO outbox_delivery (district, system_id, delivery_no, file_name, rows)
                    VALUES (\(district), \(system.id), \(number), \(name), \(count))
                    """, logger: logger)
                try await connection.query(
                    "UPDATE outbound_system SET last_delivery_no = \(number) WHERE district = \(district) AND system_id = \(system.id)",
                    logger: logger)
                return Delivery(number: number, fileName: name)
            }
        }
    }

    struct BoundRow: Sendable {
        let key: String
        let payload: String
    }

    func boundRows(_ client: PostgresClient, system: String, delivery: Int64) async throws -> [BoundRow] {
        var rows: [BoundRow] = []
        for try await (key, payload) in try await client.query(
            """
            SELECT idempotency_key, payload::text FROM outbox
            WHERE district = \(district) AND system_id = \(system) AND delivery_no = \(delivery) AND status IN ('pending', 'failed')
            ORDER BY change_seq, outbox_id
            """, logger: logger
        ).decode((String, String).self) { rows.append(BoundRow(key: key, payload: payload)) }
        return rows
    }

    struct Manifest: Codable, Sendable, Hashable {
        var system: String
        var district: String
        var delivery: Int64
        var file: String
        var format: String
        var rows: Int
        var sha256: String
        var emptyCell: String
        var idempotencyKeys: [String]

        enum CodingKeys: String, CodingKey {
            case system, district, delivery, file, format, rows, sha256
            case emptyCell = "empty_cell"
            case idempotencyKeys = "idempotency_keys"
        }
    }

    struct Payload: Decodable {
        let key: String
        let cells: [String?]
    }

    /// Writes the file and its manifest, unless both are there already and agree with the rows
    /// (a run killed after writing them): returns the file's SHA-256 and the keys it carries.
    func write(_ rows: [BoundRow], system: OutboundSystems.System, delivery: Delivery, folder: URL) throws -> (String, [String]) {
        let file = folder.appendingPathComponent(delivery.fileName)
        let manifestURL = folder.appendingPathComponent(delivery.fileName + ".manifest.json")
        let keys = rows.map(\.key)
        if let data = try? Data(contentsOf: manifestURL), let manifest = try? JSONDecoder().decode(Manifest.self, from: data),
            manifest.idempotencyKeys == keys, let written = try? Data(contentsOf: file), SHA256.hash(data: written).hexString == manifest.sha256
        {
            return (manifest.sha256, keys)
        }
        let decoder = JSONDecoder()
        let temporary = folder.appendingPathComponent(".\(delivery.fileName).partial")
        try? FileManager.default.removeItem(at: temporary)
        let writer = try system.mapper.writer(temporary)
        for row in rows {
            let payload = try decoder.decode(Payload.self, from: Data(row.payload.utf8))
            try writer.append([payload.key] + payload.cells)
        }
        try writer.finish()
        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: temporary.path)
        try Self.replace(file, with: temporary)
        let sha = SHA256.hash(data: try Data(contentsOf: file)).hexString
        let manifest = Manifest(
            system: system.id, district: district, delivery: delivery.number, file: delivery.fileName,
            format: system.mapper.outbound.format.typeName, rows: rows.count, sha256: sha, emptyCell: "unchanged", idempotencyKeys: keys)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let manifestTemporary = folder.appendingPathComponent(".\(delivery.fileName).manifest.partial")
        try encoder.encode(manifest).write(to: manifestTemporary)
        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: manifestTemporary.path)
        try Self.replace(manifestURL, with: manifestTemporary)
        return (sha, keys)
    }

    static func replace(_ target: URL, with temporary: URL) throws {
        if rename(temporary.path, target.path) != 0 {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: target.path])
        }
    }

    func markWritten(_ client: PostgresClient, system: String, delivery: Delivery, sha256: String, now: Date) async throws {
        try await client.withConnection { connection in
            try await connection.transaction(logger: logger) {
                try await connection.query(
                    """
                    UPDATE outbox SET status = 'sent', sent_at = \(now), attempts = attempts + 1, last_error = NULL
                    WHERE district = \(district) AND system_id = \(system) AND delivery_no = \(delivery.number) AND status IN ('pending', 'failed')
                    """, logger: logger)
                try await connection.query(
                    """
                    UPDATE outbox_delivery SET status = 'written', sha256 = \(sha256), written_at = \(now)
                    WHERE district = \(district) AND system_id = \(system) AND delivery_no = \(delivery.number)
                    """, logger: logger)
            }
        }
    }

    /// A file that could not be written: its rows wait (backoff) or, out of attempts, become
    /// dead letters and leave the file; a file left with no rows is given up, and its number
    /// handed out again when it was the last.
    func markFailed(_ client: PostgresClient, system: OutboundSystems.System, delivery: Int64, error: String, now: Date) async throws -> (Int, Int) {
        try await client.withConnection { connection in
            try await connection.transaction(logger: logger) {
                let (failed, dead) = try await recordFailure(
                    connection, system: system, delivery: delivery, error: error, now: now)
                try await connection.query(
                    """
                    UPDATE outbox SET delivery_no = NULL
                    WHERE district = \(district) AND system_id = \(system.id) AND delivery_no = \(delivery) AND status = 'dead'
                    """, logger: logger)
                var remaining = 0
                for try await count in try await connection.query(
                    "SELECT count(*)::int FROM outbox WHERE district = \(district) AND system_id = \(system.id) AND delivery_no = \(delivery)",
                    logger: logger
                ).decode(Int.self) { remaining = count }
                if remaining == 0 {
                    try await connection.query(
                        "DELETE FROM outbox_delivery WHERE district = \(district) AND system_id = \(system.id) AND delivery_no = \(delivery)",
                        logger: logger)
                    try await connection.query(
                        """
                        UPDATE outbound_system SET last_delivery_no = last_delivery_no - 1
                        WHERE district = \(district) AND system_id = \(system.id) AND last_delivery_no = \(delivery)
                        """, logger: logger)
                }
                return (failed, dead)
            }
        }
    }

    /// Counts one more attempt for the rows of `delivery`, or the rows `ids`: failed with the
    /// next time to try, or dead.
    func recordFailure(
        _ connection: PostgresConnection, system: OutboundSystems.System, delivery: Int64? = nil, ids: [Int64] = [], error: String,
        now: Date
    ) async throws -> (Int, Int) {
        let maxAttempts = system.mapper.outbound.maxAttempts
        // Backoff per attempt number, computed here so the database needs no clock of its own.
        let delays = (1...maxAttempts).map { Self.backoff(afterAttempt: $0) }
        let rows = try await connection.query(
            """
            UPDATE outbox SET attempts = attempts + 1, last_error = \(error),
                status = CASE WHEN attempts + 1 >= \(maxAttempts) THEN 'dead' ELSE 'failed' END,
                next_attempt_at = \(now)::timestamptz + make_interval(secs => (\(delays)::float8[])[least(attempts + 1, \(maxAttempts))])
            WHERE district = \(district) AND system_id = \(system.id) AND status IN ('pending', 'failed')
              AND (delivery_no = \(delivery ?? -1) OR outbox_id = ANY(\(ids)))
            RETURNING status
            """, logger: logger)
        var failed = 0, dead = 0
        for try await status in rows.decode(String.self) { if status == "dead" { dead += 1 } else { failed += 1 } }
        return (failed, dead)
    }

    // MARK: Acknowledgements

    /// Reads `FILE.ack` beside each written file: every line names an idempotency key the system
    /// rejected and why (`key<TAB>reason`); an empty file accepts every row.
    func readAcknowledgements(_ client: PostgresClient, system: OutboundSystems.System, options: Options, into result: inout SystemResult) async throws {
        let folder = directory(for: system.id, in: options)
        var written: [(Int64, String)] = []
        for try await row in try await client.query(
            """
            SELECT delivery_no, file_name FROM outbox_delivery
            WHERE district = \(district) AND system_id = \(system.id) AND status = 'written' ORDER BY delivery_no
            """, logger: logger
        ).decode((Int64, String).self) { written.append(row) }
        for (number, name) in written {
            let ack = folder.appendingPathComponent(name + ".ack")
            guard let text = try? String(contentsOf: ack, encoding: .utf8) else { continue }
            let (accepted, rejected) = try await acknowledge(client, system: system.id, delivery: number, ackText: text, now: options.now)
            result.acknowledged += accepted
            result.dead += rejected
            result.acknowledgements += 1
        }
    }

    /// Applies one acknowledgement to a delivery: rejected rows become dead letters with the
    /// system's reason, the rest acknowledged. Returns (acknowledged, rejected).
    public func acknowledge(_ client: PostgresClient, system: String, delivery: Int64, ackText: String, now: Date) async throws -> (Int, Int) {
        var rejectedKeys: [String] = [], reasons: [String] = []
        for line in ackText.split(whereSeparator: \.isNewline) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty, !trimmed.hasPrefix("#") else { continue }
            let parts = trimmed.split(separator: "\t", maxSplits: 1)
            rejectedKeys.append(String(parts[0]))
            reasons.append("rejected by the system: " + String((parts.count > 1 ? parts[1] : "no reason given").prefix(200)))
        }
        return try await client.withConnection { connection in
            try await connection.transaction(logger: logger) {
                var rejected = 0, accepted = 0
                for try await _ in try await connection.query(
                    """
                    UPDATE outbox o SET status = 'dead', last_error = r.reason, delivery_no = NULL
                    FROM unnest(\(rejectedKeys)::text[], \(reasons)::text[]) AS r(key, reason)
                    WHERE o.district = \(district) AND o.system_id = \(system) AND o.delivery_no = \(delivery)
                      AND o.idempotency_key = r.key AND o.status = 'sent'
                    RETURNING o.outbox_id
                    """, logger: logger
                ).decode(Int64.self) { rejected += 1 }
                for try await _ in try await connection.query(
                    """
                    UPDATE outbox SET status = 'acknowledged', acknowledged_at = \(now)
                    WHERE district = \(district) AND system_id = \(system) AND delivery_no = \(delivery) AND status = 'sent'
                    RETURNING outbox_id
                    """, logger: logger
                ).decode(Int64.self) { accepted += 1 }
                try await connection.query(
                    """
                    UPDATE outbox_delivery SET status = 'acknowledged', acknowledged_at = \(now)
                    WHERE district = \(district) AND system_id = \(system) AND delivery_no = \(delivery) AND status = 'written'
                    """, logger: logger)
                return (accepted, rejected)
            }
        }
    }

    // MARK: HTTP

    struct RequestBody: Encodable {
        let idempotencyKey: String
        let system: String
        let district: String
        let key: String
        let columns: [String: String]
        enum CodingKeys: String, CodingKey {
            case idempotencyKey = "idempotency_key"
            case system, district, key, columns
        }
    }

    /// One POST per due update, a few at a time, with its idempotency key: a 2xx acknowledges
    /// it; anything else, or no answer, counts an attempt. One bad update never holds the rest.
    func post(
        _ client: PostgresClient, system: OutboundSystems.System, endpoint: URL, options: Options, into result: inout SystemResult
    ) async throws {
        let httpClient = HTTPClient.shared
        let columns = system.mapper.columns
        while true {
            var due: [(Int64, String, String)] = []
            for try await row in try await client.query(
                """
                SELECT outbox_id, idempotency_key, payload::text FROM outbox
                WHERE district = \(district) AND system_id = \(system.id) AND status IN ('pending', 'failed')
                  AND next_attempt_at <= \(options.now)
                ORDER BY change_seq, outbox_id LIMIT 500
                """, logger: logger
            ).decode((Int64, String, String).self) { due.append(row) }
            guard !due.isEmpty else { return }
            let district = district
            let outcomes = try await withThrowingTaskGroup(of: (Int64, String?).self) { group in
                var outcomes: [(Int64, String?)] = []
                var next = due.makeIterator()
                func start(_ row: (Int64, String, String)) {
                    group.addTask {
                        let payload = try JSONDecoder().decode(Payload.self, from: Data(row.2.utf8))
                        var cells: [String: String] = [:]
                        for (column, cell) in zip(columns, [payload.key] + payload.cells) { if let cell { cells[column] = cell } }
                        let body = RequestBody(idempotencyKey: row.1, system: system.id, district: district, key: payload.key, columns: cells)
                        var request = HTTPClientRequest(url: endpoint.absoluteString)
                        request.method = .POST
                        request.headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
                        request.headers.add(name: "Idempotency-Key", value: row.1)
                        request.body = .bytes(ByteBuffer(bytes: [UInt8](try JSONEncoder().encode(body))))
                        do {
                            let response = try await httpClient.execute(request, timeout: options.requestTimeout)
                            _ = try? await response.body.collect(upTo: 64 * 1024)
                            return (200..<300).contains(Int(response.status.code))
                                ? (row.0, nil) : (row.0, "HTTP \(response.status.code) from \(endpoint.host ?? "the endpoint")")
                        } catch {
                            return (row.0, "no answer from \(endpoint.host ?? "the endpoint"): \(Self.describe(error))")
                        }
                    }
                }
                for _ in 0..<4 { if let row = next.next() { start(row) } }
                while let outcome = try await group.next() {
                    outcomes.append(outcome)
                    if let row = next.next() { start(row) }
                }
                return outcomes
            }
            let acknowledged = outcomes.filter { $0.1 == nil }.map(\.0)
            let failures = outcomes.filter { $0.1 != nil }
            try await client.withConnection { connection in
                try await connection.transaction(logger: logger) {
                    if !acknowledged.isEmpty {
                        try await connection.query(
                            """
                            UPDATE outbox SET status = 'acknowledged', attempts = attempts + 1, sent_at = \(options.now),
                                acknowledged_at = \(options.now), last_error = NULL
                            WHERE district = \(district) AND outbox_id = ANY(\(acknowledged))
                            """, logger: logger)
                    }
                    // Failures grouped by their message: one statement each.
                    for (message, group) in Dictionary(grouping: failures, by: { $0.1! }) {
                        let (failed, dead) = try await recordFailure(
                            connection, system: system, ids: group.map(\.0), error: message, now: options.now)
                        result.failed += failed
                        result.dead += dead
                        result.lastError = message
                    }
                }
            }
            result.sent += acknowledged.count
            result.acknowledged += acknowledged.count
            if !failures.isEmpty, acknowledged.isEmpty { return }
        }
    }

    /// An error as an operator may read it: no values, no paths beyond the delivery directory.
    static func describe(_ error: any Error) -> String {
        if let error = error as? CocoaError { return "cannot write the file (\(error.code.rawValue))" }
        if let error = error as? HTTPClientError { return String(describing: error) }
        if let error = error as? any UserFacingError { return error.message.en }
        return String(describing: type(of: error))
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
