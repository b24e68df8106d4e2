import Foundation
import Testing
@testable import YibiaoCore

@Suite struct CodeTableTests {
    @Test(
        "sex codes, labels and letters",
        arguments: [
            ("1", Sex.male), ("2", .female), ("0", .unknown), ("9", .unspecified), ("男", .male), ("女", .female),
            ("M", .male), ("f", .female), ("Male", .male), ("FEMALE", .female), ("１", .male), (" 男性 ", .male),
        ])
    func sex(raw: String, expected: Sex) throws {
        #expect(try Sex.parse(raw).get() == expected)
    }

    @Test("unknown sex values are rejected", arguments: ["3", "x", "", "男女", "unknown gender"])
    func sexRejected(raw: String) {
        guard case .failure(let error) = Sex.parse(raw) else {
            Issue.record("\(raw) accepted")
            return
        }
        #expect(error.code == "unknown_code")
        #expect(error.table == "sex")
    }

    @Test("marital status by code, label and alias")
    func marital() {
        let table = CodeTable.maritalStatus
        #expect(table.lookup("20")?.label == "已婚")
        #expect(table.lookup("丧偶")?.code == "30")
        #expect(table.lookup("离异")?.code == "40")
        #expect(table.lookup("未说明")?.code == "90")
        #expect(table.lookup("24") == nil)
        #expect(table.entries.count == 8)
    }

    @Test("political status and family relationship codes are two digits; `1` means `01`")
    func padding() {
        #expect(CodeTable.politicalStatus.lookup("1")?.label == "中共党员")
        #expect(CodeTable.politicalStatus.lookup("党员")?.code == "01")
        #expect(CodeTable.politicalStatus.lookup("13")?.label == "群众")
        #expect(CodeTable.familyRelationship.lookup("1")?.label == "本人")
        #expect(CodeTable.familyRelationship.lookup("妻子")?.code == "12")
        #expect(CodeTable.familyRelationship.lookup("99")?.label == "非亲属")
        #expect(CodeTable.familyRelationship.lookup("98") == nil)
        #expect(CodeTable.familyRelationship.entry(code: "02")?.labelEN == "head of household")
        #expect(CodeTable.shipped.keys.sorted() == ["family-relationship", "marital-status", "political-status", "sex"])
    }

    @Test("division codes: history, retired and reused codes")
    func divisions() throws {
        let table = DivisionCodeTable.standard
        #expect(table.count == 6823)
        #expect(table.existed("110105"))
        #expect(table.existed("110103"))
        #expect(table.latest("110103")?.status == .retired)
        #expect(table.currentCodes(for: "110103") == ["110101"])
        #expect(table.currentCodes(for: "330104") == ["330102", "330114"])
        #expect(table.records(for: "430204").count == 2)
        #expect(table.latest("430204")?.name == "石峰区")
        #expect(table.fullName("110105") == "北京市朝阳区")
        #expect(table.fullName("330102") == "浙江省杭州市上城区")
        #expect(table.fullName("110000") == "北京市")
        #expect(!table.existed("999999"))
        #expect(table.existed("330101"))
        #expect(try table.validate("１１０１０５").get() == "110105")
        guard case .failure(let malformed) = table.validate("11010") else {
            Issue.record("accepted")
            return
        }
        #expect(malformed.code == .malformed)
        guard case .failure(let unknown) = table.validate("999999") else {
            Issue.record("accepted")
            return
        }
        #expect(unknown.code == .unknown)
    }

    @Test("the embedded tables match schemas/codes and the migrations match schemas/migrations")
    func embeddedDataIsFresh() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        func file(_ name: String) throws -> String {
            var text = try String(contentsOf: root.appendingPathComponent("schemas/codes/\(name).csv"), encoding: .utf8)
            if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
            return text.replacingOccurrences(of: "\r\n", with: "\n").trimmingCharacters(in: .newlines)
        }
        let stale = "run scripts/embed-data.sh (make build does)"
        #expect(try file("sex") == EmbeddedCodeTables.sex, "\(stale)")
        #expect(try file("marital-status") == EmbeddedCodeTables.maritalStatus, "\(stale)")
        #expect(try file("political-status") == EmbeddedCodeTables.politicalStatus, "\(stale)")
        #expect(try file("family-relationship") == EmbeddedCodeTables.familyRelationship, "\(stale)")
        #expect(try file("division-codes") == EmbeddedCodeTables.divisionCodes, "\(stale)")
        #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("schemas/codes/division-codes.LICENSE").path))
    }
}
