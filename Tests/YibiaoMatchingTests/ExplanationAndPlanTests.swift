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
        #expect(try MatchExplanation.decode("{}") == nil)
        #expect(throws: (any Error).self) { try MatchExplanation.decode("{\"method\": \"guess\"}") }
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
}
