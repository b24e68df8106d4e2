import Foundation
import Hummingbird
import Logging
import PostgresNIO
import Testing
import YibiaoAdapters
import YibiaoApplication
import YibiaoCore
import YibiaoServer
import YibiaoStore
import YibiaoSync
import YibiaoTestSupport

let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let district = "110105"
/// 张伟 of the civil-affairs sample, community 110105001001.
let zhangWei = "110105198503020118"
/// 刘秀英, community 110105001002: outside a worker of 110105001001.
let liuXiuying = "110105194808120242"

/// A hub on a fresh database with a civil-affairs feed ingested.
func withCivilAffairs(_ feed: URL, connections: Int, _ body: @escaping @Sendable (Hub, PostgresClient) async throws -> Void) async throws {
    try await TestDatabase.withFreshDatabase { url, client in
        var database = DatabaseConfiguration(home: FileManager.default.temporaryDirectory, externalURL: url)
        database.maximumConnections = connections
        try await Hub.withHub(HubConfiguration(database: database, logger: .silent)) { hub in
            _ = try await hub.ingest(
                IngestRequest(
                    adapter: try FeedAdapterRegistry.load(repository.appendingPathComponent("adapters/civil_affairs.yaml").path), file: feed,
                    district: district, actor: "test"))
            try await body(hub, client)
        }
    }
}

/// A hub with the civil-affairs sample, served over HTTP on loopback.
func withServedHub(_ body: @escaping @Sendable (Hub, PostgresClient, String) async throws -> Void) async throws {
    try await withCivilAffairs(repository.appendingPathComponent("adapters/samples/civil_affairs.csv"), connections: 8) { hub, client in
        try await serveOnLoopback(hub) { base in try await body(hub, client, base) }
    }
}

extension Logger {
    static var silent: Logger {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }
}

func freshClient() throws -> SyncClient {
    SyncClient(home: ClientHome(directory: try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-client")), today: .todayInChina())
}

/// A port nothing listens on: the hub "cannot be reached".
func deadHub() -> String { "http://127.0.0.1:9" }

// A time limit names the test should one ever hang (one did in a full parallel run, 2026-12-03).
@Suite(.serialized, .timeLimit(.minutes(10))) struct SyncClientTests {
    @Test("queue: entries survive as files, a torn temporary file is ignored, a damaged one is kept and named, a change waiting twice is queued once")
    func queueFiles() throws {
        let client = try freshClient()
        let entry = QueuedEntry(nationalID: zhangWei, values: ["phone": "13900001111"], seen: nil, origin: "test")
        #expect(try client.queue.add(entry).added)
        #expect(try !client.queue.add(QueuedEntry(nationalID: zhangWei, values: ["phone": "13900001111"], seen: nil, origin: "again")).added)
        #expect(try client.queue.add(QueuedEntry(nationalID: zhangWei, values: ["phone": "13900002222"], seen: nil, origin: "other")).added)
        // What a power cut leaves mid-write: a temporary file that never got its rename.
        try Data("{\"id\":".utf8).write(to: client.queue.directory.appendingPathComponent(".x.json.tmp"))
        try Data("not json".utf8).write(to: client.queue.directory.appendingPathComponent("broken.json"))
        let (entries, damaged) = client.queue.load()
        #expect(entries.count == 2 && entries[0].id == entry.id)
        #expect(damaged == ["broken.json"])
        #expect(FileManager.default.fileExists(atPath: client.queue.directory.appendingPathComponent("broken.json").path))
        #expect(try client.queue.find(String(entry.id.prefix(8))).values == ["phone": "13900001111"])
        let mode = try FileManager.default.attributesOfItem(atPath: client.queue.directory.appendingPathComponent("\(entry.id).json").path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let directoryMode = try FileManager.default.attributesOfItem(atPath: client.queue.directory.path)[.posixPermissions] as? Int
        #expect(directoryMode == 0o700)
    }

    @Test("values are checked on the worker's machine as the hub will store them; fields outside the worker's grant are refused")
    func checking() throws {
        let client = try freshClient()
        let editable = WorkerFields().editable
        let (values, problems) = client.check(
            ["phone": "138 1234 5678", "marital_status": "已婚", "birth_date": "1985年3月2日", "address": "幸福路 1 号", "party.branch": "一支部", "sex": "?"],
            editable: editable)
        #expect(values == ["phone": "13812345678", "marital_status": "20", "birth_date": "1985-03-02", "address": "幸福路 1 号"])
        #expect(problems.keys.sorted() == ["party.branch", "sex"])
        #expect(!WorkerFields().mayEdit("national_id") && !WorkerFields().mayEdit("political_status"))
        #expect(WorkerFields(facets: [.civilAffairs]).mayEdit("civil_affairs.subsistence_allowance"))
        #expect(SyncClient.changes(values, current: ["phone": "13812345678"]).keys.sorted() == ["address", "birth_date", "marital_status"])
        #expect(SyncClient.changes(values, current: nil) == values)
    }

    @Test("a spreadsheet: template headers read back, every row checked, bad rows set aside with reasons (no value in them), blank rows skipped, GB18030 CSV read")
    func spreadsheet() throws {
        let client = try freshClient()
        let directory = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-sheet")
        let editable = WorkerFields().editable
        let template = directory.appendingPathComponent("模板.xlsx")
        try EntrySheet.writeTemplate(to: template, editable: editable, language: .zh)
        let empty = try EntrySheet.read(template, client: client, editable: editable)
        #expect(empty.columns.count == editable.count + 1 && empty.ignored.isEmpty)

        let filled = directory.appendingPathComponent("updates.xlsx")
        let writer = try XLSXWriter(url: filled)
        try writer.append(["序号", "公民身份号码", "联系电话", "婚姻状况", "所在支部", "备注"])
        try writer.append(["1", zhangWei, "13900001111", "", nil, "x"])
        try writer.append(["2", "110105198503020119", "13900002222", nil, nil, nil]) // wrong check character
        try writer.append(["3", liuXiuying, "12345", "离婚", nil, nil]) // a phone too short
        try writer.append([nil, nil, nil, nil, nil, nil])
        try writer.append(["5", liuXiuying, nil, "离婚", "一支部", nil]) // a field the worker may not change
        try writer.append(["6", liuXiuying, nil, nil, nil, nil]) // nothing to change
        try writer.finish()
        let sheet = try EntrySheet.read(filled, client: client, editable: editable)
        #expect(sheet.ignored == ["序号", "备注"])
        #expect(sheet.rows.map(\.number) == [2] && sheet.rows[0].values == ["phone": "13900001111"])
        #expect(sheet.setAside.map(\.number) == [3, 4, 6])
        #expect(sheet.empty == 1)
        let reasons = sheet.setAside.map { $0.reasons.map(\.zh).joined(separator: ";") }
        #expect(reasons[0].contains("公民身份号码") && reasons[1].contains("联系电话") && reasons[2].contains("所在支部"), "\(reasons)")
        #expect(!reasons.joined().contains("12345"), "a reason names the column, never the value")
        let aside = try #require(try sheet.writeSetAside(language: .zh))
        let text = try String(contentsOf: aside, encoding: .utf8)
        #expect(text.contains("原因") && text.contains("110105198503020119"), "the set-aside file keeps the row as it was, to correct")
        #expect(sheet.rows.count + sheet.setAside.count + sheet.empty == 5, "every non-blank row is accounted for")

        // A sheet saved by a spreadsheet program as GB18030 CSV.
        let csv = directory.appendingPathComponent("gbk.csv")
        let encoder = TextEncoder(.gb18030)
        try Data(try #require(encoder.encode("身份证号,手机号,住址\r\n\(zhangWei),13900003333,幸福路2号\r\n"))).write(to: csv)
        let fromCSV = try EntrySheet.read(csv, client: client, editable: editable)
        #expect(fromCSV.rows.first?.values == ["phone": "13900003333", "address": "幸福路2号"])

        let noID = directory.appendingPathComponent("noid.csv")
        try Data("姓名,电话\r\n张伟,13900003333\r\n".utf8).write(to: noID)
        #expect(throws: SyncError.self) { try EntrySheet.read(noID, client: client, editable: editable) }
    }

    @Test("against a hub on loopback: login check, lookups only in scope, an entry accepted with its receipt, sent twice changes once, fields outside the grant refused")
    func online() async throws {
        try await withServedHub { hub, client, base in
            let (_, token) = try await hub.addWorker(district: district, id: "li.na", name: "李娜", communities: ["110105001001"], actor: "test")
            let hubConnection = try HubConnection(hub: base, token: token, language: .zh, timeout: .seconds(120), connectTimeout: .seconds(60))
            defer { Task { await hubConnection.close() } }
            let me = try await hubConnection.me()
            #expect(me.worker == "li.na" && me.communities == ["110105001001"] && me.editable == WorkerFields().editable)

            let found = try await hubConnection.lookup([zhangWei, liuXiuying, "110105198503020119"])
            #expect(Set(found.keys) == [zhangWei], "out of scope and invalid numbers are simply absent")
            let zhang = try #require(found[zhangWei])
            #expect(zhang.fields["phone"] == "13812345678" && zhang.fields["name"] == "张伟")
            #expect(zhang.fields["civil_affairs.subsistence_allowance"] == nil, "a facet not granted is not read either")
            // By resident id too (a returned form's rows): the same answer in scope, nothing outside it.
            var liu: Int64?
            for try await id in try await client.query(
                "SELECT resident_id FROM resident_identifier WHERE district = \(district) AND value = \(liuXiuying)"
            ).decode(Int64.self) { liu = id }
            let byID = try await hubConnection.lookup(residents: [zhang.id, try #require(liu), 999_999])
            #expect(Set(byID.keys) == [zhang.id], "a resident outside the worker's communities, or none, is absent")
            #expect(byID[zhang.id]?.fields == zhang.fields)

            let sync = try freshClient()
            let entry = QueuedEntry(nationalID: zhangWei, values: ["phone": "13900001111"], seen: ["phone": "13812345678"], origin: "test")
            let accepted = try await sync.submit(entry, to: hubConnection)
            #expect(accepted.state == .accepted && accepted.resident == zhang.id)
            #expect(accepted.reaches.map(\.system) == ["civil_affairs"] && accepted.reaches[0].held, "\(accepted.reaches)")
            #expect(try sync.queue.find(entry.id).state == .accepted, "the answer is on disk")
            let again = try await sync.send(entry, to: hubConnection)
            #expect(again.state == .accepted && again.alreadyReceived)
            var changes = 0
            for try await count in try await client.query(
                "SELECT count(*)::int FROM change_log WHERE district = \(district) AND resident_id = \(zhang.id) AND changes::jsonb ? (SELECT number::text FROM field_number f WHERE f.district = change_log.district AND f.name = 'phone') AND actor = 'worker:li.na'"
            ).decode(Int.self) { changes = count }
            #expect(changes == 1)

            let refused = try await sync.submit(
                QueuedEntry(nationalID: zhangWei, values: ["party.branch": "一支部"], seen: ["party.branch": nil], origin: "test"), to: hubConnection)
            #expect(refused.state == .rejected && refused.reasonCode == "field_not_editable", "\(refused)")
            let moved = try await sync.submit(
                QueuedEntry(nationalID: zhangWei, values: ["community_code": "110105001002"], seen: ["community_code": "110105001001"], origin: "test"),
                to: hubConnection)
            #expect(moved.state == .rejected && moved.reasonCode == "field_not_editable", "a move out of the worker's communities is the district's")
            let outside = try await sync.submit(QueuedEntry(nationalID: liuXiuying, values: ["phone": "13900002222"], seen: ["phone": nil], origin: "test"), to: hubConnection)
            #expect(outside.state == .rejected && outside.reasonCode == "not_found")

            var audited = 0
            for try await count in try await client.query(
                "SELECT count(*)::int FROM audit_log WHERE district = \(district) AND actor = 'worker:li.na' AND action = 'worker_lookup'"
            ).decode(Int.self) { audited = count }
            #expect(audited == 2, "every lookup is in the audit log (by ID number, by resident id)")
        }
    }

    @Test("conflicts: a value changed on the hub meanwhile is shown with both values and never overwritten; the worker's choice is sent under the same id")
    func conflicts() async throws {
        try await withServedHub { hub, client, base in
            let (_, token) = try await hub.addWorker(district: district, id: "li.na", name: "李娜", communities: ["110105001001"], actor: "test")
            let connection = try HubConnection(hub: base, token: token, language: .en, timeout: .seconds(120), connectTimeout: .seconds(60))
            defer { Task { await connection.close() } }
            let sync = try freshClient()
            // The worker saw the sample's phone; an operator changes it before the entry arrives.
            _ = try await hub.enter(district: district, resident: zhangWei, values: ["phone": "13700007777"], worker: "cli:operator")
            let entry = QueuedEntry(nationalID: zhangWei, values: ["phone": "13900001111"], seen: ["phone": "13812345678"], origin: "test")
            let conflicted = try await sync.submit(entry, to: connection)
            #expect(conflicted.state == .conflict)
            #expect(conflicted.conflicts["phone"] == QueuedEntry.Conflict(seen: "13812345678", current: "13700007777", mine: "13900001111"))
            #expect(try await connection.lookup([zhangWei])[zhangWei]?.fields["phone"] == "13700007777", "nothing was overwritten")

            let mine = try sync.resolve(String(entry.id.prefix(8)), keep: .mine)
            #expect(mine.state == .waiting && mine.seen?["phone"] == .some("13700007777"))
            let report = try await sync.push(to: connection)
            #expect(report.sent.map(\.state) == [.accepted] && report.sent[0].id == entry.id)
            #expect(try await connection.lookup([zhangWei])[zhangWei]?.fields["phone"] == "13900001111")

            // Made offline an hour ago (nothing seen): values the hub changed since are the worker's to weigh.
            let offline = QueuedEntry(
                createdAt: Date(timeIntervalSinceNow: -3600), nationalID: zhangWei, values: ["phone": "13600006666", "address": "幸福路9号"], seen: nil,
                origin: "test")
            let weighed = try await sync.submit(offline, to: connection)
            #expect(weighed.state == .conflict && weighed.conflicts.keys.sorted() == ["address", "phone"])
            #expect(weighed.conflicts["phone"]?.seen == nil && weighed.conflicts["phone"]?.current == "13900001111")
            let hubs = try sync.resolve(offline.id, keep: .hub)
            #expect(hubs.state == .withdrawn && hubs.values.isEmpty)
            // Made offline after the hub's last change: what the worker would have seen; it goes through.
            let later = QueuedEntry(nationalID: zhangWei, values: ["phone": "13600006666"], seen: nil, origin: "test")
            let through = try await sync.submit(later, to: connection)
            #expect(through.state == .accepted && through.seen?["phone"] == .some("13900001111"))
            _ = client
        }
    }

    @Test("offline: entries wait when the hub cannot be reached, or when the line drops mid-send, and go once the hub answers — never twice")
    func offline() async throws {
        try await withServedHub { hub, client, base in
            let (_, token) = try await hub.addWorker(district: district, id: "li.na", name: "李娜", communities: ["110105001001"], actor: "test")
            let sync = try freshClient()
            let down = try HubConnection(hub: deadHub(), token: token, language: .zh, timeout: .seconds(3))
            let entry = QueuedEntry(nationalID: zhangWei, values: ["phone": "13900001111"], seen: nil, origin: "test")
            await #expect(throws: SyncError.self) { try await sync.submit(entry, to: down) }
            #expect(try sync.queue.find(entry.id).state == .waiting, "never sent: it waits")
            await down.close()

            let up = try HubConnection(hub: base, token: token, language: .zh, timeout: .seconds(120), connectTimeout: .seconds(60))
            defer { Task { await up.close() } }
            // The hub got a copy, but the answer never came back (the line dropped mid-send).
            var sent = entry
            sent.seen = ["phone": "13812345678"]
            sent.state = .sent
            try sync.queue.save(sent)
            _ = try await up.send(sent)
            let report = try await sync.push(to: up)
            #expect(report.sent.count == 1 && report.sent[0].state == .accepted && report.sent[0].alreadyReceived)
            #expect(try await sync.push(to: up).sent.isEmpty, "nothing is left to send")
            var rows = 0
            for try await count in try await client.query(
                "SELECT count(*)::int FROM worker_entry WHERE district = \(district) AND entry_id = \(entry.id)"
            ).decode(Int.self) { rows = count }
            #expect(rows == 1)
        }
    }
}
