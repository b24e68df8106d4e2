import Foundation
import Testing
import YibiaoCore
import YibiaoMerge
@testable import YibiaoStore

/// The merge split across cores gives what one core gives, resident by resident.
@Suite struct ParallelWorkTests {
    @Test("golden records merged in parallel slices equal the merge one by one")
    func parallelMerge() async throws {
        let merger = GoldenRecordMerger(rules: .standard)
        var observations: [Int64: [Observation]] = [:]
        let residents = (1...25_000).map(Int64.init)
        for id in residents {
            // Two sources that agree on some fields and not on others, by the resident's number.
            observations[id] = [
                Observation(recordID: id * 2, system: "civil_affairs", receivedAt: 1, values: ["name": "张伟", "phone": "1391234\(String(format: "%04d", id % 10_000))"]),
                Observation(
                    recordID: id * 2 + 1, system: "social_security", receivedAt: 2,
                    values: ["name": id % 3 == 0 ? "张玮" : "张伟", "sex": "1"]),
            ]
        }
        var hashes: [Int64: String] = [:]
        for id in residents where id % 2 == 0 { hashes[id] = String(repeating: "a", count: 64) }
        var rows = StagedRows(columns: GoldenRecords.residentColumns)
        var blocks = 0
        let numbers = FieldNumbers(names: ["sex", "name"])
        let parallel = try await GoldenRecords.mergeInParallel(
            residents, merger: merger, observations: observations, overrides: [:], stored: [:], open: [:], hashes: hashes,
            numbers: numbers
        ) { block in
            rows.append(contentsOf: block)
            blocks += 1
        }
        // Handed over part by part, not at the end in one piece.
        let size = GoldenRecords.mergePartSize(residents.count)
        #expect(blocks == (residents.count + size - 1) / size)
        #expect(blocks >= 2)
        #expect(parallel.count == residents.count)
        var expectedRows: Set<[String?]> = []
        for id in residents {
            let outcome = merger.merge(observations[id]!)
            let expected = GoldenRecords.MergedResident(GoldenDiff(stored: [:], openConflicts: [:], outcome: outcome))
            #expect(parallel[id] == expected, "resident \(id)")
            if parallel[id] != expected { break }
            if let hash = hashes[id] {
                expectedRows.insert(GoldenRecords.residentRow(id, golden: outcome.values, changed: true, hash: hash, numbers: numbers))
            }
        }
        // One row per resident with a digest, each the row one core encodes; in any order.
        let lines = (0..<rows.count).map { index in rows.columns.map { $0[index] } }
        #expect(lines.count == hashes.count)
        #expect(Set(lines) == expectedRows)
    }

    @Test("the golden document holds every field with a value, as canonical JSON, numbered where numbered, and no provenance")
    func goldenDocument() {
        let golden: [String: FieldValue] = [
            "phone": FieldValue(value: nil, recordID: nil, system: nil, rule: "override"),
            "address": FieldValue(value: "北京市\"朝阳区\"\\1号\n\t", recordID: 9_000_000_000, system: "party", rule: "most_recent"),
            "party.branch": FieldValue(value: "\u{1}第一支部", recordID: 3, system: "party", rule: "most_trusted"),
            "birth_date": FieldValue(value: "1990-01-02", recordID: 4, system: "social_security", rule: "vote"),
        ]
        let expected = CanonicalJSON.object([
            "address": .string("北京市\"朝阳区\"\\1号\n\t"), "party.branch": .string("\u{1}第一支部"), "birth_date": .string("1990-01-02"),
        ]).text
        #expect(GoldenRecords.goldenDocument(golden, numbers: .none) == expected)
        #expect(GoldenRecords.goldenDocument([:], numbers: .none) == "{}")
        // By number where the district numbers the field; a field it does not stays named.
        let numbers = FieldNumbers(names: ["phone", "address", "birth_date"])
        let numbered = CanonicalJSON.object([
            "2": .string("北京市\"朝阳区\"\\1号\n\t"), "party.branch": .string("\u{1}第一支部"), "3": .string("1990-01-02"),
        ]).text
        #expect(GoldenRecords.goldenDocument(golden, numbers: numbers) == numbered)
        #expect(FieldNumbers.none.valueSQL("r.golden", "phone") == "(r.golden ->> 'phone')")
        #expect(numbers.valueSQL("r.golden", "birth_date") == "coalesce(r.golden ->> '3', r.golden ->> 'birth_date')")
        #expect(numbers.valueSQL("g", "it's") == "(g ->> 'it''s')")
        #expect(numbers.storedKeys(["party.branch", "phone"]) == ["party.branch", "1", "phone"])
        // Looked up by the statement itself, the district spelled out; by name when unnumbered.
        let looked = FieldNumbers.valueSQL("r.golden", "phone", district: "110105", else: "r.district")
        #expect(looked.contains("WHERE district = '110105' AND name = 'phone'") && looked.contains("r.golden ->> 'phone')"))
        #expect(FieldNumbers.valueSQL("g", "phone", district: "x'1", else: "g.district").contains("WHERE district = g.district"))
        let named = FieldNumbers.namedValuesSQL("r.golden", fields: ["name", "it's"], district: "110105", else: "r.district")
        #expect(named.contains("n.district = '110105'") && named.contains("ANY(ARRAY['name', 'it''s']::text[])"))
    }
}
