import Foundation
import YibiaoAdapters
public import YibiaoCore

/// The worker's side of "enter once": the application layer of the sync client, under `yibiao
/// enter`, `yibiao sync` and the load test alike. Every entry is in the durable queue before it
/// is sent and its answer is written there after; whatever happens between, sending it again is
/// safe (the hub keeps entry ids).
public struct SyncClient: Sendable {
    public let home: ClientHome
    public let queue: EntryQueue
    public let today: CalendarDate

    public init(home: ClientHome, today: CalendarDate) {
        self.home = home
        self.queue = EntryQueue(home: home)
        self.today = today
    }

    // MARK: Checking values on the worker's machine

    /// The values as the hub will store them, or the problem with each, field by field; only
    /// fields the worker may change.
    public func check(_ values: [String: String], editable: [String]) -> (values: [String: String], problems: [String: LocalizedText]) {
        let normalizer = FieldNormalizer(today: today)
        var checked: [String: String] = [:]
        var problems: [String: LocalizedText] = [:]
        for (name, text) in values {
            guard let field = CanonicalField.named(name) else {
                problems[name] = LocalizedText(en: "\(name) is not a field", zh: "\(name) 不是字段")
                continue
            }
            guard editable.contains(name) else {
                problems[name] = LocalizedText(en: "you may not change \(name)", zh: "您无权修改\(field.label.zh)")
                continue
            }
            switch normalizer.normalise(text, as: field) {
            case .success(let value): checked[name] = value
            case .failure(let problem): problems[name] = problem.message
            }
        }
        return (checked, problems)
    }

    /// Only what differs from the hub's current values (all of them when nothing is known).
    public static func changes(_ values: [String: String], current: [String: String]?) -> [String: String] {
        guard let current else { return values }
        return values.filter { current[$0.key] != $0.value }
    }

    // MARK: Sending

    /// Saves the entry, then sends it. The answer (or `sent` with no answer, when the line
    /// dropped) is in the queue before this returns; unreachable hubs throw after saving.
    @discardableResult
    public func submit(_ entry: QueuedEntry, to hub: HubConnection) async throws -> QueuedEntry {
        try queue.save(entry)
        return try await send(entry, to: hub)
    }

    /// One entry, whatever its state was: read the hub's values first when the worker saw none
    /// (an offline entry), then send.
    @discardableResult
    public func send(_ original: QueuedEntry, to hub: HubConnection) async throws -> QueuedEntry {
        var entry = original
        if entry.seen == nil {
            let found: HubConnection.Resident?
            if let id = entry.residentID {
                found = try await hub.lookup(residents: [id])[id]
            } else {
                found = try await hub.lookup([entry.nationalID])[entry.nationalID]
            }
            guard let resident = found else {
                return try finish(entry, .rejected(code: "not_found", message: hub.notFound(entry)))
            }
            // Made offline: what the hub held when the entry was made is what the worker would have
            // seen; a value the hub changed since (or at an unknown time) is theirs to weigh.
            var seen: [String: String?] = [:]
            var conflicts: [String: QueuedEntry.Conflict] = [:]
            for (field, mine) in entry.values {
                let current = resident.fields[field]
                let changedSince = resident.changedAt[field].map { $0 > entry.createdAt } ?? (current != nil)
                if let current, current != mine, changedSince {
                    conflicts[field] = QueuedEntry.Conflict(seen: nil, current: current, mine: mine)
                } else {
                    seen[field] = .some(current)
                }
            }
            entry.seen = seen
            if !conflicts.isEmpty {
                entry.conflicts = conflicts
                entry.state = .conflict
                try queue.save(entry)
                return entry
            }
        }
        entry.state = .sent
        entry.attempts += 1
        entry.lastTried = Date()
        try queue.save(entry)
        let outcome = try await hub.send(entry)
        return try finish(entry, outcome)
    }

    func finish(_ sent: QueuedEntry, _ outcome: HubConnection.Outcome) throws -> QueuedEntry {
        var entry = sent
        switch outcome {
        case .accepted(let resident, let changes, let reaches):
            entry.state = .accepted
            entry.resident = resident
            entry.changes = changes
            entry.reaches = reaches
            entry.conflicts = [:]
        case .alreadyReceived(let resident):
            entry.state = .accepted
            entry.resident = resident
            entry.alreadyReceived = true
            entry.conflicts = [:]
        case .conflict(let fields):
            entry.state = .conflict
            entry.conflicts = Dictionary(
                uniqueKeysWithValues: fields.compactMap { field, pair in
                    entry.values[field].map { (field, QueuedEntry.Conflict(seen: pair.seen, current: pair.current, mine: $0)) }
                })
        case .rejected(let code, let message):
            entry.state = .rejected
            entry.reasonCode = code
            entry.reason = message
        }
        try queue.save(entry)
        return entry
    }

    public struct PushReport: Sendable {
        public var sent: [QueuedEntry] = []
        /// Set when the hub could not be reached: the rest wait.
        public var unreachable: SyncError?
        public var skippedBusy = false
        public var waiting: Int = 0
    }

    /// Sends every entry still waiting (or sent without an answer), oldest first; stops at the
    /// first sign the hub is out of reach. With `wait` false, gives way to another `yibiao`
    /// process already sending.
    public func push(to hub: HubConnection, wait: Bool = true) async throws -> PushReport {
        let result = try await queue.exclusively(wait: wait) { () async throws -> PushReport in
            var report = PushReport()
            let pending = try queue.entries().filter { $0.state.isPending }
            for (index, entry) in pending.enumerated() {
                do {
                    report.sent.append(try await send(entry, to: hub))
                } catch let error as SyncError where error.kind == .unreachable {
                    report.unreachable = error
                    report.waiting = pending.count - index
                    break
                }
            }
            return report
        }
        return result ?? PushReport(skippedBusy: true)
    }

    public enum Keep: String, Sendable, CaseIterable {
        case mine, hub
    }

    /// The worker's decision on a conflict, field by field (all conflicting fields when `fields`
    /// is empty): keep their value (sent again, now knowing the hub's) or the hub's (the field
    /// leaves the entry). Returns the entry, ready to send or withdrawn.
    public func resolve(_ id: String, keep: Keep, fields: [String] = []) throws -> QueuedEntry {
        var entry = try queue.find(id)
        guard entry.state == .conflict else {
            throw SyncError(
                .badInput, LocalizedText(en: "entry \(entry.id.prefix(8)) has no conflict", zh: "录入 \(entry.id.prefix(8)) 没有冲突"))
        }
        let chosen = fields.isEmpty ? Array(entry.conflicts.keys) : fields
        for field in chosen {
            guard let conflict = entry.conflicts[field] else {
                throw SyncError(.badInput, LocalizedText(en: "\(field) is not in conflict in this entry", zh: "该录入中 \(field) 没有冲突"))
            }
            switch keep {
            case .mine:
                var seen = entry.seen ?? [:]
                seen[field] = .some(conflict.current)
                entry.seen = seen
            case .hub:
                entry.values[field] = nil
                entry.seen?[field] = nil
            }
            entry.conflicts[field] = nil
        }
        if entry.conflicts.isEmpty { entry.state = entry.values.isEmpty ? .withdrawn : .waiting }
        try queue.save(entry)
        return entry
    }
}
