import Foundation
import Testing
import YibiaoStore
import YibiaoTestSupport

#if canImport(Glibc)
    import Glibc
#endif

private let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// `yibiao outbox` as an operator uses it, and delivery killed at random points.
@Suite struct OutboxCommandTests {
    static func psql(_ url: String, _ sql: String) throws -> String {
        try ProcessRunner().run("/usr/bin/psql", ["-X", "-qtA", url, "-c", sql]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test("outbox plan, release, deliver, status in both languages; kill -9 at random points during deliver: nothing lost, no key in two files")
    func deliverSurvivesKills() throws {
        let home = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-cli-outbox")
        let environment = ["YIBIAO_HOME": home.path, "YIBIAO_DISTRICT": "110105"]
        let cli = CLIProcess(environment: environment)
        let zh = CLIProcess(environment: environment.merging(["LANG": "zh_CN.UTF-8"]) { $1 })
        defer {
            _ = try? cli.run("db", "stop")
            try? FileManager.default.removeItem(at: home)
        }
        #expect(try cli.run("db", "start").status == 0)
        #expect(try cli.run("db", "migrate").status == 0)
        let district = home.appendingPathComponent("district")
        #expect(try cli.run("synth", "--residents", "1500", "--seed", "5", "--out", district.path).status == 0)
        for (adapter, file) in [
            ("civil_affairs", "civil_affairs.csv"), ("family_planning", "family_planning.xlsx"), ("party", "party.xml"),
            ("social_security", "social_security.jsonl"),
        ] {
            let run = try cli.run("ingest", "--no-progress", repository.appendingPathComponent("adapters/\(adapter).yaml").path, district.appendingPathComponent(file).path)
            #expect(run.status == 0, "\(run.stderr)")
        }
        let url = try cli.run("db", "url").stdout.trimmingCharacters(in: .whitespacesAndNewlines)

        let plan = try zh.run("outbox", "plan")
        #expect(plan.status == 0)
        #expect(plan.stdout.contains("样例（已脱敏）"), "\(plan.stdout)")
        let status = try cli.run("outbox", "status")
        #expect(status.stdout.contains("held — see `yibiao outbox plan`"), "\(status.stdout)")
        let heldRun = try cli.run("outbox", "deliver")
        #expect(heldRun.stdout.contains("held — nothing sent"))
        #expect(try cli.run("outbox", "release", "--system", "nonesuch").status != 0)
        for system in ["civil_affairs", "family_planning", "party", "social_security"] {
            let release = try zh.run("outbox", "release", "--system", system)
            #expect(release.status == 0)
            #expect(release.stdout.contains("已开启"))
        }
        let owed = Int(try Self.psql(url, "SELECT count(*) FROM outbox WHERE status = 'pending'")) ?? 0
        #expect(owed >= 50, "too few updates to interrupt: \(owed)")

        // Kill the delivery at random moments while updates remain, then let it finish. One row
        // per file makes a run long enough (two transactions and two files per update) to be
        // caught in the middle.
        var generator = SystemRandomNumberGenerator()
        var killed = 0
        for _ in 0..<20 {
            guard (Int(try Self.psql(url, "SELECT count(*) FROM outbox WHERE status IN ('pending', 'failed')")) ?? 0) > 0 else { break }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: CLIProcess.executable)
            process.arguments = ["outbox", "deliver", "--rows-per-file", "1"]
            process.environment = cli.environment
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            usleep(UInt32.random(in: 200_000...700_000, using: &generator))
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                killed += 1
            }
            process.waitUntilExit()
        }
        let finish = try cli.run("outbox", "deliver", "--rows-per-file", "1")
        #expect(finish.status == 0, "\(finish.stdout)\n\(finish.stderr)")
        #expect(killed >= 1, "no run was caught in the middle")

        // Every update was delivered, in exactly one file that is complete and checks out.
        #expect(try Self.psql(url, "SELECT count(*) FROM outbox WHERE status IN ('pending', 'failed', 'held')") == "0")
        #expect(try Self.psql(url, "SELECT count(*) FROM outbox_delivery WHERE status = 'writing'") == "0")
        let sent = Set(try Self.psql(url, "SELECT idempotency_key FROM outbox WHERE status = 'sent'").split(separator: "\n").map(String.init))
        #expect(sent.count == owed)
        var delivered: [String] = []
        let root = home.appendingPathComponent("outbox/110105")
        for system in try FileManager.default.contentsOfDirectory(atPath: root.path) {
            let folder = root.appendingPathComponent(system)
            let names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            #expect(!names.contains { $0.hasSuffix(".partial") }, "\(names)")
            let manifests = names.filter { $0.hasSuffix(".manifest.json") }.sorted()
            #expect(manifests.count == names.count / 2, "\(names)")
            // Numbered 1, 2, 3… without a gap.
            for (index, manifest) in manifests.enumerated() {
                #expect(manifest.contains("_\(String(format: "%06d", index + 1))."), "\(manifests)")
                let object = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent(manifest))) as! [String: Any]
                delivered += object["idempotency_keys"] as! [String]
            }
        }
        #expect(delivered.count == Set(delivered).count, "a key was delivered in two files")
        #expect(Set(delivered) == sent)
        #expect(try cli.run("log", "verify").status == 0)
    }
}
