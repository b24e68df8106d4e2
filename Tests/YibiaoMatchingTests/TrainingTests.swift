import Testing
@testable import YibiaoMatching

@Suite struct TrainingTests {
    /// Distinct comparison vectors with uneven counts, the same every run.
    static let vectors: [(ComparisonVector, Int)] = {
        var seen: Set<ComparisonVector> = []
        var result: [(ComparisonVector, Int)] = []
        for index in 0..<2_000 {
            let levels = Comparison.allCases.enumerated().map { position, comparison in
                UInt8((index * [7, 11, 13, 17, 19, 23][position] + index / 3) % comparison.levelCount)
            }
            let vector = ComparisonVector(levels: levels)
            if seen.insert(vector).inserted { result.append((vector, 1 + (index * 37) % 997)) }
        }
        return result
    }()

    @Test("the same comparison vectors give bit-identical parameters whatever order a dictionary holds them in")
    func orderIndependent() throws {
        var forwards: [ComparisonVector: Int] = [:]
        for (vector, count) in Self.vectors { forwards[vector] = count }
        var backwards: [ComparisonVector: Int] = [:]
        backwards.reserveCapacity(16_384)
        for (vector, count) in Self.vectors.reversed() { backwards[vector] = count }
        try #require(forwards == backwards)
        try #require(Array(forwards.keys) != Array(backwards.keys), "the two dictionaries must iterate in different orders")

        let parameters = MatchParameters.initial
        #expect(
            ParameterTraining.estimateU(randomPairs: forwards, excludingMatchesBy: parameters)
                == ParameterTraining.estimateU(randomPairs: backwards, excludingMatchesBy: parameters))
        #expect(
            ParameterTraining.estimatePrior(vectors: forwards, parameters: parameters)
                == ParameterTraining.estimatePrior(vectors: backwards, parameters: parameters))
        let (m, evidence) = ParameterTraining.estimateMByIndependentEvidence(vectors: forwards, fallback: parameters)
        let (mAgain, evidenceAgain) = ParameterTraining.estimateMByIndependentEvidence(vectors: backwards, fallback: parameters)
        #expect(m == mAgain && evidence == evidenceAgain)
    }
}
