import ArgumentParser
import Foundation
import YibiaoAdapters
import YibiaoApplication
import YibiaoCore

struct FormCommand: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "form",
            abstract: tr("Forms a department asks for, filled from the golden records.", "部门所需的表格，由标准记录预先填好。"),
            subcommands: [Suggest.self, Check.self, Fill.self])
    }
}

extension FormCommand {
    struct Suggest: ParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(
                abstract: tr(
                    "Draft a form spec from a department's blank template: each header placed on a field, with how sure; the rest listed.",
                    "根据部门的空白模板起草表格定义：逐个表头对应到字段并注明把握程度，无法对应的列出。"))
        }

        @OptionGroup var global: GlobalOptions
        @Argument(help: ArgumentHelp(tr("The template (.xlsx or .csv).", "模板（.xlsx 或 .csv）。"))) var template: String
        @Option(name: .long, help: ArgumentHelp(tr("The district's adapters, whose column names are known.", "本区的适配器目录，其中的列名可用于对应。")))
        var adapters = "adapters"
        @Option(name: .long, help: ArgumentHelp(tr("Write the draft here instead of the terminal.", "将草稿写入此文件而非终端。"))) var out: String?

        func run() throws {
            let url = URL(fileURLWithPath: template)
            let headers = try FormSuggestion.headers(of: url)
            let suggestion = FormSuggestion(headers: headers, matcher: HeaderMatcher(adapters: knownAdapters(in: adapters)))
            let id = url.deletingPathExtension().lastPathComponent.lowercased().filter { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
            let yaml = suggestion.yaml(id: id.isEmpty ? "new_form" : id)
            if let out {
                try Data(yaml.utf8).write(to: URL(fileURLWithPath: out), options: .atomic)
            } else {
                print(yaml, terminator: "")
            }
            let placed = headers.count - suggestion.unplaced.count
            var summary = tr("Placed \(placed) of \(headers.count) columns", "已对应 \(placed)/\(headers.count) 列")
            if !suggestion.unplaced.isEmpty {
                summary += tr("; not placed: \(suggestion.unplaced.joined(separator: ", "))", "；未能对应：\(suggestion.unplaced.joined(separator: "、"))")
            }
            FileHandle.standardError.write(Data((summary + "\n").utf8))
        }
    }

    struct Check: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(abstract: tr("Check form specs; errors name the line and key.", "检查表格定义；错误会指明行号和键。"))
        }

        @OptionGroup var global: GlobalOptions
        @Argument(help: ArgumentHelp(tr("Form spec files (YAML).", "表格定义文件（YAML）。"))) var files: [String]

        func run() throws {
            for file in files {
                let spec = try FormSpec.load(URL(fileURLWithPath: file))
                let blank = spec.columns.filter { $0.field == nil }.count
                print(
                    tr(
                        "\(file): \(spec.id) — \(spec.columns.count) columns (\(blank) to fill), under consumer \(spec.consumer)",
                        "\(file)：\(spec.id) —— 共 \(spec.columns.count) 列（\(blank) 列待填），依据使用方 \(spec.consumer)"))
            }
        }
    }

    struct Fill: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(
                abstract: tr(
                    "Fill a form for one community: known values in the department's codes, unknown cells blank and listed.",
                    "为一个社区填好表格：已知的值按部门代码填入，未知的单元格留空并列出。"))
        }

        enum Format: String, ExpressibleByArgument, CaseIterable { case xlsx, csv }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var districtOption: DistrictOption
        @Argument(help: ArgumentHelp(tr("The form spec (YAML).", "表格定义（YAML）。"))) var spec: String
        @Option(name: .long, help: ArgumentHelp(tr("The community's 12-digit code.", "社区的 12 位代码。"))) var community: String
        @Option(name: .long, help: ArgumentHelp(tr("The file to write (.xlsx or .csv).", "要写入的文件（.xlsx 或 .csv）。"))) var out: String

        func run() async throws {
            let district = try districtOption.resolved()
            let form = try FormSpec.load(URL(fileURLWithPath: spec))
            let url = URL(fileURLWithPath: out)
            guard let format = FormFormat(rawValue: url.pathExtension.lowercased()) else {
                throw ValidationError(tr("--out: name a .xlsx or .csv file", "--out：请指定 .xlsx 或 .csv 文件"))
            }
            let community = self.community
            let filled = try await database.withHub { hub in
                try await hub.fillForm(form, district: district, community: community, format: format, to: url, actor: cliActor())
            }
            print(
                tr(
                    "Wrote \(filled.file.path): \(filled.rows) residents, \(filled.blankCells) cells to fill, as of change-log entry \(filled.cursor).",
                    "已写入 \(filled.file.path)：\(filled.rows) 名居民，\(filled.blankCells) 个单元格待填，截至变更日志第 \(filled.cursor) 条。"))
            if filled.undetermined > 0 {
                print(
                    tr(
                        "\(filled.undetermined) residents left out: their date of birth is missing or too vague to tell their age; add them by hand if they belong.",
                        "另有 \(filled.undetermined) 名居民未列入：出生日期缺失或不完整，无法判断年龄；如属本表范围请手工补充。"))
            }
        }
    }
}
