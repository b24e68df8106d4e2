import Foundation
import Testing
import YibiaoCore
import YibiaoYAML
@testable import YibiaoAdapters

@Suite struct LimitsTests {
    let spec = try! AdapterSpec.parse(
        """
        system: sx_test
        format: {type: csv}
        source_key: id
        fields:
          name: {column: name, required: true}
          address: addr
        """, fileName: "t.yaml")

    func map(_ cells: [String: String]) -> MappingOutcome {
        RecordMapper(spec: spec, today: CalendarDate(year: 2026, month: 12, day: 1)!).map(RawRow(number: 2, cells: cells))
    }

    @Test("a NUL character, which PostgreSQL text cannot hold, quarantines its row naming the cell, never dropped silently")
    func nulCharacter() {
        guard case .quarantined(let issue) = map(["id": "1", "name": "张\u{0}伟", "addr": ""]) else {
            Issue.record("a name with a NUL character was accepted")
            return
        }
        #expect(issue.code == "nul_character" && issue.column == "name" && issue.value == "张\\x00伟")
        guard case .record = map(["id": "1", "name": "张伟", "addr": ""]) else {
            Issue.record("a clean row was quarantined")
            return
        }
    }

    @Test("a value beyond its field's limit is quarantined with the column, not sent to the database")
    func overLongValues() {
        guard case .quarantined(let huge) = map(["id": "1", "name": String(repeating: "张", count: 100_000), "addr": ""]) else {
            Issue.record("a 100,000-character name was accepted")
            return
        }
        #expect(huge.code == "row_too_large")
        #expect(huge.column == "name", "the row names its largest cell")
        guard case .quarantined(let name) = map(["id": "1", "name": String(repeating: "张", count: 2_000), "addr": ""]) else {
            Issue.record("a 2,000-character name was accepted")
            return
        }
        #expect(name.code == "value_too_long")
        #expect(name.column == "name")
        #expect(name.value?.count == FieldLimits.characters(CanonicalField.named("name")!))
        guard case .quarantined(let key) = map(["id": String(repeating: "9", count: 500), "name": "张伟"]) else {
            Issue.record("a 500-character key was accepted")
            return
        }
        #expect(key.code == "value_too_long")
        guard case .quarantined(let row) = map(["id": "1", "name": "张伟", "extra": String(repeating: "x", count: 70_000)]) else {
            Issue.record("a 70 KB row was accepted")
            return
        }
        #expect(row.code == "row_too_large")
        guard case .record = map(["id": "1", "name": String(repeating: "张", count: 100), "addr": String(repeating: "路", count: 300)]) else {
            Issue.record("values at the limit were refused")
            return
        }
    }

    @Test("the same source key twice: the first counts, the second is quarantined — by key, not by hash")
    func duplicateKeys() {
        var tracker = SourceKeyTracker()
        let first = map(["id": "K1", "name": "张伟"])
        guard case .record = tracker.check(first), case .quarantined(let again) = tracker.check(first) else {
            Issue.record("a repeated key was not caught")
            return
        }
        #expect(again.code == "duplicate_source_key")
        guard case .record = tracker.check(map(["id": "K2", "name": "张伟"])) else {
            Issue.record("another key was refused")
            return
        }
    }

    @Test("an empty column name (source_key:) is refused with its line")
    func emptyColumn() {
        do {
            _ = try AdapterSpec.parse("system: sx_test\nformat: {type: csv}\nsource_key:\nfields: {name: 姓名}\n", fileName: "t.yaml")
            Issue.record("accepted an empty source key")
        } catch let error as SpecFileError {
            #expect(error.line == 3)
            #expect(error.key == "source_key")
        } catch {
            Issue.record("\(error)")
        }
        #expect(throws: SpecFileError.self) { try AdapterSpec.parse("system: sx_test\nformat: {type: csv}\nsource_key: id\nfields: {name: \"\"}\n", fileName: "t.yaml") }
    }

    @Test("a header-only file without the mapped columns is a file-level issue, not an empty success")
    func headerOnly() throws {
        let url = try temporaryFile("header.csv", "a,b\n")
        #expect(throws: FeedIssue.self) { try YAMLFeedAdapter(spec: spec).read(url, today: CalendarDate(year: 2026, month: 12, day: 1)!) { _ in } }
        let right = try temporaryFile("right.csv", "id,name,addr\n")
        var rows = 0
        try YAMLFeedAdapter(spec: spec).read(right, today: CalendarDate(year: 2026, month: 12, day: 1)!) { _ in rows += 1 }
        #expect(rows == 0)
    }

    @Test("a directory or a missing path is named as such before anything is read")
    func notAFile() throws {
        let directory = try temporaryFile("x.csv", "id\n").deletingLastPathComponent()
        for (url, code) in [(directory, "file_is_directory"), (directory.appendingPathComponent("none.csv"), "file_missing")] {
            do {
                try YAMLFeedAdapter(spec: spec).read(url, today: CalendarDate(year: 2026, month: 12, day: 1)!) { _ in }
                Issue.record("read \(url.path)")
            } catch let issue as FeedIssue {
                #expect(issue.code == code)
            }
        }
    }
}
