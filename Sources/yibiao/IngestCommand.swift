import ArgumentParser
import Foundation
import YibiaoAdapters
import YibiaoCore
import YibiaoApplication
import YibiaoStore

/// `--district`, else YIBIAO_DISTRICT: every record belongs to one district.
struct DistrictOption: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            tr(
                "The district (6-digit GB/T 2260 code; default: $YIBIAO_DISTRICT).",
                "所属区县（6 位 GB/T 2260 代码；默认 $YIBIAO_DISTRICT）。"), valueName: "code"))
    var district: String?

    func resolved() throws -> String {
        guard let code = district ?? CLI.environment["YIBIAO_DISTRICT"], !code.isEmpty else {
            throw ValidationError(
                tr(
                    "Say which district with --district 110105 (or set YIBIAO_DISTRICT).",
                    "请用 --district 110105 指定区县（或设置 YIBIAO_DISTRICT）。"))
        }
        switch DivisionCodeTable.standard.validate(code) {
        case .success(let valid): return valid
        case .failure(let error): throw ValidationError("--district: " + tr(error.message))
        }
    }
}

struct Ingest: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            abstract: tr(
                "Stage a feed file: read, normalise, quarantine bad rows, store new and changed records. Safe to run again.",
                "导入数据文件：读取、规范化、隔离问题行、保存新增和变化的记录。可安全地重复执行。"))
    }

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var districtOption: DistrictOption
    @Argument(help: ArgumentHelp(tr("The adapter file, or swift:NAME for an adapter written in Swift.", "适配器文件，或 swift:名称 表示 Swift 编写的适配器。"), valueName: "adapter.yaml")) var adapter: String
    @Argument(help: ArgumentHelp(tr("The feed file.", "数据文件。"), valueName: "feed")) var feed: String
    @OptionGroup var progress: ProgressOption
    @Flag(name: .long, help: ArgumentHelp(tr("Stage only; do not match (run `yibiao match` later).", "只暂存，不匹配（稍后执行 `yibiao match`）。"))) var noMatch = false
    @Flag(
        name: .long,
        help: ArgumentHelp(
            tr(
                "Read the file even if it is the system's latest batch, unchanged, under the same adapter; and check every row again, even rows already held.",
                "即使该文件与本系统最近一批完全相同（适配器也未变），仍重新读取；并重新校验每一行，包括已暂存的行。"))) var force = false

    func run() async throws {
        let request = IngestRequest(
            adapter: try FeedAdapterRegistry.load(adapter), file: URL(fileURLWithPath: feed),
            district: try districtOption.resolved(), actor: cliActor(), match: !noMatch, rereadUnchangedFile: force)
        let showsProgress = progress.showsProgress
        let bar = ProgressBar(
            enabled: showsProgress, totalRows: showsProgress ? ProgressBar.estimateRows(request.file, adapter: request.adapter) : nil)
        let outcome = try await database.withHub { hub in
            defer { bar.finish() }
            return try await hub.ingest(request, progress: { bar.update($0.rowsRead, elapsed: $0.elapsed) }, stages: { bar.stage($0) })
        }
        for batch in outcome.staging.interrupted {
            print(
                tr(
                    "Batch \(batch.batchID) (\(batch.system) · \(batch.fileName)) had stopped before it finished; it is now marked failed (its committed rows stay).",
                    "批次 \(batch.batchID)（\(batch.system) · \(batch.fileName)）此前未完成即中断；现已标记为失败（已提交的行保留）。"))
        }
        printSummary(outcome.staging, system: request.adapter.system)
        printEchoes(outcome.echoes)
        if let matched = outcome.matching { printMatchSummary(matched) }
        if let caughtUp = outcome.caughtUp, caughtUp.recomputed > 0 { printGoldenSummary(caughtUp) }
        if let issue = outcome.staging.fileIssue { throw issue }
    }

    func printEchoes(_ echoes: OutboxEchoes.Summary) {
        if echoes.confirmed > 0 || echoes.notApplied > 0 || echoes.overtaken > 0 {
            print(
                tr(
                    "  write-back: \(echoes.confirmed) of our updates came back (confirmed, nothing to change), \(echoes.notApplied) not applied by the system, \(echoes.overtaken) overtaken by its own newer values",
                    "  回写：\(echoes.confirmed) 条更新已回传（已证实，无需变更），\(echoes.notApplied) 条系统未采用，\(echoes.overtaken) 条已被系统自身的新值取代"))
        }
        if echoes.notApplied > 0 {
            print(
                tr(
                    "  the feed still carries the old values of \(echoes.notApplied) delivered updates: they are not taken as news — see `yibiao outbox status`",
                    "  数据中仍有 \(echoes.notApplied) 条已投递更新的旧值：不视为新信息——见 `yibiao outbox status`"))
        }
    }

    func printSummary(_ summary: Ingestor.Summary, system: String) {
        if let batch = summary.unchangedSinceBatch {
            print(
                tr(
                    "\(system) · \(feed) is unchanged since batch \(batch) (same file, same adapter): nothing to read. Use --force to read it again.",
                    "\(system) · \(feed) 自批次 \(batch) 以来未变（文件与适配器均相同）：无需读取。如需重新读取，请加 --force。"))
            return
        }
        print(tr("\(system) · batch \(summary.batchID) · \(feed)", "\(system) · 批次 \(summary.batchID) · \(feed)"))
        print(
            tr(
                "  read \(summary.read) = staged \(summary.staged) (of which \(summary.newVersions) changed) + unchanged \(summary.unchanged) + quarantined \(summary.quarantined)",
                "  读取 \(summary.read) = 暂存 \(summary.staged)（其中变化 \(summary.newVersions)）+ 未变 \(summary.unchanged) + 隔离 \(summary.quarantined)"))
        if !summary.quarantineReasons.isEmpty {
            let reasons = summary.quarantineReasons.keys.sorted().map { "\($0) \(summary.quarantineReasons[$0]!)" }.joined(separator: ", ")
            print(
                tr(
                    "  quarantined: \(reasons) — see `yibiao quarantine list --batch \(summary.batchID)`",
                    "  隔离原因：\(reasons)——详见 `yibiao quarantine list --batch \(summary.batchID)`"))
        }
    }
}

/// Rows, rows/s and ETA on standard error, only when it is a terminal; then each stage of the
/// matching and golden refresh, with its seconds so far.
final class ProgressBar: @unchecked Sendable {
    private let enabled: Bool
    private let totalRows: Int?
    private let lock = NSLock()
    private var lastDraw = ContinuousClock.now - .seconds(1)
    private var stage: RunProgress?
    private var stageStarted = ContinuousClock.now
    private var ticker: Task<Void, Never>?

    init(enabled: Bool, totalRows: Int?) {
        self.enabled = enabled
        self.totalRows = totalRows
    }

    /// Runs `body` with a bar showing the stages it reports (when `enabled`), cleared after.
    static func showingStages<T>(enabled: Bool, _ body: (@escaping RunProgressObserver) async throws -> T) async throws -> T {
        let bar = ProgressBar(enabled: enabled, totalRows: nil)
        defer { bar.finish() }
        return try await body { bar.stage($0) }
    }

    /// Line-based formats: count the lines once (fast) so that an ETA can be shown.
    static func estimateRows(_ url: URL, adapter: any FeedAdapter) -> Int? {
        guard let format = (adapter as? YAMLFeedAdapter)?.spec.format else { return nil }
        switch format {
        case .csv, .jsonLines: break
        default: return nil
        }
        guard let handle = FileHandle(forReadingAtPath: url.path) else { return nil }
        defer { try? handle.close() }
        var lines = 0
        while let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            lines += chunk.withUnsafeBytes { bytes in bytes.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) } }
        }
        return max(lines - (format.isTabular ? 1 : 0), 1)
    }

    func update(_ rows: Int, elapsed: Duration) {
        guard enabled else { return }
        lock.withLock {
            let now = ContinuousClock.now
            guard now - lastDraw > .milliseconds(200) else { return }
            lastDraw = now
            let seconds = max(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18, 0.001)
            let rate = Double(rows) / seconds
            var line = "\r"
            if let total = totalRows {
                let fraction = min(Double(rows) / Double(total), 1)
                let filled = Int(fraction * 30)
                let eta = rate > 0 ? Int(Double(max(total - rows, 0)) / rate) : 0
                line += "[" + String(repeating: "█", count: filled) + String(repeating: "·", count: 30 - filled) + "] "
                line += String(format: "%3.0f%% ", fraction * 100)
                line += tr(
                    "\(rows)/\(total) rows, \(Int(rate)) rows/s, ETA \(eta / 60)m\(eta % 60)s",
                    "\(rows)/\(total) 行，\(Int(rate)) 行/秒，剩余约 \(eta / 60) 分 \(eta % 60) 秒")
            } else {
                line += tr("\(rows) rows, \(Int(rate)) rows/s", "\(rows) 行，\(Int(rate)) 行/秒")
            }
            FileHandle.standardError.write(Data((line + "   ").utf8))
        }
    }

    /// A stage has started (or counted further): shown at once, then redrawn each second so
    /// that a long stage visibly goes on.
    func stage(_ progress: RunProgress) {
        guard enabled else { return }
        lock.withLock {
            if stage?.stage != progress.stage { stageStarted = .now }
            stage = progress
            drawStage()
            guard ticker == nil else { return }
            ticker = Task { [weak self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    guard let self else { return }
                    self.lock.withLock { self.drawStage() }
                }
            }
        }
    }

    /// Under `lock`.
    private func drawStage() {
        guard let stage else { return }
        let seconds = (ContinuousClock.now - stageStarted).components.seconds
        let line = "\r\u{1B}[K" + tr(stage.text) + tr(" · \(seconds) s…", " · \(seconds) 秒…")
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() {
        guard enabled else { return }
        lock.withLock {
            ticker?.cancel()
            ticker = nil
            stage = nil
        }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
