import ArgumentParser
import Foundation
import YibiaoApplication
import YibiaoCore
import YibiaoStore

struct OutboxCommand: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "outbox",
            abstract: tr(
                "Write-back: the updates each system is owed, delivered in its own format.",
                "回写：各系统应收的更新，按其自身格式投递。"),
            discussion: tr(
                """
                A system is owed an update when the golden value of a field it holds differs from its own record. \
                A system's outbox starts held: look at `outbox plan`, then `outbox release --system S`; \
                `outbox deliver` writes numbered files (with a manifest) or POSTs to the adapter's endpoint.
                """,
                """
                当某系统持有的字段的主记录取值与该系统自身记录不同时，该系统即应收到一条更新。\
                每个系统的发件箱起初为暂缓状态：先看 `outbox plan`，再执行 `outbox release --system S`；\
                `outbox deliver` 写出带清单的编号文件，或向适配器中的地址发送 HTTP 请求。
                """),
            subcommands: [Status.self, Plan.self, Release.self, Deliver.self, Ack.self, Dead.self, Retry.self])
    }

    struct SystemOption: ParsableArguments {
        @Option(name: .long, help: ArgumentHelp(tr("Only this system (e.g. civil_affairs).", "仅此系统（如 civil_affairs）。"), valueName: "system"))
        var system: String?
    }

    static let statusOrder = ["held", "pending", "failed", "sent", "acknowledged", "confirmed", "not_applied", "overtaken", "dead", "superseded"]

    static func statusLabel(_ status: String) -> String {
        switch status {
        case "held": tr("held", "暂缓")
        case "pending": tr("pending", "待发")
        case "failed": tr("failed, will retry", "失败待重试")
        case "sent": tr("sent", "已发")
        case "acknowledged": tr("acknowledged", "已确认接收")
        case "confirmed": tr("confirmed by its next feed", "已由后续数据证实")
        case "not_applied": tr("NOT applied by the system", "系统未采用")
        case "overtaken": tr("overtaken by the system's own value", "已被系统自身新值取代")
        case "dead": tr("dead letters", "死信")
        case "superseded": tr("superseded", "已被新更新取代")
        default: status
        }
    }

    struct Status: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(abstract: tr("Updates per system and state.", "各系统各状态的更新数。"))
        }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var districtOption: DistrictOption

        func run() async throws {
            let district = try districtOption.resolved()
            let systems = try await database.withHub { hub in try await hub.outboxStatus(district: district) }
            guard !systems.isEmpty else {
                print(tr("No system of \(district) receives updates yet.", "\(district) 尚无接收回写的系统。"))
                return
            }
            for system in systems {
                let state = system.released ? tr("released", "已开启") : tr("held — see `yibiao outbox plan`", "暂缓——见 `yibiao outbox plan`")
                print("\(system.system) · \(state) · " + tr("last file \(system.lastDelivery)", "最后文件编号 \(system.lastDelivery)"))
                for status in OutboxCommand.statusOrder where (system.counts[status] ?? 0) > 0 {
                    print("  \(OutboxCommand.statusLabel(status)): \(system.counts[status]!)")
                }
            }
        }
    }

    struct Plan: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(
                abstract: tr(
                    "What would be sent: updates per system and field, and a sample with masked values.",
                    "将发送的内容：各系统各字段的更新数，以及脱敏的样例。"))
        }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var districtOption: DistrictOption
        @OptionGroup var systemOption: SystemOption
        @Option(name: .long, help: ArgumentHelp(tr("Sample rows to show.", "显示的样例行数。"))) var sample = 5

        func run() async throws {
            let district = try districtOption.resolved()
            let system = systemOption.system, sample = self.sample
            let (items, samples) = try await database.withHub { hub in
                try await hub.outboxPlan(district: district, system: system, sampleSize: sample)
            }
            guard !items.isEmpty else {
                print(tr("Nothing waits to be sent.", "没有待发送的更新。"))
                return
            }
            for (system, list) in Dictionary(grouping: items, by: \.system).sorted(by: { $0.key < $1.key }) {
                print(system)
                for item in list {
                    let label = CanonicalField.named(item.field).map { tr($0.label) } ?? item.field
                    print("  \(label) (\(item.field)): \(item.updates)")
                }
            }
            if !samples.isEmpty {
                print(tr("Sample (values masked):", "样例（已脱敏）："))
                for update in samples {
                    let changes = update.changes.keys.sorted().map { field in
                        let change = update.changes[field]!
                        return "\(field) \(change.old ?? "∅") → \(change.new ?? "∅")"
                    }
                    print("  #\(update.id) \(update.system) · " + tr("resident", "居民") + " \(update.resident) · \(update.cause) · " + changes.joined(separator: "; "))
                }
            }
        }
    }

    struct Release: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(
                abstract: tr("Start delivery to a system: its held updates become pending.", "开启对某系统的投递：暂缓的更新转为待发。"))
        }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var districtOption: DistrictOption
        @Option(name: .long, help: ArgumentHelp(tr("The system to release.", "要开启的系统。"), valueName: "system")) var system: String

        func run() async throws {
            let district = try districtOption.resolved()
            let system = self.system
            let count = try await database.withHub { hub in try await hub.releaseOutbox(district: district, system: system, by: cliActor()) }
            print(
                tr(
                    "\(system) released: \(count) held updates are now pending; `yibiao outbox deliver --system \(system)` sends them.",
                    "\(system) 已开启：\(count) 条暂缓的更新转为待发；执行 `yibiao outbox deliver --system \(system)` 发送。"))
        }
    }

    struct DirectoryOption: ParsableArguments {
        @Option(
            name: .long,
            help: ArgumentHelp(
                tr(
                    "Where delivered files go, per district and system (default: $YIBIAO_OUTBOX_DIR, else outbox/ in the home directory).",
                    "投递文件的目录，按区县和系统分子目录（默认：$YIBIAO_OUTBOX_DIR，否则为主目录下的 outbox/）。"),
                valueName: "dir"))
        var dir: String?

        func resolved(_ database: DatabaseOptions) throws -> URL {
            if let dir { return URL(fileURLWithPath: dir) }
            if let env = CLI.environment["YIBIAO_OUTBOX_DIR"], !env.isEmpty { return URL(fileURLWithPath: env) }
            return try database.database().home.appendingPathComponent("outbox", isDirectory: true)
        }
    }

    struct Deliver: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(
                abstract: tr(
                    "Deliver pending updates of released systems: files in each system's format, or HTTP. Safe to run again at any time.",
                    "投递已开启系统的待发更新：按系统格式写出文件，或通过 HTTP 发送。可随时重复执行。"))
        }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var districtOption: DistrictOption
        @OptionGroup var systemOption: SystemOption
        @OptionGroup var directory: DirectoryOption
        @Option(name: .long, help: ArgumentHelp(tr("Most rows in one file.", "每个文件的最多行数。"))) var rowsPerFile = 50_000

        func validate() throws {
            if rowsPerFile < 1 { throw ValidationError(tr("--rows-per-file must be at least 1.", "--rows-per-file 至少为 1。")) }
        }

        func run() async throws {
            let district = try districtOption.resolved()
            let options = OutboxDelivery.Options(directory: try directory.resolved(database), rowsPerFile: rowsPerFile)
            let systems = systemOption.system.map { [$0] }
            let results = try await database.withHub { hub in
                try await hub.deliverOutbox(district: district, systems: systems, options: options)
            }
            var failed = false
            for result in results {
                if result.held {
                    print(tr("\(result.system): held — nothing sent (`yibiao outbox release --system \(result.system)`)", "\(result.system)：暂缓——未发送（`yibiao outbox release --system \(result.system)`）"))
                    continue
                }
                var line = "\(result.system): " + tr("\(result.sent) sent", "已发 \(result.sent)")
                if !result.files.isEmpty { line += tr(" in ", "，文件 ") + result.files.joined(separator: ", ") }
                if result.acknowledgements > 0 { line += tr("; \(result.acknowledgements) acknowledgement files read", "；读取确认文件 \(result.acknowledgements) 个") }
                if result.acknowledged > 0 { line += tr("; \(result.acknowledged) acknowledged", "；已确认 \(result.acknowledged)") }
                if result.failed > 0 { line += tr("; \(result.failed) failed, will retry", "；失败待重试 \(result.failed)") }
                if result.dead > 0 { line += tr("; \(result.dead) dead letters (`yibiao outbox dead`)", "；死信 \(result.dead)（`yibiao outbox dead`）") }
                print(line)
                if let error = result.lastError {
                    print("  " + tr("last error: ", "最近错误：") + error)
                    failed = true
                }
            }
            print(tr("Files are under \(options.directory.path)", "文件位于 \(options.directory.path)"))
            if failed { throw ExitCode.failure }
        }
    }

    struct Ack: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(
                abstract: tr(
                    "Record a system's acknowledgement of a delivered file: an .ack file (one rejected idempotency key and reason per line; empty accepts all), or --all.",
                    "记录系统对已投递文件的确认：.ack 文件（每行一个被拒的幂等键及原因；空文件即全部接收），或用 --all。"))
        }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var districtOption: DistrictOption
        @Option(name: .long, help: ArgumentHelp(tr("The system.", "系统。"), valueName: "system")) var system: String
        @Argument(help: ArgumentHelp(tr("The delivered file (name or number), or its .ack file.", "已投递的文件（文件名或编号），或其 .ack 文件。")))
        var file: String
        @Flag(name: .long, help: ArgumentHelp(tr("Every row of the file was accepted (no .ack file).", "文件中所有行均已接收（无 .ack 文件）。"))) var all = false

        func run() async throws {
            let district = try districtOption.resolved()
            var name = URL(fileURLWithPath: file).lastPathComponent
            var text = ""
            if name.hasSuffix(".ack") {
                name.removeLast(4)
                guard let content = try? String(contentsOfFile: file, encoding: .utf8) else {
                    throw ValidationError(tr("Cannot read \(file).", "无法读取 \(file)。"))
                }
                text = content
            } else if !all {
                throw ValidationError(tr("Give the .ack file, or --all when every row was accepted.", "请给出 .ack 文件；若全部接收，请加 --all。"))
            }
            let (system, ackText, fileName) = (self.system, text, name)
            let (accepted, rejected) = try await database.withHub { hub in
                try await hub.acknowledgeDelivery(district: district, system: system, file: fileName, ackText: ackText)
            }
            print(tr("\(fileName): \(accepted) acknowledged, \(rejected) rejected (dead letters).", "\(fileName)：确认 \(accepted) 条，被拒 \(rejected) 条（死信）。"))
        }
    }

    struct Dead: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(abstract: tr("Dead letters: updates that could not be delivered, and why.", "死信：无法投递的更新及原因。"))
        }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var districtOption: DistrictOption
        @OptionGroup var systemOption: SystemOption

        func run() async throws {
            let district = try districtOption.resolved()
            let system = systemOption.system
            let dead = try await database.withHub { hub in try await hub.deadLetters(district: district, system: system) }
            guard !dead.isEmpty else {
                print(tr("No dead letters.", "没有死信。"))
                return
            }
            for update in dead {
                print(
                    "#\(update.id) \(update.system) · " + tr("resident", "居民") + " \(update.resident) · "
                        + tr("\(update.attempts) attempts", "尝试 \(update.attempts) 次") + " · " + (update.lastError ?? ""))
            }
            print(tr("`yibiao outbox retry --system S` puts them back in line.", "执行 `yibiao outbox retry --system S` 可重新排队。"))
        }
    }

    struct Retry: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(abstract: tr("Put dead or failed updates back in line now.", "将死信或失败的更新立即重新排队。"))
        }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var districtOption: DistrictOption
        @OptionGroup var systemOption: SystemOption
        @Argument(help: ArgumentHelp(tr("Update ids (default: all of them).", "更新编号（默认全部）。"))) var ids: [Int64] = []

        func run() async throws {
            let district = try districtOption.resolved()
            let (system, ids) = (systemOption.system, self.ids)
            let count = try await database.withHub { hub in try await hub.retryOutbox(district: district, system: system, ids: ids) }
            print(tr("\(count) updates are pending again.", "\(count) 条更新已重新待发。"))
        }
    }
}
