import Crypto
public import Foundation
import Logging
import PostgresNIO
import YibiaoAdapters
public import YibiaoCore
public import YibiaoStore

/// Where a disclosure's audit entry goes. A read returns its data only after `record` returned:
/// no disclosure without its entry on disk.
public protocol AuditSink: Sendable {
    func record(_ entry: AuditLog.Entry, district: String) async throws
}

/// Each entry in a transaction of its own: for the CLI, one command at a time.
public struct ImmediateAudit: AuditSink {
    let hub: Hub

    public func record(_ entry: AuditLog.Entry, district: String) async throws {
        try await AuditLog.record([entry], district: district, client: hub.client, logger: hub.logger)
    }
}

/// Group commit for the server: entries that arrive while one batch is being written go into the
/// next, one transaction per district and batch, so a busy server writes its audit log in a few
/// round trips a second instead of one per request — and each request still waits until its own
/// entry has committed, so a crash loses no entry of anything already answered.
public actor AuditRecorder: AuditSink {
    private let hub: Hub
    private var waiting: [(district: String, entry: AuditLog.Entry, done: CheckedContinuation<Void, any Error>)] = []
    private var writing = false
    public private(set) var batches = 0
    public private(set) var entries = 0

    public init(hub: Hub) { self.hub = hub }

    public func record(_ entry: AuditLog.Entry, district: String) async throws {
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
            waiting.append((district, entry, done))
            if !writing {
                writing = true
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        while !waiting.isEmpty {
            let batch = waiting
            waiting = []
            let byDistrict = Dictionary(grouping: batch, by: \.district)
            for (district, items) in byDistrict {
                do {
                    try await AuditLog.record(items.map(\.entry), district: district, client: hub.client, logger: hub.logger)
                    batches += 1
                    entries += items.count
                    for item in items { item.done.resume() }
                } catch {
                    for item in items { item.done.resume(throwing: error) }
                }
            }
        }
        writing = false
    }
}

/// A finished extract: the file, its manifest and what they say.
public struct ExtractResult: Sendable {
    public let file: URL
    public let manifest: URL
    public let rows: Int
    public let cursor: Int64
    public let sha256: String
}

public enum ExtractFormat: String, Sendable, CaseIterable {
    case csv, jsonl, xlsx
}

extension Hub {
    public var immediateAudit: ImmediateAudit { ImmediateAudit(hub: self) }

    func consumers(_ district: String) -> Consumers { Consumers(district: district, logger: logger) }

    /// Every system the hub knows, with the domain it owns (`other` and `community` as core).
    public func knownSystems() async throws -> [String: CanonicalField.Domain] {
        try await ConsumerReads.systemDomains(client, logger: logger)
    }

    // MARK: Consumers, as the district's IT team manages them (each change audited)

    public func addConsumer(district: String, _ definition: Consumers.Definition, actor: String) async throws -> (Consumers.Consumer, token: String) {
        let added = try await consumers(district).add(client, definition, by: actor, knownSystems: try await knownSystems())
        try await audit(
            district, actor: actor, "consumer_add", subject: "consumer:\(definition.id)", purpose: definition.purpose,
            AuditLog.Detail(fields: added.0.grant.allowedFields))
        return added
    }

    public func listConsumers(district: String) async throws -> [Consumers.Consumer] {
        try await consumers(district).list(client)
    }

    public func consumer(district: String, id: String) async throws -> Consumers.Consumer {
        try await consumers(district).show(client, id: id)
    }

    public func disableConsumer(district: String, id: String, actor: String) async throws {
        try await consumers(district).disable(client, id: id, by: actor)
        try await audit(district, actor: actor, "consumer_disable", subject: "consumer:\(id)")
    }

    public func rotateConsumerToken(district: String, id: String, actor: String) async throws -> String {
        let token = try await consumers(district).rotateToken(client, id: id)
        try await audit(district, actor: actor, "consumer_rotate_token", subject: "consumer:\(id)")
        return token
    }

    /// The active consumer a bearer token belongs to; nil for anything else.
    public func authenticate(token: String) async throws -> Consumers.Consumer? {
        try await Consumers.authenticate(client, token: token, logger: logger)
    }

    // MARK: Reads, each through the consumer's grant and into the audit log before it is returned

    func entry(_ consumer: Consumers.Consumer, _ action: String, subject: String?, detail: AuditLog.Detail) -> AuditLog.Entry {
        AuditLog.Entry(actor: "consumer:\(consumer.id)", action: action, subject: subject, purpose: consumer.purpose, detail: detail)
    }

    public func readResident(as consumer: Consumers.Consumer, id: Int64, audit: any AuditSink) async throws -> ConsumerReads.ResidentRow? {
        let row = try await ConsumerReads(consumer: consumer, logger: logger).resident(client, id: id)
        try await audit.record(
            entry(
                consumer, "read_resident", subject: "resident:\(id)",
                detail: AuditLog.Detail(residents: row.map { [$0.id] }, fields: row.map { $0.fields.keys.sorted() }, outcome: row == nil ? "not_found" : "found")),
            district: consumer.district)
        return row
    }

    /// The ID number itself never goes into the audit log, only whom it found.
    public func lookup(as consumer: Consumers.Consumer, nationalID: String, audit: any AuditSink) async throws -> ConsumerReads.ResidentRow? {
        let row = try await ConsumerReads(consumer: consumer, logger: logger).lookup(client, nationalID: nationalID)
        try await audit.record(
            entry(
                consumer, "lookup_national_id", subject: row.map { "resident:\($0.id)" },
                detail: AuditLog.Detail(residents: row.map { [$0.id] }, fields: row.map { $0.fields.keys.sorted() }, outcome: row == nil ? "not_found" : "found")),
            district: consumer.district)
        return row
    }

    public func crossReference(
        as consumer: Consumers.Consumer, system: String, key: String, audit: any AuditSink
    ) async throws -> (resident: Int64, keys: [(system: String, key: String)])? {
        let found = try await ConsumerReads(consumer: consumer, logger: logger).crossReference(client, system: system, key: key)
        try await audit.record(
            entry(
                consumer, "cross_reference", subject: found.map { "resident:\($0.resident)" },
                detail: AuditLog.Detail(
                    residents: found.map { [$0.resident] }, fields: found.map { Array(Set($0.keys.map(\.system))).sorted() },
                    outcome: found == nil ? "not_found" : "found")), district: consumer.district)
        return found
    }

    /// The district's last change-log sequence number.
    public func changeLogHead(district: String) async throws -> Int64 {
        try await ConsumerReads.head(client, district: district, logger: logger)
    }

    /// A page of the change feed; with `wait`, a page with nothing new waits up to that long for
    /// the next change (long poll).
    public func changes(
        as consumer: Consumers.Consumer, after: Int64, limit: Int, wait: Duration = .zero, audit: any AuditSink
    ) async throws -> ConsumerReads.ChangePage {
        let reads = ConsumerReads(consumer: consumer, logger: logger)
        let deadline = ContinuousClock.now + wait
        var page = try await reads.changes(client, after: after, limit: limit)
        while page.changes.isEmpty, page.through == page.head, ContinuousClock.now < deadline {
            // Polling the head row (one index lookup) a few times a second; a woken page is read at once.
            try await Task.sleep(for: min(.milliseconds(250), deadline - ContinuousClock.now))
            if try await ConsumerReads.head(client, district: consumer.district, logger: logger) > page.head {
                page = try await reads.changes(client, after: page.through, limit: limit)
            }
        }
        if !page.changes.isEmpty || page.through > after {
            try await audit.record(
                entry(
                    consumer, "changes", subject: nil,
                    detail: AuditLog.Detail(
                        residents: Array(Set(page.changes.map(\.resident))).sorted(), count: page.changes.count,
                        fields: Array(Set(page.changes.flatMap(\.changes.keys))).sorted(), after: after, through: page.through)),
                district: consumer.district)
        }
        return page
    }

    /// Streams the consumer's residents (all, or those changed after `since`) to `body` — the
    /// server's streamed extract. The audit entry is recorded before the first row.
    public func extractRows(
        as consumer: Consumers.Consumer, since: Int64?, format: String, audit: any AuditSink,
        _ body: (ConsumerReads.ResidentRow) async throws -> Void
    ) async throws -> (rows: Int, cursor: Int64) {
        try await ConsumerReads(consumer: consumer, logger: logger).extract(
            client, since: since,
            snapshot: { cursor in
                try await audit.record(
                    entry(
                        consumer, "extract", subject: nil,
                        detail: AuditLog.Detail(fields: consumer.grant.allowedFields, after: since, through: cursor, format: format)),
                    district: consumer.district)
            }, body)
    }

    /// Writes an extract file and its manifest (`FILE.manifest.json`: rows, cursor, SHA-256). The
    /// rows go to a temporary file beside it; the audit entry commits before it is renamed into
    /// place, so a file never appears without its entry.
    public func extract(
        as consumer: Consumers.Consumer, since: Int64?, format: ExtractFormat, to file: URL, actor: String,
        progress: @Sendable (Int) -> Void = { _ in }
    ) async throws -> ExtractResult {
        let reads = ConsumerReads(consumer: consumer, logger: logger)
        let directory = file.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(".\(file.lastPathComponent).partial")
        let fields = consumer.grant.allowedFields
        let columns = ["resident_id", "status", "merged_into"] + fields
        try? FileManager.default.removeItem(at: temporary)
        let writer = try ExtractWriter(format: format, url: temporary, columns: columns)
        let (rows, cursor): (Int, Int64)
        do {
            (rows, cursor) = try await reads.extract(client, since: since, snapshot: { _ in }) { row in
                try writer.append([String(row.id), row.status, row.mergedInto.map(String.init)] + fields.map { row.fields[$0] })
                if writer.rows % 10_000 == 0 { progress(writer.rows) }
            }
            try writer.finish()
            // Personal data: readable by the owner and its group only.
            try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: temporary.path)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
        let digest = try Self.sha256(of: temporary)
        try await audit(
            consumer.district, actor: actor, "extract", subject: "consumer:\(consumer.id)", purpose: consumer.purpose,
            AuditLog.Detail(count: rows, fields: fields, after: since, through: cursor, format: format.rawValue))
        try? FileManager.default.removeItem(at: file)
        try FileManager.default.moveItem(at: temporary, to: file)
        let manifest = file.appendingPathExtension("manifest.json")
        let masked = fields.filter { consumer.grant.mask(for: $0) != .none }
        let document: [String: CanonicalJSON] = [
            "consumer": .string(consumer.id), "district": .string(consumer.district), "file": .string(file.lastPathComponent),
            "format": .string(format.rawValue), "rows": .integer(Int64(rows)), "cursor": .integer(cursor),
            "since": since.map(CanonicalJSON.integer) ?? .null, "sha256": .string(digest),
            "columns": .array(columns.map(CanonicalJSON.string)), "masked": .array(masked.map(CanonicalJSON.string)),
            "kind": .string(since == nil ? "snapshot" : "changes_since"),
            "created_at": .string(ISO8601DateFormatter().string(from: Date())),
        ]
        try Data((CanonicalJSON.object(document).text + "\n").utf8).write(to: manifest)
        try? FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: manifest.path)
        return ExtractResult(file: file, manifest: manifest, rows: rows, cursor: cursor, sha256: digest)
    }

    static func sha256(of url: URL) throws -> String {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { hasher.update(data: chunk) }
        return hasher.finalize().hexString
    }

    // MARK: The audit log itself (reading it is audited too)

    public func auditEntries(district: String, actor: String?, action: String?, limit: Int, reader: String) async throws -> [AuditLog.Listed] {
        let listed = try await AuditLog.list(client, district: district, actor: actor, action: action, limit: limit, logger: logger)
        try await audit(district, actor: reader, "audit_list", AuditLog.Detail(count: listed.count))
        return listed
    }

    public func verifyAudit(district: String, reader: String) async throws -> (checked: Int, firstBreak: ChangeLog.Break?) {
        let result = try await AuditLog.verify(client, district: district, logger: logger)
        // Recorded after the check, so a broken chain is reported as it was found.
        if result.firstBreak == nil {
            try await audit(district, actor: reader, "audit_verify", AuditLog.Detail(count: result.checked, outcome: "intact"))
        }
        return result
    }
}

/// One writer for the three extract formats.
final class ExtractWriter {
    private let csv: CSVWriter?
    private let jsonl: JSONLinesWriter?
    private let xlsx: XLSXWriter?
    private(set) var rows = 0

    init(format: ExtractFormat, url: URL, columns: [String]) throws {
        switch format {
        case .csv:
            csv = try CSVWriter(output: TextOutput(url: url), columns: columns)
            (jsonl, xlsx) = (nil, nil)
        case .jsonl:
            jsonl = try JSONLinesWriter(url: url, columns: columns)
            (csv, xlsx) = (nil, nil)
        case .xlsx:
            let writer = try XLSXWriter(url: url, sheetName: "extract")
            try writer.append(columns)
            xlsx = writer
            (csv, jsonl) = (nil, nil)
        }
    }

    func append(_ cells: [String?]) throws {
        rows += 1
        try csv?.append(cells)
        try jsonl?.append(cells)
        try xlsx?.append(cells)
    }

    func finish() throws {
        try csv?.finish()
        try jsonl?.finish()
        try xlsx?.finish()
    }
}
