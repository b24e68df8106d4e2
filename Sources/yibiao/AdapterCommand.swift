import ArgumentParser
import Foundation
import YibiaoAdapters
import YibiaoCore

struct Adapter: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            abstract: tr("Check adapter files and preview what they make of a feed.", "检查适配器文件，并预览其对数据文件的处理结果。"),
            subcommands: [Check.self, Preview.self])
    }
}

/// Shows a value to a person: ID numbers masked unless asked otherwise.
func display(_ field: String, _ value: String, unmasked: Bool) -> String {
    guard !unmasked, field == "national_id" || field == "national_id_raw" else { return value }
    return Masking.identifier(value)
}

extension Adapter {
    struct Check: ParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(
                abstract: tr(
                    "Validate adapter files; errors name the line and key and suggest a fix.",
                    "校验适配器文件；错误会指出行号和键名并给出修改建议。"))
        }

        @OptionGroup var global: GlobalOptions
        @Argument(help: ArgumentHelp(tr("Adapter YAML files.", "适配器 YAML 文件。"), valueName: "adapter.yaml"))
        var files: [String]

        func run() throws {
            var failed = false
            for file in files {
                do {
                    let spec = try AdapterSpec.load(URL(fileURLWithPath: file))
                    let facets = Set(spec.mappings.map(\.field.domain)).filter { $0 != .core }.map(\.rawValue).sorted()
                    print(
                        tr(
                            "\(file): OK — \(spec.system), \(spec.format.typeName), \(spec.mappings.count) fields",
                            "\(file)：通过——\(spec.system)，\(spec.format.typeName)，\(spec.mappings.count) 个字段")
                            + (facets.isEmpty ? "" : tr(" (facets: \(facets.joined(separator: ", ")))", "（分面：\(facets.joined(separator: "、"))）"))
                            + (spec.outbound == nil ? tr("; no write-back", "；无回写") : tr("; write-back: \(spec.outbound!.columns.count) columns", "；回写 \(spec.outbound!.columns.count) 列")))
                } catch let error as AdapterSpecError {
                    failed = true
                    _ = report(error)
                }
            }
            if failed { throw ExitCode(ExitStatus.config) }
        }
    }

    struct Preview: ParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(
                abstract: tr(
                    "Show the first rows of a feed as normalised records, with each row's problems. No database needed.",
                    "显示数据文件前几行规范化后的记录及每行的问题。无需数据库。"))
        }

        @OptionGroup var global: GlobalOptions
        @Argument(help: ArgumentHelp(tr("The adapter file, or swift:NAME.", "适配器文件，或 swift:名称。"), valueName: "adapter.yaml")) var adapter: String
        @Argument(help: ArgumentHelp(tr("The feed file.", "数据文件。"), valueName: "feed")) var feed: String
        @Option(name: .long, help: ArgumentHelp(tr("How many rows to show (0: all).", "显示的行数（0 表示全部）。"))) var rows = 10
        @Flag(name: .long, help: ArgumentHelp(tr("Show ID numbers in full (they are masked by default).", "完整显示身份证号（默认脱敏）。")))
        var showIds = false

        func validate() throws {
            if rows < 0 { throw ValidationError(tr("--rows must be 0 or more.", "--rows 不能为负数。")) }
        }

        func run() throws {
            let adapter = try FeedAdapterRegistry.load(self.adapter)
            let url = URL(fileURLWithPath: feed)
            var read = 0, mapped = 0, withProblems = 0, quarantined = 0
            var reasons: [String: Int] = [:]
            func show(_ issue: FeedIssue) {
                quarantined += 1
                reasons[issue.code, default: 0] += 1
                guard rows == 0 || read <= rows else { return }
                var place = tr("row \(issue.row ?? 0)", "第 \(issue.row ?? 0) 行")
                if let column = issue.column { place += tr(", column \(column)", "，列 \(column)") }
                print("✗ \(place): \(tr(issue.message)) [\(issue.code)]" + (issue.value.map { $0.isEmpty ? "" : " «\(showIds ? $0 : Masking.cell($0))»" } ?? ""))
            }
            var keys = SourceKeyTracker()
            do {
                try adapter.read(url, today: todayInChina()) { outcome in
                    read += 1
                    switch keys.check(outcome) {
                    case .quarantined(let issue):
                        show(issue)
                    case .record(let record):
                        mapped += 1
                        if !record.problems.isEmpty { withProblems += 1 }
                        guard rows == 0 || read <= rows else { return }
                        let fields = record.fields.keys.sorted().map { "\($0)=\(display($0, record.fields[$0]!, unmasked: showIds))" }
                        print(tr("row \(record.row)", "第 \(record.row) 行") + " · \(record.sourceKey) · " + fields.joined(separator: " "))
                        for problem in record.problems {
                            print("    ! \(problem.field)" + (problem.column.map { " (\($0))" } ?? "") + ": \(tr(problem.message)) [\(problem.code)]")
                        }
                    }
                }
            } catch let issue as FeedIssue {
                // A file-level problem: say how far we got, then fail.
                print(tr("Stopped after \(read) rows.", "读取 \(read) 行后停止。"))
                throw issue
            }
            print(
                tr(
                    "\(read) rows read: \(mapped) mapped (\(withProblems) with problems), \(quarantined) would be quarantined",
                    "共读取 \(read) 行：映射 \(mapped) 行（其中 \(withProblems) 行有问题），\(quarantined) 行将被隔离")
                    + (reasons.isEmpty ? "" : " (" + reasons.keys.sorted().map { "\($0) \(reasons[$0]!)" }.joined(separator: ", ") + ")"))
        }
    }
}
