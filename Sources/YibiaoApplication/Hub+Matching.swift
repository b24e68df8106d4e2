public import YibiaoMatching
public import YibiaoStore

extension Hub {
    /// Matches what waits to be matched (or, with `wholeDistrict`, every record again); with
    /// `dryRun`, only reports what would change.
    /// `stages` hears each stage of the run as it starts (for a progress line).
    public func match(
        district: String, actor: String, dryRun: Bool = false, wholeDistrict: Bool = false, stages: RunProgressObserver? = nil
    ) async throws -> ResidentLinker.Summary {
        // Records staged without matching may be our updates coming back: known before the merge.
        if !dryRun { _ = try await OutboxEchoes(district: district, logger: logger).reconcile(client) }
        var linker = linker(district, actor: actor)
        linker.progress = stages
        return try await linker.run(client, dryRun: dryRun, full: wholeDistrict)
    }

    /// Estimates m/u from the district's records and stores them as the active version.
    public func train(
        district: String, actor: String, seed: UInt64 = 1, linkThreshold: Double? = nil,
        reviewThreshold: Double? = nil
    ) async throws -> (version: Int, parameters: MatchParameters) {
        try await linker(district, actor: actor).train(client, seed: seed, linkThreshold: linkThreshold, reviewThreshold: reviewThreshold)
    }

    /// Why a system's record is linked to its resident; nil when the record has no link.
    public func explain(district: String, system: String, key: String) async throws -> CrossReferences.Link? {
        try await CrossReferences(district: district, logger: logger).link(client, system: system, key: key)
    }

    /// Every linked current record (of one system), streamed in order.
    @discardableResult
    public func crossReferences(
        district: String, system: String? = nil,
        _ body: (CrossReferences.Reference) throws -> Void
    ) async throws -> Int {
        try await CrossReferences(district: district, logger: logger).each(client, system: system, body)
    }

    /// A person says two records are the same person; matching runs again to honour it.
    public func merge(
        district: String, author: String, _ a: CrossReferences.RecordKey, _ b: CrossReferences.RecordKey,
        reason: String
    ) async throws -> ResidentLinker.Summary {
        let decisions = decisions(district, author: author)
        let first = try await decisions.record(client, system: a.system, key: a.key)
        let second = try await decisions.record(client, system: b.system, key: b.key)
        try await decisions.merge(client, first, second, reason: reason)
        try await audit(district, actor: author, "merge", subject: "\(a.system):\(a.key)+\(b.system):\(b.key)")
        return try await linker(district, actor: author).run(client)
    }

    /// A person takes a record away from its resident: it becomes a pinned resident of its own.
    public func split(
        district: String, author: String, _ record: CrossReferences.RecordKey,
        reason: String
    ) async throws -> (resident: Int64, matching: ResidentLinker.Summary) {
        let decisions = decisions(district, author: author)
        let id = try await decisions.record(client, system: record.system, key: record.key)
        let resident = try await decisions.split(client, record: id, reason: reason, rules: rules)
        try await audit(district, actor: author, "split", subject: "\(record.system):\(record.key)", AuditLog.Detail(residents: [resident]))
        return (resident, try await linker(district, actor: author).run(client))
    }

    /// Uncertain pairs waiting for a person.
    public func reviewItems(district: String, limit: Int = 50) async throws -> [ReviewQueue.Item] {
        try await ReviewQueue(district: district, author: "", logger: logger).openItems(client, limit: limit)
    }

    public func decide(
        district: String, author: String, _ item: ReviewQueue.Item, _ decision: ReviewQueue.Decision,
        reason: String
    ) async throws {
        try await ReviewQueue(district: district, author: author, logger: logger).decide(client, item, decision, reason: reason)
        try await audit(district, actor: author, "review_decide", subject: "review:\(item.reviewID)")
    }

    func decisions(_ district: String, author: String) -> ManualDecisions {
        ManualDecisions(district: district, author: author, logger: logger)
    }
}
