import Testing
import YibiaoAdapters
import YibiaoCore
import YibiaoMatching
import YibiaoSynth

/// Matching measured against the synthetic ground truth (the pure engine, no database).
@Suite struct MatchingQualityTests {
    let district = SharedDistrict.shared

    @Test("high pairwise F1, small review queue, and stable under another training sample")
    func qualityAndStability() async throws {
        var records: [MatchRecord] = []
        var truth: [Int64: Int] = [:]
        for feed in DistrictSynthesizer.feeds {
            for record in try district.records(feed) {
                let id = Int64(records.count + 1)
                records.append(MatchRecord(id: id, fields: record.fields))
                truth[id] = district.truth[feed + "/" + record.sourceKey]?.0
            }
        }
        let withoutID = Set(records.filter { $0.nationalID == nil }.map(\.id))
        var f1s: [Double] = []
        for seed in [UInt64(1), 2] {
            let (engine, _) = MatchEngine().trained(on: records, seed: seed, randomPairs: 200_000)
            let result = await engine.match(records)
            let overall = PairwiseQuality(predicted: result.clusters, truth: truth)
            let noID = PairwiseQuality(predicted: result.clusters, truth: truth, focus: withoutID)
            #expect(overall.f1 >= 0.998, "seed \(seed): overall F1 \(overall.f1)")
            #expect(noID.f1 >= 0.98, "seed \(seed): F1 without a valid ID \(noID.f1)")
            #expect(Double(result.review.count) <= 0.01 * Double(records.count))
            f1s.append(overall.f1)
        }
        #expect(abs(f1s[0] - f1s[1]) < 0.001, "F1 moved by \(abs(f1s[0] - f1s[1])) with another training sample")
    }
}
