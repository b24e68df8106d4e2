public import Foundation
public import YibiaoAdapters
import YibiaoCore
public import YibiaoStore

/// One feed file for one district.
public struct IngestRequest: Sendable {
    public var adapter: any FeedAdapter
    public var file: URL
    public var district: String
    public var actor: String
    /// Match and refresh golden records after staging (the default); false stages only.
    public var match = true
    /// Read the file even when it is the system's latest batch, unchanged, under the same adapter.
    public var rereadUnchangedFile = false

    public init(adapter: any FeedAdapter, file: URL, district: String, actor: String, match: Bool = true, rereadUnchangedFile: Bool = false) {
        self.adapter = adapter
        self.file = file
        self.district = district
        self.actor = actor
        self.match = match
        self.rereadUnchangedFile = rereadUnchangedFile
    }
}

/// What an ingest did: staging always; matching when there was something to match; the golden
/// records an earlier, interrupted run left stale, when nothing new came in.
public struct IngestOutcome: Sendable {
    public let staging: Ingestor.Summary
    public let matching: ResidentLinker.Summary?
    public let caughtUp: GoldenRecords.Summary?
    /// Our own updates the feed brought back, and those it shows were not applied.
    public var echoes = OutboxEchoes.Summary()
}

extension Hub {
    /// Stages a feed, matches what it brought, and brings golden records and the change log up to
    /// date — each step safe to run again after a crash. `progress` hears the rows read;
    /// `stages`, each stage of the matching and golden refresh after them.
    public func ingest(
        _ request: IngestRequest, progress: @escaping @Sendable (Ingestor.Progress) -> Void = { _ in },
        stages: RunProgressObserver? = nil
    ) async throws -> IngestOutcome {
        try FeedFile.check(request.file)
        var ingestor = Ingestor(adapter: request.adapter, district: request.district, actor: request.actor, today: .todayInChina(), logger: logger)
        ingestor.rereadUnchangedFile = request.rereadUnchangedFile
        let summary = try await ingestor.ingest(request.file, client: client, progress: progress)
        if summary.staged > 0 {
            try await audit(
                request.district, actor: request.actor, "ingest", subject: "\(request.adapter.system) batch:\(summary.batchID)",
                AuditLog.Detail(count: summary.staged))
        }
        // After staging (which records the district and the system), before the golden records
        // that route updates by it.
        if let spec = (request.adapter as? YAMLFeedAdapter)?.spec {
            try await OutboundSystems(district: request.district, logger: logger).register(spec, client)
        }
        guard request.match else { return IngestOutcome(staging: summary, matching: nil, caughtUp: nil) }
        var linker = linker(request.district, actor: request.actor)
        linker.progress = stages
        // Records left unlinked by an earlier run that stopped half-way are matched now too.
        let unlinked = summary.staged > 0 ? summary.batchID : try await linker.firstUnlinkedBatch(client)
        if let unlinked {
            // Before matching: the merge must know which values are our own updates coming back
            // (this feed's system, or any system when catching up). With nothing to match,
            // nothing new came from a system: nothing to check.
            let echoes = OutboxEchoes(district: request.district, logger: logger)
            let system = summary.staged > 0 ? request.adapter.system : nil
            let before = try await echoes.reconcile(client, system: system)
            let matching = try await linker.run(client, cause: .batch(unlinked))
            // A resident sent to the system as new is recognised once its record is linked.
            let after = try await echoes.reconcile(client, system: system)
            return IngestOutcome(staging: summary, matching: matching, caughtUp: nil, echoes: before + after)
        }
        // Nothing new: golden records follow only a change of rules (every other input changes
        // them in its own transaction).
        let cause = summary.unchangedSinceBatch.map(ChangeCause.batch) ?? .batch(summary.batchID)
        var refresh = golden(request.district)
        refresh.progress = stages
        let golden = try await refresh.refresh(client, cause: cause, actor: request.actor, residents: [])
        return IngestOutcome(staging: summary, matching: nil, caughtUp: golden)
    }

    func linker(_ district: String, actor: String) -> ResidentLinker {
        ResidentLinker(district: district, actor: actor, rules: rules, logger: logger)
    }

    func golden(_ district: String) -> GoldenRecords {
        GoldenRecords(district: district, rules: rules, logger: logger)
    }
}
