import Foundation
import Testing
import YibiaoStore
import YibiaoTestSupport

/// A program in a real pseudo-terminal (tmux, detached): keys typed one by one, the screen read
/// back — how a worker meets `yibiao enter`.
private struct Screen {
    let socket = "yibiao-test-\(UUID().uuidString.prefix(8))"
    let session = "form"

    init(_ arguments: [String], environment: [String: String]) throws {
        var environment = environment
        environment["TERM"] = "xterm-256color"
        let variables = environment.map { "\($0.key)=\(Self.quoted($0.value))" }.joined(separator: " ")
        let command = "env -i \(variables) \(Self.quoted(CLIProcess.executable)) \(arguments.map(Self.quoted).joined(separator: " ")); echo EXIT=$?; sleep 60"
        try tmux("new-session", "-d", "-s", session, "-x", "200", "-y", "60", command)
    }

    static func quoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    @discardableResult
    func tmux(_ arguments: String...) throws -> String {
        let result = try ProcessRunner().run("/usr/bin/tmux", ["-L", socket] + arguments, environment: ["PATH": "/usr/bin:/bin", "TERM": "xterm-256color"])
        return result.stdout
    }

    /// Types text key by key, as a person does.
    func type(_ text: String) throws {
        for character in text { try tmux("send-keys", "-t", session, "-l", String(character)) }
    }

    func press(_ key: String) throws { try tmux("send-keys", "-t", session, key) }

    var text: String { (try? tmux("capture-pane", "-p", "-J", "-S", "-200", "-t", session)) ?? "" }

    /// The screen once it shows `expected`; fails the test with the screen when it never does.
    /// Generous: beside the load test, a keystroke can take seconds to echo on two cores.
    @discardableResult
    func wait(for expected: String, seconds: Double = 90, sourceLocation: SourceLocation = #_sourceLocation) -> String {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let screen = text
            if screen.contains(expected) { return screen }
            Thread.sleep(forTimeInterval: 0.1)
        }
        let screen = text
        Issue.record("the screen never showed \(expected):\n\(screen)", sourceLocation: sourceLocation)
        return screen
    }

    /// Enter on every question until `expected` is asked.
    func keepPressingEnter(until expected: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        for _ in 0..<20 {
            if text.contains(expected) { return }
            let before = text
            try press("Enter")
            let deadline = Date().addingTimeInterval(20)
            while text == before, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        }
        wait(for: expected, seconds: 5, sourceLocation: sourceLocation)
    }

    func close() { _ = try? tmux("kill-server") }
}

/// A hub on loopback (`yibiao serve`), the civil-affairs sample in it, and a worker of
/// community 110105001001 logged in from its own client directory.
private final class Hub: @unchecked Sendable {
    let home: URL
    let cli: CLIProcess
    var server = Process()
    var base = ""
    var token = ""

    /// `hubTimeout`: seconds the client waits for the hub (`YIBIAO_HUB_TIMEOUT`); only for a test
    /// whose hub answers, slowly on a busy machine — one that is offline would wait it out.
    init(hubTimeout: Int? = nil) throws {
        home = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-cli-sync")
        var environment = ["YIBIAO_HOME": home.path, "YIBIAO_DISTRICT": "110105", "YIBIAO_CLIENT_HOME": home.appendingPathComponent("client").path]
        if let hubTimeout { environment["YIBIAO_HUB_TIMEOUT"] = String(hubTimeout) }
        cli = CLIProcess(environment: environment)
        #expect(try cli.run("db", "start").status == 0)
        #expect(try cli.run("db", "migrate").status == 0)
        #expect(
            try cli.run("ingest", root.appendingPathComponent("adapters/civil_affairs.yaml").path, root.appendingPathComponent("adapters/samples/civil_affairs.csv").path)
                .status == 0)
        let added = try cli.run("worker", "add", "li.na", "--name", "李娜", "--community", "110105001001")
        token = try #require(added.stdout.split(separator: "\n").last.map(String.init))
        (server, base, _) = try cli.serve()
    }

    /// Logs the worker's client in to `url` (the hub, or a proxy in front of it).
    func login(_ url: String) throws {
        let file = home.appendingPathComponent("token")
        try token.write(to: file, atomically: true, encoding: .utf8)
        let result = try cli.run("login", "--hub", url, "--token-file", file.path)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("Logged in as 李娜 (li.na)"), "\(result.stdout)")
    }

    var port: String { String(base.split(separator: ":").last!) }

    func stop() {
        if server.isRunning {
            server.terminate()
            server.waitUntilExit()
        }
        _ = try? cli.run("db", "stop")
        try? FileManager.default.removeItem(at: home)
    }
}

@Suite(.serialized) struct SyncCommandTests {
    @Test("yibiao enter in a terminal, in English: the ID checked as it is typed, the current record, only the change asked for, the receipt")
    func formInEnglish() throws {
        let hub = try Hub()
        defer { hub.stop() }
        try hub.login(hub.base)
        let screen = try Screen(["enter", "--lang", "en"], environment: hub.cli.environment)
        defer { screen.close() }
        screen.wait(for: "Citizen ID number:")
        try screen.type("11010519850302011")
        screen.wait(for: "1 more")
        try screen.type("9")
        let wrong = screen.wait(for: "✗")
        #expect(wrong.contains("check"), "\(wrong)")
        try screen.press("BSpace")
        try screen.type("8")
        let right = screen.wait(for: "✓ 1985-03-02 · male")
        #expect(right.contains("北京市朝阳区"), "\(right)")
        try screen.press("Enter")
        screen.wait(for: "Current record")
        screen.wait(for: "phone [13812345678]:")
        try screen.type("139 0000 1111")
        screen.wait(for: "✓ 13900001111")
        try screen.keepPressingEnter(until: "Send?")
        let summary = screen.text
        #expect(summary.contains("phone: 13812345678 → 13900001111"), "\(summary)")
        #expect(!summary.contains("address:") || !summary.contains("→ 幸福"), "only what changed is sent")
        try screen.press("Enter")
        let done = screen.wait(for: "EXIT=0")
        #expect(done.contains("Saved on the hub") && done.contains("This change will reach:") && done.contains("civil affairs: phone"), "\(done)")

        let status = try hub.cli.run("sync", "status")
        #expect(status.stdout.contains("110105********0118 · phone · accepted → civil affairs"), "\(status.stdout)")
    }

    @Test("yibiao enter in Chinese: a person outside the worker's communities; a value changed on the hub meanwhile, both shown, the worker chooses")
    func formInChinese() throws {
        let hub = try Hub()
        defer { hub.stop() }
        try hub.login(hub.base)
        var zh = hub.cli.environment
        zh["LANG"] = "zh_CN.UTF-8"

        let outside = try Screen(["enter"], environment: zh)
        defer { outside.close() }
        outside.wait(for: "公民身份号码：")
        try outside.type("110105194808120242")
        outside.wait(for: "✓ 1948-08-12 · 女")
        try outside.press("Enter")
        let refused = outside.wait(for: "EXIT=1")
        #expect(refused.contains("在您负责的社区中没有此公民身份号码的居民"), "\(refused)")
        #expect(!refused.contains("刘秀英"), "nothing of the person is shown")

        let screen = try Screen(["enter"], environment: zh)
        defer { screen.close() }
        screen.wait(for: "公民身份号码：")
        try screen.type("110105198503020118")
        try screen.press("Enter")
        screen.wait(for: "联系电话 [13812345678]：")
        try screen.type("13600006666")
        try screen.keepPressingEnter(until: "确认发送？")
        // Meanwhile, at the hub, an operator enters another number.
        let meanwhile = try hub.cli.run("enter", "--direct", "110105198503020118", "phone=13700007777")
        #expect(meanwhile.status == 0, "\(meanwhile.stderr)")
        try screen.press("Enter")
        let conflict = screen.wait(for: "请选择保留哪个值")
        #expect(conflict.contains("您看到的：13812345678") && conflict.contains("1) 您的新值：13600006666") && conflict.contains("2) 平台现在的值：13700007777"), "\(conflict)")
        try screen.type("1")
        try screen.press("Enter")
        let done = screen.wait(for: "EXIT=0")
        #expect(done.contains("已保存到平台") && done.contains("此次修改将送达") && done.contains("民政：联系电话"), "\(done)")
        let history = try hub.cli.run("history", "110105198503020118")
        #expect(history.stdout.contains("13600006666"), "\(history.stdout)")
    }

    @Test("the line drops mid-send: the entry waits on the worker's machine, `sync push` sends it again and the hub says it had it — one change, not two")
    func lostConnection() throws {
        let hub = try Hub(hubTimeout: 60)
        defer { hub.stop() }
        let proxy = Process()
        proxy.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        proxy.arguments = ["python3", root.appendingPathComponent("scripts/dropping-proxy.py").path, "127.0.0.1", hub.port, "1"]
        let output = Pipe(), input = Pipe()
        proxy.standardOutput = output
        proxy.standardInput = input
        proxy.standardError = FileHandle.nullDevice
        try proxy.run()
        // The proxy ends when its standard input closes (pyenv's shim may put it in a child process).
        defer { try? input.fileHandleForWriting.close() }
        let port = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        try hub.login("http://127.0.0.1:\(port)")

        let screen = try Screen(["enter", "--lang", "en"], environment: hub.cli.environment)
        defer { screen.close() }
        screen.wait(for: "Citizen ID number:")
        try screen.type("110105198503020118")
        try screen.press("Enter")
        screen.wait(for: "phone [13812345678]:")
        try screen.type("13900001111")
        try screen.keepPressingEnter(until: "Send?")
        try screen.press("Enter")
        let dropped = screen.wait(for: "EXIT=0")
        #expect(dropped.contains("cannot reach the hub") && dropped.contains("Saved on this computer"), "\(dropped)")
        #expect(try hub.cli.run("sync", "status").stdout.contains("sent, no answer yet"))

        let pushed = try hub.cli.run("sync", "push")
        #expect(pushed.status == 0, "\(pushed.stderr)")
        #expect(pushed.stdout.contains("The hub had received this entry already"), "\(pushed.stdout)")
        #expect(try hub.cli.run("sync", "status").stdout.contains("accepted (already received)"))
        let history = try hub.cli.run("history", "110105198503020118")
        #expect(history.stdout.components(separatedBy: "→ 13900001111").count - 1 == 1, "one change:\n\(history.stdout)")
    }

    @Test("sync --file: a template, every row checked, a report of what would change, bad rows set aside, then sent; offline the rows wait")
    func spreadsheet() throws {
        let hub = try Hub()
        defer { hub.stop() }
        try hub.login(hub.base)
        let template = hub.home.appendingPathComponent("updates.csv")
        #expect(try hub.cli.run("template", "--out", template.path, "--lang", "zh").status == 0)
        let header = try String(contentsOf: template, encoding: .utf8)
        #expect(header.contains("公民身份号码,姓名,性别,出生日期,死亡日期,联系电话,住址"), "\(header)")
        let columns = header.trimmingCharacters(in: .whitespacesAndNewlines).trimmingPrefix("\u{FEFF}").split(separator: ",").map(String.init)
        func row(_ cells: [String: String]) -> String { columns.map { cells[$0] ?? "" }.joined(separator: ",") }
        let rows = [
            columns.joined(separator: ","),
            row(["公民身份号码": "110105198503020118", "联系电话": "13900002222"]),
            row(["公民身份号码": "11010519870615022X", "住址": "幸福路3号"]),
            row(["公民身份号码": "110105198503020119", "联系电话": "13900003333"]),
            row(["公民身份号码": "110105194808120242", "联系电话": "13900004444"]),
        ]
        try (rows.joined(separator: "\r\n") + "\r\n").write(to: template, atomically: true, encoding: .utf8)

        let dry = try hub.cli.run("sync", "--file", template.path, "--dry-run")
        #expect(dry.stdout.contains("row 2 · 110105********0118 · phone 13812345678 → 13900002222"), "\(dry.stdout)")
        #expect(dry.stdout.contains("row 4 set aside: 公民身份号码: "), "\(dry.stdout)")
        #expect(dry.stdout.contains("row 5 set aside: no resident with this ID number in your communities"), "\(dry.stdout)")
        #expect(dry.stdout.contains("4 rows: 2 to send, 0 with nothing to change, 2 set aside."), "\(dry.stdout)")
        #expect(dry.status == 65)
        #expect(try hub.cli.run("sync", "status").stdout.contains("No entries"), "a dry run sends and keeps nothing")

        let sent = try hub.cli.run("sync", "--file", template.path, "--yes")
        #expect(sent.stdout.contains("Accepted: 2"), "\(sent.stdout)")
        #expect(sent.stdout.contains("These changes will reach (residents per system): civil affairs 2"), "\(sent.stdout)")
        let aside = try String(contentsOf: hub.home.appendingPathComponent("updates.set-aside.csv"), encoding: .utf8)
        #expect(aside.contains("110105198503020119") && aside.contains("reason"), "\(aside)")
        let again = try hub.cli.run("sync", "--file", template.path, "--yes")
        #expect(again.stdout.contains("0 to send, 2 with nothing to change"), "the same file twice changes nothing:\n\(again.stdout)")

        // Offline: the hub is gone; the rows are checked here and wait.
        hub.server.terminate()
        hub.server.waitUntilExit()
        try (rows.prefix(2).joined(separator: "\r\n").replacingOccurrences(of: "13900002222", with: "13900005555") + "\r\n").write(
            to: template, atomically: true, encoding: .utf8)
        let offline = try hub.cli.run("sync", "--file", template.path, "--yes")
        #expect(offline.stdout.contains("cannot reach the hub") && offline.stdout.contains("1 entries wait on this computer"), "\(offline.stdout)")
        #expect(try hub.cli.run("sync", "status").stdout.contains("waiting"))
        let push = try hub.cli.run("sync", "push")
        #expect(push.status == 69, "still offline: \(push.stdout)")
    }

    @Test("a returned form: exactly the changed cells become entries, per resident, reported first; untouched cells never overwrite what the hub learnt since")
    func returnedForm() throws {
        let hub = try Hub()
        defer { hub.stop() }
        try hub.login(hub.base)
        let office = try hub.cli.run(
            "consumer", "add", "office", "--name", "幸福路社区居委会", "--purpose", "社区居民服务", "--legal-basis", "城市居民委员会组织法",
            "--fields", "name,sex,birth_date,national_id,phone,address", "--community", "110105001001")
        #expect(office.status == 0, "\(office.stderr)")
        // Three more residents of the community, from a roll of its own.
        let adapter = hub.home.appendingPathComponent("roll.yaml"), roll = hub.home.appendingPathComponent("roll.csv")
        try """
        system: community_roll
        name: {zh: 社区花名册, en: Community roll}
        format: {type: csv}
        source_key: 编号
        fields: {name: 姓名, national_id: 身份证号码, phone: 电话, address: 地址, community_code: 社区代码}
        """.write(to: adapter, atomically: true, encoding: .utf8)
        try """
        编号,姓名,身份证号码,电话,地址,社区代码
        H1,刘洋,110105196005050032,13700000001,幸福路11号,110105001001
        H2,陈静,110105197211110045,13700000002,幸福路12号,110105001001
        H3,杨帆,110105198808080058,13700000003,幸福路13号,110105001001

        """.write(to: roll, atomically: true, encoding: .utf8)
        #expect(try hub.cli.run("ingest", adapter.path, roll.path).status == 0)
        let form = hub.home.appendingPathComponent("visits.csv")
        let filled = try hub.cli.run("form", "fill", root.appendingPathComponent("forms/resident_visits.yaml").path, "--community", "110105001001", "--out", form.path)
        #expect(filled.status == 0, "\(filled.stderr)")

        // After the form was filled, the hub learns a new address for 0118 (another worker's sheet).
        let sheet = hub.home.appendingPathComponent("moved.csv")
        try "公民身份号码,住址\r\n110105198503020118,幸福路5号\r\n".write(to: sheet, atomically: true, encoding: .utf8)
        #expect(try hub.cli.run("sync", "--file", sheet.path, "--yes").stdout.contains("Accepted: 1"))

        // The office changes three cells of three residents, fills its own columns, and mistypes one masked cell.
        var lines = String(decoding: try Data(contentsOf: form).dropFirst(3), as: UTF8.self).components(separatedBy: "\r\n").filter { !$0.isEmpty }
        let header = lines[3].components(separatedBy: ",")
        let (phone, address, visited, id) = (header.firstIndex(of: "联系电话")!, header.firstIndex(of: "现住址")!, header.firstIndex(of: "走访日期")!, header.firstIndex(of: "公民身份号码")!)
        var rows = lines.dropFirst(4).map { $0.components(separatedBy: ",") }
        try #require(rows.count == 5 && lines.dropFirst(4).allSatisfy { !$0.contains("\"") }, "\(lines)")
        let zhang = try #require(rows.firstIndex { $0[id].hasSuffix("0118") }), wang = try #require(rows.firstIndex { $0[id].hasSuffix("022X") })
        let others = rows.indices.filter { $0 != zhang && $0 != wang }
        for index in rows.indices { rows[index][visited] = "2026-12-01" }
        rows[zhang][phone] = "13900007777"
        rows[wang][address] = "幸福路9号"
        rows[others[0]][phone] = "13900008888"
        rows[others[1]][phone] = "139****0000"
        lines = Array(lines.prefix(4)) + rows.map { $0.joined(separator: ",") }
        try Data(("\u{FEFF}" + lines.joined(separator: "\r\n") + "\r\n").utf8).write(to: form)

        let dry = try hub.cli.run("sync", "--file", form.path, "--dry-run")
        #expect(dry.stdout.contains("A returned form (resident_visits"), "\(dry.stdout)")
        #expect(dry.stdout.contains("row \(zhang + 5) · resident ") && dry.stdout.contains("phone 13812345678 → 13900007777"), "\(dry.stdout)")
        #expect(dry.stdout.contains("row \(wang + 5) · resident ") && dry.stdout.contains("→ 幸福路9号"), "\(dry.stdout)")
        #expect(dry.stdout.contains("row \(others[1] + 5) set aside: 联系电话: a masked value"), "\(dry.stdout)")
        #expect(dry.stdout.contains("\(rows.count) rows: 3 to send, \(rows.count - 4) with nothing to change, 1 set aside."), "\(dry.stdout)")
        #expect(!dry.stdout.contains("幸福路5号 →"), "the untouched address cell of 0118 is not an entry")
        #expect(dry.status == 65)

        let sent = try hub.cli.run("sync", "--file", form.path, "--yes")
        #expect(sent.stdout.contains("Accepted: 3"), "\(sent.stdout)")
        let status = try hub.cli.run("sync", "status")
        #expect(status.stdout.components(separatedBy: " · accepted").count - 1 == 4, "the sheet's entry and the form's three:\n\(status.stdout)")
        #expect(status.stdout.components(separatedBy: " · resident ").count - 1 == 3, "\(status.stdout)")
        let zhangNow = try hub.cli.run("history", "110105198503020118")
        #expect(zhangNow.stdout.contains("13900007777") && zhangNow.stdout.contains("幸福路5号"), "\(zhangNow.stdout)")
        // Sent again, the form changes nothing.
        let again = try hub.cli.run("sync", "--file", form.path, "--yes")
        #expect(again.stdout.contains("0 to send"), "\(again.stdout)")
    }

}
