import Foundation
import Crypto
import Testing
import YibiaoYAML
import YibiaoCore
@testable import YibiaoAdapters

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

@Suite struct AdapterSpecTests {
    func specError(_ yaml: String) -> AdapterSpecError? {
        do {
            _ = try AdapterSpec.parse(yaml, fileName: "t.yaml")
            return nil
        } catch let error as AdapterSpecError {
            return error
        } catch {
            Issue.record("unexpected \(error)")
            return nil
        }
    }

    let minimal = """
        system: civil_affairs
        name: {zh: 民政, en: Civil affairs}
        format: {type: csv}
        source_key: 编号
        fields:
          name: 姓名
        """

    @Test("the four shipped adapters are valid and hold what they send back")
    func shipped() throws {
        for name in ["civil_affairs", "family_planning", "party", "social_security"] {
            let spec = try AdapterSpec.load(packageRoot.appendingPathComponent("adapters/\(name).yaml"))
            #expect(spec.system == name)
            #expect(spec.outbound != nil)
            for column in spec.outbound?.columns ?? [] { #expect(spec.heldFields.contains(column.field.qualifiedName)) }
        }
        let civil = try AdapterSpec.load(packageRoot.appendingPathComponent("adapters/civil_affairs.yaml"))
        guard case .csv(let options) = civil.format else {
            Issue.record("not csv")
            return
        }
        #expect(options.encoding == .gb18030)
        // Party data never flows to social security: the social-security adapter holds no party field.
        let social = try AdapterSpec.load(packageRoot.appendingPathComponent("adapters/social_security.yaml"))
        #expect(social.heldFields.allSatisfy { !$0.hasPrefix("party.") })
    }

    @Test("a minimal spec parses; shorthand column mappings work")
    func minimalSpec() throws {
        let spec = try AdapterSpec.parse(minimal, fileName: "t.yaml")
        #expect(spec.mappings.map(\.field.name) == ["name"])
        #expect(spec.mappings[0].source == .column("姓名"))
        #expect(spec.sourceKey == .column("编号"))
    }

    @Test("outbound: send mode, an HTTP endpoint and attempts parse; wrong values name the key")
    func outboundOptions() throws {
        let base = minimal + "\noutbound:\n  format: {type: jsonl}\n  columns:\n    - {column: 姓名, field: name}\n"
        let plain = try AdapterSpec.parse(base, fileName: "t.yaml")
        #expect(plain.outbound?.send == .all)
        #expect(plain.outbound?.endpoint == nil)
        #expect(plain.outbound?.maxAttempts == 8)
        #expect(plain.sourceText == base)
        let full = try AdapterSpec.parse(
            base + "  send: entries_only\n  http: {url: \"https://hub.example/updates\"}\n  max_attempts: 3\n", fileName: "t.yaml")
        #expect(full.outbound?.send == .entriesOnly)
        #expect(full.outbound?.endpoint?.absoluteString == "https://hub.example/updates")
        #expect(full.outbound?.maxAttempts == 3)
        #expect(specError(base + "  send: sometimes\n")?.problem.en.contains("`all` or `entries_only`") == true)
        #expect(specError(base + "  http: {url: \"ftp://x\"}\n")?.problem.en.contains("http needs a url") == true)
        #expect(specError(base + "  max_attempts: 0\n")?.problem.en.contains("from 1 to 100") == true)
    }

    @Test("an unknown canonical field names the line and suggests the nearest")
    func unknownField() {
        let error = specError(minimal + "\n  birth_dat: 出生日期\n")
        #expect(error?.line == 7)
        #expect(error?.key == "fields.birth_dat")
        #expect(error?.remedy?.en == "did you mean `birth_date`?")
        #expect(error?.message.en == "t.yaml:7 (fields.birth_dat): `birth_dat` is not a canonical field of core")
        #expect(error?.remedy?.zh == "是否应为 `birth_date`？")
    }

    @Test("unknown keys, formats and encodings get suggestions")
    func unknownKeys() {
        #expect(specError(minimal.replacingOccurrences(of: "source_key:", with: "sourcekey:"))?.remedy?.en == "did you mean `source_key`?")
        #expect(specError(minimal.replacingOccurrences(of: "type: csv", with: "type: cvs"))?.remedy?.en == "did you mean csv?")
        let encoding = specError(minimal.replacingOccurrences(of: "{type: csv}", with: "{type: csv, encoding: big5}"))
        #expect(encoding?.key == "format.encoding")
        #expect(encoding?.remedy?.en == "use utf-8, gb18030 or gbk")
        #expect(specError(minimal + "\nfacets:\n  partty:\n    branch: 支部\n")?.remedy?.en == "did you mean `party`?")
    }

    @Test("missing required keys, bad YAML and bad values are explained")
    func structure() {
        #expect(specError(minimal.replacingOccurrences(of: "source_key: 编号\n", with: ""))?.message.en.contains("`source_key` is missing") == true)
        #expect(specError("system: [unclosed")?.message.en.contains("not valid YAML") == true)
        #expect(specError("")?.message.en.contains("empty") == true)
        #expect(specError(minimal.replacingOccurrences(of: "system: civil_affairs", with: "system: Civil Affairs"))?.key == "system")
        let pipe = specError(minimal.replacingOccurrences(of: "{type: csv}", with: "{type: csv, encoding: gbk, delimiter: \"|\"}"))
        #expect(pipe?.problem.en.contains("can be part of a gbk character") == true)
        let code = specError(minimal + "\n  marital_status: {column: 婚姻, map: {离异: \"41\"}}\n")
        #expect(code?.problem.en == "41 is not a code of marital-status")
        #expect(specError(minimal + "\n  name2: x\n") != nil)
        #expect(specError(minimal + "\n  sex: 性别\n  sex: 性别2\n") != nil)
    }

    @Test("write-back may only send fields the system holds")
    func outboundHeldFields() {
        let error = specError(minimal + "\noutbound:\n  format: {type: csv}\n  columns:\n    - {column: 支部, field: party.branch}\n")
        #expect(error?.problem.en.contains("which does not hold it") == true)
        let unknown = specError(minimal + "\noutbound:\n  format: {type: csv}\n  columns:\n    - {column: 名, field: nmae}\n")
        #expect(unknown?.remedy?.en == "did you mean `name`?")
    }
}

@Suite struct RecordMapperTests {
    let today = CalendarDate(year: 2026, month: 11, day: 21)!

    func mapper(_ fields: String) throws -> RecordMapper {
        let yaml = """
            system: test_system
            format: {type: csv}
            source_key: {concat: [区, 号], separator: "-"}
            fields:
            \(fields)
            """
        return RecordMapper(spec: try AdapterSpec.parse(yaml, fileName: "t.yaml"), today: today)
    }

    @Test("normalises every kind and keeps invalid IDs raw as a problem, not a quarantine")
    func normalising() throws {
        let mapper = try mapper(
            """
              name: {column: 姓名, required: true}
              national_id: 证件号
              birth_date: 生日
              sex: {column: 性别, map: {A: "1", B: "2"}}
              marital_status: 婚姻
              phone: 电话
              address: {concat: [省, 市], separator: ""}
              division_code: {split: 区划, separator: "/", index: 1}
            """)
        let row = RawRow(
            number: 5,
            cells: [
                "区": "110105", "号": "7", "姓名": " 歐陽 娜娜 ", "证件号": "110105199201010420", "生日": "1992年1月1日",
                "性别": "B", "婚姻": "初婚", "电话": "+86 137 1234 5671", "省": "北京市", "市": "朝阳区", "区划": "x/110105",
            ])
        guard case .record(let record) = mapper.map(row) else {
            Issue.record("quarantined")
            return
        }
        #expect(record.sourceKey == "110105-7")
        #expect(record.fields["name"] == "欧阳娜娜")
        #expect(record.fields["national_id"] == nil)
        #expect(record.fields["national_id_raw"] == "110105199201010420")
        #expect(record.problems.map(\.code) == ["id_check_mismatch"])
        #expect(record.fields["birth_date"] == "1992-01-01")
        #expect(record.fields["sex"] == "2")
        #expect(record.fields["marital_status"] == "21")
        #expect(record.fields["phone"] == "13712345671")
        #expect(record.fields["address"] == "北京市朝阳区")
        #expect(record.fields["division_code"] == "110105")
        #expect(record.contentHash.count == 64)
    }

    @Test("quarantine reasons: missing source key, empty or impossible required field")
    func quarantine() throws {
        let mapper = try mapper("  name: {column: 姓名, required: true}\n  birth_date: {column: 生日, required: true}")
        func code(_ cells: [String: String]) -> String? {
            if case .quarantined(let issue) = mapper.map(RawRow(number: 2, cells: cells)) { return issue.code }
            return nil
        }
        #expect(code(["区": "", "号": "", "姓名": "张伟", "生日": "1985-03-02"]) == "missing_source_key")
        #expect(code(["区": "1", "号": "2", "姓名": "", "生日": "1985-03-02"]) == "missing_required")
        #expect(code(["区": "1", "号": "2", "姓名": "张伟", "生日": "1985-02-30"]) == "date_impossible_date")
        #expect(code(["区": "1", "号": "2", "姓名": "张伟", "生日": "2030-01-01"]) == "date_in_future")
        #expect(code(["区": "1", "号": "2", "姓名": "张伟", "生日": "1985-03-02"]) == nil)
    }

    @Test("defaults, booleans, integers, decimals, choices and lists")
    func otherKinds() throws {
        let yaml = """
            system: test_system
            format: {type: csv}
            source_key: k
            fields:
              name: {column: n, default: 无名}
            facets:
              civil_affairs:
                subsistence_allowance: a
                subsistence_amount: b
                disability_grade: c
              party:
                member_status: {column: d, map: {正式: full}}
              social_security:
                insurance_types: e
            """
        let spec = try AdapterSpec.parse(yaml, fileName: "t.yaml")
        let outcome = RecordMapper(spec: spec, today: today).map(
            RawRow(
                number: 2,
                cells: [
                    "k": "1", "n": "", "a": "是", "b": "1,320.50", "c": "2.0", "d": "正式", "e": "110，310;410",
                ]))
        guard case .record(let record) = outcome else {
            Issue.record("quarantined")
            return
        }
        #expect(record.fields["name"] == "无名")
        #expect(record.fields["civil_affairs.subsistence_allowance"] == "true")
        #expect(record.fields["civil_affairs.subsistence_amount"] == "1320.5")
        #expect(record.fields["civil_affairs.disability_grade"] == "2")
        #expect(record.fields["party.member_status"] == "full")
        #expect(record.fields["social_security.insurance_types"] == "110;310;410")
        let bad = RecordMapper(spec: spec, today: today).map(RawRow(number: 3, cells: ["k": "2", "n": "x", "a": "maybe", "d": "预备"]))
        guard case .record(let flagged) = bad else {
            Issue.record("quarantined")
            return
        }
        #expect(flagged.problems.map(\.code).sorted() == ["not_a_boolean", "not_a_choice"])
    }

    @Test("the content hash depends on every cell and not on their order")
    func hashing() {
        #expect(RecordMapper.hash(["a": "1", "b": "2"]) == RecordMapper.hash(["b": "2", "a": "1"]))
        #expect(RecordMapper.hash(["a": "1", "b": "2"]) != RecordMapper.hash(["a": "1", "b": "3"]))
        #expect(RecordMapper.hash(["a": "1b", "": ""]) != RecordMapper.hash(["a": "1", "b": ""]))
        // The digest stored with every record so far: a new build must not restage a district.
        for cells in [["a": "1", "b": "2"], ["姓名": "张伟", "身份证号": "110105199001011234", "备注": ""], [:]] {
            var text = ""
            for key in cells.keys.sorted() { text += "\(key.count):\(key)=\(cells[key]!.count):\(cells[key]!)\n" }
            #expect(RecordMapper.hash(cells) == SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined())
        }
    }

    @Test("mapping with a memo of normalised values gives the outcome mapping without one gives", arguments: ["civil_affairs", "family_planning", "party", "social_security"])
    func memoisedMapping(system: String) throws {
        let adapter = try #require(try FeedAdapterRegistry.load(packageRoot.appendingPathComponent("adapters/\(system).yaml").path) as? YAMLFeedAdapter)
        let sample = try #require(
            try FileManager.default.contentsOfDirectory(atPath: packageRoot.appendingPathComponent("adapters/samples").path)
                .first { $0.hasPrefix(system) })
        let today = CalendarDate(year: 2026, month: 11, day: 21)!
        var rows: [UnmappedRow] = []
        try adapter.readUnmapped(packageRoot.appendingPathComponent("adapters/samples/\(sample)"), today: today) { rows.append($0) }
        #expect(rows.count > 3)
        let memo = MappingMemo()
        // Twice through one memo: the second pass answers from it.
        for _ in 0..<2 {
            for row in rows {
                let plain = row.mapped(), memoised = row.mapped(memo: memo)
                switch (plain, memoised) {
                case (.record(let a), .record(let b)): #expect(a == b)
                case (.quarantined(let a), .quarantined(let b)): #expect(a == b)
                default: Issue.record("one path quarantined a row the other mapped")
                }
            }
        }
    }
}

@Suite struct MappingMemoTests {
    @Test("a column of mostly new values stops being remembered; one of repeated values is; both give what normalising gives")
    func trial() throws {
        let normalizer = FieldNormalizer(today: CalendarDate(year: 2026, month: 11, day: 21)!)
        let address = try #require(CanonicalField.named("address")), birth = try #require(CanonicalField.named("birth_date"))
        let memo = MappingMemo()
        for index in 0..<(MappingMemo.trial + 500) {
            let street = "北京市朝阳区建国路\(index)号"
            let day = "1990-01-\(String(format: "%02d", index % 28 + 1))"
            #expect(memo.normalised(street, mapping: 0, field: address, normalizer) == normalizer.normalise(street, as: address))
            #expect(memo.normalised(day, mapping: 1, field: birth, normalizer) == normalizer.normalise(day, as: birth))
            #expect(memo.normalised("bad date \(index % 3)", mapping: 1, field: birth, normalizer) == normalizer.normalise("bad date \(index % 3)", as: birth))
        }
        #expect(!memo.remembers(mapping: 0))
        #expect(memo.remembers(mapping: 1))
        #expect(memo.rememberedCount(mapping: 0) == 0, "a column kept no further lets its values go")
        #expect(memo.rememberedCount(mapping: 1) == 28 + 3)
    }
}

@Suite struct CustomAdapterTests {
    @Test("the fixed-width Swift adapter reads GBK lines and quarantines short ones")
    func fixedWidth() throws {
        let adapter = try FeedAdapterRegistry.load("swift:hukou-fixed-width")
        var records: [MappedRecord] = []
        var issues: [FeedIssue] = []
        try adapter.read(
            packageRoot.appendingPathComponent("adapters/samples/household_register.txt"),
            today: CalendarDate(year: 2026, month: 11, day: 21)!
        ) { outcome in
            switch outcome {
            case .record(let record): records.append(record)
            case .quarantined(let issue): issues.append(issue)
            }
        }
        #expect(records.count == 6)
        #expect(records[3].fields["name"] == "买买提·艾力")
        #expect(records[0].fields["relationship_to_head"] == "02")
        #expect(records[0].fields["household_book_no"] == "110105-00123")
        #expect(issues.map(\.code) == ["short_line"])
        #expect(adapter.heldFields.contains("household_book_no"))
        #expect(throws: AdapterSpecError.self) { try FeedAdapterRegistry.load("swift:nope") }
    }
}
