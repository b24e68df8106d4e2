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
            report(entries, current: current)
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
            guard !entries.isEmpty, !dryRun else { return aside.setAside.isEmpty ? ExitStatus.success : ExitStatus.dataError }
            if !yes {
                guard try Terminal.confirm(tr("Send \(entries.count) entries?", "发送这 \(entries.count) 条录入？"), default: true) else {
                    print(tr("Not sent.", "未发送。"))
                    return ExitStatus.success
                }
            }
            var queued = 0
            for (_, entry) in entries where try client.queue.add(entry).added { queued += 1 }
            if queued < entries.count {
                print(tr("\(entries.count - queued) of these were already waiting on this computer.", "其中 \(entries.count - queued) 条已在本机等待发送。"))
            }
            let pushed = try await client.push(to: hub)
            summarise(pushed)
            if pushed.unreachable != nil { return ExitStatus.success }
            return aside.setAside.isEmpty ? ExitStatus.success : ExitStatus.dataError
        }
    }

    func report(_ entries: [(row: EntrySheet.Row, entry: QueuedEntry)], current: [String: HubConnection.Resident]?) {
        guard !entries.isEmpty else { return }
        print(tr("Would change:", "将修改："))
        for (row, entry) in entries {
            let changes = entry.values.keys.sorted().map { field in
                let before = current?[row.nationalID].map { FieldDisplay.show(field, $0.fields[field]) } ?? "?"
                return "\(FieldDisplay.label(field)) \(before) → \(FieldDisplay.show(field, entry.values[field]))"
            }
            print(tr("  row \(row.number)", "  第 \(row.number) 行") + " · \(Masking.identifier(row.nationalID)) · " + changes.joined(separator: tr("; ", "；")))
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
            print(Terminal.bold("\(entry.id.prefix(8)) · \(Masking.identifier(entry.nationalID))"))
            SyncOutput.conflicts(entry)
            SyncOutput.outcome(entry)
        }
        for entry in states[.rejected] ?? [] {
            print("\(entry.id.prefix(8)) · \(Masking.identifier(entry.nationalID)) · " + tr("not accepted: ", "未被接受：") + (entry.reason ?? entry.reasonCode ?? ""))
        }
        if let unreachable = pushed.unreachable {
            SyncOutput.savedOffline(unreachable)
            print(tr("\(pushed.waiting) entries wait on this computer.", "\(pushed.waiting) 条录入保存在本机待发送。"))
        }
    }
}
