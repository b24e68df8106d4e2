import ArgumentParser
import Foundation
import YibiaoCore
import YibiaoApplication
import YibiaoStore

struct Log: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(abstract: tr("The change log.", "变更日志。"), subcommands: [Verify.self])
    }

    struct Verify: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(
                abstract: tr(
                    "Check the district's hash chain; name the first broken entry. Exit 1 when broken.",
                    "校验本区县的哈希链，指出第一条损坏的记录。损坏时退出码为 1。"))
        }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var districtOption: DistrictOption

        func run() async throws {
            let district = try districtOption.resolved()
            let (checked, broken) = try await database.withHub { hub in try await hub.verifyLog(district: district) }
            try reportChain(
                checked: checked, broken: broken,
                intact: tr("The change log of \(district) is intact: \(checked) entries.", "\(district) 的变更日志完好：共 \(checked) 条。"))
        }
    }
}

/// The outcome of checking a hash chain (change log, audit log); exit 1 when it is broken.
func reportChain(checked: Int, broken: ChangeLog.Break?, intact: String) throws {
    guard let broken else {
        print(intact)
        return
    }
    print(
        tr(
            "BROKEN at entry \(broken.seq): \(broken.reason.en). \(checked) entries read.",
            "第 \(broken.seq) 条记录处损坏：\(broken.reason.zh)。共读取 \(checked) 条。"))
    throw ExitCode.failure
}
