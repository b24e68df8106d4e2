import Foundation
import Testing
import YibiaoAdapters
import YibiaoStore

@Suite struct RawColumnsTests {
    func record(_ raw: [String: String]) -> MappedRecord {
        MappedRecord(row: 1, sourceKey: "k", fields: [:], raw: raw, problems: [], contentHash: String(repeating: "0", count: 64))
    }

    @Test("new names get the next positions in byte order; known names keep theirs; cells are kept by position, delimited or as JSON, and read back alike")
    func positionsAndCells() throws {
        var columns = RawColumns(names: ["姓名", "性别"])
        let added = columns.extend(with: [record(["性别": "男", "b": "2", "姓名": "张伟"]), record(["a": "", "姓名": "李"])])
        #expect(added.map { "\($0.position):\($0.name)" } == ["3:a", "4:b"])
        #expect(columns.names == ["姓名", "性别", "a", "b"])
        #expect(columns.extend(with: [record(["a": "x"])]).isEmpty)
        // A cell after U+001F each; a missing column U+001E, an empty cell nothing; the row ends at its last cell.
        #expect(columns.cells(["性别": "男", "b": "2", "姓名": "张伟"]) == "\u{1F}张伟\u{1F}男\u{1F}\u{1E}\u{1F}2")
        #expect(columns.cells(["a": "", "姓名": "李"]) == "\u{1F}李\u{1F}\u{1E}\u{1F}")
        // What the form cannot carry is a JSON array: no cells, one empty cell, a cell holding a separator or NUL.
        #expect(columns.cells([:]) == "[]")
        #expect(columns.cells(["姓名": ""]) == #"[""]"#)
        let escaped = ["b": "say \"hi\"\\\n\u{1}\u{1F}"]
        #expect(columns.cells(escaped).hasPrefix("["))
        #expect(columns.cells(["姓名": "a\u{1E}"]).hasPrefix("[") && columns.cells(["姓名": "a\u{0}"]).hasPrefix("["))
        // Either form reads back to the same cells.
        let rows: [[String: String]] = [
            ["性别": "男", "b": "2", "姓名": "张伟"], ["a": "", "姓名": "李"], [:], ["姓名": ""], ["性别": ""], escaped, ["姓名": "a\u{1E}"],
            ["a": "1,2;\"x\"\t\n"],
        ]
        for row in rows {
            let decoded = try #require(RawColumns.stored(columns.cells(row)), "\(row)")
            #expect(columns.named(decoded) == row)
            #expect(decoded.count == row.keys.map { columns.names.firstIndex(of: $0)! + 1 }.max() ?? 0)
        }
        #expect(RawColumns.stored(#"["x", null]"#) == ["x", nil])
        #expect(RawColumns.stored("not cells") == nil)
    }
}
