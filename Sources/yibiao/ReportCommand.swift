import ArgumentParser
import Foundation
import YibiaoApplication
import YibiaoCore
import YibiaoStore

struct ReportCommand: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "report",
            abstract: tr(
                "Write the district's data-quality report: one HTML file with charts, readable offline.",
                "生成本区县的数据质量报告：一个带图表的 HTML 文件，离线即可查看。"),
            discussion: tr(
                "Records and residents per system and their overlap; invalid, missing and old-format ID numbers; shared phone "
                    + "numbers; values that differ from the golden record; duplicates within a feed; open conflicts and review "
                    + "items; quarantined rows; trends per batch. Under each chart, the command that lists its rows.",
                "各系统的记录与居民及其重叠；无效、缺失和旧格式的身份证号码；多人共用的电话；与标准记录不一致的值；同一系统内的重复；"
                    + "待处理冲突与待核对配对；隔离行；各批次趋势。每张图下注明可逐行列出的命令。"),
            subcommands: [Write.self, List.self], defaultSubcommand: Write.self)
    }
}

extension ReportCommand {
    struct Write: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(commandName: "write", abstract: tr("Write the report (the default).", "生成报告（默认）。"))
        }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var districtOption: DistrictOption
        @Option(name: .long, help: ArgumentHelp(tr("The HTML file to write.", "要写入的 HTML 文件。"))) var out = "report.html"

        func run() async throws {
            let district = try districtOption.resolved()
            let report = try await database.withHub { hub in try await hub.qualityReport(district: district, reader: cliActor()) }
            let url = URL(fileURLWithPath: out)
            // Written whole or not at all.
            try Data(QualityReportPage.html(report).utf8).write(to: url, options: .atomic)
            let records = report.systems.reduce(0) { $0 + $1.records }
            print(
                tr(
                    "Wrote \(url.path): \(report.activeResidents) residents, \(records) current records in \(report.systems.count) systems.",
                    "已写入 \(url.path)：\(report.activeResidents) 名居民，\(report.systems.count) 个系统共 \(records) 条现行记录。"))
        }
    }

    struct List: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(
                abstract: tr(
                    "List the records behind one of the report's counts (record and resident ids; `yibiao history` shows them).",
                    "列出报告中某项计数背后的记录（记录号与居民号；用 `yibiao history` 查看详情）。"))
        }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var districtOption: DistrictOption
        @Argument(
            help: ArgumentHelp(
                tr(
                    "What to list: \(QualityReport.Finding.allCases.map(\.rawValue).joined(separator: ", ")).",
                    "要列出的项：\(QualityReport.Finding.allCases.map(\.rawValue).joined(separator: "、"))。")))
        var finding: String
        @Option(name: .long, help: ArgumentHelp(tr("Only this system.", "仅此系统。"))) var system: String?
        @Option(name: .long, help: ArgumentHelp(tr("At most this many rows.", "最多显示的行数。"))) var limit = 50

        func run() async throws {
            guard let kind = QualityReport.Finding(rawValue: finding) else {
                throw ValidationError(
                    tr(
                        "unknown item '\(finding)'; one of: \(QualityReport.Finding.allCases.map(\.rawValue).joined(separator: ", "))",
                        "未知的项“\(finding)”；可选：\(QualityReport.Finding.allCases.map(\.rawValue).joined(separator: "、"))"))
            }
            let district = try districtOption.resolved()
            let (system, limit) = (self.system, self.limit)
            let rows = try await database.withHub { hub in
                try await hub.qualityRows(district: district, finding: kind, system: system, limit: limit, reader: cliActor())
            }
            if rows.isEmpty {
                print(tr("No records.", "没有记录。"))
                return
            }
            for row in rows {
                print(tr("\(row.system)  record \(row.recordID)  resident \(row.residentID)", "\(row.system)  记录 \(row.recordID)  居民 \(row.residentID)"))
            }
            if rows.count == limit {
                print(tr("(the first \(limit); --limit shows more)", "（前 \(limit) 条；用 --limit 显示更多）"))
            }
        }
    }
}
