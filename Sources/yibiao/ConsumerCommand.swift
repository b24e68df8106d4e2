import ArgumentParser
import Foundation
import YibiaoApplication
import YibiaoCore
import YibiaoStore

struct ConsumerCommand: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "consumer",
            abstract: tr(
                "Downstream consumers: who may read which fields of which residents, and why.",
                "数据使用方：谁可以因何用途读取哪些居民的哪些字段。"),
            discussion: tr(
                """
                A consumer reads through `yibiao serve` (bearer token) or receives `yibiao extract` files. \
                It sees only the fields and facets it is granted; ID numbers and phones are masked \
                (first 6 + last 4, first 3 + last 4) unless granted in full. Party and family-planning \
                facets are sensitive: they are granted only with a purpose. A community office is a \
                consumer scoped to its community (--community). Every read is in the audit log.
                """,
                """
                使用方通过 `yibiao serve`（持令牌）读取数据，或接收 `yibiao extract` 生成的文件。\
                它只能看到被授予的字段和分类；身份证号和电话默认遮盖（前 6 后 4、前 3 后 4），\
                除非授权查看完整值。党员和计生分类属于敏感信息，须写明用途方可授予。\
                社区办公室是限定在本社区范围（--community）的使用方。每次读取都记入审计日志。
                """),
            subcommands: [Add.self, List.self, Show.self, Disable.self, RotateToken.self])
    }

    struct Add: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(
                abstract: tr("Register a consumer and print its token (shown this once).", "登记使用方并显示其令牌（仅显示这一次）。"))
        }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var districtOption: DistrictOption

        @Argument(help: ArgumentHelp(tr("Its id: lower-case letters, digits, _ and -.", "编号：小写字母、数字、_ 和 -。"), valueName: "id"))
        var id: String

        @Option(name: .long, help: ArgumentHelp(tr("Its name, e.g. 区民政局低保科.", "名称，如 区民政局低保科。"), valueName: "text"))
        var name: String

        @Option(name: .long, help: ArgumentHelp(tr("What it reads the data for.", "读取数据的用途。"), valueName: "text"))
        var purpose: String

        @Option(
            name: .long,
            help: ArgumentHelp(tr("The law or decision that allows it (PIPL art. 13).", "允许其读取的法律或决定依据（个人信息保护法第十三条）。"), valueName: "text"))
        var legalBasis: String

        @Option(
            name: .long,
            help: ArgumentHelp(
                tr("Granted fields, comma-separated (e.g. name,sex,birth_date,phone).", "授予的字段，逗号分隔（如 name,sex,birth_date,phone）。"),
                valueName: "fields"))
        var fields: String = ""

        @Option(
            name: .long,
            help: ArgumentHelp(
                tr(
                    "A whole facet: civil_affairs, social_security, or party=PURPOSE / family_planning=PURPOSE (sensitive: purpose required). Repeatable.",
                    "整个分类：civil_affairs、social_security，或 party=用途 / family_planning=用途（敏感分类须写明用途）。可重复。"),
                valueName: "facet[=purpose]"))
        var facet: [String] = []

        @Option(
            name: .long,
            help: ArgumentHelp(
                tr("Fields shown in full that are masked by default (national_id, phone…).", "默认遮盖、但授权查看完整值的字段（national_id、phone 等）。"),
                valueName: "fields"))
        var unmasked: String = ""

        @Option(
            name: .long, help: ArgumentHelp(tr("Fields to mask that are shown in full by default (name, address…).", "额外遮盖的字段（name、address 等）。"), valueName: "fields"))
        var masked: String = ""

        @Option(
            name: .long,
            help: ArgumentHelp(tr("Systems whose local keys it may see in a cross-reference.", "可在交叉索引中看到其本地编号的系统。"), valueName: "systems"))
        var systems: String = ""

        @Option(
            name: .long,
            help: ArgumentHelp(
                tr("Only residents of this community (12-digit code). Repeatable; default: the whole district.", "仅限此社区的居民（12 位代码）。可重复；默认全区县。"),
                valueName: "code"))
        var community: [String] = []

        @Option(name: .long, help: ArgumentHelp(tr("Requests per minute before 429.", "每分钟请求上限，超过返回 429。"), valueName: "n"))
        var ratePerMinute: Int = 600

        func run() async throws {
            let district = try districtOption.resolved()
            var purposes: [String: String] = [:]
            for entry in facet {
                let parts = entry.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                purposes[parts[0]] = parts.count > 1 ? parts[1] : ""
            }
            let grant = AccessGrant(
                fields: list(fields), facets: purposes, unmasked: list(unmasked), masked: list(masked), systems: list(systems),
                communities: Set(community.map { $0.trimmingCharacters(in: .whitespaces) }))
            let definition = Consumers.Definition(
                id: id, name: name, purpose: purpose, legalBasis: legalBasis, grant: grant, ratePerMinute: ratePerMinute)
            let (consumer, token) = try await database.withHub { hub in
                try await hub.addConsumer(district: district, definition, actor: cliActor())
            }
            printConsumer(consumer)
            print("")
            print(tr("Token (shown only now; store it where the consumer keeps secrets):", "令牌（仅此一次显示，请交使用方妥善保管）："))
            print(token)
        }
    }

    struct List: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(abstract: tr("The district's consumers.", "本区县的使用方。"))
        }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var districtOption: DistrictOption

        func run() async throws {
            let district = try districtOption.resolved()
            let consumers = try await database.withHub { hub in try await hub.listConsumers(district: district) }
            guard !consumers.isEmpty else {
                print(tr("No consumers in \(district). Add one with `yibiao consumer add`.", "\(district) 尚无使用方。可用 `yibiao consumer add` 添加。"))
                return
            }
            for consumer in consumers {
                let state = consumer.active ? tr("active", "启用") : tr("disabled", "已停用")
                let scope = consumer.grant.communities.isEmpty ? tr("whole district", "全区县") : consumer.grant.communities.sorted().joined(separator: ",")
                print(
                    "\(consumer.id) · \(consumer.name) · \(state) · "
                        + tr("\(consumer.grant.allowedFields.count) fields", "\(consumer.grant.allowedFields.count) 个字段") + " · \(scope) · \(consumer.tokenHint)…")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(abstract: tr("A consumer's grant, masking and scope.", "使用方的授权、遮盖方式和范围。"))
        }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var districtOption: DistrictOption
        @Argument(help: ArgumentHelp(tr("The consumer's id.", "使用方编号。"), valueName: "id")) var id: String

        func run() async throws {
            let district = try districtOption.resolved()
            printConsumer(try await database.withHub { hub in try await hub.consumer(district: district, id: id) })
        }
    }

    struct Disable: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(abstract: tr("Stop a consumer's token at once (its audit trail stays).", "立即停用使用方的令牌（审计记录保留）。"))
        }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var districtOption: DistrictOption
        @Argument(help: ArgumentHelp(tr("The consumer's id.", "使用方编号。"), valueName: "id")) var id: String

        func run() async throws {
            let district = try districtOption.resolved()
            try await database.withHub { hub in try await hub.disableConsumer(district: district, id: id, actor: cliActor()) }
            print(tr("Disabled \(id): its token no longer works.", "已停用 \(id)：其令牌已失效。"))
        }
    }

    struct RotateToken: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(
                commandName: "rotate-token", abstract: tr("Issue a new token; the old one stops working at once.", "换发新令牌；旧令牌立即失效。"))
        }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var districtOption: DistrictOption
        @Argument(help: ArgumentHelp(tr("The consumer's id.", "使用方编号。"), valueName: "id")) var id: String

        func run() async throws {
            let district = try districtOption.resolved()
            let token = try await database.withHub { hub in try await hub.rotateConsumerToken(district: district, id: id, actor: cliActor()) }
            print(tr("New token for \(id) (shown only now):", "\(id) 的新令牌（仅此一次显示）："))
            print(token)
        }
    }
}

private func list(_ text: String) -> Set<String> {
    Set(text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
}

func printConsumer(_ consumer: Consumers.Consumer) {
    let grant = consumer.grant
    print("\(consumer.id) · \(consumer.name) · " + (consumer.active ? tr("active", "启用") : tr("disabled \(consumer.disabledAt ?? "")", "已停用 \(consumer.disabledAt ?? "")")))
    print(tr("  purpose: ", "  用途：") + consumer.purpose)
    print(tr("  legal basis: ", "  法律依据：") + consumer.legalBasis)
    print(tr("  scope: ", "  范围：") + (grant.communities.isEmpty ? tr("the whole district \(consumer.district)", "全区县 \(consumer.district)") : grant.communities.sorted().joined(separator: ", ")))
    for (facet, purpose) in grant.facets.sorted(by: { $0.key < $1.key }) {
        print(tr("  facet \(facet)", "  分类 \(facet)") + (purpose.isEmpty ? "" : tr(" for: \(purpose)", "，用途：\(purpose)")))
    }
    print(tr("  fields:", "  字段："))
    for field in grant.allowedFields {
        let label = CanonicalField.named(field).map { tr($0.label) } ?? field
        let mask = grant.mask(for: field)
        let shown = mask == .none ? tr("in full", "完整") : tr("masked", "遮盖")
        print("    \(field) (\(label)) · \(shown)")
    }
    if !grant.systems.isEmpty { print(tr("  local keys of: ", "  可见本地编号的系统：") + grant.systems.sorted().joined(separator: ", ")) }
    print(
        tr(
            "  rate limit: \(consumer.ratePerMinute)/min · token \(consumer.tokenHint)… · added \(consumer.createdAt) by \(consumer.createdBy)",
            "  频率上限：每分钟 \(consumer.ratePerMinute) 次 · 令牌 \(consumer.tokenHint)… · \(consumer.createdAt) 由 \(consumer.createdBy) 添加"))
}

struct ExtractCommand: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "extract",
            abstract: tr(
                "Write a consumer's extract: every resident it may see, or those changed since a cursor; with a manifest.",
                "为使用方生成数据提取文件：其可见的全部居民，或自某游标以来有变化的居民；附清单。"),
            discussion: tr(
                """
                The file holds only the consumer's granted fields, masked as its grant says. FILE.manifest.json \
                gives the rows, the SHA-256 of the file and the cursor: the next `--since` for the changes after it. \
                A resident merged into another appears in a changes extract with status retired and merged_into.
                """,
                """
                文件只含该使用方被授予的字段，并按授权遮盖。FILE.manifest.json 给出行数、文件的 SHA-256 \
                和游标：下次用 `--since` 传入即可取得此后的变化。被合并的居民在变化提取中显示为 retired 及其 merged_into。
                """))
    }

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var districtOption: DistrictOption

    @Option(name: .long, help: ArgumentHelp(tr("The consumer the extract is for.", "提取文件的使用方。"), valueName: "id"))
    var consumer: String

    @Option(name: .long, help: ArgumentHelp(tr("Only residents changed after this change-log cursor.", "仅含此变更日志游标之后有变化的居民。"), valueName: "seq"))
    var since: Int64?

    @Option(name: .long, help: ArgumentHelp(tr("csv (UTF-8), jsonl or xlsx (default csv).", "csv（UTF-8）、jsonl 或 xlsx（默认 csv）。"), valueName: "format"))
    var format: String = "csv"

    @Option(name: .long, help: ArgumentHelp(tr("The file to write (default: CONSUMER-CURSOR.FORMAT here).", "输出文件（默认：当前目录下 使用方-游标.格式）。"), valueName: "file"))
    var out: String?

    func validate() throws {
        guard ExtractFormat(rawValue: format) != nil else {
            throw ValidationError(tr("--format must be csv, jsonl or xlsx, not \(format).", "--format 只能是 csv、jsonl 或 xlsx，而不是 \(format)。"))
        }
        if let since, since < 0 { throw ValidationError(tr("--since must be 0 or more.", "--since 不能为负数。")) }
    }

    func run() async throws {
        let district = try districtOption.resolved()
        let format = ExtractFormat(rawValue: format)!
        let id = consumer
        let target = out.map { URL(fileURLWithPath: $0) }
        let since = since
        let result = try await database.withHub { hub in
            let consumer = try await hub.consumer(district: district, id: id)
            guard consumer.active else {
                throw ValidationError(tr("The consumer \(id) is disabled.", "使用方 \(id) 已停用。"))
            }
            let file = target ?? URL(fileURLWithPath: "\(id)-\(district)-\(since.map { "since\($0)" } ?? "full").\(format.rawValue)")
            return try await hub.extract(as: consumer, since: since, format: format, to: file, actor: cliActor()) { rows in
                FileHandle.standardError.write(Data(tr("  \(rows) rows…\n", "  已写 \(rows) 行……\n").utf8))
            }
        }
        print(tr("Wrote \(result.rows) residents to \(result.file.path).", "已将 \(result.rows) 位居民写入 \(result.file.path)。"))
        print(tr("Manifest: \(result.manifest.path) (SHA-256 \(result.sha256.prefix(16))…)", "清单：\(result.manifest.path)（SHA-256 \(result.sha256.prefix(16))…）"))
        print(tr("Next time: --since \(result.cursor)", "下次可用：--since \(result.cursor)"))
    }
}

struct AuditCommand: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "audit",
            abstract: tr("The audit log of every read and every grant change.", "记录每次读取和每次授权变更的审计日志。"),
            discussion: tr("Reading the audit log is itself recorded in it.", "查看审计日志本身也会记入审计日志。"),
            subcommands: [List.self, Verify.self])
    }

    struct List: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(abstract: tr("Entries, newest first.", "按时间倒序列出记录。"))
        }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var districtOption: DistrictOption
        @Option(name: .long, help: ArgumentHelp(tr("Only this consumer.", "仅此使用方。"), valueName: "id")) var consumer: String?
        @Option(name: .long, help: ArgumentHelp(tr("Only this action (read_resident, extract, …).", "仅此操作（read_resident、extract 等）。"), valueName: "action"))
        var action: String?
        @Option(name: .long, help: ArgumentHelp(tr("At most this many (default 50).", "最多条数（默认 50）。"), valueName: "n")) var limit: Int = 50

        func run() async throws {
            let district = try districtOption.resolved()
            let (actor, action, limit) = (consumer.map { "consumer:\($0)" }, action, max(1, limit))
            let entries = try await database.withHub { hub in
                try await hub.auditEntries(district: district, actor: actor, action: action, limit: limit, reader: cliActor())
            }
            if entries.isEmpty { print(tr("No entries.", "没有记录。")) }
            for listed in entries {
                let entry = listed.entry
                var parts = ["#\(listed.seq)", listed.at, entry.actor, entry.action]
                if let subject = entry.subject { parts.append(subject) }
                if let count = entry.detail.count { parts.append(tr("\(count) rows", "\(count) 行")) }
                if let residents = entry.detail.residents, entry.detail.count == nil { parts.append(tr("\(residents.count) residents", "\(residents.count) 位居民")) }
                if let fields = entry.detail.fields, !fields.isEmpty { parts.append(tr("fields ", "字段 ") + fields.joined(separator: ",")) }
                if let outcome = entry.detail.outcome { parts.append(outcome) }
                if let purpose = entry.purpose { parts.append(tr("purpose: ", "用途：") + purpose) }
                print(parts.joined(separator: " · "))
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(
                abstract: tr("Check the audit log's hash chain; exit 1 when broken.", "校验审计日志的哈希链；损坏时退出码为 1。"))
        }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var districtOption: DistrictOption

        func run() async throws {
            let district = try districtOption.resolved()
            let (checked, broken) = try await database.withHub { hub in try await hub.verifyAudit(district: district, reader: cliActor()) }
            try reportChain(
                checked: checked, broken: broken,
                intact: tr("The audit log of \(district) is intact: \(checked) entries.", "\(district) 的审计日志完好：共 \(checked) 条。"))
        }
    }
}

struct WorkerCommand: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "worker",
            abstract: tr(
                "Community workers who enter data through the API, each bound to communities.",
                "通过接口录入数据的社区工作人员，每人限定于所负责的社区。"),
            discussion: tr(
                "A worker sees and changes only residents of its communities (POST /v1/entries, docs/api.md).",
                "工作人员只能查看和修改其负责社区的居民（POST /v1/entries，见 docs/api.md）。"),
            subcommands: [Add.self, List.self, Disable.self, RotateToken.self])
    }

    struct Add: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(abstract: tr("Register a worker and print its token (shown this once).", "登记工作人员并显示其令牌（仅显示这一次）。"))
        }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var districtOption: DistrictOption
        @Argument(help: ArgumentHelp(tr("Its id (e.g. li.na).", "编号（如 li.na）。"), valueName: "id")) var id: String
        @Option(name: .long, help: ArgumentHelp(tr("The worker's name.", "姓名。"), valueName: "text")) var name: String
        @Option(
            name: .long,
            help: ArgumentHelp(tr("A community it works in (12-digit code). Repeatable.", "负责的社区（12 位代码）。可重复。"), valueName: "code"))
        var community: [String] = []
        @Option(
            name: .long,
            help: ArgumentHelp(
                tr(
                    "A facet it may change beside the core fields: civil_affairs, family_planning, party, social_security. Repeatable.",
                    "除基本信息外可修改的类别：civil_affairs、family_planning、party、social_security。可重复。"),
                valueName: "facet"))
        var facet: [String] = []

        func validate() throws {
            if let problem = WorkerFields.parseFacets(facet).problem { throw ValidationError(tr(problem)) }
        }

        func run() async throws {
            let district = try districtOption.resolved()
            let facets = WorkerFields.parseFacets(facet).facets
            let (worker, token) = try await database.withHub { hub in
                try await hub.addWorker(district: district, id: id, name: name, communities: Set(community), facets: facets, actor: cliActor())
            }
            print("\(worker.id) · \(worker.name) · " + worker.communities.sorted().joined(separator: ", "))
            print(tr("May change: ", "可修改：") + worker.fields.editable.joined(separator: ", "))
            print(tr("Token (shown only now; give it to the worker in person):", "令牌（仅此一次显示，请当面交给本人）："))
            print(token)
        }
    }

    struct List: AsyncParsableCommand {
        static var configuration: CommandConfiguration { CommandConfiguration(abstract: tr("The district's workers.", "本区县的工作人员。")) }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var districtOption: DistrictOption

        func run() async throws {
            let district = try districtOption.resolved()
            let workers = try await database.withHub { hub in try await hub.listWorkers(district: district) }
            if workers.isEmpty { print(tr("No workers in \(district).", "\(district) 尚无工作人员。")) }
            for worker in workers {
                let state = worker.active ? tr("active", "启用") : tr("disabled", "已停用")
                let facets = worker.facets.isEmpty ? "" : " · +" + worker.facets.map(\.rawValue).sorted().joined(separator: ",")
                print("\(worker.id) · \(worker.name) · \(state) · " + worker.communities.sorted().joined(separator: ", ") + facets + " · \(worker.tokenHint)…")
            }
        }
    }

    struct Disable: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(abstract: tr("Stop a worker's token at once.", "立即停用工作人员的令牌。"))
        }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var districtOption: DistrictOption
        @Argument(help: ArgumentHelp(tr("The worker's id.", "工作人员编号。"), valueName: "id")) var id: String

        func run() async throws {
            let district = try districtOption.resolved()
            try await database.withHub { hub in try await hub.disableWorker(district: district, id: id, actor: cliActor()) }
            print(tr("Disabled \(id).", "已停用 \(id)。"))
        }
    }

    struct RotateToken: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(commandName: "rotate-token", abstract: tr("Issue a new token; the old one stops at once.", "换发新令牌；旧令牌立即失效。"))
        }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var districtOption: DistrictOption
        @Argument(help: ArgumentHelp(tr("The worker's id.", "工作人员编号。"), valueName: "id")) var id: String

        func run() async throws {
            let district = try districtOption.resolved()
            let token = try await database.withHub { hub in try await hub.rotateWorkerToken(district: district, id: id, actor: cliActor()) }
            print(tr("New token for \(id) (shown only now):", "\(id) 的新令牌（仅此一次显示）："))
            print(token)
        }
    }
}
