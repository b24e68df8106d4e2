import Foundation
import Testing
import YibiaoStore
import YibiaoTestSupport

/// The defects the hardening issue found, as a person meets them from the shell.
@Suite struct HardeningCLITests {
    @Test("directories, over-long values, repeated keys, repeated fields and ID numbers in messages")
    func defects() throws {
        let home = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-cli-hardening")
        let cli = CLIProcess(environment: ["YIBIAO_HOME": home.path, "YIBIAO_DISTRICT": "110105"])
        defer {
            _ = try? cli.run("db", "stop")
            try? FileManager.default.removeItem(at: home)
        }
        let adapter = home.appendingPathComponent("people.yaml")
        try """
        system: people_test
        name: {zh: 测试, en: Test}
        format: {type: csv}
        source_key: id
        fields:
          name: {column: name, required: true}
          national_id: idno
        """.write(to: adapter, atomically: true, encoding: .utf8)
        let feed = home.appendingPathComponent("people.csv")
        try ("id,name,idno\n1,张伟,110105198503020118\n2," + String(repeating: "张", count: 100_000) + ",\n1,重复,\n3,李娜,11010519850302011\n")
            .write(to: feed, atomically: true, encoding: .utf8)

        // A directory is not a feed: a message and 65, not a loop or a raw Cocoa error.
        let directory = try cli.run("adapter", "preview", adapter.path, home.path)
        #expect(directory.status == 65)
        #expect(directory.stderr.contains("is a directory, not a feed file"), "\(directory.stderr)")
        // Preview counts what ingest counts, and masks what it quotes.
        let preview = try cli.run("adapter", "preview", adapter.path, feed.path)
        #expect(preview.stdout.contains("4 rows read: 2 mapped (1 with problems), 2 would be quarantined"), "\(preview.stdout)")
        #expect(preview.stdout.contains("[duplicate_source_key]"))
        #expect(!preview.stdout.contains("110105198503020118"), "\(preview.stdout)")
        #expect(!preview.stdout.contains("11010519850302011 "))

        #expect(try cli.run("db", "start").status == 0)
        #expect(try cli.run("db", "migrate").status == 0)
        let ingestDirectory = try cli.run("ingest", adapter.path, home.path)
        #expect(ingestDirectory.status == 65)
        #expect(!ingestDirectory.stderr.contains("NSCocoaErrorDomain"))
        // One over-long value is one quarantined row; the ingest finishes and can run again.
        let ingest = try cli.run("ingest", "--no-progress", adapter.path, feed.path)
        #expect(ingest.status == 0, "\(ingest.stderr)")
        #expect(ingest.stdout.contains("read 4 = staged 2 (of which 0 changed) + unchanged 0 + quarantined 2"), "\(ingest.stdout)")
        #expect(ingest.stdout.contains("row_too_large 1"))
        #expect(try cli.run("ingest", "--no-progress", "--force", adapter.path, feed.path).stdout.contains("unchanged 2 + quarantined 2"))

        // No full ID number in messages unless asked for.
        let unknown = try cli.run("history", "110105198001010016")
        #expect(unknown.status == 1)
        #expect(!unknown.stderr.contains("110105198001010016"), "\(unknown.stderr)")
        #expect(unknown.stderr.contains("110105********0016"))
        let wrong = try cli.run("enter", "110105198503020118", "national_id=110105198503020119")
        #expect(wrong.status == 1)
        #expect(!wrong.stderr.contains("110105198503020119"), "\(wrong.stderr)")
        let twice = try cli.run("enter", "110105198503020118", "phone=13912345678", "phone=13912345679")
        #expect(twice.status == 64)
        #expect(twice.stderr.contains("phone is given twice"), "\(twice.stderr)")
        let quarantined = try cli.run("quarantine", "list")
        #expect(quarantined.stdout.contains("[row_too_large]"))
    }
}
