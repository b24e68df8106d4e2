import Foundation
import Testing
import YibiaoCore
import ZIPFoundation
@testable import YibiaoAdapters

/// Inputs that once crashed, hung or lost rows (issue: hardening). Each must end in rows,
/// quarantined rows and at most one file-level issue — never a crash, a hang or silence.
@Suite struct HostileXMLTests {
    let header = Array(#"<?xml version="1.0" encoding="UTF-8"?>"#.utf8)

    func read(_ bytes: [UInt8]) throws -> (rows: [RawRow], bad: [FeedIssue], error: FeedIssue?) {
        collect(XMLReader(url: try temporaryFile("feed.xml", bytes), recordElement: "r"))
    }

    @Test("bytes that are not UTF-8 in an element name or a text node: no crash; the record is quarantined, the others read")
    func invalidUTF8() throws {
        let name = try read(header + Array("<root><r><".utf8) + [0xFC, 0x83] + Array(#" x="1"/></r><r><a>ok</a></r></root>"#.utf8))
        #expect(name.bad.map(\.code) == ["invalid_utf8"])
        #expect(name.rows.map { $0.cells["a"] } == ["ok"])
        let text = try read(header + Array("<root><r><a>张".utf8) + [0xFC] + Array("伟</a></r><r><a>李</a></r></root>".utf8))
        #expect(text.bad.map(\.code) == ["invalid_utf8"])
        #expect(text.bad.first?.column == "a")
        #expect(text.rows.map { $0.cells["a"] } == ["李"])
        // The 40 bytes of the report.
        let report = try read(header + Array("<r><".utf8) + [0xFC, 0x83] + Array(#" x="1"/></r>"#.utf8))
        #expect(report.bad.count + report.rows.count == 1)
        #expect(report.rows.isEmpty)
    }

    @Test("a file cut off inside a record: a file-level issue (exit 65), the cut record set aside, the ones before it read")
    func truncated() throws {
        let (rows, bad, error) = try read(header + Array("<root><r><a>1</a></r><r><a>2</a></r><r><a>3".utf8))
        #expect(rows.map { $0.cells["a"] } == ["1", "2"])
        #expect(bad.map(\.code) == ["record_cut_off"])
        #expect(error?.code == "file_truncated")
        #expect(error?.exitCode == ExitStatus.dataError)
    }

    @Test("entities the file declares (internal or external) are refused, not silently dropped")
    func declaredEntities() throws {
        let declared = try read(Array(#"<?xml version="1.0"?><!DOCTYPE root [<!ENTITY co "第二">]><root><r><a>&co;党支部</a></r></root>"#.utf8))
        #expect(declared.error?.code == "xml_entities_declared")
        #expect(declared.rows.isEmpty)
        let external = try read(Array(#"<?xml version="1.0"?><!DOCTYPE root [<!ENTITY x SYSTEM "file:///etc/passwd">]><root><r><a>&x;</a></r></root>"#.utf8))
        #expect(external.error?.code == "xml_entities_declared")
        let standard = try read(Array("<root><r><a>张&amp;伟&#20013;</a></r></root>".utf8))
        #expect(standard.rows.first?.cells["a"] == "张&伟中", "predefined and numeric references still work")
    }

    @Test("nesting far beyond the limit ends quickly in an issue, not a hang")
    func deepNesting() throws {
        let depth = 100_000
        let bytes = header + Array(("<root><r>" + String(repeating: "<a>", count: depth) + "x" + String(repeating: "</a>", count: depth) + "</r><r><a>ok</a></r></root>").utf8)
        let started = ContinuousClock.now
        let (rows, bad, error) = try read(bytes)
        #expect(ContinuousClock.now - started < .seconds(20))
        #expect(!bad.isEmpty || error != nil)
        #expect(rows.allSatisfy { $0.cells["a"] == "ok" })
        // Within libxml2's own limit but beyond ours: the record is quarantined, the next one read.
        let moderate = String(repeating: "<a>", count: 100) + "x" + String(repeating: "</a>", count: 100)
        let limited = try read(header + Array("<root><r>\(moderate)</r><r><a>ok</a></r></root>".utf8))
        #expect(limited.bad.map(\.code) == ["xml_too_deep"])
        #expect(limited.rows.map { $0.cells["a"] } == ["ok"])
    }
}

@Suite struct HostileXLSXTests {
    /// A workbook whose sheet (and shared strings) are given as bytes.
    func workbook(sheet: [UInt8], strings: [UInt8]? = nil) throws -> URL {
        let url = try temporaryFile("book.xlsx", [])
        try FileManager.default.removeItem(at: url)
        let archive = try Archive(url: url, accessMode: .create)
        func add(_ path: String, _ bytes: [UInt8]) throws {
            try archive.addEntry(with: path, type: .file, uncompressedSize: Int64(bytes.count), compressionMethod: .deflate) { position, size in
                Data(bytes[Int(position)..<Int(position) + size])
            }
        }
        try add("xl/workbook.xml", Array(#"<workbook xmlns:r="r"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>"#.utf8))
        try add("xl/_rels/workbook.xml.rels", Array(#"<Relationships><Relationship Id="rId1" Target="worksheets/sheet1.xml"/></Relationships>"#.utf8))
        try add("xl/worksheets/sheet1.xml", sheet)
        if let strings { try add("xl/sharedStrings.xml", strings) }
        return url
    }

    func sheet(_ rows: String) -> [UInt8] {
        Array(#"<?xml version="1.0" encoding="UTF-8"?><worksheet><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>name</t></is></c></row>"#.utf8)
            + Array(rows.utf8)
    }

    @Test("a cell reference beyond the last column: the row is quarantined, no overflow")
    func hugeCellReference() throws {
        let url = try workbook(sheet: sheet(#"<row r="2"><c r="ZZZZZZZZZZZZZZ2" t="inlineStr"><is><t>x</t></is></c></row><row r="3"><c r="A3" t="inlineStr"><is><t>ok</t></is></c></row></sheetData></worksheet>"#))
        let (rows, bad, error) = collect(XLSXReader(url: url))
        #expect(error == nil)
        #expect(bad.map(\.code) == ["invalid_cell_reference"])
        #expect(rows.map { $0.cells["name"] } == ["ok"])
    }

    @Test("bytes that are not UTF-8 in a shared string or an inline string: the row is quarantined")
    func invalidUTF8() throws {
        let strings = Array(#"<sst><si><t>ok</t></si><si><t>张"#.utf8) + [0xFC] + Array("伟</t></si></sst>".utf8)
        let url = try workbook(
            sheet: sheet(#"<row r="2"><c r="A2" t="s"><v>1</v></c></row><row r="3"><c r="A3" t="s"><v>0</v></c></row></sheetData></worksheet>"#),
            strings: strings)
        let (rows, bad, _) = collect(XLSXReader(url: url))
        #expect(bad.map(\.code) == ["invalid_utf8"])
        #expect(rows.map { $0.cells["name"] } == ["ok"])
        let inline = try workbook(sheet: sheet(#"<row r="2"><c r="A2" t="inlineStr"><is><t>"#) + [0xFF] + Array("</t></is></c></row></sheetData></worksheet>".utf8))
        #expect(collect(XLSXReader(url: inline)).bad.map(\.code) == ["invalid_utf8"])
    }

    @Test("a sheet cut off inside a row: a file-level issue, the cut row set aside, the rows before it read")
    func truncatedSheet() throws {
        let url = try workbook(sheet: sheet(#"<row r="2"><c r="A2" t="inlineStr"><is><t>ok</t></is></c></row><row r="3"><c r="A3" t="inlineStr"><is><t>cu"#))
        let (rows, bad, error) = collect(XLSXReader(url: url))
        #expect(rows.map { $0.cells["name"] } == ["ok"])
        #expect(bad.map(\.code) == ["row_cut_off"])
        #expect(error?.code == "corrupt_xlsx")
    }

    @Test("sheets are extracted into a private directory (0700) that is gone afterwards; leftovers of dead processes are removed")
    func privateScratch() throws {
        let temporary = FileManager.default.temporaryDirectory
        let stale = temporary.appendingPathComponent("yibiao-sheet-\(UUID().uuidString).xml")
        try Data("<x/>".utf8).write(to: stale)
        let orphan = temporary.appendingPathComponent("\(PrivateScratch.prefix)999999-deadbeef")
        try FileManager.default.createDirectory(at: orphan, withIntermediateDirectories: true)
        let scratch = try PrivateScratch()
        let mode = try FileManager.default.attributesOfItem(atPath: scratch.url.path)[.posixPermissions] as? Int
        #expect(mode == 0o700)
        #expect(!FileManager.default.fileExists(atPath: stale.path))
        #expect(!FileManager.default.fileExists(atPath: orphan.path))
        scratch.remove()
        let url = try workbook(sheet: sheet("</sheetData></worksheet>"))
        func scratches() throws -> Set<String> {
            Set(try FileManager.default.contentsOfDirectory(atPath: temporary.path).filter { $0.hasPrefix("\(PrivateScratch.prefix)\(getpid())-") })
        }
        // Other tests of this process read workbooks at the same time: a directory that appeared
        // during this read may be theirs, and goes when their read ends; a leaked one never does.
        let before = try scratches()
        _ = collect(XLSXReader(url: url))
        var left = try scratches().subtracting(before)
        for _ in 0..<100 where !left.isEmpty {
            Thread.sleep(forTimeInterval: 0.1)
            left.formIntersection(try scratches())
        }
        #expect(left.isEmpty)
    }
}
