import Foundation
import Testing
import YibiaoCore
import YibiaoMatching

@Suite struct MatchExplanationTests {
    @Test("the stored JSON reads back as the same explanation; a lone record has none")
    func roundTrip() throws {
        let a = MatchRecord(
            id: 10, nationalID: "11010519850302011X", nameKey: "张伟", pinyinKey: "zhangwei", sex: .male,
            birth: CalendarDate(year: 1985, month: 3, day: 2), phone: "13812345678")
        let b = MatchRecord(
            id: 20, nameKey: "张伟", pinyinKey: "zhangwei", sex: .male, birth: CalendarDate(year: 1985, month: 3, day: 2),
            phone: "13812345678")
        let score = MatchEngine().score(a, b, frequencies: TermFrequencies([a, b]))
        let explanation = MatchExplanation(score, record: 20)
        #expect(explanation.otherRecord == 10)
        #expect(explanation.evidence(.name)?.level == 1)
        #expect(explanation.evidence(.id)?.level == 0, "no ID on one side is no evidence")
        let decoded = try #require(try MatchExplanation.decode(explanation.json))
        #expect(decoded == explanation)
        // The Codable form and the hand-written one are the same document.
        let encoded = try JSONEncoder().encode(explanation)
        #expect(try JSONDecoder().decode(MatchExplanation.self, from: encoded) == decoded)
        // Stored compactly: the comparisons as one text in the matcher's order, by position, weights to three decimals.
        let stored = try #require(try JSONSerialization.jsonObject(with: Data(explanation.json.utf8)) as? [String: Any])
        let text = try #require(stored["comparisons"] as? String)
        #expect(text.hasPrefix("0:0 1:"))
        #expect(text.split(separator: " ").count == Comparison.allCases.count)
        for part in text.split(separator: " ") {
            let weight = try #require(part.split(separator: ":").last)
            #expect(weight.split(separator: ".").dropFirst().first.map { $0.count <= 3 } ?? true, "\(part)")
        }
        // The form written before migration 0015, an object per comparison, still reads.
        let older = """
            {"method": "probabilistic", "weight": 41.537476619682145, "probability": 0.9999999921870052, "other_record": 3,
             "comparisons": {"id": {"level": 0, "weight": 0.0}, "name": {"level": 1, "weight": 12.989057592294003}}}
            """
        let read = try #require(try MatchExplanation.decode(older))
        #expect(read.evidence(.name) == MatchExplanation.Evidence(level: 1, weight: 12.989057592294003))
        #expect(read.otherRecord == 3 && read.method == .probabilistic)
        #expect(throws: (any Error).self) {
            try MatchExplanation.decode(#"{"method": "probabilistic", "weight": 1, "probability": 0.5, "other_record": 3, "comparisons": "id:x"}"#)
        }
        #expect(try MatchExplanation.decode("{}") == nil)
        #expect(throws: (any Error).self) { try MatchExplanation.decode("{\"method\": \"guess\"}") }
        #expect(explanation.notes.isEmpty)
    }

    @Test("stored weights: three decimals written as the rounded thousandths, the same as formatting them; straight from a score as through the explanation")
    func compactWeights() throws {
        // The reference: the value rounded to thousandths, formatted, trailing zeros dropped.
        func formatted(_ value: Double) -> String {
            let thousandths = (value * 1000).rounded()
            var text = String(format: "%.3f", thousandths == 0 ? 0 : thousandths / 1000)
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
            return text == "-0" ? "0" : text
        }
        var generator = SeededGenerator(seed: 12)
        var values: [Double] = [0, -0.0, 0.0004, -0.0004, 0.0005, -0.0005, 1, -1, 0.5, -0.5, 12.989057592294003, 0.01, 0.1, 1e11 + 0.123, -7.0001, 123.4567]
        for _ in 0..<20_000 {
            let magnitude = [1.0, 10, 100, 1_000, 1e6][Int(generator.next() % 5)]
            values.append((Double(generator.next() % 2_000_001) / 1_000_000 - 1) * magnitude)
        }
        for value in values {
            let explanation = MatchExplanation(
                method: .probabilistic, weight: 0, probability: 0.5, otherRecord: 1, comparisons: ["id": .init(level: 1, weight: value)])
            #expect(explanation.compactComparisons == "id:1:" + formatted(value), "\(value)")
        }
        let a = MatchRecord(
            id: 1, nationalID: "11010519850302011X", nameKey: "张伟", pinyinKey: "zhangwei", sex: .male,
            birth: CalendarDate(year: 1985, month: 3, day: 2), phone: "13812345678", address: "北京市朝阳区建国路1号")
        let others = [
            MatchRecord(id: 2, nameKey: "张伟", pinyinKey: "zhangwei", sex: .male, birth: CalendarDate(year: 1985, month: 3, day: 2)),
            MatchRecord(id: 3, nationalID: "110105198503020129", nameKey: "张薇", pinyinKey: "zhangwei", sex: .female, phone: "13812345678"),
            MatchRecord(id: 4, nameKey: "李娜", pinyinKey: "lina", birth: CalendarDate(year: 1990, month: 1, day: 1), address: "北京市朝阳区建国路2号"),
        ]
        func parsed(_ text: String) throws -> [String: MatchExplanation.Evidence] {
            try MatchExplanation(method: .probabilistic, weight: 0, probability: 0, otherRecord: 0, compactComparisons: text).comparisons
        }
        for b in others {
            let score = MatchEngine().score(a, b, frequencies: TermFrequencies([a] + others))
            let explanation = MatchExplanation(score, record: b.id)
            let stored = MatchExplanation.compactComparisons(of: score)
            #expect(stored == explanation.compactComparisons)
            // Every comparison, by position: no names stored.
            #expect(stored.split(separator: " ").count == Comparison.allCases.count && !stored.contains { $0.isLetter })
            #expect(try parsed(stored) == explanation.comparisons)
            // The named form links written before keep reads the same.
            let named = Comparison.allCases.map { "\($0.name):\(explanation.comparisons[$0.name]!.level):\(explanation.comparisons[$0.name]!.weight)" }
            #expect(try parsed(named.joined(separator: " ")) == explanation.comparisons)
        }
        // A comparison's position is its raw value, which stored parameters use too: never reordered.
        #expect(Comparison.allCases.map(\.name) == ["id", "name", "birth", "sex", "phone", "address"])
        #expect(throws: (any Error).self) { try parsed("1:2 1:2 1:2 1:2 1:2 1:2 1:2") }
    }

    @Test("plain-word notes: a relative's ID number, household evidence, a birth date known to the month")
    func notes() {
        let husband = MatchRecord(id: 1, fields: ["national_id": "110105194912310035", "name": "王建国", "birth_date": "1949-12-31", "sex": "1"])
        let wife = MatchRecord(
            id: 2, fields: ["national_id": "110105194912310035", "name": "李秀英", "birth_date": "1952-06", "sex": "2", "phone": "13811112222"])
        // Her record carries his ID number: it contradicts her birth date and sex.
        let hersWithHisID = MatchRecord(
            id: 4, fields: ["national_id": "110105194912310035", "name": "李秀英", "birth_date": "1952-06-18", "sex": "2"])
        let daughter = MatchRecord(id: 3, fields: ["name": "李红梅", "birth_date": "1952-06-18", "sex": "2", "phone": "13811112222"])
        let engine = MatchEngine()
        let relative = MatchExplanation(engine.score(husband, hersWithHisID, frequencies: TermFrequencies([])), record: 1)
        #expect(relative.notes.contains { $0.en.contains("may belong to a family member") && $0.zh.contains("家人") })
        let household = MatchExplanation(engine.score(wife, daughter, frequencies: TermFrequencies([wife, daughter])), record: 2)
        #expect(household.notes.contains { $0.en.contains("Family members share a phone") })
        #expect(household.notes.contains { $0.en.contains("only to the month or year") })
    }
}

@Suite struct ResidentPlanTests {
    @Test("new clusters get new residents; an unchanged clustering keeps every id")
    func stable() {
        let existing: [Int64: Int64] = [1: 100, 2: 100, 3: 200]
        let plan = ResidentPlan(clusters: [[1, 2], [3], [4]], existing: existing)
        #expect(plan.assignments == [0: 100, 1: 200])
        #expect(plan.newClusters == [2])
        #expect(plan.merges.isEmpty && plan.splits.isEmpty)
        #expect(plan.relinked([[1, 2], [3], [4]], existing: existing) == 1)
    }

    @Test("two residents joined: the older (lower) id survives and the moved records are named")
    func merge() {
        let plan = ResidentPlan(clusters: [[1, 2, 3]], existing: [1: 200, 2: 100, 3: 200])
        #expect(plan.assignments == [0: 100])
        #expect(plan.merges.map { [$0.surviving, $0.retired] } == [[100, 200]])
        #expect(plan.merges.first?.moved == [1, 3])
        #expect(plan.relinked([[1, 2, 3]], existing: [1: 200, 2: 100, 3: 200]) == 2)
    }

    @Test("a resident falling apart: the larger part keeps the id, the rest is a split to a new resident")
    func split() {
        let plan = ResidentPlan(clusters: [[1], [2, 3]], existing: [1: 100, 2: 100, 3: 100])
        #expect(plan.assignments == [1: 100])
        #expect(plan.newClusters == [0])
        #expect(plan.splits.map(\.original) == [100])
        #expect(plan.splits.map(\.cluster) == [0])
        #expect(plan.splits.first?.moved == [1])
    }

    @Test("a cluster of pinned records only stays with their resident: no new resident, no split, no say in the id")
    func pinnedAlone() {
        // Record 9 is a worker's entry pinned to 100; it clusters alone. In the tie below it
        // would otherwise own 100 and push record 1 out as a split.
        let existing: [Int64: Int64] = [1: 100, 9: 100]
        let plan = ResidentPlan(clusters: [[9], [1]], existing: existing, pinned: [9: 100])
        #expect(plan.assignments == [0: 100, 1: 100])
        #expect(plan.newClusters.isEmpty && plan.splits.isEmpty && plan.merges.isEmpty)
        #expect(plan.relinked([[9], [1]], existing: existing) == 0)
        // A pinned record among unpinned ones is an ordinary member.
        let mixed = ResidentPlan(clusters: [[9, 5], [1]], existing: existing, pinned: [9: 100])
        #expect(mixed.assignments == [0: 100])
        #expect(mixed.newClusters == [1])
        #expect(mixed.splits.map(\.original) == [100])
    }

    @Test("a tie keeps the id with the first cluster")
    func tie() {
        let plan = ResidentPlan(clusters: [[1], [2]], existing: [1: 100, 2: 100])
        #expect(plan.assignments == [0: 100])
        #expect(plan.splits.map(\.cluster) == [1])
    }

    @Test("a tie keeps the id with the part that carries the resident's ID number; more records still come first")
    func tieByIdentifier() {
        // Record 2 carries the citizen ID; record 1 (no ID) had joined it through a phone.
        let plan = ResidentPlan(clusters: [[1], [2]], existing: [1: 100, 2: 100], identified: [2])
        #expect(plan.assignments == [1: 100])
        #expect(plan.newClusters == [0])
        #expect(plan.splits.map(\.moved) == [[1]])
        // Two records without an ID outweigh one with it.
        let larger = ResidentPlan(clusters: [[1, 3], [2]], existing: [1: 100, 2: 100, 3: 100], identified: [2])
        #expect(larger.assignments == [0: 100])
        #expect(larger.splits.map(\.moved) == [[2]])
        // Identified on both sides: the first cluster, as before.
        let both = ResidentPlan(clusters: [[1], [2]], existing: [1: 100, 2: 100], identified: [1, 2])
        #expect(both.assignments == [0: 100])
    }
}
