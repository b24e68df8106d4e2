import YibiaoCore
import YibiaoMerge
public import YibiaoStore

/// A resident's golden record and timeline, as `history` shows it.
public struct ResidentView: Sendable {
    public let id: Int64
    public let current: ResidentHistory.Resident
    public let timeline: [ResidentHistory.Event]
    /// When asked for a past time: the record as it stood then, replayed from the log.
    public let asOf: [String: String]?
}

extension Hub {
    public func conflicts(district: String, status: String? = "open", field: String? = nil, limit: Int = 50) async throws -> [Conflicts.Item] {
        try await conflictStore(district).list(client, status: status, field: field, limit: limit)
    }

    public func openConflictCounts(district: String) async throws -> [(field: String, reason: String, count: Int)] {
        try await conflictStore(district).openCounts(client)
    }

    public func conflict(district: String, id: Int64) async throws -> Conflicts.Item {
        try await conflictStore(district).show(client, id: id)
    }

    /// A person's resolution becomes an override; the golden record and the log follow.
    public func resolve(
        district: String, conflict id: Int64, _ resolution: Conflicts.Resolution, author: String,
        reason: String
    ) async throws -> GoldenRecords.Summary {
        let summary = try await conflictStore(district).resolve(client, id: id, resolution: resolution, author: author, reason: reason, today: .todayInChina())
        try await audit(district, actor: author, "conflict_resolve", subject: "conflict:\(id)", AuditLog.Detail(count: summary.entries))
        return summary
    }

    /// A resident by id or citizen ID number: its golden record with provenance and its timeline
    /// (up to `asOf`, a time as `ResidentHistory.parseTime` reads it).
    /// Reading a resident's record is audited like a consumer's read, with `reader` as the actor.
    public func history(district: String, resident reference: String, asOf: String? = nil, reader: String = "hub") async throws -> ResidentView {
        let history = ResidentHistory(district: district, rules: rules, logger: logger)
        let id = try await history.find(client, reference)
        try await audit(district, actor: reader, "read_resident", subject: "resident:\(id)", AuditLog.Detail(residents: [id], outcome: "history"))
        let timeline = try await history.timeline(client, resident: id, asOf: asOf)
        let state = asOf.map { _ in GoldenHistory.state(replaying: timeline.map(\.changes)) }
        return ResidentView(id: id, current: try await history.current(client, resident: id), timeline: timeline, asOf: state)
    }

    /// A worker's verified entry for a resident (by id or citizen ID number).
    public func enter(
        district: String, resident reference: String, values: [String: String],
        worker: String
    ) async throws -> (resident: Int64, golden: GoldenRecords.Summary) {
        let id = try await ResidentHistory(district: district, logger: logger).find(client, reference)
        let entries = WorkerEntries(district: district, worker: worker, rules: rules, logger: logger)
        let summary = try await entries.enter(client, resident: id, values: values, today: .todayInChina())
        try await audit(district, actor: worker, "entry", subject: "resident:\(id)", AuditLog.Detail(residents: [id], fields: values.keys.sorted()))
        return (id, summary)
    }

    /// Checks the district's change log from its first entry.
    public func verifyLog(district: String) async throws -> (checked: Int, firstBreak: ChangeLog.Break?) {
        try await ChangeLog.verify(client, district: district, logger: logger)
    }

    /// Quarantined rows, newest batch first.
    public func quarantine(district: String, batch: Int64? = nil, reason: String? = nil, limit: Int = 50) async throws -> [QuarantinedRows.Row] {
        try await QuarantinedRows(district: district, logger: logger).list(client, batch: batch, reason: reason, limit: limit)
    }

    public func quarantinedRow(district: String, id: Int64) async throws -> QuarantinedRows.Row? {
        try await QuarantinedRows(district: district, logger: logger).row(client, id: id)
    }

    /// A write (or an operator's read) into the audit log, in a transaction of its own.
    func audit(
        _ district: String, actor: String, _ action: String, subject: String? = nil, purpose: String? = nil,
        _ detail: AuditLog.Detail = AuditLog.Detail()
    ) async throws {
        try await immediateAudit.record(AuditLog.Entry(actor: actor, action: action, subject: subject, purpose: purpose, detail: detail), district: district)
    }

    func conflictStore(_ district: String) -> Conflicts {
        Conflicts(district: district, rules: rules, logger: logger)
    }
}
