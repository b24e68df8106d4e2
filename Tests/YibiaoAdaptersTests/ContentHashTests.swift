import Crypto
import Foundation
import Testing
import YibiaoCore

@testable import YibiaoAdapters

/// A row's content hash must never change between versions: a changed digest would make every
/// row of the next ingest a new version. Its fast paths are checked against the plain form.
@Suite struct ContentHashTests {
    /// The digest as first written: characters counted by `String.count`, numbers by `description`.
    static func plainHash(_ cells: [String: String]) -> String {
        var text = ""
        for (key, value) in cells.sorted(by: { $0.key < $1.key }) { text += "\(key.count):\(key)=\(value.count):\(value)\n" }
        return SHA256.hash(data: Data(text.utf8)).hexString
    }

    static let samples = [
        "", "a", "张伟", "北京市朝阳区建国路1号", "13812345678", "\r\n", "a\r\nb", "e\u{301}", "张\u{301}", "👨‍👩‍👧", "🇨🇳",
        "ＡＢＣ１２３", "买买提·艾力", "한국어", "\u{1100}\u{1161}\u{11A8}", "तमिल", "\u{600}1", "x\u{200D}y", "李\u{FE00}", "𠀀𠀁",
        "tab\there", "中文English混合 123", String(repeating: "长", count: 300), "\u{7F}\u{1F}", "~ !@#$%^&*()_+{}|:\"<>?",
    ]

    @Test("characters counted as String.count counts them, on ASCII, ideographs and every kind of cluster")
    func characterCounts() {
        for text in Self.samples { #expect(RecordMapper.characterCount(text) == text.count, "\(text.unicodeScalars.map(\.value))") }
        // Every pair of a few hundred scalars from the edges of the fast ranges and beyond.
        let values: [UInt32] = [
            0x0, 0xA, 0xD, 0x1F, 0x20, 0x7E, 0x7F, 0xB7, 0x300, 0x301, 0x1100, 0x1161, 0x200D, 0x33FF, 0x3400, 0x4DBF,
            0x4DC0, 0x4DFF, 0x4E00, 0x9FFF, 0xA000, 0xAC00, 0xFE0F, 0xFF10, 0x1F1E8, 0x1F600, 0x20000, 0xE0100,
        ]
        let scalars = values.compactMap { Unicode.Scalar($0) }
        for a in scalars {
            for b in scalars {
                for c in [Unicode.Scalar("a"), Unicode.Scalar("张")] {
                    var text = ""
                    text.unicodeScalars.append(contentsOf: [a, c, b])
                    #expect(RecordMapper.characterCount(text) == text.count, "\([a.value, c.value, b.value])")
                }
            }
        }
    }

    @Test("numbers written as description writes them")
    func decimals() {
        for value in [0, 1, 9, 10, 11, 99, 100, 101, 999, 1_000, 12_345, 1 << 40, Int.max, -1, -10] {
            var bytes: [UInt8] = [0x41]
            RecordMapper.appendDecimal(value, to: &bytes)
            #expect(String(decoding: bytes, as: UTF8.self) == "A" + value.description)
        }
    }

    @Test("the digest is the plain form's, row by row")
    func digests() {
        var generator = SeededGenerator(seed: 7)
        for _ in 0..<500 {
            var cells: [String: String] = [:]
            for column in 0..<Int(generator.next() % 8) {
                let key = column % 2 == 0 ? "col\(column)" : "列\(column)"
                cells[key] = Self.samples[Int(generator.next() % UInt64(Self.samples.count))]
            }
            #expect(RecordMapper.hash(cells) == Self.plainHash(cells))
        }
    }

    @Test("a row read by position (a file's shared header) has the digest, cells and equality of its cells by name")
    func positionalRows() {
        var generator = SeededGenerator(seed: 11)
        // Names out of `<` order, some that sort differently as bytes and as text.
        let columns = ColumnNames(["姓名", "b", "A", "列2", "é", "e\u{301}x", "z"])
        for _ in 0..<300 {
            let values: [String?] = columns.names.map { _ in
                generator.next() % 5 == 0 ? nil : Self.samples[Int(generator.next() % UInt64(Self.samples.count))]
            }
            let row = RawRow(number: 3, columns: columns, values: values)
            var cells: [String: String] = [:]
            for (name, value) in zip(columns.names, values) { cells[name] = value }
            #expect(row.cells == cells)
            #expect(RecordMapper.hash(row) == Self.plainHash(cells))
            #expect(row == RawRow(number: 3, cells: cells))
            #expect(row.hashValue == RawRow(number: 3, cells: cells).hashValue)
            for name in columns.names { #expect(row[column: name] == cells[name]) }
        }
    }
}
