import ArgumentParser
import Foundation
import YibiaoApplication
import YibiaoCore
import YibiaoStore

struct Quarantine: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            abstract: tr("List and show rows that could not be read or mapped.", "列出并查看无法读取或映射的行。"),
            subcommands: [List.self, Show.self])
    }
}

extension Quarantine {
    struct List: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(abstract: tr("List quarantined rows, newest batch first.", "列出被隔离的行，最新批次在前。"))
        }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var districtOption: DistrictOption
        @Option(name: .long, help: ArgumentHelp(tr("Only this batch.", "仅此批次。"))) var batch: Int64?
        @Option(name: .long, help: ArgumentHelp(tr("Only this reason code.", "仅此原因代码。"))) var reason: String?
        @Option(name: .long, help: ArgumentHelp(tr("At most this many rows.", "最多显示的行数。"))) var limit = 50

        func run() async throws {
            let district = try districtOption.resolved()
            let (batch, reason, limit) = (self.batch, self.reason, self.limit)
            let rows = try await database.withHub { hub in
                try await hub.quarantine(district: district, batch: batch, reason: reason, limit: limit)
            }
            if rows.isEmpty {
                print(tr("No quarantined rows.", "没有被隔离的行。"))
                return
            }
            for row in rows {
                let place =
                    tr("batch \(row.batchID) · \(row.fileName) row \(row.rowNumber)", "批次 \(row.batchID) · \(row.fileName) 第 \(row.rowNumber) 行")
                    + (row.column.map { tr(", column \($0)", "，列 \($0)") } ?? "")
                print("#\(row.id)  \(place): \(CLI.language == .zh ? row.messageZH : row.messageEN) [\(row.reasonCode)]")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(
                abstract: tr(
                    "Show one quarantined row in full, with its raw value (masked unless --show-values).",
                    "完整显示一条被隔离的行及其原始值（除非指定 --show-values，否则遮盖）。"))
        }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var districtOption: DistrictOption
        @Flag(
            name: .customLong("show-values"),
            help: ArgumentHelp(
                tr(
                    "Show the raw value in full (it can be personal data).",
                    "完整显示原始值（可能含个人信息）。")))
        var showValues = false
        @Argument(help: ArgumentHelp(tr("The quarantine id (#N in the list).", "隔离编号（列表中的 #N）。"))) var id: Int64

        func run() async throws {
            let district = try districtOption.resolved()
            let id = self.id
            let found = try await database.withHub { hub in try await hub.quarantinedRow(district: district, id: id) }
            guard let row = found else {
                print(tr("No quarantined row #\(id) in district \(district).", "区县 \(district) 中没有编号为 #\(id) 的隔离行。"))
                throw ExitCode.failure
            }
            let raw = row.rawValue.map { showValues ? $0 : Masking.cell($0) } ?? ""
            let labels =
                CLI.language == .zh
                ? ["批次", "系统", "文件", "行", "列", "原始值", "原因代码", "说明", "时间"]
                : ["batch", "system", "file", "row", "column", "raw value", "reason", "message", "at"]
            let values = [
                String(row.batchID), row.system, row.fileName, String(row.rowNumber), row.column ?? "", raw, row.reasonCode,
                CLI.language == .zh ? row.messageZH : row.messageEN, row.createdAt,
            ]
            for (label, value) in zip(labels, values) { print(label.padding(toLength: 10, withPad: " ", startingAt: 0) + value) }
        }
    }
}
