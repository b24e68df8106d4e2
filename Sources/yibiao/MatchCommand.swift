import ArgumentParser
import Foundation
import YibiaoCore
import YibiaoMatching
import YibiaoAdapters
import YibiaoApplication
import YibiaoStore

struct Match: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            abstract: tr(
                "Link every source record to one resident (runs after each ingest too).",
                "将每条源记录关联到唯一的居民（每次导入后也会自动执行）。"),
            subcommands: [Run.self, Train.self], defaultSubcommand: Run.self)
    }
}

func printMatchSummary(_ summary: ResidentLinker.Summary, dryRun: Bool = false) {
    guard summary.records > 0 || summary.wholeDistrict else {
        print(
            tr(
                "matching: nothing is waiting to be matched (use --rerun to match the whole district again)",
                "匹配：没有待匹配的记录（如需重新匹配整个区县，请加 --rerun）"))
        if !dryRun, summary.golden.recomputed > 0 { printGoldenSummary(summary.golden) }
        return
    }
    let scope =
        summary.wholeDistrict
        ? tr("the whole district", "整个区县")
        : tr("\(summary.queued) waiting and their candidates", "\(summary.queued) 条待匹配记录及其候选")
    let keys = MatchEngine.blockingKeys.map { "\($0) \(summary.pairsByBlockingKey[$0] ?? 0)" }.joined(separator: ", ")
    print(
        tr(
            "matching (parameters v\(summary.parametersVersion), \(scope)): \(summary.records) records, \(summary.candidatePairs) candidate pairs (\(keys))",
            "匹配（参数版本 \(summary.parametersVersion)，\(scope)）：\(summary.records) 条记录，\(summary.candidatePairs) 个候选对（\(keys)）"))
    let verb = dryRun ? tr("would give", "将得到") : tr("gave", "得到")
    print(
        tr(
            "  \(verb) \(summary.residents) residents: \(summary.newResidents) new, \(summary.merges) merges, \(summary.splits) splits, \(summary.relinked) records (re)linked, \(summary.reviewItems) pairs for review",
            "  \(verb) \(summary.residents) 位居民：新增 \(summary.newResidents)，合并 \(summary.merges)，拆分 \(summary.splits)，\(summary.relinked) 条记录（重新）关联，\(summary.reviewItems) 对待人工审核"))
    if !dryRun { printGoldenSummary(summary.golden) }
}

func printGoldenSummary(_ golden: GoldenRecords.Summary) {
    print(
        tr(
            "golden records: \(golden.recomputed) recomputed, \(golden.changed) changed, \(golden.retired) retired by merges; \(golden.entries) change-log entries; conflicts \(golden.conflictsRaised) raised, \(golden.conflictsSuperseded) settled by the sources",
            "黄金记录：重算 \(golden.recomputed)，变化 \(golden.changed)，因合并停用 \(golden.retired)；变更日志 \(golden.entries) 条；冲突新增 \(golden.conflictsRaised)，由数据源自行消除 \(golden.conflictsSuperseded)"))
    if !golden.outbox.isEmpty {
        let parts = golden.outbox.keys.sorted().map { system in
            let receipt = golden.outbox[system]!
            return "\(system) \(receipt.updates)" + (receipt.held ? tr(" (held)", "（暂缓）") : "")
        }
        print(
            tr(
                "write-back: \(parts.joined(separator: ", ")) updates — see `yibiao outbox plan`",
                "回写：\(parts.joined(separator: "，")) 条更新——详见 `yibiao outbox plan`"))
    }
}

/// After an entry or a resolution: which systems will receive which fields, so that a worker
/// knows the change need not be typed anywhere else.
func printReceipts(_ outbox: [String: OutboxWriter.Receipt]) {
    let outbox = outbox.filter { !$0.value.fields.isEmpty || $0.value.refused > 0 }
    guard !outbox.isEmpty else {
        print(
            tr(
                "Every system that holds these fields has these values already: nothing to send.",
                "保存这些字段的系统中已是这些值：无需发送。"))
        return
    }
    print(tr("This change will reach:", "此次修改将送达："))
    for system in outbox.keys.sorted() {
        let receipt = outbox[system]!
        let fields = receipt.fields.sorted().map { CanonicalField.named($0).map { tr($0.label) } ?? $0 }
        let line = tr(receipt.systemName) + tr(": ", "：") + fields.joined(separator: tr(", ", "、"))
        if !fields.isEmpty {
            print(
                "  " + line
                    + (receipt.held
                        ? tr(" (waiting until the district releases this system's write-back)", "（待区里开启该系统的回写后发送）") : ""))
        }
        if receipt.refused > 0 {
            print(
                "  " + tr(receipt.systemName)
                    + tr(
                        ": a value has no code in this system and was not sent; the district's IT team sees it in `yibiao outbox dead`",
                        "：有取值在该系统中没有对应代码，未发送；区信息部门可在 `yibiao outbox dead` 中查看"))
        }
    }
    print(tr("There is no need to enter it in those systems again.", "无需再在这些系统中重复录入。"))
}

extension Match {
    struct Run: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(
                commandName: "run",
                abstract: tr(
                    "Match the records waiting to be matched (new rows and versions, records of a person's decisions) against the candidates they reach; --rerun matches the whole district again. A person's decisions stay. Use --dry-run first to see what would change.",
                    "匹配待匹配的记录（新行、新版本、人工决定涉及的记录）及其可达的候选；--rerun 重新匹配整个区县。人工决定保持不变。可先用 --dry-run 查看将发生的变化。"))
        }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var districtOption: DistrictOption
        @Flag(name: .long, help: ArgumentHelp(tr("Report what would change, change nothing.", "只报告将发生的变化，不做修改。"))) var dryRun = false
        @Flag(
            name: .long,
            help: ArgumentHelp(
                tr(
                    "Match the whole district again and recompute every automatic decision (new parameters do this by themselves).",
                    "重新匹配整个区县，重算所有自动决定（参数更新后会自动如此）。"))) var rerun = false
        @OptionGroup var progress: ProgressOption

        func run() async throws {
            let (district, dryRun, rerun) = (try districtOption.resolved(), self.dryRun, self.rerun)
            let showsProgress = progress.showsProgress
            let summary = try await database.withHub { hub in
                try await ProgressBar.showingStages(enabled: showsProgress) { stages in
                    try await hub.match(district: district, actor: cliActor(), dryRun: dryRun, wholeDistrict: rerun, stages: stages)
                }
            }
            printMatchSummary(summary, dryRun: dryRun)
        }
    }

    struct Train: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(
                abstract: tr(
                    "Estimate the m/u probabilities from the district's records (no labels) and store them as a new version.",
                    "根据本区县记录估计 m/u 概率（无需标注），并保存为新版本。"))
        }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var districtOption: DistrictOption
        @Option(name: .long, help: ArgumentHelp(tr("Seed of the random pair sample.", "随机抽样种子。"))) var seed: UInt64 = 1
        @Option(
            name: .long,
            help: ArgumentHelp(
                tr(
                    "Link automatically at or above this probability (default 0.99, or the active version's).",
                    "概率不低于此值时自动关联（默认 0.99，或沿用当前版本）。"))) var linkThreshold: Double?
        @Option(
            name: .long,
            help: ArgumentHelp(
                tr(
                    "Send to review at or above this probability (default 0.5, or the active version's).",
                    "概率不低于此值时送人工审核（默认 0.5，或沿用当前版本）。"))) var reviewThreshold: Double?

        func validate() throws {
            for value in [linkThreshold, reviewThreshold].compactMap({ $0 }) where !(value > 0 && value <= 1) {
                throw ValidationError(tr("Thresholds are probabilities above 0 and at most 1.", "阈值应为大于 0 且不大于 1 的概率。"))
            }
            if let link = linkThreshold, let review = reviewThreshold, review > link {
                throw ValidationError(tr("--review-threshold cannot be above --link-threshold.", "--review-threshold 不能高于 --link-threshold。"))
            }
        }

        func run() async throws {
            let district = try districtOption.resolved()
            let seed = self.seed, link = linkThreshold, review = reviewThreshold
            let (version, parameters) = try await database.withHub { hub in
                try await hub.train(district: district, actor: cliActor(), seed: seed, linkThreshold: link, reviewThreshold: review)
            }
            print(
                tr(
                    "Stored matching parameters version \(version) (prior \(String(format: "%.3f", parameters.prior)), link ≥ \(parameters.linkThreshold), review ≥ \(parameters.reviewThreshold)). See the effect with `yibiao match --dry-run`.",
                    "已保存匹配参数版本 \(version)（先验 \(String(format: "%.3f", parameters.prior))，关联阈值 \(parameters.linkThreshold)，审核阈值 \(parameters.reviewThreshold)）。可用 `yibiao match --dry-run` 查看影响。"))
            for comparison in Comparison.allCases {
                let levels = (1..<comparison.levelCount).map { level -> String in
                    let weight = log2(max(parameters.m[comparison.rawValue][level], 1e-6) / max(parameters.u[comparison.rawValue][level], 1e-6))
                    return "\(tr(comparison.levelName(level))) \(String(format: "%+.1f", weight))"
                }
                print("  \(tr(comparison.label)): " + levels.joined(separator: ", "))
            }
        }
    }
}

struct Explain: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            abstract: tr(
                "Say why a record is linked to its resident, comparison by comparison.",
                "逐项说明某条记录为何关联到其居民。"))
    }

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var districtOption: DistrictOption
    @Argument(help: ArgumentHelp(tr("The source system (civil_affairs, party, …).", "源系统（civil_affairs、party 等）。"))) var system: String
    @Argument(help: ArgumentHelp(tr("The record's key in that system.", "该记录在源系统中的主键。"))) var key: String

    func run() async throws {
        let district = try districtOption.resolved()
        let system = self.system, key = self.key
        guard let link = try await database.withHub({ hub in try await hub.explain(district: district, system: system, key: key) }) else {
            print(tr("No linked current record \(system) \(key) in district \(district).", "区县 \(district) 中没有已关联的当前记录 \(system) \(key)。"))
            throw ExitCode.failure
        }
        print(tr("\(system) \(key) → resident \(link.residentID) (\(link.method))", "\(system) \(key) → 居民 \(link.residentID)（\(link.method)）"))
        guard let explanation = link.explanation else {
            print(tr("  No other record matched it: it is the resident's only record.", "  没有其他记录与之匹配：它是该居民的唯一记录。"))
            return
        }
        if let other = link.other {
            print(tr("  strongest evidence: the record \(other.system) \(other.key)", "  最强证据：记录 \(other.system) \(other.key)"))
        }
        for comparison in Comparison.allCases {
            guard let evidence = explanation.evidence(comparison) else { continue }
            let effect = evidence.level == 0 ? tr("no evidence", "无证据") : String(format: "%+.1f", evidence.weight)
            print("  \(tr(comparison.label).padding(toLength: 14, withPad: " ", startingAt: 0)) \(tr(comparison.levelName(evidence.level))) (\(effect))")
        }
        if let weight = link.weight {
            print(
                tr(
                    String(format: "  total weight %+.1f → probability %.4f", weight, explanation.probability),
                    String(format: "  总权重 %+.1f → 概率 %.4f", weight, explanation.probability)))
        }
        if link.method == "deterministic" {
            print(tr("  The same valid ID number identifies the person.", "  相同的有效身份证号即可确定为同一人。"))
        }
        for note in explanation.notes { print("  " + tr(note)) }
    }
}

struct Xref: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            abstract: tr("Cross-references: which resident each system's record belongs to.", "交叉对照：各系统记录对应的居民。"),
            subcommands: [Export.self])
    }

    struct Export: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(
                abstract: tr(
                    "Write (system, source key, resident id) for every linked current record.",
                    "输出每条已关联当前记录的（系统，主键，居民编号）。"))
        }

        enum Format: String, ExpressibleByArgument, CaseIterable { case csv, jsonl }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var districtOption: DistrictOption
        @Option(name: .long, help: ArgumentHelp(tr("Only this system.", "仅此系统。"))) var system: String?
        @Option(name: .long, help: ArgumentHelp(tr("csv or jsonl.", "csv 或 jsonl。"))) var format: Format = .csv
        @Option(name: .long, help: ArgumentHelp(tr("Write to this file instead of standard output.", "写入该文件而非标准输出。"), valueName: "file")) var out: String?

        func run() async throws {
            let district = try districtOption.resolved()
            let system = self.system, format = self.format
            let handle: FileHandle
            if let out {
                guard FileManager.default.createFile(atPath: out, contents: nil), let file = FileHandle(forWritingAtPath: out) else {
                    throw ValidationError(tr("Cannot write \(out).", "无法写入 \(out)。"))
                }
                handle = file
            } else {
                handle = FileHandle.standardOutput
            }
            let writer = try CrossReferenceWriter(handle: handle, format: format)
            let count = try await database.withHub { hub in
                try await hub.crossReferences(district: district, system: system) { try writer.write($0) }
            }
            try writer.finish()
            if out != nil {
                try handle.close()
                FileHandle.standardError.write(Data(tr("Wrote \(count) cross-references to \(out!).\n", "已将 \(count) 条交叉对照写入 \(out!)。\n").utf8))
            }
        }
    }
}

/// Shared by `merge` and `split`: a person's reason is required.
struct ReasonOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(tr("Why (kept with the decision).", "原因（随决定一并保存）。")))
    var reason: String

    func validate() throws {
        if reason.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError(tr("Give a reason with --reason.", "请用 --reason 说明原因。"))
        }
    }
}

struct MergeRecords: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "merge",
            abstract: tr(
                "Declare two records the same person (kept with author and reason; never undone automatically).",
                "声明两条记录属于同一人（连同操作人和原因保存；自动匹配不会撤销）。"))
    }

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var districtOption: DistrictOption
    @OptionGroup var reasonOption: ReasonOption
    @Argument(help: ArgumentHelp(tr("SYSTEM KEY SYSTEM KEY: the two records.", "系统 主键 系统 主键：两条记录。"))) var records: [String]

    func validate() throws {
        if records.count != 4 { throw ValidationError(tr("Give two records: SYSTEM KEY SYSTEM KEY.", "请给出两条记录：系统 主键 系统 主键。")) }
    }

    func run() async throws {
        let district = try districtOption.resolved()
        let records = self.records, reason = reasonOption.reason
        let summary = try await database.withHub { hub in
            try await hub.merge(
                district: district, author: cliActor(), .init(system: records[0], key: records[1]),
                .init(system: records[2], key: records[3]), reason: reason)
        }
        print(
            tr(
                "Recorded: \(records[0]) \(records[1]) and \(records[2]) \(records[3]) are the same person.",
                "已记录：\(records[0]) \(records[1]) 与 \(records[2]) \(records[3]) 为同一人。"))
        printMatchSummary(summary)
    }
}

struct SplitRecord: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "split",
            abstract: tr(
                "Take a record away from its resident: it becomes a resident of its own, pinned (kept with author and reason).",
                "将一条记录从其居民中分出：成为单独的居民并固定（连同操作人和原因保存）。"))
    }

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var districtOption: DistrictOption
    @OptionGroup var reasonOption: ReasonOption
    @Argument(help: ArgumentHelp(tr("The source system.", "源系统。"))) var system: String
    @Argument(help: ArgumentHelp(tr("The record's key.", "记录主键。"))) var key: String

    func run() async throws {
        let district = try districtOption.resolved()
        let system = self.system, key = self.key, reason = reasonOption.reason
        let (resident, summary) = try await database.withHub { hub in
            try await hub.split(district: district, author: cliActor(), .init(system: system, key: key), reason: reason)
        }
        print(tr("Recorded: \(system) \(key) is now resident \(resident), pinned.", "已记录：\(system) \(key) 现为居民 \(resident)，已固定。"))
        printMatchSummary(summary)
    }
}

/// `xref export` rows: CSV through the feed writer, JSON Lines as canonical JSON (resident ids as numbers).
final class CrossReferenceWriter: @unchecked Sendable {
    private let output: TextOutput
    private let csv: CSVWriter?

    init(handle: FileHandle, format: Xref.Export.Format) throws {
        output = TextOutput(handle: handle)
        csv = format == .csv ? try CSVWriter(output: output, columns: ["system", "source_key", "resident_id"], lineEnding: "\n") : nil
    }

    func write(_ reference: CrossReferences.Reference) throws {
        if let csv { return try csv.append([reference.system, reference.sourceKey, String(reference.residentID)]) }
        try output.write(
            CanonicalJSON.object([
                "system": .string(reference.system), "source_key": .string(reference.sourceKey),
                "resident_id": .integer(reference.residentID),
            ]).text + "\n")
    }

    func finish() throws { try output.finish() }
}
