import Foundation
import Testing
import YibiaoAdapters
import YibiaoCore

private let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
private let today = CalendarDate(year: 2026, month: 12, day: 1)!

/// Every record a feed file maps to, by source key.
private func records(_ spec: AdapterSpec, _ url: URL) throws -> [String: MappedRecord] {
    var result: [String: MappedRecord] = [:]
    try YAMLFeedAdapter(spec: spec).read(url, today: today) { outcome in
        if case .record(let record) = outcome { result[record.sourceKey] = record }
    }
    return result
}

@Suite struct OutboundRoundTripTests {
    static let samples = [
        "civil_affairs": "civil_affairs.csv", "family_planning": "family_planning.xlsx",
        "party": "party.xml", "social_security": "social_security.jsonl",
    ]

    @Test(
        "canonical → outbound row → the system's file → read back through the same adapter → the same values",
        arguments: ["civil_affairs", "family_planning", "party", "social_security"])
    func roundTrip(system: String) throws {
        let spec = try AdapterSpec.load(repository.appendingPathComponent("adapters/\(system).yaml"))
        let mapper = try #require(OutboundMapper(spec: spec))
        let originals = try records(spec, repository.appendingPathComponent("adapters/samples/\(Self.samples[system]!)"))
        #expect(originals.count >= 3)
        var rows: [OutboundRow] = []
        var unmapped = 0
        for record in originals.values.sorted(by: { $0.sourceKey < $1.sourceKey }) {
            do { rows.append(try mapper.row(sourceKey: record.sourceKey, values: record.fields)) } catch is OutboundIssue { unmapped += 1 }
        }
        #expect(unmapped == 0)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("yibiao-outbound-\(UUID().uuidString).\(Self.samples[system]!.split(separator: ".").last!)")
        defer { try? FileManager.default.removeItem(at: file) }
        try mapper.write(rows, to: file)
        let back = try records(mapper.readBack, file)
        #expect(back.count == originals.count)
        for (key, original) in originals {
            let expected = original.fields.filter { mapper.fields.contains($0.key) }
            #expect(!expected.isEmpty)
            #expect(back[key]?.fields == expected, "\(system) \(key)")
        }
    }

    @Test("values go out in the system's codes and date formats; a code it lacks is refused, not guessed")
    func codesAndDates() throws {
        let spec = try AdapterSpec.load(repository.appendingPathComponent("adapters/civil_affairs.yaml"))
        let mapper = try #require(OutboundMapper(spec: spec))
        #expect(mapper.columns.first == "人员编号")
        let row = try mapper.row(sourceKey: "MZ1", values: ["name": "张伟", "sex": "1", "birth_date": "1985-03-02", "marital_status": "40"])
        #expect(row.cells == ["张伟", "男", nil, "1985/3/2", "离异", nil, nil, nil])
        #expect(throws: OutboundIssue.self) { try mapper.row(sourceKey: "MZ1", values: ["marital_status": "90"]) }
        #expect(CalendarDate(year: 1977, month: 10, day: 5)!.formatted("yyyy年M月d日") == "1977年10月5日")
        #expect(CalendarDate(year: 1977, month: 1, day: 5)!.formatted("yyyyMMdd") == "19770105")
    }

    @Test("an adapter without outbound, or with a composite key, cannot receive updates")
    func noOutbound() throws {
        let none = try AdapterSpec.parse("system: sx\nformat: {type: jsonl}\nsource_key: id\nfields: {name: n}\n", fileName: "x.yaml")
        #expect(OutboundMapper(spec: none) == nil)
        let composite = try AdapterSpec.parse(
            """
            system: sx
            format: {type: jsonl}
            source_key: {concat: [a, b]}
            fields: {name: n}
            outbound: {format: {type: jsonl}, columns: [{column: n, field: name}]}
            """, fileName: "x.yaml")
        #expect(OutboundMapper(spec: composite) == nil)
    }
}
