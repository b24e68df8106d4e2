import ArgumentParser
import Foundation
import YibiaoApplication
import YibiaoCore
import YibiaoMerge
import YibiaoStore

/// `yibiao rules check|diff`: survivorship rules a district IT team changes without a rebuild.
struct Rules: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            abstract: tr(
                "Survivorship rules: check a rules file, and see what it would change before using it (--rules FILE or YIBIAO_RULES).",
                "主记录取值规则：校验规则文件，并在启用前查看它将带来的变化（通过 --rules 文件 或 YIBIAO_RULES 启用）。"),
            subcommands: [Check.self, Diff.self])
    }
}

extension Rules {
    struct Check: ParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(
                abstract: tr(
                    "Validate rules files; errors name the line and key and suggest a fix.",
                    "校验规则文件；错误会指出行号和键名并给出修改建议。"))
        }

        @OptionGroup var global: GlobalOptions
        @Argument(help: ArgumentHelp(tr("Rules YAML files.", "规则 YAML 文件。"), valueName: "rules.yaml")) var files: [String]

        func run() throws {
            var failed = false
            for file in files {
                do {
                    let rules = try SurvivorshipRules.load(URL(fileURLWithPath: file))
                    let owners = rules.owners.keys.sorted().map { "\($0) → \(rules.owners[$0]!.joined(separator: "/"))" }
                    print(
                        tr(
                            "\(file): OK — \(rules.priority.count) sources in order, \(rules.fields.count) field rules; owners: \(owners.joined(separator: ", "))",
                            "\(file)：通过——来源优先级 \(rules.priority.count) 个，字段规则 \(rules.fields.count) 条；领域归属：\(owners.joined(separator: "，"))"))
                } catch let error as SurvivorshipRulesError {
                    failed = true
                    _ = report(error)
                }
            }
            if failed { throw ExitCode(ExitStatus.config) }
        }
    }

    struct Diff: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(
                abstract: tr(
                    "A dry run: how many golden values, conflicts and change-log entries FILE would change, per field, against the rules in force. Nothing is written.",
                    "试运行：与当前规则相比，FILE 将改变多少主记录取值、冲突和变更日志条目（按字段统计）。不写入任何内容。"))
        }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var districtOption: DistrictOption
        @Argument(help: ArgumentHelp(tr("The proposed rules file.", "拟启用的规则文件。"), valueName: "rules.yaml")) var file: String
        @OptionGroup var progress: ProgressOption

        func run() async throws {
            let district = try districtOption.resolved()
            let proposed = try SurvivorshipRules.load(URL(fileURLWithPath: file))
            let showsProgress = progress.showsProgress
            let impact = try await database.withHub { hub in
                try await ProgressBar.showingStages(enabled: showsProgress) { stages in
                    try await hub.rulesDiff(district: district, proposed: proposed, stages: stages)
                }
            }
            print(
                tr(
                    "\(file) against the rules in force, district \(district) (nothing was written):",
                    "\(file) 与当前规则相比，区县 \(district)（未写入任何内容）："))
            print(
                tr(
                    "  \(impact.recomputed) residents recomputed, \(impact.changed) would change: \(impact.entries) change-log entries",
                    "  重算 \(impact.recomputed) 位居民，其中 \(impact.changed) 位将变化：变更日志 \(impact.entries) 条"))
            print(
                tr(
                    "  conflicts: \(impact.conflictsRaised) raised, \(impact.conflictsSuperseded) settled",
                    "  冲突：新增 \(impact.conflictsRaised)，消除 \(impact.conflictsSuperseded)"))
            let fields = Set(impact.valuesChangedByField.keys).union(impact.conflictsRaisedByField.keys).union(impact.conflictsSupersededByField.keys)
            if fields.isEmpty {
                print(tr("  No golden value or conflict would change.", "  没有主记录取值或冲突会改变。"))
                return
            }
            print(tr("  per field (values changed / conflicts raised / settled):", "  按字段（取值变化 / 新增冲突 / 消除冲突）："))
            for field in fields.sorted() {
                let counts = [impact.valuesChangedByField[field], impact.conflictsRaisedByField[field], impact.conflictsSupersededByField[field]]
                    .map { String($0 ?? 0) }.joined(separator: " / ")
                print("    \(fieldLabel(field)) (\(field)): \(counts)")
            }
        }
    }
}
