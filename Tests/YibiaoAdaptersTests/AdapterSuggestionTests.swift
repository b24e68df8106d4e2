import Foundation
import Testing
import YibiaoAdapters
import YibiaoCore
import YibiaoStore
import YibiaoTestSupport

private let today = CalendarDate(year: 2026, month: 12, day: 1)!

/// Every outcome a feed maps to, row by row: records by their fields, quarantined rows by code.
private func outcomes(_ spec: AdapterSpec, _ url: URL) throws -> [Int: [String: String]] {
    var result: [Int: [String: String]] = [:]
    let mapper = RecordMapper(spec: spec, today: today)
    try spec.reader(for: url).read { event in
        guard case .row(let row) = event else { return }
        switch mapper.map(row) {
        case .record(let record): result[row.number] = record.fields.merging(["source key": record.sourceKey]) { $1 }
        case .quarantined(let issue): result[row.number] = ["quarantined": issue.code]
        }
    }
    return result
}

@Suite struct AdapterSuggestionTests {
    static let systems = [
        "civil_affairs": "civil_affairs.csv", "family_planning": "family_planning.xlsx",
        "party": "party.xml", "social_security": "social_security.jsonl",
    ]

    static func shipped() throws -> [String: AdapterSpec] {
        try Dictionary(uniqueKeysWithValues: systems.keys.map { ($0, try AdapterSpec.load(packageRoot.appendingPathComponent("adapters/\($0).yaml"))) })
    }

    @Test("a draft for each shipped sample, with the district's adapters known, previews exactly as the shipped adapter", arguments: systems.keys.sorted())
    func sameAsShipped(system: String) throws {
        let adapters = try Self.shipped()
        let feed = packageRoot.appendingPathComponent("adapters/samples/\(Self.systems[system]!)")
        let suggestion = try AdapterSuggestion.suggest(feed: feed, adapters: Array(adapters.values), today: today)
        let draft = try AdapterSpec.parse(suggestion.yaml(system: system, feedName: feed.lastPathComponent), fileName: "\(system).yaml")
        let expected = try outcomes(adapters[system]!, feed)
        #expect(expected.count >= 4)
        #expect(try outcomes(draft, feed) == expected)
        #expect(suggestion.unplaced.isEmpty)
    }

    @Test("left out of the known adapters, a system's identity columns are still placed — by name or by values — and nothing is placed wrongly", arguments: systems.keys.sorted())
    func leaveOneOut(system: String) throws {
        let adapters = try Self.shipped()
        let shipped = adapters[system]!
        let feed = packageRoot.appendingPathComponent("adapters/samples/\(Self.systems[system]!)")
        let suggestion = try AdapterSuggestion.suggest(feed: feed, adapters: adapters.filter { $0.key != system }.map(\.value), today: today)
        let shippedField = Dictionary(shipped.mappings.compactMap { mapping in mapping.source.columns.first.map { ($0, mapping.field.qualifiedName) } }) { a, _ in a }
        for column in suggestion.placed {
            // A placement the shipped adapter does not make is a guess: there must be none.
            #expect(shippedField[column.name] == column.placement?.field, "\(system): \(column.name) placed on \(column.placement?.field ?? "")")
        }
        let placed = Set(suggestion.placed.compactMap(\.placement?.field))
        for field in ["name", "national_id", "sex", "birth_date", "phone"] where shipped.heldFields.contains(field) {
            #expect(placed.contains(field), "\(system): \(field) not placed")
        }
        if case .jsonLines = shipped.format {} else { #expect(suggestion.format.typeName == shipped.format.typeName) }
        // The draft reads: the identity fields it placed come out as the shipped adapter's.
        let draft = try AdapterSpec.parse(suggestion.yaml(system: system, feedName: feed.lastPathComponent), fileName: "\(system).yaml")
        let mine = try outcomes(draft, feed), theirs = try outcomes(shipped, feed)
        for (row, fields) in theirs where fields["quarantined"] == nil {
            for field in ["name", "national_id", "sex", "birth_date", "phone"] where fields[field] != nil {
                #expect(mine[row]?[field] == fields[field], "\(system) row \(row): \(field)")
            }
        }
    }

    @Test("a UTF-8 CSV with a title row and semicolons: header row, delimiter and encoding found; a contradicting header and unread codes said, not guessed")
    func shapeOfACSV() throws {
        let directory = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-suggest")
        defer { try? FileManager.default.removeItem(at: directory) }
        let feed = directory.appendingPathComponent("elderly_roll.csv")
        let text = """
            \u{FEFF}某街道高龄老人名册（2026年11月）
            序号;老人姓名;证件号码;出生年月日;联系电话;婚姻状况;备注编号
            1;张伟;110105198503020118;1985年3月2日;无;分居;A-1
            2;王芳;11010519870615022X;1987年6月15日;无;已婚;A-2
            3;李建国;110105195001010012;1950年1月1日;不详;丧偶;A-3
            4;赵磊;110105196512120015;1965年12月12日;无;单身;A-4

            """
        try Data(text.utf8).write(to: feed)
        let suggestion = try AdapterSuggestion.suggest(feed: feed, adapters: [], today: today)
        guard case .csv(let options) = suggestion.format else {
            Issue.record("not read as CSV")
            return
        }
        #expect(options.encoding == .utf8)
        #expect(options.delimiter == UInt8(ascii: ";"))
        #expect(options.headerRow == 2)
        let fields = Dictionary(uniqueKeysWithValues: suggestion.columns.map { ($0.name, $0.placement?.field) })
        #expect(fields["老人姓名"] == "name")
        #expect(fields["证件号码"] == "national_id")
        #expect(fields["出生年月日"] == "birth_date")
        #expect(fields["婚姻状况"] == "marital_status")
        // Its header says phone; its values say otherwise: left to a person.
        #expect(fields["联系电话"] == .some(nil))
        #expect(suggestion.columns.first { $0.name == "联系电话" }?.note?.contains("phone") == true)
        #expect(suggestion.columns.first { $0.name == "出生年月日" }?.dateShapes == ["yyyy年M月d日"])
        // Labels the code table lacks are named for a map; nothing invents their codes.
        let marital = try #require(suggestion.columns.first { $0.name == "婚姻状况" })
        #expect(Set(marital.unreadValues) == ["分居", "单身"])
        #expect(marital.valueMap.isEmpty)
        // 序号 counts rows (the next export renumbers them): not a key.
        #expect(suggestion.sourceKey == "备注编号")
        #expect(fields["序号"] == .some(nil))
        let yaml = suggestion.yaml(system: "elderly_roll", feedName: feed.lastPathComponent)
        #expect(yaml.contains("\"分居\""))
        // The draft is an adapter the hub accepts as it is.
        let draft = try AdapterSpec.parse(yaml, fileName: "elderly_roll.yaml")
        #expect(draft.mappings.count == 4)
    }

    @Test("a JSON document with its array under a key, and a header row below a title in XLSX")
    func jsonAndXLSX() throws {
        let directory = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-suggest")
        defer { try? FileManager.default.removeItem(at: directory) }
        let json = directory.appendingPathComponent("export.json")
        try Data(
            (#"{"meta": {"count": 5}, "data": {"items": ["#
                + #"{"xm": "张伟", "sfzh": "110105198503020118", "xb": "男"}, {"xm": "王芳", "sfzh": "11010519870615022X", "xb": "女"}, "#
                + #"{"xm": "李建国", "sfzh": "110105195001010012", "xb": "男"}, {"xm": "赵磊", "sfzh": "110105196512120015", "xb": "男"}, "#
                + #"{"xm": "孙丽", "sfzh": "110105199001010029", "xb": "女"}]}}"#).utf8
        ).write(to: json)
        let fromJSON = try AdapterSuggestion.suggest(feed: json, adapters: [], today: today)
        #expect(fromJSON.format == .json(path: ["data", "items"]))
        #expect(Dictionary(uniqueKeysWithValues: fromJSON.placed.map { ($0.name, $0.placement!.field) }) == ["xm": "name", "sfzh": "national_id", "xb": "sex"])

        let xlsx = directory.appendingPathComponent("roll.xlsx")
        let writer = try XLSXWriter(url: xlsx, sheetName: "名册")
        try writer.append(["困难群众名册"])
        try writer.append(["姓名", "身份证号码", "手机"])
        try writer.append(["张伟", "110105198503020118", "13812345678"])
        try writer.append(["王芳", "11010519870615022X", "13912345670"])
        try writer.finish()
        let fromXLSX = try AdapterSuggestion.suggest(feed: xlsx, adapters: [], today: today)
        #expect(fromXLSX.format == .xlsx(sheet: nil, headerRow: 2))
        #expect(fromXLSX.placed.map(\.placement!.field).sorted() == ["name", "national_id", "phone"])
    }

    @Test("a workbook of several sheets: the first is read and named in the draft with the others listed; --sheet reads another; a wrong name lists them")
    func workbookSheets() throws {
        let directory = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-suggest")
        defer { try? FileManager.default.removeItem(at: directory) }
        let workbook = directory.appendingPathComponent("export.xlsx")
        // Two sheets as Excel lays them out (inline strings): a summary first, the roll second.
        let script = """
            import zipfile, sys
            def cell(ref, text): return '<c r="%s" t="inlineStr"><is><t>%s</t></is></c>' % (ref, text)
            def sheet(rows): return '<worksheet><sheetData>' + ''.join('<row r="%d">' % (i + 1) + ''.join(cell(chr(65 + j) + str(i + 1), v) for j, v in enumerate(r)) + '</row>' for i, r in enumerate(rows)) + '</sheetData></worksheet>'
            z = zipfile.ZipFile(sys.argv[1], 'w')
            z.writestr('[Content_Types].xml', '<Types/>')
            z.writestr('xl/workbook.xml', '<workbook xmlns:r="r"><sheets><sheet name="汇总" sheetId="1" r:id="rId1"/><sheet name="名册" sheetId="2" r:id="rId2"/></sheets></workbook>')
            z.writestr('xl/_rels/workbook.xml.rels', '<Relationships><Relationship Id="rId1" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Target="worksheets/sheet2.xml"/></Relationships>')
            z.writestr('xl/worksheets/sheet1.xml', sheet([['社区', '人数'], ['和平里', '2']]))
            z.writestr('xl/worksheets/sheet2.xml', sheet([['姓名', '身份证号码'], ['张伟', '110105198503020118'], ['王芳', '11010519870615022X']]))
            z.close()
            """
        let made = try ProcessRunner().run("/usr/bin/env", ["python3", "-c", script, workbook.path])
        try #require(made.succeeded, "\(made.stderr)")

        let first = try AdapterSuggestion.suggest(feed: workbook, adapters: [], today: today)
        #expect(first.format == .xlsx(sheet: "汇总", headerRow: 1))
        #expect(first.formatNotes.first == "sheet 汇总: the workbook's sheets are 汇总, 名册 (--sheet reads another)")
        #expect(first.columns.map(\.name) == ["社区", "人数"])

        let roll = try AdapterSuggestion.suggest(feed: workbook, adapters: [], today: today, sheet: "名册")
        #expect(roll.format == .xlsx(sheet: "名册", headerRow: 1))
        #expect(roll.placed.map(\.placement!.field).sorted() == ["name", "national_id"])
        let draft = try AdapterSpec.parse(roll.yaml(system: "roll", feedName: workbook.lastPathComponent), fileName: "roll.yaml")
        #expect(draft.format == .xlsx(sheet: "名册", headerRow: 1), "the adapter reads the sheet the draft was made from")

        do {
            _ = try AdapterSuggestion.suggest(feed: workbook, adapters: [], today: today, sheet: "人员")
            Issue.record("a sheet the workbook does not have was read")
        } catch let issue as FeedIssue {
            #expect(issue.code == "sheet_not_found")
            #expect(issue.message.en.contains("its sheets are: 汇总, 名册"))
        }
        let csv = directory.appendingPathComponent("roll.csv")
        try Data("姓名,身份证号码\n张伟,110105198503020118\n".utf8).write(to: csv)
        do {
            _ = try AdapterSuggestion.suggest(feed: csv, adapters: [], today: today, sheet: "名册")
            Issue.record("a sheet of a CSV file was accepted")
        } catch let issue as FeedIssue {
            #expect(issue.code == "suggest_sheet")
        }
    }

    @Test("a header cell with a line break, a quote and a backslash stays one column of a draft that reads")
    func awkwardHeaders() throws {
        let directory = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-suggest")
        defer { try? FileManager.default.removeItem(at: directory) }
        let feed = directory.appendingPathComponent("roll.csv")
        let header = "\"身份证\n号码\",\"姓名 \"\"全称\"\"\",备注\\编号"
        try Data((header + "\n110105198503020118,张伟,K1\n11010519870615022X,王芳,K2\n").utf8).write(to: feed)
        let suggestion = try AdapterSuggestion.suggest(feed: feed, adapters: [], today: today)
        #expect(suggestion.columns.map(\.name) == ["身份证\n号码", "姓名 \"全称\"", "备注\\编号"])
        let draft = try AdapterSpec.parse(suggestion.yaml(system: "roll", feedName: "roll.csv"), fileName: "roll.yaml")
        #expect(draft.mappings.first { $0.field.name == "national_id" }?.source == .column("身份证\n号码"))
        #expect(draft.sourceKey == .column("备注\\编号"))
    }

    @Test("files it cannot learn from say why")
    func refusals() throws {
        let directory = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-suggest")
        defer { try? FileManager.default.removeItem(at: directory) }
        let pdf = directory.appendingPathComponent("roll.pdf")
        try Data("%PDF".utf8).write(to: pdf)
        #expect(throws: FeedIssue.self) { try AdapterSuggestion.suggest(feed: pdf, adapters: [], today: today) }
        let headerOnly = directory.appendingPathComponent("empty.csv")
        try Data("姓名,身份证号码\n".utf8).write(to: headerOnly)
        let error = #expect(throws: FeedIssue.self) { try AdapterSuggestion.suggest(feed: headerOnly, adapters: [], today: today) }
        #expect(error?.code == "suggest_no_rows")
        #expect(throws: FeedIssue.self) { try AdapterSuggestion.suggest(feed: directory.appendingPathComponent("missing.csv"), adapters: [], today: today) }
    }
}
