import Foundation
import YibiaoAdapters
import YibiaoCore
import YibiaoSync

/// How a field's value reads to a worker: code tables by their labels, divisions by name.
enum FieldDisplay {
    static func show(_ field: String, _ value: String?) -> String {
        guard let value, !value.isEmpty else { return tr("(empty)", "（空）") }
        guard let canonical = CanonicalField.named(field) else { return value }
        switch canonical.kind {
        case .sex: return Sex(rawValue: value).map { tr($0.label) } ?? value
        case .code(let table):
            guard let entry = CodeTable.shipped[table]?.entry(code: value) else { return value }
            return tr(entry.labelEN, entry.label)
        case .division: return DivisionCodeTable.standard.fullName(value).map { "\($0) \(value)" } ?? value
        case .boolean: return value == "true" ? tr("yes", "是") : value == "false" ? tr("no", "否") : value
        default: return value
        }
    }

    static func label(_ field: String) -> String { CanonicalField.named(field).map { tr($0.label) } ?? field }

    /// The options of a code field, to show before anything is typed.
    static func options(_ field: String) -> String? {
        guard case .code(let table)? = CanonicalField.named(field)?.kind, let codes = CodeTable.shipped[table] else {
            if case .choice(let options)? = CanonicalField.named(field)?.kind { return options.joined(separator: " / ") }
            if case .boolean? = CanonicalField.named(field)?.kind { return tr("yes / no", "是 / 否") }
            return nil
        }
        let shown = codes.entries.filter { !$0.code.hasPrefix("9") }.prefix(8).map { tr($0.labelEN, $0.label) }
        return shown.joined(separator: " / ")
    }

    /// What the worker sees beside an ID number while typing it.
    static func idHint(_ typed: String, today: CalendarDate) -> String? {
        let cleaned = CitizenID.clean(typed)
        if cleaned.isEmpty { return tr("18 digits (the last may be X)", "18 位（最后一位可能是 X）") }
        if cleaned.count < 18, cleaned.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "X") }) {
            return tr("\(18 - cleaned.count) more", "还差 \(18 - cleaned.count) 位")
        }
        switch CitizenID.parse(typed, today: today) {
        case .success(let id):
            let place = DivisionCodeTable.standard.fullName(id.divisionCode) ?? id.divisionCode
            return "✓ \(id.birthDate.iso) · \(tr(id.sex.label)) · \(place)"
        case .failure(let problem): return "✗ " + tr(problem.message)
        }
    }
}

/// `yibiao enter` on a worker's machine: an ID number checked as it is typed, the person's
/// current record from the hub, only the changes asked for, a summary to confirm, then the
/// entry sent — or kept in the queue when the hub cannot be reached.
struct EntryForm {
    let login: Login
    let client: SyncClient
    let hub: HubConnection

    /// The order a worker walks the fields: what changes most often first.
    static let order = [
        "phone", "address", "division_code", "community_code", "marital_status", "household_book_no", "relationship_to_head", "name", "sex",
        "birth_date", "death_date",
    ]

    var fields: [String] {
        let first = Self.order.filter(login.editable.contains)
        return first + login.editable.filter { !first.contains($0) }
    }

    /// Returns the exit status.
    func run() async throws -> Int32 {
        print(
            Terminal.bold(tr("Yibiao · enter once", "一表通 · 一次录入")) + "  "
                + Terminal.dim("\(login.name) (\(login.worker)) · \(login.communities.joined(separator: ", ")) · \(login.hub)"))
        await pushEarlierEntries()
        let id = try askID()
        var current: [String: String]?
        do {
            guard let found = try await hub.lookup([id.value])[id.value] else {
                print(
                    tr(
                        "There is no resident with this ID number in your communities (not registered yet, or registered with another community).",
                        "在您负责的社区中没有此公民身份号码的居民（尚未登记，或登记在其他社区）。"))
                print(tr("To register a newcomer or a move, contact the district office.", "如需登记新居民或办理迁入，请联系区里。"))
                return ExitStatus.failure
            }
            current = found.fields
            showRecord(found)
        } catch let error as SyncError where error.kind == .unreachable {
            print(
                tr(
                    "The hub cannot be reached: fill in what changed; the entry is kept on this computer and sent when the line is back.",
                    "暂时连接不到平台：请填写有变化的内容；录入将保存在本机，网络恢复后自动发送。"))
        }
        print(Terminal.dim(tr("Press Enter to keep a value; Ctrl-C stops without sending.", "直接按回车表示不修改；按 Ctrl-C 中止，不会发送。")))
        var values: [String: String] = [:]
        // What the ID number says, offered where the hub has nothing (online: offline, Enter changes nothing).
        let derived = ["sex": id.sex.rawValue, "birth_date": id.birthDate.iso]
        for field in fields {
            let offered = current.flatMap { $0[field] == nil ? derived[field] : nil }
            if let value = try askField(field, current: current, derived: offered) { values[field] = value }
        }
        let changes = SyncClient.changes(values, current: current)
        guard !changes.isEmpty else {
            print(tr("Nothing changed; nothing was sent.", "没有修改，未发送。"))
            return ExitStatus.success
        }
        print(tr("You are about to change:", "将要修改："))
        for field in fields where changes[field] != nil {
            let before = current.map { FieldDisplay.show(field, $0[field]) } ?? tr("(not known offline)", "（离线，未知）")
            print("  \(FieldDisplay.label(field))\(tr(": ", "："))\(before) → \(FieldDisplay.show(field, changes[field]))")
        }
        guard try Terminal.confirm(tr("Send?", "确认发送？"), default: true) else {
            print(tr("Not sent.", "未发送。"))
            return ExitStatus.success
        }
        let seen: [String: String?]? = current.map { current in Dictionary(uniqueKeysWithValues: changes.keys.map { ($0, current[$0]) }) }
        let entry = QueuedEntry(nationalID: id.value, values: changes, seen: seen, origin: "form")
        return try await deliver(entry)
    }

    func pushEarlierEntries() async {
        guard (try? client.queue.entries().contains { $0.state.isPending }) == true else { return }
        guard let report = try? await client.push(to: hub, wait: false), !report.sent.isEmpty else { return }
        let accepted = report.sent.filter { $0.state == .accepted }.count
        print(Terminal.dim(tr("Sent \(accepted) entries saved earlier on this computer.", "已发送此前保存在本机的 \(accepted) 条录入。")))
    }

    func askID() throws -> CitizenID {
        while true {
            let typed = try Terminal.ask(tr("Citizen ID number: ", "公民身份号码："), hint: { FieldDisplay.idHint($0, today: client.today) })
            if case .success(let id) = CitizenID.parse(typed, today: client.today) { return id }
            if !typed.isEmpty, case .failure(let problem) = CitizenID.parse(typed, today: client.today) {
                print("  " + tr(problem.message) + tr(" — type it again.", "——请重新输入。"))
            }
        }
    }

    func showRecord(_ resident: HubConnection.Resident) {
        print(tr("Current record (resident \(resident.id)):", "当前信息（居民 \(resident.id)）："))
        for field in CanonicalField.all.map(\.qualifiedName) where login.readable.contains(field) && field != "national_id" {
            print("  \(FieldDisplay.label(field))\(tr(": ", "："))\(FieldDisplay.show(field, resident.fields[field]))")
        }
    }

    /// One field: nil keeps it. Asked again until the value is one the hub will accept. A value
    /// `derived` from the ID number is what Enter takes, when there is one.
    func askField(_ field: String, current: [String: String]?, derived: String? = nil) throws -> String? {
        let now = current?[field]
        if field == "community_code" { return try askCommunity(now: now) }
        let shown =
            derived.map { tr("from the ID number: ", "按身份号码：") + FieldDisplay.show(field, $0) }
            ?? (current == nil ? tr("unchanged", "不修改") : FieldDisplay.show(field, now))
        let prompt = "\(FieldDisplay.label(field)) [\(shown)]\(tr(": ", "："))"
        while true {
            let typed = try Terminal.ask(prompt, hint: { hint(field, $0) }).trimmingCharacters(in: .whitespaces)
            if typed.isEmpty { return derived }
            if field == "division_code", let picked = try pickDivision(typed) { return picked }
            let (checked, problems) = client.check([field: typed], editable: login.editable)
            if let value = checked[field] { return value }
            if field != "division_code" { print("  " + (problems[field].map { tr($0) } ?? "") + tr(" — type it again, or Enter to keep.", "——请重新输入，或按回车不修改。")) }
        }
    }

    func hint(_ field: String, _ typed: String) -> String? {
        let text = typed.trimmingCharacters(in: .whitespaces)
        if text.isEmpty { return FieldDisplay.options(field) }
        if field == "division_code", !(text.count == 6 && text.allSatisfy(\.isNumber)) {
            let found = DivisionCodeTable.standard.search(text)
            guard let first = found.first else { return "✗ " + tr("no division by that name", "没有这个名称的区划") }
            return "→ \(first.name) \(first.code)" + (found.count > 1 ? tr(" (+\(found.count - 1) more)", "（另有 \(found.count - 1) 个）") : "")
        }
        let (checked, problems) = client.check([field: text], editable: login.editable)
        if let value = checked[field] { return "✓ " + FieldDisplay.show(field, value) }
        return problems[field].map { "✗ " + tr($0) }
    }

    /// A division by (part of) its name; a list to choose from when several match.
    func pickDivision(_ typed: String) throws -> String? {
        if typed.count == 6, typed.allSatisfy(\.isNumber) { return nil } // a code: checked as any value
        let found = DivisionCodeTable.standard.search(typed)
        switch found.count {
        case 0:
            print("  " + tr("No division is called that; type part of its name, e.g. 朝阳.", "没有这个名称的区划；请输入名称的一部分，如“朝阳”。"))
            return nil
        case 1: return found[0].code
        default:
            for (index, division) in found.enumerated() { print("  \(index + 1)) \(division.name) \(division.code)") }
            return found[try Terminal.choose(tr("Which one?", "选择哪一个？"), count: found.count) - 1].code
        }
    }

    func askCommunity(now: String?) throws -> String? {
        let communities = login.communities
        if communities.count == 1, now == communities[0] { return nil }
        print("\(FieldDisplay.label("community_code")) [\(FieldDisplay.show("community_code", now))]\(tr(":", "："))")
        for (index, community) in communities.enumerated() { print("  \(index + 1)) \(community)") }
        while true {
            let typed = try Terminal.ask(tr("Number, or Enter to keep: ", "输入序号，或按回车不修改：")).trimmingCharacters(in: .whitespaces)
            if typed.isEmpty { return nil }
            if let number = Int(typed), (1...communities.count).contains(number) { return communities[number - 1] }
        }
    }

    /// Sends the confirmed entry and shows the hub's answer; a conflict is shown with both values
    /// and the worker chooses, then it is sent again under the same id.
    func deliver(_ first: QueuedEntry) async throws -> Int32 {
        var entry: QueuedEntry
        do {
            entry = try await client.submit(first, to: hub)
        } catch let error as SyncError where error.kind == .unreachable {
            SyncOutput.savedOffline(error)
            return ExitStatus.success
        }
        while entry.state == .conflict {
            entry = try resolveConflicts(entry)
            guard entry.state == .waiting else { break }
            do {
                entry = try await client.send(entry, to: hub)
            } catch let error as SyncError where error.kind == .unreachable {
                SyncOutput.savedOffline(error)
                return ExitStatus.success
            }
        }
        SyncOutput.outcome(entry)
        return entry.state == .rejected ? ExitStatus.failure : ExitStatus.success
    }

    /// Both values of each field in conflict, and the worker's choice.
    func resolveConflicts(_ entry: QueuedEntry) throws -> QueuedEntry {
        var resolved = entry
        print(
            tr(
                "Someone changed this on the hub while you were entering it. Choose which value to keep:",
                "在您录入期间，平台上的信息已被修改。请选择保留哪个值："))
        for (field, conflict) in entry.conflicts.sorted(by: { $0.key < $1.key }) {
            let colon = tr(": ", "：")
            print("  \(FieldDisplay.label(field))\(tr(":", "："))")
            if let seen = conflict.seen { print("    " + tr("you saw", "您看到的") + colon + FieldDisplay.show(field, seen)) }
            print("    1) " + tr("yours", "您的新值") + colon + FieldDisplay.show(field, conflict.mine))
            print("    2) " + tr("the hub's now", "平台现在的值") + colon + FieldDisplay.show(field, conflict.current))
            let choice = try Terminal.choose(tr("Keep", "保留"), count: 2)
            resolved = try client.resolve(entry.id, keep: choice == 1 ? .mine : .hub, fields: [field])
        }
        return resolved
    }
}

/// What the worker reads after sending, the same from the form, a file and `sync push`.
enum SyncOutput {
    /// Who an entry is for: the masked ID number, or the resident's id (a returned form's row).
    static func person(_ entry: QueuedEntry) -> String {
        entry.residentID.map { tr("resident \($0)", "居民 \($0)") } ?? Masking.identifier(entry.nationalID)
    }

    static func savedOffline(_ error: SyncError) {
        print(tr(error.message))
        print(
            tr(
                "Saved on this computer: it is sent by `yibiao sync push`, or by itself next time (the hub never applies it twice).",
                "已保存在本机：运行 `yibiao sync push` 或下次使用时自动发送（平台不会重复处理）。"))
    }

    static func systemName(_ system: String) -> String {
        switch system {
        case "civil_affairs": tr("civil affairs", "民政")
        case "family_planning": tr("family planning", "计生")
        case "party": tr("party membership", "党员")
        case "social_security": tr("social security", "社保")
        default: system
        }
    }

    static func outcome(_ entry: QueuedEntry) {
        switch entry.state {
        case .accepted where entry.alreadyReceived:
            print(tr("The hub had received this entry already; nothing changed twice.", "平台此前已收到这条录入，未重复修改。"))
        case .accepted:
            print(tr("Saved on the hub (resident \(entry.resident ?? 0)).", "已保存到平台（居民 \(entry.resident ?? 0)）。"))
            receipt(entry.reaches)
        case .withdrawn:
            print(tr("You kept the hub's values: nothing is left to send.", "您保留了平台的值：无需发送。"))
        case .rejected:
            print(tr("The hub did not accept it: ", "平台未接受：") + (entry.reason ?? entry.reasonCode ?? ""))
        case .conflict:
            print(
                tr(
                    "Waiting for your choice: `yibiao sync resolve \(entry.id.prefix(8)) --keep mine|hub`",
                    "等待您选择：`yibiao sync resolve \(entry.id.prefix(8)) --keep mine|hub`"))
        case .waiting, .sent:
            print(tr("Waiting to be sent.", "等待发送。"))
        }
    }

    static func receipt(_ reaches: [QueuedEntry.Reach]) {
        guard !reaches.isEmpty else {
            print(tr("No other system holds these fields for this person: nothing more to send.", "没有其他系统保存此人的这些字段：无需另行录入。"))
            return
        }
        print(tr("This change will reach:", "此次修改将送达："))
        for reach in reaches {
            let fields = reach.fields.map(FieldDisplay.label).joined(separator: tr(", ", "、"))
            print(
                "  \(systemName(reach.system))\(tr(": ", "："))\(fields)"
                    + (reach.held ? tr(" (once the district releases this system's write-back)", "（待区里开启该系统的回写后送达）") : ""))
        }
        print(tr("There is no need to enter it in those systems again.", "无需再在这些系统中重复录入。"))
    }
}
