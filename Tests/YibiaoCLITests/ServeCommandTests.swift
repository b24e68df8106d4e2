import Crypto
import Foundation
import Testing
import YibiaoStore
import YibiaoTestSupport

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A request to the server under test, on loopback.
private func get(_ url: String, token: String? = nil) async throws -> (Int, String) {
    var request = URLRequest(url: URL(string: url)!)
    if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
    let (data, response) = try await URLSession.shared.data(for: request)
    return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
}

@Suite(.serialized) struct ServeCommandTests {
    @Test("consumer add/list/show/rotate-token/disable, extract with its manifest, audit list/verify — from the command line, in both languages")
    func consumerCommands() throws {
        let home = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-cli-consumer")
        let cli = CLIProcess(environment: ["YIBIAO_HOME": home.path, "YIBIAO_DISTRICT": "110105"])
        let zh = CLIProcess(environment: ["YIBIAO_HOME": home.path, "YIBIAO_DISTRICT": "110105", "LANG": "zh_CN.UTF-8"])
        defer {
            _ = try? cli.run("db", "stop")
            try? FileManager.default.removeItem(at: home)
        }
        #expect(try cli.run("db", "start").status == 0)
        #expect(try cli.run("db", "migrate").status == 0)
        #expect(
            try cli.run(
                "ingest", root.appendingPathComponent("adapters/civil_affairs.yaml").path,
                root.appendingPathComponent("adapters/samples/civil_affairs.csv").path
            ).status == 0)

        let refused = try cli.run(
            "consumer", "add", "planning", "--name", "规划局", "--purpose", "人口规划", "--legal-basis", "x", "--fields", "nmae,party.branch")
        #expect(refused.status == 64)
        #expect(refused.stderr.contains("did you mean name?") && refused.stderr.contains("party.branch"), "\(refused.stderr)")
        let refusedZH = try zh.run("consumer", "add", "planning", "--name", "规划局", "--purpose", "人口规划", "--legal-basis", "x", "--facet", "party")
        #expect(refusedZH.stderr.contains("敏感"), "\(refusedZH.stderr)")

        let added = try cli.run(
            "consumer", "add", "office", "--name", "幸福路社区居委会", "--purpose", "社区居民服务", "--legal-basis", "城市居民委员会组织法",
            "--fields", "name,national_id,phone,address", "--community", "110105001001")
        #expect(added.status == 0, "\(added.stderr)")
        let token = try #require(added.stdout.split(separator: "\n").last.map(String.init))
        #expect(token.hasPrefix("yb_110105_") && token.count == 50)
        #expect(added.stdout.contains("national_id (citizen ID number) · masked"))
        let list = try cli.run("consumer", "list")
        #expect(list.stdout.contains("office · 幸福路社区居委会 · active · 4 fields · 110105001001"), "\(list.stdout)")
        #expect(!list.stdout.contains(token), "the token is never shown again")
        #expect(try zh.run("consumer", "show", "office").stdout.contains("范围：110105001001"))

        let directory = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-cli-extract")
        let file = directory.appendingPathComponent("office.xlsx")
        let extract = try cli.run("extract", "--consumer", "office", "--format", "xlsx", "--out", file.path)
        #expect(extract.status == 0, "\(extract.stderr)")
        #expect(extract.stdout.contains("Wrote 2 residents"), "\(extract.stdout)")
        let manifest = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: file.appendingPathExtension("manifest.json"))) as? [String: Any])
        #expect(manifest["rows"] as? Int == 2 && manifest["kind"] as? String == "snapshot")
        #expect(manifest["sha256"] as? String == SHA256.hash(data: try Data(contentsOf: file)).map { String(format: "%02x", $0) }.joined())
        let cursor = try #require(manifest["cursor"] as? Int)
        let since = try cli.run("extract", "--consumer", "office", "--since", String(cursor), "--format", "jsonl", "--out", directory.appendingPathComponent("d.jsonl").path)
        #expect(since.stdout.contains("Wrote 0 residents"), "\(since.stdout)")
        let ahead = try cli.run("extract", "--consumer", "office", "--since", String(cursor + 100), "--out", directory.appendingPathComponent("x.csv").path)
        #expect(ahead.status == 1 && ahead.stderr.contains("past the district's last change"))
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("x.csv").path))

        let audit = try cli.run("audit", "list")
        #expect(audit.stdout.contains("extract · consumer:office · 2 rows"), "\(audit.stdout)")
        #expect(audit.stdout.contains("consumer_add · consumer:office"))
        #expect(try cli.run("audit", "list", "--action", "audit_list").stdout.contains("audit_list"), "reading the log is itself logged")
        let verified = try cli.run("audit", "verify")
        #expect(verified.status == 0 && verified.stdout.contains("intact"), "\(verified.stdout)")

        let rotated = try cli.run("consumer", "rotate-token", "office")
        let second = try #require(rotated.stdout.split(separator: "\n").last.map(String.init))
        #expect(second != token && second.hasPrefix("yb_110105_"))
        #expect(try cli.run("consumer", "disable", "office").status == 0)
        #expect(try cli.run("consumer", "list").stdout.contains("office · 幸福路社区居委会 · disabled"))
        #expect(try cli.run("consumer", "rotate-token", "office").status == 1)
        #expect(try cli.run("consumer", "show", "nobody").stderr.contains("there is no consumer nobody"))

        let worker = try cli.run("worker", "add", "li.na", "--name", "李娜", "--community", "110105001001")
        #expect(worker.status == 0, "\(worker.stderr)")
        #expect(worker.stdout.split(separator: "\n").last?.hasPrefix("ybw_110105_") == true)
        let elsewhere = try cli.run("worker", "add", "wang", "--name", "王", "--community", "110106001001")
        #expect(elsewhere.status == 64 && elsewhere.stderr.contains("is not a community of 110105"), "\(elsewhere.stderr)")
        #expect(try cli.run("worker", "list").stdout.contains("li.na · 李娜 · active · 110105001001"))
        #expect(try cli.run("worker", "rotate-token", "li.na").stdout.contains("ybw_110105_"))
        #expect(try cli.run("worker", "disable", "li.na").status == 0)
        #expect(try zh.run("worker", "list").stdout.contains("li.na · 李娜 · 已停用"))
    }

    @Test("yibiao serve on loopback answers with the consumer's view and stops cleanly on SIGTERM; a backup restores with both hash chains intact")
    func serveAndBackup() async throws {
        let home = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-cli-serve")
        let cli = CLIProcess(environment: ["YIBIAO_HOME": home.path, "YIBIAO_DISTRICT": "110105"])
        defer {
            _ = try? cli.run("db", "stop")
            try? FileManager.default.removeItem(at: home)
        }
        #expect(try cli.run("db", "start").status == 0)
        #expect(try cli.run("db", "migrate").status == 0)
        _ = try cli.run(
            "ingest", root.appendingPathComponent("adapters/civil_affairs.yaml").path, root.appendingPathComponent("adapters/samples/civil_affairs.csv").path)
        let added = try cli.run("consumer", "add", "reader", "--name", "r", "--purpose", "p", "--legal-basis", "b", "--fields", "name,phone")
        let token = try #require(added.stdout.split(separator: "\n").last.map(String.init))

        let (server, base, output) = try cli.serve()
        defer { if server.isRunning { server.terminate() } }

        #expect(try await get(base + "/health").0 == 200)
        #expect(try await get(base + "/ready").0 == 200)
        let (status, body) = try await get(base + "/v1/residents/1", token: token)
        #expect(status == 200, "\(body)")
        #expect(body.contains("\"phone\":\"138****5678\"") && !body.contains("national_id"), "\(body)")
        #expect(try await get(base + "/v1/residents/1").0 == 401)
        #expect(try await get(base + "/metrics").1.contains("hb_requests"))

        server.terminate() // SIGTERM
        server.waitUntilExit()
        #expect(server.terminationStatus == 0)
        let rest = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(rest.contains("Stopped."))
        #expect(try cli.run("audit", "list", "--consumer", "reader").stdout.contains("read_resident · resident:1"))

        // Backup and restore into a new database; both chains verify there.
        let backup = home.appendingPathComponent("backup.dump")
        let environment = ["YIBIAO": CLIProcess.executable, "YIBIAO_HOME": home.path, "PATH": cli.environment["PATH"] ?? ""]
        let dumped = try ProcessRunner().run(root.appendingPathComponent("deploy/backup.sh").path, [backup.path], environment: environment)
        #expect(dumped.status == 0, "\(dumped.stderr)")
        let socket = home.appendingPathComponent("pg/run").path
        let restoredURL = "postgresql://yibiao@/yibiao_restored?host=\(socket)&port=5432"
        let created = try ProcessRunner().run(
            "/usr/bin/env", ["createdb", "-h", socket, "-p", "5432", "-U", "yibiao", "yibiao_restored"],
            environment: ["PATH": "/usr/lib/postgresql/15/bin:" + (cli.environment["PATH"] ?? "")])
        #expect(created.status == 0, "\(created.stderr)")
        var restoreEnvironment = environment
        restoreEnvironment["YIBIAO_DATABASE_URL"] = restoredURL
        let restored = try ProcessRunner().run(
            root.appendingPathComponent("deploy/restore.sh").path, [backup.path, "110105"], environment: restoreEnvironment)
        #expect(restored.status == 0, "\(restored.stdout)\n\(restored.stderr)")
        #expect(restored.stdout.contains("The change log of 110105 is intact"), "\(restored.stdout)")
        #expect(restored.stdout.contains("The audit log of 110105 is intact"), "\(restored.stdout)")
        // Not into a database that has tables.
        let again = try ProcessRunner().run(root.appendingPathComponent("deploy/restore.sh").path, [backup.path], environment: restoreEnvironment)
        #expect(again.status == 1 && again.stderr.contains("already has"))
    }
}
