import Foundation
import Testing
import YibiaoStore
import YibiaoTestSupport

@Suite struct RulesCommandTests {
    @Test("rules check names the line; rules diff reports per field and writes nothing; --rules then applies the file")
    func rulesCommands() throws {
        let home = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-cli-rules")
        let cli = CLIProcess(environment: ["YIBIAO_HOME": home.path, "YIBIAO_DISTRICT": "110105"])
        let zh = CLIProcess(environment: ["YIBIAO_HOME": home.path, "YIBIAO_DISTRICT": "110105", "LANG": "zh_CN.UTF-8"])
        defer {
            _ = try? cli.run("db", "stop")
            try? FileManager.default.removeItem(at: home)
        }
        let rules = home.appendingPathComponent("district-rules.yaml")
        let standard = try String(contentsOf: root.appendingPathComponent("schemas/survivorship.yaml"), encoding: .utf8)
        try standard.replacingOccurrences(
            of: "  name: {strategy: most_frequent, conflict: none}",
            with: "  name: {strategy: priority, priority: [social_security, civil_affairs], conflict: none}"
        )
        .write(to: rules, atomically: true, encoding: .utf8)
        let bad = home.appendingPathComponent("bad.yaml")
        try "version: 1\npriority: [a]\nfields:\n  phnoe: {strategy: priority}\n".write(to: bad, atomically: true, encoding: .utf8)

        #expect(try cli.run("rules", "check", rules.path).stdout.contains("OK — 5 sources in order"))
        let broken = try cli.run("rules", "check", bad.path)
        #expect(broken.status == 78)
        #expect(broken.stderr.contains("bad.yaml:4 (fields.phnoe): `phnoe` is not a canonical field"), "\(broken.stderr)")
        #expect(broken.stderr.contains("did you mean `phone`?"))
        #expect(try zh.run("rules", "check", bad.path).stderr.contains("bad.yaml:4（fields.phnoe）：`phnoe` 不是标准字段"))

        #expect(try cli.run("db", "start").status == 0)
        #expect(try cli.run("db", "migrate").status == 0)
        for (adapter, sample) in [("civil_affairs.yaml", "civil_affairs.csv"), ("social_security.yaml", "social_security.jsonl")] {
            let ingest = try cli.run(
                "ingest", root.appendingPathComponent("adapters/\(adapter)").path,
                root.appendingPathComponent("adapters/samples/\(sample)").path)
            #expect(ingest.status == 0, "\(ingest.stderr)")
        }
        let before = try cli.run("log", "verify").stdout
        let diff = try cli.run("rules", "diff", "--no-progress", rules.path)
        #expect(diff.status == 0, "\(diff.stderr)")
        #expect(diff.stdout.contains("1 would change: 1 change-log entries"), "\(diff.stdout)")
        #expect(diff.stdout.contains("name (name): 1 / 0 / 0"))
        #expect(try zh.run("rules", "diff", rules.path).stdout.contains("其中 1 位将变化：变更日志 1 条"))
        #expect(try cli.run("log", "verify").stdout == before, "a diff writes nothing")
        // The same file in force: the next run recomputes under it, and the diff against it is empty.
        let match = try cli.run("match", "--no-progress", "--rules", rules.path)
        #expect(match.stdout.contains("1 change-log entries"), "\(match.stdout)")
        let empty = try CLIProcess(environment: ["YIBIAO_HOME": home.path, "YIBIAO_DISTRICT": "110105", "YIBIAO_RULES": rules.path])
            .run("rules", "diff", rules.path)
        #expect(empty.stdout.contains("No golden value or conflict would change."), "\(empty.stdout)")
        #expect(try cli.run("match", "--rules", bad.path).status == 78)
        // A broken rules file stops the commands that use rules, not the database's own.
        let brokenRules = CLIProcess(environment: ["YIBIAO_HOME": home.path, "YIBIAO_DISTRICT": "110105", "YIBIAO_RULES": bad.path])
        #expect(try brokenRules.run("db", "status").status == 0)
        #expect(try brokenRules.run("db", "migrate").status == 0)
        #expect(try brokenRules.run("history", "1").status == 78)
    }
}
