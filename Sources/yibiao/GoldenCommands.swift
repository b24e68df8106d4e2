import ArgumentParser
import Foundation
import YibiaoCore
import YibiaoMerge
import YibiaoApplication
import YibiaoStore

/// A field's name in the user's language.
func fieldLabel(_ field: String) -> String {
    CanonicalField.named(field).map { tr($0.label) } ?? field
}

/// ID numbers on screen show the first 6 and last 4 characters unless asked otherwise.
func displayValue(_ field: String, _ value: String?, unmasked: Bool) -> String {
    guard let value else { return tr("(none)", "（无）") }
    if field == "national_id" || field == "national_id_raw", !unmasked { return Masking.identifier(value) }
    // Codes with their meaning: 20 已婚.
    let table: String? =
        switch CanonicalField.named(field)?.kind {
        case .code(let name): name
        case .sex: "sex"
        default: nil
        }
    if let table, let entry = CodeTable.shipped[table]?.entry(code: value) { return "\(value) " + tr(entry.labelEN, entry.label) }
    return value
}

func conflictReason(_ code: String) -> String {
    switch code {
    case "trusted_sources_disagree": tr("trusted sources disagree", "可信来源不一致")
    case "sources_disagree": tr("sources disagree", "来源不一致")
    case "newer_than_override": tr("a source sent a newer, different value after a person's resolution", "人工处理后，数据源又发来了不同的新值")
    case "death_before_birth": tr("the date of death is before the date of birth", "死亡日期早于出生日期")
    default: code
    }
}

func provenance(_ value: FieldValue) -> String {
    if value.rule == "override" { return tr("a person's resolution", "人工处理结果") }
    if value.rule == GoldenRecords.storedRule {
        // A retired resident's values, or values other rules will change at the next run.
        return tr("as stored; its current records do not give this value", "按已存值；其当前记录未给出此值")
    }
    let source = [value.system, value.recordID.map { tr("record \($0)", "记录 \($0)") }].compactMap { $0 }.joined(separator: " ")
    return "\(source) · \(value.rule)"
}

struct ShowIDsFlag: ParsableArguments {
    @Flag(name: .customLong("show-ids"), help: ArgumentHelp(tr("Show ID numbers in full (they are masked by default).", "完整显示身份证号（默认遮盖）。")))
    var showIDs = false
}

struct ConflictsCommand: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "conflicts",
            abstract: tr(
                "Disagreements between sources that need a person: list, show, resolve.", "需要人工判断的数据源分歧：列出、查看、处理。"),
            subcommands: [List.self, Show.self, Resolve.self])
    }
}

extension ConflictsCommand {
    struct List: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(
                abstract: tr(
                    "List open conflicts (or all with --all), oldest first, with counts by field.",
                    "列出待处理的冲突（--all 列出全部），最早的在前，并按字段统计。"))
        }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var districtOption: DistrictOption
        @OptionGroup var ids: ShowIDsFlag
        @Flag(name: .long, help: ArgumentHelp(tr("Resolved and superseded ones too.", "包括已处理和已失效的。"))) var all = false
        @Option(name: .long, help: ArgumentHelp(tr("Only this field (e.g. birth_date).", "仅此字段（如 birth_date）。"))) var field: String?
        @Option(name: .long, help: ArgumentHelp(tr("At most this many.", "最多显示条数。"))) var limit = 50

        func run() async throws {
            let district = try districtOption.resolved()
            let (status, field, limit) = (all ? nil : "open", self.field, self.limit)
            let (items, counts) = try await database.withHub { hub in
                (
                    try await hub.conflicts(district: district, status: status, field: field, limit: limit),
                    try await hub.openConflictCounts(district: district)
                )
            }
            if items.isEmpty {
                print(tr("No conflicts.", "没有冲突。"))
                return
            }
            for item in items {
                let values = item.candidates.map { candidate in
                    displayValue(item.field, candidate.value, unmasked: ids.showIDs) + " (" + candidate.systems.joined(separator: ", ") + ")"
                }.joined(separator: tr(" vs ", " 与 "))
                let state = item.status == "open" ? "" : " [\(item.status)]"
                print(
                    "#\(item.id)\(state)  " + tr("resident \(item.residentID)", "居民 \(item.residentID)") + " \(item.residentName ?? "")  "
                        + fieldLabel(item.field) + tr(": ", "：") + "\(values) — \(conflictReason(item.reason))")
            }
            let total = counts.reduce(0) { $0 + $1.count }
            let byField = counts.map { "\(fieldLabel($0.field)) \($0.count)" }.joined(separator: tr(", ", "，"))
            print(
                tr(
                    "\(total) open: \(byField). Resolve with `yibiao conflicts resolve ID --choose N --reason …`.",
                    "共 \(total) 条待处理：\(byField)。处理方式：`yibiao conflicts resolve 编号 --choose N --reason …`。"))
        }
    }

    struct Show: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(
                abstract: tr(
                    "Show one conflict: each candidate value, which systems and records sent it, and the value in use now.",
                    "查看一条冲突：各候选值、来自哪些系统和记录，以及当前采用的值。"))
        }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var districtOption: DistrictOption
        @OptionGroup var ids: ShowIDsFlag
        @Argument(help: ArgumentHelp(tr("The conflict number.", "冲突编号。"))) var id: Int64

        func run() async throws {
            let district = try districtOption.resolved()
            let id = self.id
            let item = try await database.withHub { hub in try await hub.conflict(district: district, id: id) }
            print(tr("Conflict #\(item.id) (\(item.status)), raised \(item.createdAt)", "冲突 #\(item.id)（\(item.status)），产生于 \(item.createdAt)"))
            print(
                tr(
                    "  resident \(item.residentID) \(item.residentName ?? ""), field \(fieldLabel(item.field)) (\(item.field))",
                    "  居民 \(item.residentID) \(item.residentName ?? "")，字段 \(fieldLabel(item.field))（\(item.field)）"))
            print(tr("  why: \(conflictReason(item.reason))", "  原因：\(conflictReason(item.reason))"))
            for (index, candidate) in item.candidates.enumerated() {
                let records = candidate.records.map(String.init).joined(separator: ", ")
                print(
                    "  [\(index + 1)] \(displayValue(item.field, candidate.value, unmasked: ids.showIDs))  ← \(candidate.systems.joined(separator: ", "))"
                        + (records.isEmpty ? "" : tr(" (records \(records))", "（记录 \(records)）")))
            }
            if let current = item.current {
                print(
                    tr(
                        "  in use now: \(displayValue(item.field, current.value, unmasked: ids.showIDs)) from \(provenance(current))",
                        "  当前采用：\(displayValue(item.field, current.value, unmasked: ids.showIDs))，来自 \(provenance(current))"))
            }
            if let by = item.resolvedBy {
                print(tr("  resolved by \(by): \(item.resolutionReason ?? "")", "  由 \(by) 处理：\(item.resolutionReason ?? "")"))
            }
        }
    }

    struct Resolve: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(
                abstract: tr(
                    "Resolve a conflict: choose a candidate or enter the right value, with a reason. It holds until a source sends a newer value (then a new conflict is raised).",
                    "处理冲突：选择一个候选值或录入正确值，并说明原因。该结果一直有效，直到数据源发来更新的值（届时产生新的冲突）。"))
        }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var districtOption: DistrictOption
        @OptionGroup var reasonOption: ReasonOption
        @Argument(help: ArgumentHelp(tr("The conflict number.", "冲突编号。"))) var id: Int64
        @Option(name: .long, help: ArgumentHelp(tr("The candidate to keep, as numbered by `conflicts show`.", "要采用的候选值编号（见 `conflicts show`）。"), valueName: "N"))
        var choose: Int?
        @Option(name: .long, help: ArgumentHelp(tr("The right value, entered by hand.", "手工录入的正确值。"))) var value: String?
        @Flag(name: .long, help: ArgumentHelp(tr("The field has no value (e.g. no date of death).", "该字段应为空（如无死亡日期）。"))) var noValue = false

        func validate() throws {
            if [choose != nil, value != nil, noValue].filter({ $0 }).count != 1 {
                throw ValidationError(
                    tr(
                        "Say what the value is: exactly one of --choose N, --value V or --no-value.",
                        "请指明取值：--choose N、--value V、--no-value 三者选其一。"))
            }
        }

        func run() async throws {
            let district = try districtOption.resolved()
            let resolution: Conflicts.Resolution = if let choose { .candidate(choose) } else { .value(value) }
            let (id, reason) = (self.id, reasonOption.reason)
            let summary = try await database.withHub { hub in
                try await hub.resolve(district: district, conflict: id, resolution, author: cliActor(), reason: reason)
            }
            print(tr("Conflict #\(id) resolved; \(summary.entries) change-log entries.", "冲突 #\(id) 已处理；变更日志 \(summary.entries) 条。"))
            if summary.changed > 0 { printReceipts(summary.outbox) }
        }
    }
}

struct History: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            abstract: tr(
                "A resident's golden record with the source of every value, and its timeline from the change log; --as-of shows it as it stood then.",
                "查看居民的主记录及每个值的来源，以及变更日志中的时间线；--as-of 显示其在某一时刻的状态。"))
    }

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var districtOption: DistrictOption
    @OptionGroup var ids: ShowIDsFlag
    @Argument(help: ArgumentHelp(tr("The resident id, or a citizen ID number.", "居民编号或公民身份号码。"), valueName: "resident")) var resident: String
    @Option(
        name: .long,
        help: ArgumentHelp(
            tr(
                "A past time: 2026-11-01, \"2026-11-01 09:30\" (China time) or ISO 8601 with an offset.",
                "过去的某一时刻：2026-11-01、\"2026-11-01 09:30\"（北京时间）或带时区的 ISO 8601。"), valueName: "time"))
    var asOf: String?

    func validate() throws {
        if let asOf, ResidentHistory.parseTime(asOf) == nil {
            throw ValidationError(
                tr(
                    "--as-of: \(asOf) is not a time; write 2026-11-01 or \"2026-11-01 09:30\".",
                    "--as-of：\(asOf) 不是时间；请写作 2026-11-01 或 \"2026-11-01 09:30\"。"))
        }
    }

    func run() async throws {
        let district = try districtOption.resolved()
        let reference = resident, time = asOf.flatMap(ResidentHistory.parseTime)
        let view = try await database.withHub { hub in try await hub.history(district: district, resident: reference, asOf: time, reader: cliActor()) }
        let (id, current, timeline) = (view.id, view.current, view.timeline)
        let unmasked = ids.showIDs
        if let state = view.asOf, let asOf {
            print(tr("Resident \(id) as of \(asOf):", "居民 \(id) 在 \(asOf) 时："))
            if state.isEmpty { print(tr("  (no record yet)", "  （当时尚无记录）")) }
            for field in state.keys.sorted() { print("  \(fieldLabel(field)): \(displayValue(field, state[field], unmasked: unmasked))") }
        } else {
            let status = current.mergedInto.map { tr(" — merged into resident \($0)", " — 已合并到居民 \($0)") } ?? ""
            print(tr("Resident \(id)\(status)", "居民 \(id)\(status)"))
            for field in current.fields.keys.sorted() {
                let value = current.fields[field]!
                print("  \(fieldLabel(field)): \(displayValue(field, value.value, unmasked: unmasked))  ← \(provenance(value))")
            }
            let records = current.records.map { "\($0.system) \($0.key)" }.joined(separator: tr(", ", "，"))
            print(tr("  records: \(records)", "  来源记录：\(records)"))
        }
        print(tr("Timeline:", "时间线："))
        for event in timeline {
            let source = event.source.map { " (\($0))" } ?? event.causeRef.map { " (\($0))" } ?? ""
            print("  #\(event.seq) \(event.at) \(event.cause)\(source) · \(event.actor)")
            for field in event.changes.keys.sorted() {
                let change = event.changes[field]!
                print("      \(fieldLabel(field)): \(displayValue(field, change.old, unmasked: unmasked)) → \(displayValue(field, change.new, unmasked: unmasked))")
            }
        }
    }
}
