import Foundation
import Testing
import YibiaoCore
import YibiaoMerge
@testable import YibiaoStore

/// The merge split across cores gives what one core gives, resident by resident.
@Suite struct ParallelWorkTests {
    @Test("golden records merged in parallel slices equal the merge one by one")
    func parallelMerge() async {
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
        let parallel = await GoldenRecords.mergeInParallel(
            residents, merger: merger, observations: observations, overrides: [:], stored: [:], open: [:])
        #expect(parallel.count == residents.count)
        for id in residents {
            let outcome = merger.merge(observations[id]!)
            #expect(parallel[id]?.0 == outcome, "resident \(id)")
            if parallel[id]?.0 != outcome { break }
        }
    }
}
