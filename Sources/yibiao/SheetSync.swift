import Foundation
import YibiaoCore
import YibiaoSync

/// `yibiao sync --file`: every row checked, then looked up on the hub, a report of what would
/// change, and — once the worker confirms — one entry per changed resident, queued and sent.
struct SheetSync {
    let login: Login
    let file: URL
    let yes: Bool
    let dryRun: Bool

    func run() async throws -> Int32 {
        if ReturnedForm.isFilledForm(file) { return try await returnedForm() }
        let client = WorkerSide.client
        let sheet = try EntrySheet.read(file, client: client, editable: login.editable)
        if !sheet.ignored.isEmpty {
            print(tr("Columns not used (no field goes by these names): ", "未使用的列（没有对应字段）：") + sheet.ignored.joined(separator: tr(", ", "、")))
        }
        return try await WorkerSide.withHub(login) { hub in
            var current: [String: HubConnection.Resident]?
            do {
                current = try await hub.lookup(Array(Set(sheet.rows.map(\.nationalID))).sorted())
            } catch let error as SyncError where error.kind == .unreachable {
                print(tr(error.message))
                print(tr("Checked on this computer only; the entries wait here and are sent when the hub answers.", "仅在本机完成检查；录入将保存在本机，待连接平台后发送。"))
            }
            var unknown: [EntrySheet.SetAside] = []
            var entries: [(row: EntrySheet.Row, entry: QueuedEntry)] = []
            var unchanged = sheet.empty
            for row in sheet.rows {
                let resident = current?[row.nationalID]
                if current != nil, resident == nil {
                    unknown.append(
                        EntrySheet.SetAside(
                            number: row.number,
                            reasons: [LocalizedText(en: "no resident with this ID number in your communities", zh: "您负责的社区中没有此公民身份号码的居民")],
                            cells: [:]))
                    continue
                }
                let changes = SyncClient.changes(row.values, current: resident?.fields)
                if changes.isEmpty {
                    unchanged += 1
                    continue
                }
                let seen: [String: String?]? = resident.map { resident in Dictionary(uniqueKeysWithValues: changes.keys.map { ($0, resident.fields[$0]) }) }
                entries.append((row, QueuedEntry(nationalID: row.nationalID, values: changes, seen: seen, origin: "file:\(file.lastPathComponent) row \(row.number)")))
            }
            report(entries.map { ($0.row.number, $0.entry, current?[$0.row.nationalID]) })
            let aside = sheet.settingAside(unknown)
            for row in aside.setAside {
                print(tr("row \(row.number) set aside: ", "第 \(row.number) 行已另存：") + row.reasons.map { tr($0) }.joined(separator: tr("; ", "；")))
            }
            if let written = try aside.writeSetAside(language: CLI.language) {
                print(tr("Rows set aside, with their reasons: \(written.path) (correct them there and send that file).", "另存的行及原因：\(written.path)（在其中更正后发送该文件）。"))
            }
            let total = sheet.rows.count + sheet.setAside.count + sheet.empty
            print(
                tr(
                    "\(total) rows: \(entries.count) to send, \(unchanged) with nothing to change, \(aside.setAside.count) set aside.",
                    "共 \(total) 行：\(entries.count) 行待发送，\(unchanged) 行无变化，\(aside.setAside.count) 行另存。"))
            return try await send(entries.map(\.entry), client: client, hub: hub, setAside: aside.setAside.count)
        }
    }

    /// A form filled by `yibiao form fill` and returned: the cells a person changed, per
    /// resident and field, shown before anything is sent; an entry per changed resident, made
    /// as of the time the form was filled (a field the hub changed since is the worker's to weigh).
    func returnedForm() async throws -> Int32 {
        let client = WorkerSide.client
        let form = try ReturnedForm.read(file, client: client, editable: login.editable)
        print(
            tr(
                "A returned form (\(form.formID), filled as of change-log entry \(form.cursor)): only the cells changed since are sent.",
                "已填回的表格（\(form.formID)，截至变更日志第 \(form.cursor) 条）：只发送此后改动过的单元格。"))
        return try await WorkerSide.withHub(login) { hub in
            var current: [Int64: HubConnection.Resident]?
            do {
                current = try await hub.lookup(residents: Array(Set(form.changes.map(\.resident))).sorted())
            } catch let error as SyncError where error.kind == .unreachable {
                print(tr(error.message))
                print(tr("Checked on this computer only; the entries wait here and are sent when the hub answers.", "仅在本机完成检查；录入将保存在本机，待连接平台后发送。"))
            }
            var entries: [(change: ReturnedForm.Change, entry: QueuedEntry)] = []
            var aside = form.setAside
            var already = 0
            for change in form.changes {
                if current != nil, current?[change.resident] == nil {
                    aside.append(
                        EntrySheet.SetAside(
                            number: change.row, reasons: [LocalizedText(en: "no such resident in your communities (merged or moved away?)", zh: "您负责的社区中没有该居民（可能已合并或迁出）")],
                            cells: [:]))
                    continue
                }
                let values = SyncClient.changes(change.values, current: current?[change.resident]?.fields)
                if values.isEmpty {
                    already += 1
                    continue
                }
                entries.append(
                    (change, QueuedEntry(createdAt: form.filledAt, nationalID: String(change.resident), values: values, seen: nil, origin: "form:\(form.formID) \(file.lastPathComponent) row \(change.row)")))
            }
            report(entries.map { ($0.change.row, $0.entry, current?[$0.change.resident]) })
            for row in aside.sorted(by: { $0.number < $1.number }) {
                print(tr("row \(row.number) set aside: ", "第 \(row.number) 行未采用：") + row.reasons.map { tr($0) }.joined(separator: tr("; ", "；")))
            }
            if !aside.isEmpty {
                print(tr("Correct those rows in the form and send it again: rows already sent change nothing.", "请在表格中更正这些行后再次发送：已发送的行不会重复修改。"))
            }
            if form.cleared > 0 {
                print(tr("\(form.cleared) filled cells were emptied: clearing a value is not sent.", "\(form.cleared) 个预填单元格被清空：清空不作为修改发送。"))
            }
            print(
                tr(
                    "\(form.changes.count + form.unchanged + form.setAside.count) rows: \(entries.count) to send, \(form.unchanged + already) with nothing to change, \(aside.count) set aside.",
                    "共 \(form.changes.count + form.unchanged + form.setAside.count) 行：\(entries.count) 行待发送，\(form.unchanged + already) 行无变化，\(aside.count) 行未采用。"))
            return try await send(entries.map(\.entry), client: client, hub: hub, setAside: aside.count)
        }
    }

    /// Unless it is a dry run or there is nothing to send: asks (without `--yes`), keeps the
    /// entries on this computer (one already waiting is not added twice), sends them and says what
    /// came of them. The exit status: rows set aside are a data error, a hub out of reach is not.
    func send(_ entries: [QueuedEntry], client: SyncClient, hub: HubConnection, setAside: Int) async throws -> Int32 {
        let status = setAside == 0 ? ExitStatus.success : ExitStatus.dataError
        guard !entries.isEmpty, !dryRun else { return status }
        if !yes {
            guard try Terminal.confirm(tr("Send \(entries.count) entries?", "发送这 \(entries.count) 条录入？"), default: true) else {
                print(tr("Not sent.", "未发送。"))
                return ExitStatus.success
            }
        }
        var queued = 0
        for entry in entries where try client.queue.add(entry).added { queued += 1 }
        if queued < entries.count {
            print(tr("\(entries.count - queued) of these were already waiting on this computer.", "其中 \(entries.count - queued) 条已在本机等待发送。"))
        }
        let pushed = try await client.push(to: hub)
        summarise(pushed)
        return pushed.unreachable != nil ? ExitStatus.success : status
    }

    /// What would change, a line per entry: its row, the person, each field from the hub's value
    /// (`?` when it is not known) to the new one.
    func report(_ entries: [(row: Int, entry: QueuedEntry, current: HubConnection.Resident?)]) {
        guard !entries.isEmpty else { return }
        print(tr("Would change:", "将修改："))
        for (row, entry, current) in entries {
            let changes = entry.values.keys.sorted().map { field in
                let before = current.map { FieldDisplay.show(field, $0.fields[field]) } ?? "?"
                return "\(FieldDisplay.label(field)) \(before) → \(FieldDisplay.show(field, entry.values[field]))"
            }
            print(tr("  row \(row)", "  第 \(row) 行") + " · \(SyncOutput.person(entry)) · " + changes.joined(separator: tr("; ", "；")))
        }
    }

    func summarise(_ pushed: SyncClient.PushReport) {
        let states = Dictionary(grouping: pushed.sent, by: \.state)
        let accepted = states[.accepted] ?? []
        print(tr("Accepted: \(accepted.count)", "已接受：\(accepted.count)"))
        var reached: [String: Int] = [:]
        for entry in accepted { for reach in entry.reaches { reached[reach.system, default: 0] += 1 } }
        if !reached.isEmpty {
            print(
                tr("These changes will reach (residents per system): ", "这些修改将送达（各系统人数）：")
                    + reached.keys.sorted().map { "\(SyncOutput.systemName($0)) \(reached[$0]!)" }.joined(separator: tr(", ", "、")))
            print(tr("There is no need to enter them in those systems again.", "无需再在这些系统中重复录入。"))
        }
        for entry in states[.conflict] ?? [] {
            print(Terminal.bold("\(entry.id.prefix(8)) · \(SyncOutput.person(entry))"))
            SyncOutput.conflicts(entry)
            SyncOutput.outcome(entry)
        }
        for entry in states[.rejected] ?? [] {
            print("\(entry.id.prefix(8)) · \(SyncOutput.person(entry)) · " + tr("not accepted: ", "未被接受：") + (entry.reason ?? entry.reasonCode ?? ""))
        }
        if let unreachable = pushed.unreachable {
            SyncOutput.savedOffline(unreachable)
            print(tr("\(pushed.waiting) entries wait on this computer.", "\(pushed.waiting) 条录入保存在本机待发送。"))
        }
    }
}
