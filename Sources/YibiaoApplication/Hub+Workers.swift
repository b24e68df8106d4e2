import Foundation
public import YibiaoCore
public import YibiaoStore

/// A worker's entry as the sync client sends it.
public struct EntryRequest: Sendable {
    /// A resident id or citizen ID number.
    public var resident: String
    public var values: [String: String]
    /// Made once on the worker's machine: sending the entry again changes nothing.
    public var entryID: String
    /// Per field, the value the worker saw before changing it (nil: empty).
    public var seen: [String: String?]

    public init(resident: String, values: [String: String], entryID: String, seen: [String: String?] = [:]) {
        self.resident = resident
        self.values = values
        self.entryID = entryID
        self.seen = seen
    }
}

public enum EntryOutcome: Sendable {
    /// Saved: how many change-log entries it made, and which systems it will reach.
    case accepted(resident: Int64, changes: Int, reaches: [String: OutboxWriter.Receipt])
    /// This entry id was received before; nothing changed now.
    case alreadyReceived(resident: Int64, changeSeq: Int64?)
}

extension Hub {
    func workers(_ district: String) -> Workers { Workers(district: district, logger: logger) }

    public func addWorker(
        district: String, id: String, name: String, communities: Set<String>, facets: Set<CanonicalField.Domain> = [], actor: String
    ) async throws -> (Workers.Worker, token: String) {
        let added = try await workers(district).add(client, id: id, name: name, communities: communities, facets: facets, by: actor)
        try await audit(district, actor: actor, "worker_add", subject: "worker:\(id)", AuditLog.Detail(fields: added.0.fields.editable))
        return added
    }

    public func listWorkers(district: String) async throws -> [Workers.Worker] { try await workers(district).list(client) }

    public func disableWorker(district: String, id: String, actor: String) async throws {
        try await workers(district).disable(client, id: id)
        try await audit(district, actor: actor, "worker_disable", subject: "worker:\(id)")
    }

    public func rotateWorkerToken(district: String, id: String, actor: String) async throws -> String {
        let token = try await workers(district).rotateToken(client, id: id)
        try await audit(district, actor: actor, "worker_rotate_token", subject: "worker:\(id)")
        return token
    }

    public func authenticateWorker(token: String) async throws -> Workers.Worker? {
        try await Workers.authenticate(client, token: token, logger: logger)
    }

    /// The residents of the worker's communities with these citizen ID numbers, with the values
    /// the worker may read; one audit entry for the request. Invalid numbers are answered as
    /// not found, never looked up.
    /// `residents`: residents by id too (a returned form's rows).
    public func lookupForWorker(_ worker: Workers.Worker, nationalIDs: [String], residents: [Int64] = [], audit: any AuditSink) async throws -> [Workers.Found] {
        let today = CalendarDate.todayInChina()
        let valid = nationalIDs.compactMap { try? CitizenID.parse($0, today: today).get().value }
        let found = try await workers(worker.district).lookup(
            client, worker: worker, nationalIDs: Array(Set(valid)).sorted(), residents: Array(Set(residents.filter { $0 > 0 })).sorted())
        try await audit.record(
            AuditLog.Entry(
                actor: worker.actor, action: "worker_lookup", subject: "worker:\(worker.id)",
                detail: AuditLog.Detail(residents: found.map(\.resident), fields: worker.fields.readable, outcome: "\(found.count) of \(nationalIDs.count + residents.count)")),
            district: worker.district)
        return found
    }

    /// A worker's entry for a resident of its communities. A resident outside them is "not found",
    /// as one that does not exist. Throws `WorkerEntries.Conflict` when a field changed since the
    /// worker saw it; an entry id seen before answers `alreadyReceived`.
    public func submitEntry(as worker: Workers.Worker, _ request: EntryRequest, audit: any AuditSink) async throws -> EntryOutcome {
        let history = ResidentHistory(district: worker.district, logger: logger)
        let id = try await history.find(client, request.resident)
        let community = try await workers(worker.district).community(client, resident: id)
        guard case .some(.some(let code)) = community, worker.communities.contains(code) else {
            throw StoreError(
                .residentNotFound,
                message: LocalizedText(en: "there is no resident \(id) in your communities", zh: "您负责的社区中没有居民 \(id)"),
                remedy: LocalizedText(en: "check the resident, or ask the district to add the community", zh: "请核对居民，或请区里为您增加该社区"))
        }
        let refused = request.values.keys.filter { !worker.fields.mayEdit($0) }.sorted()
        guard refused.isEmpty else {
            throw StoreError(
                .fieldNotEditable,
                message: LocalizedText(
                    en: "you may not change \(refused.joined(separator: ", ")); nothing was saved",
                    zh: "您无权修改 \(refused.joined(separator: "、"))；未保存任何内容"),
                remedy: LocalizedText(en: "ask the district to grant the facet (yibiao worker add --facet)", zh: "如需修改，请区里为您授权该类信息"))
        }
        // A worker moves a resident only between its own communities; a move elsewhere is the district's.
        if let community = request.values["community_code"],
            case .success(let code) = DivisionCodeTable.standard.validateCommunity(community), !worker.communities.contains(code)
        {
            throw StoreError(
                .fieldNotEditable,
                message: LocalizedText(
                    en: "community_code: you may move a resident only to one of your communities; nothing was saved",
                    zh: "所属社区代码：只能改为您负责的社区；未保存任何内容"),
                remedy: LocalizedText(en: "the district office registers a move to another community", zh: "迁往其他社区请由区里办理"))
        }
        let entries = WorkerEntries(district: worker.district, worker: worker.actor, rules: rules, logger: logger)
        do {
            let summary = try await entries.enter(
                client, resident: id, values: request.values, today: .todayInChina(),
                submission: WorkerEntries.Submission(entryID: request.entryID, seen: request.seen))
            try await audit.record(
                AuditLog.Entry(
                    actor: worker.actor, action: "entry", subject: "resident:\(id)",
                    detail: AuditLog.Detail(residents: [id], fields: request.values.keys.sorted(), outcome: "accepted")), district: worker.district)
            return .accepted(resident: id, changes: summary.entries, reaches: summary.outbox)
        } catch let received as WorkerEntries.AlreadyReceived {
            return .alreadyReceived(resident: received.resident, changeSeq: received.changeSeq)
        }
    }
}
