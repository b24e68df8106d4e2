import Foundation
import Testing
import YibiaoCore
@testable import YibiaoAdapters
import YibiaoStore
import YibiaoTestSupport

/// Reads every event of a reader; a thrown file-level issue is returned too.
func collect(_ reader: some FeedReader) -> (rows: [RawRow], bad: [FeedIssue], error: FeedIssue?) {
    var rows: [RawRow] = []
    var bad: [FeedIssue] = []
    do {
        try reader.read { event in
            switch event {
            case .header: break
            case .row(let row): rows.append(row)
            case .unreadable(let issue): bad.append(issue)
            }
        }
        return (rows, bad, nil)
    } catch let issue as FeedIssue {
        return (rows, bad, issue)
    } catch {
        Issue.record("unexpected error \(error)")
        return (rows, bad, nil)
    }
}

func temporaryFile(_ name: String, _ bytes: [UInt8]) throws -> URL {
    let directory = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-reader")
    let url = directory.appendingPathComponent(name)
    try Data(bytes).write(to: url)
    return url
}

func temporaryFile(_ name: String, _ text: String) throws -> URL {
    try temporaryFile(name, Array(text.utf8))
}

/// GB18030 bytes of a string, via iconv (the test must not trust the reader to check the reader).
func gb18030(_ text: String) throws -> [UInt8] {
    let input = try temporaryFile("in.txt", text)
    let out = input.deletingLastPathComponent().appendingPathComponent("out.txt")
    let result = try ProcessRunner().run("/bin/sh", ["-c", "iconv -f UTF-8 -t GB18030 '\(input.path)' > '\(out.path)'"])
    #expect(result.succeeded)
    return [UInt8](try Data(contentsOf: out))
}

@Suite struct CSVReaderTests {
    @Test("RFC 4180: quotes, doubled quotes, line breaks in cells, CRLF, BOM")
    func wellFormed() throws {
        let text = "\u{FEFF}姓名,地址,备用\r\n张伟,\"北京市, 朝阳区\",\"说 \"\"你好\"\"\"\r\n李娜,\"第一行\n第二行\",\r\n\r\n王芳,x,y"
        let (rows, bad, error) = collect(CSVReader(url: try temporaryFile("a.csv", text)))
        #expect(error == nil)
        #expect(bad.isEmpty)
        #expect(rows.count == 3)
        #expect(rows[0].cells == ["姓名": "张伟", "地址": "北京市, 朝阳区", "备用": "说 \"你好\""])
        #expect(rows[0].number == 2)
        #expect(rows[1].cells["地址"] == "第一行\n第二行")
        #expect(rows[1].number == 3)
        #expect(rows[2].number == 6)
    }

    @Test("GB18030 and GBK files decode, including four-byte characters")
    func chineseEncodings() throws {
        let text = "姓名,民族地址\n欧阳娜娜,䶮路\n买买提·艾力,𠀀街\n"
        var options = CSVReader.Options()
        options.encoding = .gb18030
        let (rows, bad, error) = collect(CSVReader(url: try temporaryFile("gb.csv", try gb18030(text)), options: options))
        #expect(error == nil && bad.isEmpty)
        #expect(rows.map { $0.cells["姓名"] } == ["欧阳娜娜", "买买提·艾力"])
        #expect(rows[1].cells["民族地址"] == "𠀀街")
    }

    @Test("invalid bytes quarantine one row and name the column")
    func invalidBytes() throws {
        var bytes = Array("姓名,电话\n".utf8)
        bytes += Array("张伟,138\n".utf8)
        bytes += [0xFF, 0xFE] + Array(",139\n".utf8)
        bytes += Array("李娜,137\n".utf8)
        let (rows, bad, error) = collect(CSVReader(url: try temporaryFile("bad.csv", bytes)))
        #expect(error == nil)
        #expect(rows.count == 2)
        #expect(bad.count == 1)
        #expect(bad[0].code == "invalid_encoding")
        #expect(bad[0].row == 3)
        #expect(bad[0].column == "姓名")
        #expect(bad[0].value == "\\xFF\\xFE")
        // The same bytes declared as GB18030: 0xFF is not a valid lead byte there either.
        var options = CSVReader.Options()
        options.encoding = .gb18030
        let gb = collect(CSVReader(url: try temporaryFile("bad-gb.csv", bytes), options: options))
        #expect(gb.bad.count >= 1)
    }

    @Test("a UTF-8 BOM on a file declared GB18030 is a precise file error")
    func bomMismatch() throws {
        var options = CSVReader.Options()
        options.encoding = .gb18030
        let (_, _, error) = collect(CSVReader(url: try temporaryFile("bom.csv", "\u{FEFF}a,b\n1,2\n"), options: options))
        #expect(error?.code == "encoding_mismatch")
    }

    @Test("ragged rows are quarantined; short rows may be padded")
    func ragged() throws {
        let url = try temporaryFile("r.csv", "a,b,c\n1,2,3\n4,5\n6,7,8,9\n")
        let strict = collect(CSVReader(url: url))
        #expect(strict.rows.count == 1)
        #expect(strict.bad.map(\.code) == ["ragged_row", "ragged_row"])
        #expect(strict.bad.map(\.row) == [3, 4])
        #expect(strict.bad[0].message.en == "the row has 2 cells but the header has 3")
        var options = CSVReader.Options()
        options.allowShortRows = true
        let lenient = collect(CSVReader(url: url, options: options))
        #expect(lenient.rows.count == 2)
        #expect(lenient.rows[1].cells == ["a": "4", "b": "5", "c": ""])
        #expect(lenient.bad.count == 1)
    }

    @Test("an unterminated quote quarantines its row, keeps the rows before")
    func unterminatedQuote() throws {
        let (rows, bad, error) = collect(CSVReader(url: try temporaryFile("q.csv", "a,b\n1,2\n3,\"open\n4,5\n")))
        #expect(error == nil)
        #expect(rows.count == 1)
        #expect(bad.map(\.code) == ["unterminated_quote"])
        #expect(bad[0].row == 3)
    }

    @Test("empty files and duplicate header names are file errors")
    func fileErrors() throws {
        #expect(collect(CSVReader(url: try temporaryFile("e.csv", ""))).error?.code == "empty_file")
        #expect(collect(CSVReader(url: try temporaryFile("n.csv", "\n\n"))).rows.isEmpty)
        #expect(collect(CSVReader(url: try temporaryFile("d.csv", "a,a\n1,2\n"))).error?.code == "duplicate_column")
        let headerOnly = collect(CSVReader(url: try temporaryFile("h.csv", "a,b\n")))
        #expect(headerOnly.error == nil && headerOnly.rows.isEmpty)
        #expect(collect(CSVReader(url: URL(fileURLWithPath: "/nonexistent/x.csv"))).error?.code == "file_unreadable")
    }

    @Test("other delimiters and a later header row")
    func options() throws {
        var options = CSVReader.Options()
        options.delimiter = UInt8(ascii: "\t")
        options.headerRow = 2
        let (rows, _, _) = collect(CSVReader(url: try temporaryFile("t.tsv", "导出时间 2024\n名\t号\n甲\t1\n"), options: options))
        #expect(rows.map(\.cells) == [["名": "甲", "号": "1"]])
    }

    @Test("chunk boundaries do not matter", arguments: [1, 7, 1000])
    func largeFile(rowsCount: Int) throws {
        var text = "id,name,note\n"
        for index in 0..<rowsCount * 100 { text += "\(index),名字\(index),\"a,\"\"b\"\"\nc\"\n" }
        let (rows, bad, _) = collect(CSVReader(url: try temporaryFile("big.csv", text)))
        #expect(bad.isEmpty)
        #expect(rows.count == rowsCount * 100)
        #expect(rows.last?.cells["note"] == "a,\"b\"\nc")
        #expect(rows.last?.number == 2 + (rowsCount * 100 - 1) * 2)
    }
}

@Suite struct JSONReaderTests {
    @Test("JSON Lines: objects, nested keys, numbers kept exact, bad lines quarantined")
    func lines() throws {
        let text = """
            {"aac002": "11010519491231002X", "aac003": "张伟", "info": {"city": "北京"}, "n": 3, "big": 110105194912310021, "ok": true, "none": null}

            {"aac002": "x"
            [1, 2]
            {"aac003": "李娜"}
            """
        let (rows, bad, error) = collect(JSONReader(url: try temporaryFile("a.jsonl", text), layout: .lines))
        #expect(error == nil)
        #expect(rows.count == 2)
        #expect(
            rows[0].cells == [
                "aac002": "11010519491231002X", "aac003": "张伟", "info.city": "北京", "n": "3",
                "big": "110105194912310021", "ok": "true",
            ])
        #expect(rows[1].number == 5)
        #expect(bad.map(\.code) == ["invalid_json", "not_an_object"])
        #expect(bad.map(\.row) == [3, 4])
    }

    @Test("a record of strings read from its bytes gives the cells JSONSerialization gives; any other falls back to it")
    func fastPathSameAsFoundation() throws {
        let samples = [
            #"{"a": "1", "b": "张伟"}"#, #"{}"#, #" { "a" : "x" } "#, #"{"a": {"b": "1", "c": {"d": "2"}}, "e": "3"}"#, #"{"a": {}}"#,
            #"{"q": "say \"hi\"", "s": "back\\slash\/", "c": "\b\f\n\r\t"}"#, #"{"u": "\u5f20\u4f1f \ud83d\ude00 \u00e9"}"#,
            #"{"k": "e\u0301", "é": "composed", "名字": "李娜"}"#, #"{"n": 3, "s": "x"}"#, #"{"a": true}"#, #"{"a": null, "b": "1"}"#,
            #"{"a": [1, "x"]}"#, #"{"a": "1", "a": "2"}"#, #"{"a.b": "1", "a": {"b": "2"}}"#, #"{"a": "\u0000"}"#, #"{"a": "\ud800"}"#,
            #"{"a": "x"} trailing"#, #"{"a": "x",}"#, #"{"a" "x"}"#, #"["a"]"#, #""a""#, "{\"a\": \"raw\u{9}tab\"}", #"{"a": "\q"}"#, "",
            "{\"a\": \"\u{7F}\"}", "{\"é\": \"1\", \"e\u{301}\": \"2\"}",
        ]
        for sample in samples {
            let data = Data(sample.utf8)
            let fast = JSONReader.parseObject(data, row: 7, recent: RecentColumnNames())
            let plain = JSONReader.parseWithFoundation(data, row: 7)
            switch (fast, plain) {
            case (.row(let a), .row(let b)): #expect(a.cells == b.cells && a.number == b.number, "\(sample)")
            case (.unreadable(let a), .unreadable(let b)): #expect(a.code == b.code && a.row == b.row, "\(sample)")
            default: Issue.record("\(sample): \(fast) against \(plain)")
            }
        }
        // A dotted key beside the same path of nested keys: quarantined, whichever is walked first.
        for sample in [#"{"a.b": "1", "a": {"b": "2"}}"#, #"{"a": {"b": "2"}, "a.b": "1"}"#] {
            guard case .unreadable(let issue) = JSONReader.parseObject(Data(sample.utf8), row: 3, recent: RecentColumnNames()) else {
                Issue.record("\(sample) read as a row")
                continue
            }
            #expect(issue.code == "duplicate_column" && issue.column == "a.b" && issue.row == 3)
        }
        // The first eight are of the common shape: read from their bytes, not by the fallback.
        for sample in samples.prefix(8) { #expect(FlatJSONObject.cells(Data(sample.utf8)) != nil, "\(sample)") }
        // Bytes that are not UTF-8 are Foundation's to judge, never turned into U+FFFD here.
        let invalid = Data([0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xFF, 0x22, 0x7D])
        #expect(FlatJSONObject.cells(invalid) == nil)
        // Records naming the same keys share their column names.
        let recent = RecentColumnNames()
        guard case .row(let first) = JSONReader.parseObject(Data(#"{"a": "1", "b": "2"}"#.utf8), row: 1, recent: recent),
            case .row(let second) = JSONReader.parseObject(Data(#"{"a": "3", "b": "4"}"#.utf8), row: 2, recent: recent),
            case .row(let other) = JSONReader.parseObject(Data(#"{"b": "5", "a": "6"}"#.utf8), row: 3, recent: recent)
        else {
            Issue.record("rows expected")
            return
        }
        #expect(first.columns === second.columns)
        #expect(other.columns !== second.columns && other.cells == ["a": "6", "b": "5"])
    }

    @Test("JSON arrays at the top level and under a key path")
    func arrays() throws {
        let top = collect(JSONReader(url: try temporaryFile("t.json", #"[{"a": "1"}, {"a": "2", "b": {"c": [1, 2]}}]"#), layout: .array(path: [])))
        #expect(top.rows.map(\.cells) == [["a": "1"], ["a": "2", "b.c": "[1,2]"]])
        let nested = """
            {"meta": {"items": [{"x": 0}]}, "data": {"count": 2, "items": [
              {"name": "张伟", "s": "a ] } \\" ["},
              {"name": "李娜"}
            ]}}
            """
        let found = collect(JSONReader(url: try temporaryFile("n.json", nested), layout: .array(path: ["data", "items"])))
        #expect(found.error == nil)
        #expect(found.rows.map { $0.cells["name"] } == ["张伟", "李娜"])
        #expect(found.rows[0].cells["s"] == "a ] } \" [")
        #expect(found.rows.map(\.number) == [2, 3])
    }

    @Test("truncated JSON, a wrong path and an empty file are file errors")
    func errors() throws {
        let truncated = collect(JSONReader(url: try temporaryFile("x.json", #"[{"a": "1"}, {"a": "#), layout: .array(path: [])))
        #expect(truncated.rows.count == 1)
        #expect(truncated.error?.code == "truncated_json")
        let wrongPath = collect(JSONReader(url: try temporaryFile("y.json", #"{"rows": []}"#), layout: .array(path: ["data"])))
        #expect(wrongPath.error?.code == "json_path_not_found")
        #expect(collect(JSONReader(url: try temporaryFile("z.jsonl", ""), layout: .lines)).error?.code == "empty_file")
    }
}

@Suite struct XMLReaderTests {
    @Test("records with attributes, children and CDATA")
    func wellFormed() throws {
        let text = """
            <?xml version="1.0" encoding="UTF-8"?>
            <党员列表 导出="2024">
              <党员 编号="P001"><姓名>张伟</姓名><身份证号>11010519491231002X</身份证号><支部><名称>第一支部</名称></支部></党员>
              <党员 编号="P002">
                <姓名><![CDATA[李 & 娜]]></姓名>
                <入党时间/>
              </党员>
            </党员列表>
            """
        let (rows, bad, error) = collect(XMLReader(url: try temporaryFile("p.xml", text), recordElement: "党员"))
        #expect(error == nil && bad.isEmpty)
        #expect(rows.count == 2)
        #expect(rows[0].cells["@编号"] == "P001")
        #expect(rows[0].cells["姓名"] == "张伟")
        #expect(rows[0].cells["支部/名称"] == "第一支部")
        #expect(rows[1].cells["姓名"] == "李 & 娜")
        #expect(rows[1].cells["入党时间"] == "")
        #expect(rows[1].number == 4)
    }

    @Test("broken XML keeps the rows before and names the line")
    func broken() throws {
        let text = "<r>\n<p><n>1</n></p>\n<p><n>2</n></p>\n<p><n>3</x></p>\n</r>"
        let (rows, bad, error) = collect(XMLReader(url: try temporaryFile("b.xml", text), recordElement: "p"))
        #expect(rows.count == 2)
        #expect(bad.map(\.code) == ["malformed_xml"])
        #expect(bad.map(\.row) == [4])
        #expect(error?.code == "malformed_xml")
        #expect((error?.row ?? 0) >= 4)
    }

    @Test("a wrong record element and an empty file are precise errors")
    func errors() throws {
        let wrong = collect(XMLReader(url: try temporaryFile("w.xml", "<r><p/></r>"), recordElement: "q"))
        #expect(wrong.error?.code == "record_element_not_found")
        #expect(wrong.error?.message.en.contains("p, r") == true)
        #expect(collect(XMLReader(url: try temporaryFile("e.xml", ""), recordElement: "p")).error?.code == "empty_file")
    }
}

@Suite struct XLSXReaderTests {
    func workbook(_ rows: [[XLSXCell]], sheet: String = "Sheet1") throws -> URL {
        let directory = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-xlsx")
        let url = directory.appendingPathComponent("book.xlsx")
        let writer = try XLSXWriter(url: url, sheetName: sheet)
        for row in rows { try writer.append(mixed: row) }
        try writer.finish()
        return url
    }

    @Test("header, inline strings, numbers and empty cells")
    func wellFormed() throws {
        let url = try workbook(
            [
                [.text("姓名"), .text("出生日期"), .text("子女数")],
                [.text("张伟"), .number("31108"), .number("2")],
                [.text("李娜"), .empty, .number("1")],
                [.empty, .empty, .empty],
            ], sheet: "计生")
        let (rows, bad, error) = collect(XLSXReader(url: url, sheet: "计生"))
        #expect(error == nil && bad.isEmpty)
        #expect(rows.map(\.cells) == [["姓名": "张伟", "出生日期": "31108", "子女数": "2"], ["姓名": "李娜", "出生日期": "", "子女数": "1"]])
        #expect(rows.map(\.number) == [2, 3])
    }

    @Test("a 0-row sheet reads nothing; a sheet without header is an error; a wrong sheet name lists the sheets")
    func emptySheets() throws {
        let headerOnly = collect(XLSXReader(url: try workbook([[.text("a")]])))
        #expect(headerOnly.error == nil && headerOnly.rows.isEmpty)
        #expect(collect(XLSXReader(url: try workbook([]))).error?.code == "empty_sheet")
        let wrong = collect(XLSXReader(url: try workbook([[.text("a")]], sheet: "人员"), sheet: "Sheet9"))
        #expect(wrong.error?.code == "sheet_not_found")
        #expect(wrong.error?.message.en.contains("人员") == true)
    }

    @Test("a header naming a column twice stops the sheet, as in a CSV file")
    func duplicateHeader() throws {
        let url = try workbook([[.text("姓名"), .text("电话"), .text("姓名")], [.text("张伟"), .text("1"), .text("李娜")]])
        let (rows, _, error) = collect(XLSXReader(url: url))
        #expect(rows.isEmpty)
        #expect(error?.code == "duplicate_column")
        #expect(error?.column == "姓名")
    }

    @Test("values without a header are quarantined")
    func extraColumns() throws {
        let url = try workbook([[.text("a")], [.text("1"), .text("stray")]])
        let (rows, bad, _) = collect(XLSXReader(url: url))
        #expect(rows.isEmpty)
        #expect(bad.first?.code == "ragged_row")
        #expect(bad.first?.column == "B")
    }

    @Test("a truncated or fake workbook is a precise error, never a crash", arguments: [0.3, 0.6, 0.95])
    func truncated(fraction: Double) throws {
        let url = try workbook([[.text("a")], [.text("1")]])
        let data = try Data(contentsOf: url)
        let cut = url.deletingLastPathComponent().appendingPathComponent("cut.xlsx")
        try data.prefix(Int(Double(data.count) * fraction)).write(to: cut)
        #expect(collect(XLSXReader(url: cut)).error?.code == "corrupt_xlsx")
        let fake = try temporaryFile("fake.xlsx", "name,id\n")
        #expect(collect(XLSXReader(url: fake)).error?.code == "corrupt_xlsx")
    }

    @Test("shared strings are resolved")
    func sharedStrings() throws {
        // A minimal workbook written the way Excel does: text cells point into sharedStrings.xml.
        let directory = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-sst")
        let url = directory.appendingPathComponent("sst.xlsx")
        let script = """
            import zipfile, sys
            z = zipfile.ZipFile(sys.argv[1], 'w')
            z.writestr('[Content_Types].xml', '<Types/>')
            z.writestr('xl/workbook.xml', '<workbook xmlns:r="r"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>')
            z.writestr('xl/_rels/workbook.xml.rels', '<Relationships><Relationship Id="rId1" Target="worksheets/sheet1.xml"/></Relationships>')
            z.writestr('xl/sharedStrings.xml', '<sst><si><t>姓名</t></si><si><r><t>张</t></r><r><t>伟</t></r><rPh><t>zhang</t></rPh></si><si><t>性别</t></si></sst>')
            z.writestr('xl/worksheets/sheet1.xml', '<worksheet><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>2</v></c></row><row r="2"><c r="A2" t="s"><v>1</v></c><c r="B2" t="b"><v>1</v></c></row></sheetData></worksheet>')
            z.close()
            """
        let result = try ProcessRunner().run("/usr/bin/env", ["python3", "-c", script, url.path])
        try #require(result.succeeded, "\(result.stderr)")
        let (rows, _, error) = collect(XLSXReader(url: url))
        #expect(error == nil)
        #expect(rows.map(\.cells) == [["姓名": "张伟", "性别": "TRUE"]])
    }
}
