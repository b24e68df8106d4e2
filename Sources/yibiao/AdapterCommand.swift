import ArgumentParser
import Foundation
import YibiaoAdapters
import YibiaoCore

struct Adapter: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            abstract: tr("Check adapter files and preview what they make of a feed.", "检查适配器文件，并预览其对数据文件的处理结果。"),
            subcommands: [Check.self, Preview.self, Suggest.self])
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

/// The specs (`.yaml`) in a directory, in name order: the district's adapters or forms that a
/// command draws on. One that does not load is skipped with a warning naming the command that
/// says why: a draft in the middle of being written must not stop the next command.
func loadSpecs<Spec>(in path: String, checkedBy command: String, _ load: (URL) throws -> Spec) -> [Spec] {
    let files = (try? FileManager.default.contentsOfDirectory(at: URL(fileURLWithPath: path), includingPropertiesForKeys: nil)) ?? []
    return files.filter { $0.pathExtension == "yaml" }.sorted { $0.path < $1.path }.compactMap { file in
        do {
            return try load(file)
        } catch {
            FileHandle.standardError.write(
                Data((tr("\(file.path) not used: it does not load (`\(command)` says why)", "\(file.path) 未使用：无法加载（`\(command)` 可查看原因）") + "\n").utf8))
            return nil
        }
    }
}

/// The district's adapters, whose column names and value maps suggestions draw on.
func knownAdapters(in path: String) -> [AdapterSpec] { loadSpecs(in: path, checkedBy: "yibiao adapter check", AdapterSpec.load) }

extension Adapter {
    struct Suggest: ParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(
                abstract: tr(
                    "Draft an adapter for an unknown export: format, encoding, header row, and each column's field with how sure. No database needed.",
                    "为未知的导出文件起草适配器：格式、编码、表头行，以及每列对应的字段和把握程度。无需数据库。"),
                discussion: tr(
                    "Columns are placed by their names (as the district's adapters and the fields' labels call them) and by their values "
                        + "(valid ID numbers, phone numbers, code-table codes; sexes and birth dates that agree with the row's ID number). "
                        + "Columns it cannot place are listed, never guessed. Check the draft, then `adapter check` and `adapter preview`.",
                    "按列名（本区适配器及字段标签中的叫法）和取值（有效身份证号、电话号码、代码表代码；与同行身份证号一致的性别和出生日期）对应各列。"
                        + "无法对应的列会列出，绝不猜测。请核对草稿，再运行 `adapter check` 与 `adapter preview`。"))
        }

        @OptionGroup var global: GlobalOptions
        @Argument(help: ArgumentHelp(tr("The export (.csv, .txt, .xlsx, .xml, .json or .jsonl).", "导出文件（.csv、.txt、.xlsx、.xml、.json 或 .jsonl）。"), valueName: "feed"))
        var feed: String
        @Option(name: .long, help: ArgumentHelp(tr("The district's adapters, whose column names are known.", "本区的适配器目录，其中的列名可用于对应。")))
        var adapters = "adapters"
        @Option(name: .long, help: ArgumentHelp(tr("The system's id in the draft (default: from the file name).", "草稿中的系统标识（默认取自文件名）。")))
        var system: String?
        @Option(name: .long, help: ArgumentHelp(tr("Rows to read (the values are judged on these).", "读取的行数（据此判断取值）。"))) var rows = 5_000
        @Option(name: .long, help: ArgumentHelp(tr("Write the draft here instead of the terminal.", "将草稿写入此文件而非终端。"))) var out: String?
        @Option(
            name: .long,
            help: ArgumentHelp(
                tr("The sheet of an .xlsx workbook to read (default: the first).", "要读取的 .xlsx 工作簿中的工作表（默认：第一个）。"), valueName: "name"))
        var sheet: String?

        func validate() throws {
            if rows < 1 { throw ValidationError(tr("--rows must be 1 or more.", "--rows 至少为 1。")) }
            if let system, system.isEmpty || !system.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }) {
                throw ValidationError(tr("--system: use a-z, 0-9 and _.", "--system：只能使用 a-z、0-9 和 _。"))
            }
        }

        func run() throws {
            let url = URL(fileURLWithPath: feed)
            let suggestion = try AdapterSuggestion.suggest(feed: url, adapters: knownAdapters(in: adapters), today: todayInChina(), sampleRows: rows, sheet: sheet)
            let fromName = url.deletingPathExtension().lastPathComponent.lowercased().filter { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
            let yaml = suggestion.yaml(system: system ?? (fromName.first?.isLetter == true ? fromName : "new_system"), feedName: url.lastPathComponent)
            if let out {
                try Data(yaml.utf8).write(to: URL(fileURLWithPath: out), options: .atomic)
            } else {
                print(yaml, terminator: "")
            }
            let total = suggestion.columns.count, placed = suggestion.placed.count, unplaced = suggestion.unplaced.map(\.name)
            var summary = tr("Placed \(placed) of \(total) columns", "已对应 \(placed)/\(total) 列")
            if let key = suggestion.sourceKey {
                summary += tr("; source key \(key)", "；来源主键 \(key)")
            } else {
                summary += tr("; no source key found", "；未找到来源主键")
            }
            if !unplaced.isEmpty { summary += tr("; not placed: \(unplaced.joined(separator: ", "))", "；未能对应：\(unplaced.joined(separator: "、"))") }
            FileHandle.standardError.write(Data((summary + "\n").utf8))
        }
    }
}
