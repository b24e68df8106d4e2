import ArgumentParser
import Foundation
import YibiaoCore

@main
struct Yibiao: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "yibiao",
            abstract: tr(
                "Yibiao (一表通): one resident record for every district system.",
                "一表通：为区里的每个业务系统维护同一份居民信息。"),
            discussion: tr(
                """
                Data entered once fills every system: feeds from civil affairs, family planning, \
                party membership and social security are normalised, matched to one resident, \
                merged into a golden record and logged.

                With no YIBIAO_DATABASE_URL, yibiao runs its own PostgreSQL under ./.yibiao \
                (see `yibiao db start`).

                Exit status: 0 success; 1 the command failed; 64 wrong command line; \
                65 input data unreadable; 69 database or PostgreSQL unavailable; 78 configuration error.
                """,
                """
                数据录入一次，即可填入所有系统：民政、计生、党员、社保等系统的数据经过规范化、\
                匹配到同一位居民、合并为一份主记录，并记入变更日志。

                未设置 YIBIAO_DATABASE_URL 时，yibiao 在 ./.yibiao 下运行自带的 PostgreSQL\
                （见 `yibiao db start`）。

                退出码：0 成功；1 命令执行失败；64 命令行有误；65 输入数据无法读取；\
                69 数据库或 PostgreSQL 不可用；78 配置错误。
                """),
            version: "0.1.0",
            subcommands: [
                DB.self, Adapter.self, Rules.self, Ingest.self, Quarantine.self, Match.self, Explain.self, Review.self, MergeRecords.self, SplitRecord.self, ConflictsCommand.self, History.self, Enter.self,
                SyncCommand.self, Template.self, LoginCommand.self, Logout.self, Xref.self,
                Log.self, OutboxCommand.self, ConsumerCommand.self, WorkerCommand.self, ExtractCommand.self, AuditCommand.self, Serve.self, ReportCommand.self, CatalogCommand.self, FormCommand.self, Synth.self,
                Normalize.self,
            ]
        )
    }

    @OptionGroup var global: GlobalOptions

    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as any UserFacingError {
            Foundation.exit(report(error))
        } catch {
            exit(withError: error)
        }
    }
}
