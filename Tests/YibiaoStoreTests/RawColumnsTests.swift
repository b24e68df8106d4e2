import Foundation
import Testing
import YibiaoAdapters
import YibiaoStore

@Suite struct RawColumnsTests {
    func record(_ raw: [String: String]) -> MappedRecord {
        MappedRecord(row: 1, sourceKey: "k", fields: [:], raw: raw, problems: [], contentHash: String(repeating: "0", count: 64))
    }

    @Test("new names get the next positions in byte order; known names keep theirs; cells are an array by position")
    func positionsAndCells() throws {
        var columns = RawColumns(names: ["姓名", "性别"])
        let added = columns.extend(with: [record(["性别": "男", "b": "2", "姓名": "张伟"]), record(["a": "", "姓名": "李"])])
        #expect(added.map { "\($0.position):\($0.name)" } == ["3:a", "4:b"])
        #expect(columns.names == ["姓名", "性别", "a", "b"])
        #expect(columns.extend(with: [record(["a": "x"])]).isEmpty)
        // A missing column is null, an empty cell is "", and the array ends at the row's last cell.
        #expect(columns.cells(["性别": "男", "b": "2", "姓名": "张伟"]) == #"["张伟","男",null,"2"]"#)
        #expect(columns.cells(["a": "", "姓名": "李"]) == #"["李",null,""]"#)
        #expect(columns.cells([:]) == "[]")
        let escaped = ["b": "say \"hi\"\\\n\u{1}"]
        let text = columns.cells(escaped)
        let decoded = try JSONDecoder().decode([String?].self, from: Data(text.utf8))
        #expect(columns.named(decoded) == escaped)
        #expect(decoded.count == 4 && decoded.prefix(3).allSatisfy { $0 == nil })
    }
}
