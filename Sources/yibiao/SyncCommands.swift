import ArgumentParser
import Foundation
import YibiaoApplication
import YibiaoCore
import YibiaoStore
import YibiaoSync

/// The worker's machine: where its login and queue are, and the hub it talks to.
enum WorkerSide {
    static var home: ClientHome { ClientHome.fromEnvironment(CLI.environment) }
    static var client: SyncClient { SyncClient(home: home, today: todayInChina()) }

    /// Runs `body` with a connection to the logged-in hub, closed afterwards whatever happens.
    static func withHub<T>(_ login: Login, _ body: (HubConnection) async throws -> T) async throws -> T {
        let hub = try HubConnection(login: login, language: CLI.language)
        do {
            let result = try await body(hub)
            await hub.close()
            return result
        } catch {
            await hub.close()
            throw error
        }
    }
}

struct LoginCommand: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "login",
            abstract: tr("Log this computer in to the hub with a worker's token.", "用工作人员令牌将本机登录到平台。"),
            discussion: tr(
                "The token is asked for (not shown as typed), or read from --token-file or standard input; it is checked with the hub and kept in $YIBIAO_CLIENT_HOME (default ~/.config/yibiao) readable by you alone.",
                "令牌在提示时输入（输入时不显示），或从 --token-file、标准输入读取；经平台验证后保存在 $YIBIAO_CLIENT_HOME（默认 ~/.config/yibiao），仅本人可读。"))
    }

    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: ArgumentHelp(tr("The hub's address, e.g. https://yibiao.example.gov.cn.", "平台地址，如 https://yibiao.example.gov.cn。"), valueName: "url"))
    var hub: String
    @Option(name: .long, help: ArgumentHelp(tr("Read the token from this file.", "从该文件读取令牌。"), valueName: "file"))
    var tokenFile: String?

    func run() async throws {
        let token: String
        if let tokenFile {
            guard let text = try? String(contentsOfFile: tokenFile, encoding: .utf8) else {
                throw SyncError(.badInput, .init(en: "cannot read \(tokenFile)", zh: "无法读取 \(tokenFile)"))
            }
            token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        } else {
            token = try Terminal.ask(tr("Token: ", "令牌："), secret: true).trimmingCharacters(in: .whitespaces)
        }
        guard token.hasPrefix("ybw_") else {
            throw SyncError(
                .badInput, .init(en: "that is not a worker's token (they start with ybw_)", zh: "这不是工作人员令牌（应以 ybw_ 开头）"),
                remedy: .init(en: "the district's IT team issues it: yibiao worker add", zh: "令牌由区信息部门发放（yibiao worker add）"))
        }
        let address = try HubConnection.normalised(hub)
        let timeouts = HubConnection.configuredTimeouts()
        let connection = try HubConnection(hub: address, token: token, language: CLI.language, timeout: timeouts.read, connectTimeout: timeouts.connect)
        let me: HubConnection.Me
        do {
            me = try await connection.me()
            await connection.close()
        } catch {
            await connection.close()
            throw error
        }
        let login = Login(
            hub: address, token: token, worker: me.worker, name: me.name, district: me.district, communities: me.communities, editable: me.editable,
            readable: me.readable)
        let home = WorkerSide.home
        try home.saveLogin(login)
        print(tr("Logged in as \(me.name) (\(me.worker)) at \(address).", "已登录：\(me.name)（\(me.worker)），平台 \(address)。"))
        print(tr("Communities: ", "负责社区：") + me.communities.joined(separator: ", "))
        print(tr("You may change: ", "可修改：") + me.editable.map(FieldDisplay.label).joined(separator: tr(", ", "、")))
        let pending = try WorkerSide.client.queue.entries().filter { $0.state.isPending }.count
        if pending > 0 { print(tr("\(pending) entries wait on this computer: `yibiao sync push` sends them.", "本机有 \(pending) 条录入待发送：运行 `yibiao sync push` 发送。")) }
    }
}

struct Logout: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(abstract: tr("Remove this computer's token (entries waiting stay).", "删除本机保存的令牌（待发送的录入保留）。"))
    }

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try WorkerSide.home.removeLogin()
        let pending = try WorkerSide.client.queue.entries().filter { $0.state.isPending }.count
        print(tr("Logged out.", "已退出登录。"))
        if pending > 0 { print(tr("\(pending) entries still wait; they are sent after the next login.", "仍有 \(pending) 条录入待发送，下次登录后发送。")) }
    }
}

struct Enter: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            abstract: tr(
                "Enter what changed for a resident, verified in person: it fills the golden record and every system that holds the field.",
                "录入经当面核实的居民信息变化：写入主记录，并同步到持有该字段的所有系统。"),
            discussion: tr(
                """
                On a worker's computer (after `yibiao login`): with no arguments, a form asks for the ID number and then only \
                for what changed; `yibiao enter ID field=value …` or `--from-file F` (field=value lines) sends without questions. \
                When the hub cannot be reached the entry waits on this computer (`yibiao sync status`).
                On the hub itself, `--direct RESIDENT field=value …` writes to the database (the district's operators).
                Fields: \(CanonicalField.all.map(\.qualifiedName).joined(separator: ", "))
                """,
                """
                在工作人员电脑上（先运行 `yibiao login`）：不带参数时，按表单先输入公民身份号码，再只填写有变化的内容；\
                `yibiao enter 身份号码 字段=值 …` 或 `--from-file 文件`（每行 字段=值）直接发送。\
                连接不到平台时，录入保存在本机（`yibiao sync status`）。
                在平台本机上，`--direct 居民 字段=值 …` 直接写入数据库（供区里的操作人员使用）。
                可录入字段：\(CanonicalField.all.map(\.qualifiedName).joined(separator: "、"))
                """))
    }

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var districtOption: DistrictOption
    @Argument(help: ArgumentHelp(tr("The citizen ID number (or, with --direct, the resident id).", "公民身份号码（使用 --direct 时也可为居民编号）。"), valueName: "resident"))
    var resident: String?
    @Argument(help: ArgumentHelp(tr("field=value pairs.", "字段=值。"), valueName: "field=value")) var assignments: [String] = []
    @Option(name: .long, help: ArgumentHelp(tr("Read field=value lines (national_id=… among them) from this file.", "从文件读取“字段=值”行（其中含 national_id=…）。"), valueName: "file"))
    var fromFile: String?
    @Flag(name: .long, help: ArgumentHelp(tr("Write to the hub's database directly (on the hub, as an operator).", "直接写入平台数据库（在平台本机，供操作人员使用）。")))
    var direct = false
    @Option(name: .long, help: ArgumentHelp(tr("With --direct: who entered it (default: the login user).", "使用 --direct 时：录入人（默认当前登录用户）。")))
    var worker: String?

    static func parse(_ assignments: [String]) throws -> [String: String] {
        var values: [String: String] = [:]
        for assignment in assignments {
            guard let equals = assignment.firstIndex(of: "="), equals != assignment.startIndex else {
                throw ValidationError(tr("\(assignment): write field=value, e.g. phone=13912345678.", "\(assignment)：请写作 字段=值，如 phone=13912345678。"))
            }
            let field = String(assignment[..<equals]).trimmingCharacters(in: .whitespaces)
            guard values[field] == nil else {
                throw ValidationError(tr("\(field) is given twice; say it once.", "\(field) 出现了两次；请只写一次。"))
            }
            values[field] = String(assignment[assignment.index(after: equals)...]).trimmingCharacters(in: .whitespaces)
        }
        return values
    }

    func validate() throws {
        _ = try Self.parse(assignments)
        if resident != nil, assignments.isEmpty, fromFile == nil {
            throw ValidationError(tr("Give at least one field=value after the resident.", "请在居民之后至少给出一个 字段=值。"))
        }
    }

    func run() async throws {
        let login = try WorkerSide.home.login()
        if direct || (login == nil && resident != nil) {
            try await runDirect()
            return
        }
        guard let login else {
            _ = try WorkerSide.home.requireLogin()
            return
        }
        let status: Int32
        if fromFile != nil || resident != nil {
            status = try await runWithoutQuestions(login)
        } else {
            status = try await WorkerSide.withHub(login) { hub in
                try await EntryForm(login: login, client: WorkerSide.client, hub: hub).run()
            }
        }
        if status != 0 { throw ExitCode(status) }
    }

    /// The operator's path on the hub: straight into the database, as before the sync client.
    func runDirect() async throws {
        guard let resident, !assignments.isEmpty else {
            throw ValidationError(tr("With --direct, give the resident and field=value pairs.", "使用 --direct 时，请给出居民及 字段=值。"))
        }
        let district = try districtOption.resolved()
        let values = try Self.parse(assignments)
        let worker = self.worker.map { "worker:\($0)" } ?? cliActor()
        let (id, summary) = try await database.withHub { hub in
            try await hub.enter(district: district, resident: resident, values: values, worker: worker)
        }
        print(
            summary.changed > 0
                ? tr("Saved for resident \(id): the golden record changed (\(summary.entries) change-log entry).", "已为居民 \(id) 保存：主记录已更新（变更日志 \(summary.entries) 条）。")
                : tr("Saved for resident \(id): the golden record already had these values.", "已为居民 \(id) 保存：主记录中已是这些值。"))
        if summary.changed > 0 { printReceipts(summary.outbox) }
    }

    /// `enter ID field=value …` or `--from-file`: checked here, only the changes sent.
    func runWithoutQuestions(_ login: Login) async throws -> Int32 {
        var typed = try Self.parse(assignments)
        if let fromFile {
            guard let text = try? String(contentsOfFile: fromFile, encoding: .utf8) else {
                throw SyncError(.badInput, .init(en: "cannot read \(fromFile)", zh: "无法读取 \(fromFile)"))
            }
            let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            for (field, value) in try Self.parse(lines.filter { !$0.isEmpty && !$0.hasPrefix("#") }) {
                guard typed[field] == nil else { throw ValidationError(tr("\(field) is given twice; say it once.", "\(field) 出现了两次；请只写一次。")) }
                typed[field] = value
            }
        }
        let reference = resident ?? typed.removeValue(forKey: "national_id") ?? ""
        let client = WorkerSide.client
        let parsed = CitizenID.parse(reference, today: client.today)
        guard case .success(let id) = parsed else {
            let problem = reference.isEmpty ? LocalizedText(en: "no citizen ID number given", zh: "未给出公民身份号码") : parsed.failureMessage
            throw SyncError(.badInput, problem, remedy: .init(en: "give the resident's 18-digit citizen ID number first", zh: "请先给出居民的 18 位公民身份号码"))
        }
        let (values, problems) = client.check(typed, editable: login.editable)
        guard problems.isEmpty else {
            let lines = problems.sorted { $0.key < $1.key }.map { "\($0.key): \(tr($0.value))" }
            throw SyncError(
                .badInput, .init(en: lines.joined(separator: "; "), zh: lines.joined(separator: "；")),
                remedy: .init(en: "nothing was sent; correct the values and enter them again", zh: "未发送任何内容；请更正后重新录入"))
        }
        return try await WorkerSide.withHub(login) { hub in
            var current: [String: String]?
            do {
                guard let found = try await hub.lookup([id.value])[id.value] else {
                    print(tr("There is no resident with this ID number in your communities.", "在您负责的社区中没有此公民身份号码的居民。"))
                    return ExitStatus.failure
                }
                current = found.fields
            } catch let error as SyncError where error.kind == .unreachable {
                current = nil
            }
            let changes = SyncClient.changes(values, current: current)
            guard !changes.isEmpty else {
                print(tr("The hub has these values already; nothing was sent.", "平台中已是这些值，未发送。"))
                return ExitStatus.success
            }
            let seen: [String: String?]? = current.map { current in Dictionary(uniqueKeysWithValues: changes.keys.map { ($0, current[$0]) }) }
            let entry = QueuedEntry(nationalID: id.value, values: changes, seen: seen, origin: fromFile.map { "file:" + ($0 as NSString).lastPathComponent } ?? "command line")
            do {
                let answered = try await client.submit(entry, to: hub)
                if answered.state == .conflict { SyncOutput.conflicts(answered) }
                SyncOutput.outcome(answered)
                return answered.state == .accepted || answered.state == .withdrawn ? ExitStatus.success : ExitStatus.failure
            } catch let error as SyncError where error.kind == .unreachable {
                SyncOutput.savedOffline(error)
                return ExitStatus.success
            }
        }
    }
}

extension Result where Failure == CitizenIDError {
    var failureMessage: LocalizedText {
        if case .failure(let error) = self { return error.message }
        return LocalizedText(en: "", zh: "")
    }
}

extension SyncOutput {
    static func conflicts(_ entry: QueuedEntry) {
        print(tr("The hub's value differs from the one you saw:", "平台上的值与您看到的不同："))
        for (field, conflict) in entry.conflicts.sorted(by: { $0.key < $1.key }) {
            print(
                "  \(FieldDisplay.label(field))" + tr(": ", "：") + tr("yours", "您的") + " \(FieldDisplay.show(field, conflict.mine)) · " + tr("hub's", "平台的")
                    + " \(FieldDisplay.show(field, conflict.current))"
                    + (conflict.seen.map { " · " + tr("you saw", "您看到的") + " \(FieldDisplay.show(field, $0))" } ?? ""))
        }
    }
}

struct SyncCommand: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "sync",
            abstract: tr(
                "Send entries waiting on this computer, or a spreadsheet of changes (--file).",
                "发送本机待发送的录入，或发送一张修改表格（--file）。"),
            discussion: tr(
                """
                `yibiao sync --file 表格.xlsx` checks every row first, shows what would change, and sends after you confirm; \
                bad rows are set aside in 表格.set-aside.csv with their reasons. `yibiao template` writes a sheet to fill in. \
                With no --file, the same as `yibiao sync push`.
                """,
                """
                `yibiao sync --file 表格.xlsx` 先检查每一行，列出将要修改的内容，确认后发送；有问题的行连同原因另存到 表格.set-aside.csv，不影响其他行。\
                `yibiao template` 生成可填写的表格。不带 --file 时等同于 `yibiao sync push`。
                """),
            subcommands: [Push.self, Status.self, Resolve.self])
    }

    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: ArgumentHelp(tr("A spreadsheet (.xlsx or .csv) of changes, one resident a row.", "修改表格（.xlsx 或 .csv），每行一位居民。"), valueName: "file"))
    var file: String?
    @Flag(name: .long, help: ArgumentHelp(tr("Send without asking.", "不再询问，直接发送。"))) var yes = false
    @Flag(name: .long, help: ArgumentHelp(tr("Check and report only; send nothing.", "只检查和报告，不发送。"))) var dryRun = false

    func run() async throws {
        let login = try WorkerSide.home.requireLogin()
        guard let file else {
            try await Push.push(login)
            return
        }
        let status = try await SheetSync(login: login, file: URL(fileURLWithPath: file), yes: yes, dryRun: dryRun).run()
        if status != 0 { throw ExitCode(status) }
    }

    struct Push: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(abstract: tr("Send the entries waiting on this computer.", "发送本机待发送的录入。"))
        }

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await Self.push(try WorkerSide.home.requireLogin())
        }

        static func push(_ login: Login) async throws {
            let client = WorkerSide.client
            let report = try await WorkerSide.withHub(login) { hub in try await client.push(to: hub) }
            if report.sent.isEmpty, report.unreachable == nil {
                print(tr("Nothing waits to be sent.", "没有待发送的录入。"))
            }
            for entry in report.sent {
                print(Terminal.bold("\(entry.id.prefix(8)) · \(SyncOutput.person(entry))"))
                if entry.state == .conflict { SyncOutput.conflicts(entry) }
                SyncOutput.outcome(entry)
            }
            if let unreachable = report.unreachable {
                print(tr(unreachable.message))
                print(tr("\(report.waiting) entries still wait on this computer.", "仍有 \(report.waiting) 条录入保存在本机待发送。"))
                throw ExitCode(ExitStatus.unavailable)
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(abstract: tr("Each entry on this computer and its state.", "本机每条录入及其状态。"))
        }

        @OptionGroup var global: GlobalOptions

        static func stateName(_ state: QueuedEntry.State) -> String {
            switch state {
            case .waiting: tr("waiting", "待发送")
            case .sent: tr("sent, no answer yet", "已发送，未收到答复")
            case .accepted: tr("accepted", "已接受")
            case .conflict: tr("conflict", "有冲突")
            case .rejected: tr("rejected", "被拒绝")
            case .withdrawn: tr("withdrawn", "已撤回")
            }
        }

        func run() async throws {
            let (entries, damaged) = WorkerSide.client.queue.load()
            if entries.isEmpty, damaged.isEmpty { print(tr("No entries on this computer.", "本机没有录入。")) }
            let formatter = DateFormatter()
            formatter.dateFormat = "yyyy-MM-dd HH:mm"
            formatter.timeZone = TimeZone(secondsFromGMT: 8 * 3600)
            for entry in entries {
                let fields = entry.values.keys.sorted().map(FieldDisplay.label).joined(separator: tr(", ", "、"))
                var line = "\(entry.id.prefix(8)) · \(formatter.string(from: entry.createdAt)) · \(SyncOutput.person(entry)) · \(fields) · \(Self.stateName(entry.state))"
                switch entry.state {
                case .accepted where !entry.reaches.isEmpty: line += " → " + entry.reaches.map { SyncOutput.systemName($0.system) }.joined(separator: tr(", ", "、"))
                case .accepted where entry.alreadyReceived: line += tr(" (already received)", "（平台已收到过）")
                case .rejected: line += tr(": ", "：") + (entry.reason ?? entry.reasonCode ?? "")
                case .conflict: line += tr(": `yibiao sync resolve \(entry.id.prefix(8)) --keep mine|hub`", "：`yibiao sync resolve \(entry.id.prefix(8)) --keep mine|hub`")
                default: break
                }
                print(line)
            }
            for name in damaged { print(tr("\(name): cannot be read; it is left in place", "\(name)：无法读取，已原样保留")) }
            let counts = QueuedEntry.State.allCases.compactMap { state -> String? in
                let count = entries.filter { $0.state == state }.count
                return count > 0 ? "\(Self.stateName(state)) \(count)" : nil
            }
            if !counts.isEmpty { print(counts.joined(separator: " · ")) }
        }
    }

    struct Resolve: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(
                abstract: tr("Decide a conflict: keep your value or the hub's, then send.", "处理冲突：保留您的值或平台的值，然后发送。"))
        }

        @OptionGroup var global: GlobalOptions
        @Argument(help: ArgumentHelp(tr("The entry (its first characters, as `sync status` shows).", "录入编号（`sync status` 显示的前几位）。"), valueName: "entry"))
        var entry: String
        @Option(name: .long, help: ArgumentHelp(tr("mine or hub.", "mine（您的）或 hub（平台的）。"), valueName: "mine|hub")) var keep: String
        @Option(name: .long, help: ArgumentHelp(tr("Only this field (repeatable; default: every field in conflict).", "仅此字段（可重复；默认所有冲突字段）。"), valueName: "field"))
        var field: [String] = []

        func validate() throws {
            if SyncClient.Keep(rawValue: keep) == nil { throw ValidationError(tr("--keep is mine or hub.", "--keep 只能是 mine 或 hub。")) }
        }

        func run() async throws {
            let login = try WorkerSide.home.requireLogin()
            let resolved = try WorkerSide.client.resolve(entry, keep: SyncClient.Keep(rawValue: keep)!, fields: field)
            guard resolved.state == .waiting else {
                SyncOutput.outcome(resolved)
                return
            }
            try await Push.push(login)
        }
    }
}

struct Template: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            abstract: tr("Write a spreadsheet to fill in for `yibiao sync --file`.", "生成供 `yibiao sync --file` 使用的表格模板。"),
            discussion: tr(
                "One resident a row: the citizen ID number, then only what changed (an empty cell changes nothing).",
                "每行一位居民：先填公民身份号码，再只填有变化的内容（空白单元格表示不修改）。"))
    }

    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: ArgumentHelp(tr("Where to write it (.xlsx or .csv).", "保存位置（.xlsx 或 .csv）。"), valueName: "file"))
    var out: String?

    func run() async throws {
        let login = try WorkerSide.home.login()
        let editable = login?.editable ?? WorkerFields().editable
        let url = URL(fileURLWithPath: out ?? tr("resident-updates.xlsx", "居民信息更新表.xlsx"))
        try EntrySheet.writeTemplate(to: url, editable: editable, language: CLI.language)
        print(tr("Wrote \(url.path): fill in one resident a row, then `yibiao sync --file \(url.lastPathComponent)`.", "已生成 \(url.path)：每行填写一位居民，然后运行 `yibiao sync --file \(url.lastPathComponent)`。"))
        if login == nil { print(tr("(Not logged in: the columns are the fields every worker may change.)", "（尚未登录：列为所有工作人员均可修改的字段。）")) }
    }
}
