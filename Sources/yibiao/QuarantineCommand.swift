import ArgumentParser
import Foundation
import PostgresNIO
import YibiaoCore
import YibiaoStore

struct Quarantine: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(abstract: tr("List and show rows that could not be read or mapped.", "列出并查看无法读取或映射的行。"),
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
            let batch = self.batch
            let reason = self.reason
            let limit = self.limit
            let rows = try await Database.withClient(try database.url()) { client in
                var result: [(Int64, Int64, String, Int64, String?, String, String, String)] = []
                let query: PostgresQuery = """
                    SELECT quarantine_id, batch_id, file_name, row_number, column_name, reason_code, message_en, message_zh
                    FROM quarantine WHERE district = \(district)
                      AND (\(batch)::bigint IS NULL OR batch_id = \(batch))
                      AND (\(reason)::text IS NULL OR reason_code = \(reason))
                    ORDER BY batch_id DESC, row_number LIMIT \(limit)
                    """
                for try await row in try await client.query(query).decode((Int64, Int64, String, Int64, String?, String, String, String).self) {
                    result.append(row)
                }
                return result
            }
            if rows.isEmpty {
                print(tr("No quarantined rows.", "没有被隔离的行。"))
                return
            }
            for (id, batchID, file, row, column, code, en, zh) in rows {
                let place = tr("batch \(batchID) · \(file) row \(row)", "批次 \(batchID) · \(file) 第 \(row) 行") + (column.map { tr(", column \($0)", "，列 \($0)") } ?? "")
                print("#\(id)  \(place): \(CLI.language == .zh ? zh : en) [\(code)]")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(abstract: tr("Show one quarantined row in full, with its raw value.", "完整显示一条被隔离的行及其原始值。"))
        }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var districtOption: DistrictOption
        @Argument(help: ArgumentHelp(tr("The quarantine id (#N in the list).", "隔离编号（列表中的 #N）。"))) var id: Int64

        func run() async throws {
            let district = try districtOption.resolved()
            let id = self.id
            let found = try await Database.withClient(try database.url()) { client -> [String]? in
                let query: PostgresQuery = """
                    SELECT q.batch_id::text, b.system_id, q.file_name, q.row_number::text, coalesce(q.column_name, ''),
                           coalesce(q.raw_value, ''), q.reason_code, q.message_en, q.message_zh, q.created_at::text
                    FROM quarantine q JOIN ingest_batch b USING (district, batch_id)
                    WHERE q.district = \(district) AND q.quarantine_id = \(id)
                    """
                for try await row in try await client.query(query).decode((String, String, String, String, String, String, String, String, String, String).self) {
                    return [row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8, row.9]
                }
                return nil
            }
            guard let f = found else {
                print(tr("No quarantined row #\(id) in district \(district).", "区县 \(district) 中没有编号为 #\(id) 的隔离行。"))
                throw ExitCode.failure
            }
            let labels = CLI.language == .zh
                ? ["批次", "系统", "文件", "行", "列", "原始值", "原因代码", "说明", "时间"]
                : ["batch", "system", "file", "row", "column", "raw value", "reason", "message", "at"]
            let values = [f[0], f[1], f[2], f[3], f[4], f[5], f[6], CLI.language == .zh ? f[8] : f[7], f[9]]
            for (label, value) in zip(labels, values) { print(label.padding(toLength: 10, withPad: " ", startingAt: 0) + value) }
        }
    }
}
