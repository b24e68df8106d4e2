import Foundation
import Testing
import YibiaoStore
import YibiaoTestSupport

let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

@Suite struct AdapterCommandTests {
    @Test("adapter check: OK lines for the shipped adapters, exit 78 with line, key and fix for a broken one")
    func check() throws {
        let shipped = ["civil_affairs", "family_planning", "party", "social_security"].map { root.appendingPathComponent("adapters/\($0).yaml").path }
        let ok = try CLIProcess().run(["adapter", "check"] + shipped)
        #expect(ok.status == 0)
        #expect(ok.stdout.components(separatedBy: ": OK — ").count == 5)
        let directory = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-check")
        defer { try? FileManager.default.removeItem(at: directory) }
        let broken = directory.appendingPathComponent("broken.yaml")
        try "system: x_system\nformat: {type: csv}\nsource_key: id\nfields:\n  nmae: 姓名\n".write(to: broken, atomically: true, encoding: .utf8)
        let result = try CLIProcess().run("adapter", "check", broken.path)
        #expect(result.status == 78)
        #expect(result.stderr.contains("error: broken.yaml:5 (fields.nmae): `nmae` is not a canonical field of core"))
        #expect(result.stderr.contains("hint: did you mean `name`?"))
        let chinese = try CLIProcess(environment: ["LANG": "zh_CN.UTF-8"]).run("adapter", "check", broken.path)
        #expect(chinese.stderr.contains("错误：broken.yaml:5（fields.nmae）：`nmae` 不是 core 的规范字段"))
    }

    @Test("adapter suggest drafts an adapter that adapter check and preview accept; what it could not place is on stderr")
    func suggest() throws {
        let directory = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-suggest")
        defer { try? FileManager.default.removeItem(at: directory) }
        let draft = directory.appendingPathComponent("party_draft.yaml")
        let feed = root.appendingPathComponent("adapters/samples/party.xml").path
        let suggested = try CLIProcess().run("adapter", "suggest", feed, "--adapters", directory.path, "--system", "party", "--out", draft.path)
        #expect(suggested.status == 0)
        #expect(suggested.stderr.contains("Placed 10 of 13 columns; source key @编号; not placed: 党员状态, 组织关系"))
        #expect(try String(contentsOf: draft, encoding: .utf8).contains("record_element: \"党员\""))
        #expect(try CLIProcess().run("adapter", "check", draft.path).status == 0)
        let preview = try CLIProcess().run("adapter", "preview", draft.path, feed, "--rows", "0")
        #expect(preview.status == 0)
        #expect(preview.stdout.contains("name=张伟"))
        let chinese = try CLIProcess(environment: ["LANG": "zh_CN.UTF-8"]).run("adapter", "suggest", feed, "--adapters", directory.path)
        #expect(chinese.stderr.contains("已对应 10/13 列；来源主键 @编号；未能对应：党员状态、组织关系"))
        let refused = try CLIProcess().run("adapter", "suggest", directory.appendingPathComponent("none.csv").path)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("there is no file"))
    }

    @Test("adapter preview shows normalised rows, problems, quarantine reasons and a reconciled total")
    func preview() throws {
        let result = try CLIProcess().run(
            "adapter", "preview", root.appendingPathComponent("adapters/civil_affairs.yaml").path,
            root.appendingPathComponent("adapters/samples/civil_affairs.csv").path, "--rows", "0")
        #expect(result.status == 0)
        #expect(result.stdout.contains("row 2 · MZ0001 · "))
        #expect(result.stdout.contains("name=张伟"))
        #expect(result.stdout.contains("national_id=110105********0118"))
        #expect(!result.stdout.contains("110105198503020118"))
        #expect(result.stdout.contains("[id_check_mismatch]"))
        #expect(result.stdout.contains("✗ row 10: the row has 7 cells but the header has 16 [ragged_row]"))
        #expect(result.stdout.contains("9 rows read: 6 mapped (1 with problems), 3 would be quarantined"))
    }
}

@Suite(.serialized) struct IngestCommandTests {
    @Test("ingest twice: the second run stages nothing; quarantine list and show explain the rows")
    func ingestTwice() throws {
        let home = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-cli-ingest")
        let cli = CLIProcess(environment: ["YIBIAO_HOME": home.path, "YIBIAO_DISTRICT": "110105"])
        defer {
            _ = try? cli.run("db", "stop")
            try? FileManager.default.removeItem(at: home)
        }
        #expect(try cli.run("db", "start").status == 0)
        #expect(try cli.run("db", "migrate").status == 0)
        let adapter = root.appendingPathComponent("adapters/civil_affairs.yaml").path
        let feed = root.appendingPathComponent("adapters/samples/civil_affairs.csv").path
        let first = try cli.run("ingest", adapter, feed)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("read 9 = staged 6 (of which 0 changed) + unchanged 0 + quarantined 3"))
        #expect(first.stdout.contains("matching (parameters v0, the whole district): 6 records"), "\(first.stdout)")
        #expect(first.stdout.contains("gave 6 residents: 6 new"))
        let xref = try cli.run("xref", "export", "--system", "civil_affairs")
        #expect(xref.stdout.hasPrefix("system,source_key,resident_id\ncivil_affairs,MZ0001,"))
        #expect(xref.stdout.split(separator: "\n").count == 7)
        let explain = try cli.run("explain", "civil_affairs", "MZ0001")
        #expect(explain.stdout.hasPrefix("civil_affairs MZ0001 → resident "))
        let unknown = try cli.run("explain", "civil_affairs", "NOPE")
        #expect(unknown.status == 1)
        let noReason = try cli.run("split", "civil_affairs", "MZ0001")
        #expect(noReason.status == 64)
        let split = try cli.run("split", "civil_affairs", "MZ0001", "--reason", "checked in person")
        #expect(split.status == 0, "\(split.stderr)")
        #expect(split.stdout.contains("Recorded: civil_affairs MZ0001 is now resident"))
        // Review: one uncertain pair, decided by a keystroke on standard input.
        let url = try cli.run("db", "url").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let insert = try ProcessRunner().run(
            "/usr/bin/psql",
            [
                "-X", "-q", url, "-c",
                """
                INSERT INTO review_item (district, record_id, candidate_resident_id, weight)
                SELECT '110105', a.record_id, l.resident_id, 0.7 FROM source_record a, source_record b JOIN link l USING (district, record_id)
                WHERE a.source_key = 'MZ0004' AND b.source_key = 'MZ0002'
                """,
            ])
        #expect(insert.succeeded, "\(insert.stderr)")
        let review = try cli.run(["review"], input: "d\n")
        #expect(review.status == 0, "\(review.stderr)")
        #expect(review.stdout.contains("Pair 1 of 1 (probability 0.70)"))
        // Both sides' ID numbers are masked unless --show-ids.
        #expect(!review.stdout.contains("11010519780920031X") && !review.stdout.contains("11010519870615022X"), "\(review.stdout)")
        #expect(review.stdout.contains("110105********031X"))
        #expect(review.stdout.contains("1 decisions recorded."))
        #expect(try cli.run("review").stdout.contains("Nothing to review."))
        let verify = try cli.run("log", "verify")
        #expect(verify.status == 0)
        #expect(verify.stdout.contains("The change log of 110105 is intact"))
        let second = try cli.run("ingest", adapter, feed)
        #expect(second.stdout.contains("is unchanged since batch 1 (same file, same adapter): nothing to read"), "\(second.stdout)")
        let forced = try cli.run("ingest", "--force", adapter, feed)
        #expect(forced.stdout.contains("read 9 = staged 0 (of which 0 changed) + unchanged 6 + quarantined 3"), "\(forced.stdout)")
        #expect(!forced.stdout.contains("matching ("), "nothing was staged, so nothing is matched: \(forced.stdout)")
        let list = try cli.run("quarantine", "list", "--batch", "1")
        #expect(list.stdout.contains("civil_affairs.csv row 8, column 人员编号: the row has no source key (人员编号) [missing_source_key]"))
        let zh = CLIProcess(environment: ["YIBIAO_HOME": home.path, "YIBIAO_DISTRICT": "110105", "LANG": "zh_CN.UTF-8"])
        let show = try zh.run("quarantine", "show", "3")
        // The raw row can be personal data: masked unless asked for.
        #expect(!show.stdout.contains("MZ0011,孙强,男"), "\(show.stdout)")
        #expect(show.stdout.contains("原始值       M*****"))
        #expect(try zh.run("quarantine", "show", "3", "--show-values").stdout.contains("MZ0011,孙强,男"))
        #expect(show.stdout.contains("该行有 7 个单元格，而表头有 16 列"))
        let noDistrict = try CLIProcess(environment: ["YIBIAO_HOME": home.path]).run("ingest", adapter, feed)
        #expect(noDistrict.status == 64)
        #expect(noDistrict.stderr.contains("--district 110105"))
    }
}
