import Foundation
import Testing
import YibiaoStore
import YibiaoTestSupport

@Suite struct GoldenCommandTests {
    @Test("enter, conflicts list/show/resolve and history [--as-of] from the command line, in both languages")
    func goldenCommands() throws {
        let home = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-cli-golden")
        let cli = CLIProcess(environment: ["YIBIAO_HOME": home.path, "YIBIAO_DISTRICT": "110105"])
        let zh = CLIProcess(environment: ["YIBIAO_HOME": home.path, "YIBIAO_DISTRICT": "110105", "LANG": "zh_CN.UTF-8"])
        defer {
            _ = try? cli.run("db", "stop")
            try? FileManager.default.removeItem(at: home)
        }
        #expect(try cli.run("db", "start").status == 0)
        #expect(try cli.run("db", "migrate").status == 0)
        let ingest = try cli.run(
            "ingest", root.appendingPathComponent("adapters/civil_affairs.yaml").path,
            root.appendingPathComponent("adapters/samples/civil_affairs.csv").path)
        #expect(ingest.stdout.contains("golden records: 6 recomputed, 6 changed"), "\(ingest.stdout)")
        let id = "110105198503020118"

        let history = try cli.run("history", id)
        #expect(history.status == 0, "\(history.stderr)")
        #expect(history.stdout.contains("name: 张伟  ← civil_affairs record"))
        #expect(history.stdout.contains("citizen ID number: 110105********0118"))
        #expect(history.stdout.contains("marital status: 20 married"))
        #expect(try cli.run("history", id, "--show-ids").stdout.contains("citizen ID number: 110105198503020118"))

        let bad = try cli.run("enter", id, "phnoe=13912345678")
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("phnoe is not a field (did you mean phone?)"))
        #expect(try cli.run("enter", id, "phone").status == 64)
        // A worker's verified birth date disagrees with civil affairs: both are trusted, a person decides.
        let entered = try cli.run("enter", id, "birth_date=1985年3月20日", "--worker", "li")
        #expect(entered.status == 0, "\(entered.stderr)")
        let list = try cli.run("conflicts", "list")
        #expect(list.stdout.contains("date of birth: 1985-03-02 (civil_affairs) vs 1985-03-20 (community_entry) — trusted sources disagree"), "\(list.stdout)")
        #expect(try zh.run("conflicts", "list").stdout.contains("出生日期：1985-03-02 (civil_affairs) 与 1985-03-20 (community_entry) — 可信来源不一致"))
        let number = try #require(list.stdout.split(separator: " ").first.map { String($0.dropFirst()) })
        let show = try cli.run("conflicts", "show", number)
        #expect(show.stdout.contains("[2] 1985-03-20  ← community_entry"))
        #expect(show.stdout.contains("in use now: 1985-03-20 from community_entry"))
        #expect(try cli.run("conflicts", "resolve", number, "--reason", "r").status == 64, "no value given")
        let impossible = try cli.run("conflicts", "resolve", number, "--value", "1985-02-30", "--reason", "r")
        #expect(impossible.status == 1)
        #expect(impossible.stderr.contains("the value is not a valid date of birth"), "\(impossible.stderr)")
        #expect(!impossible.stderr.contains("1985-02-30"), "a value entered by hand is not echoed")
        let resolve = try cli.run("conflicts", "resolve", number, "--choose", "1", "--reason", "household register checked")
        #expect(resolve.status == 0, "\(resolve.stderr)")
        #expect(resolve.stdout.contains("resolved; 1 change-log entries"))
        #expect(try cli.run("conflicts", "list").stdout.contains("No conflicts."))
        #expect(try cli.run("conflicts", "list", "--all").stdout.contains("[resolved]"))
        let after = try cli.run("history", id)
        #expect(after.stdout.contains("date of birth: 1985-03-02  ← a person's resolution"))
        #expect(after.stdout.contains("resolution (conflict:\(number))"))
        #expect(after.stdout.contains("entry (community_entry resident:"))
        let past = try cli.run("history", id, "--as-of", "2000-01-01")
        #expect(past.stdout.contains("as of 2000-01-01:\n  (no record yet)"))
        #expect(try cli.run("history", id, "--as-of", "2100-01-01").stdout.contains("date of birth: 1985-03-02"))
        #expect(try cli.run("history", id, "--as-of", "someday").status == 64)
        #expect(try cli.run("history", "99999").status == 1)
        #expect(try cli.run("log", "verify").stdout.contains("intact"))
        // The receipt: which systems get the change, in both languages.
        let phone = try cli.run("enter", id, "phone=13912345678")
        #expect(phone.stdout.contains("This change will reach:\n  Civil affairs: phone (waiting until the district releases"), "\(phone.stdout)")
        #expect(phone.stdout.contains("There is no need to enter it in those systems again."))
        let address = try zh.run("enter", id, "address=北京市朝阳区建国路88号")
        #expect(address.stdout.contains("此次修改将送达：\n  民政系统：住址"), "\(address.stdout)")
        let same = try cli.run("enter", id, "phone=13912345678")
        #expect(same.stdout.contains("already had these values"), "\(same.stdout)")
        // Civil affairs has no code for "remarried to former spouse": the worker is told it was not sent.
        let uncoded = try cli.run("enter", id, "marital_status=23")
        #expect(uncoded.stdout.contains("Civil affairs: a value has no code in this system and was not sent"), "\(uncoded.stdout)")
        // A golden value edited behind the log's back, with SQL: log verify names the entry.
        let url = try cli.run("db", "url").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let tamper = try ProcessRunner().run(
            "/usr/bin/psql",
            [
                "-X", "-q", url, "-c",
                """
                ALTER TABLE change_log DISABLE TRIGGER change_log_append_only;
                UPDATE change_log SET changes = (changes::jsonb || '{"phone": {"old": null, "new": "13800000000"}}')::json WHERE seq = 2;
                """,
            ])
        #expect(tamper.succeeded, "\(tamper.stderr)")
        let broken = try cli.run("log", "verify")
        #expect(broken.status == 1)
        #expect(broken.stdout.contains("BROKEN at entry 2: its content does not match its hash"), "\(broken.stdout)")
        #expect(try zh.run("log", "verify").stdout.contains("第 2 条记录处损坏"))
    }
}
