import Foundation
import YibiaoCore

/// m and u probabilities per comparison level, the prior, and the two thresholds.
/// Weights are log2(m/u); a pair's match probability follows from their sum and the prior.
public struct MatchParameters: Sendable, Codable, Hashable {
    /// m[comparison][level]: P(level | same person). Index 0 (missing) is unused.
    public var m: [[Double]]
    /// u[comparison][level]: P(level | different people).
    public var u: [[Double]]
    /// P(same person) among candidate pairs.
    public var prior: Double
    /// At or above: linked automatically.
    public var linkThreshold = 0.99
    /// At or above (and below the link threshold): sent to a person.
    public var reviewThreshold = 0.5
    /// How many candidate pairs the m estimates rest on (pairs agreeing on independent evidence);
    /// nil before training. With too few, the prior is not taken from the data (see `trained`).
    public var evidencePairs: Int?

    /// Fewer than this many evidence pairs: the first feed alone (no one in it twice) taught nothing.
    public static let enoughEvidence = 50

    /// True when training saw too few pairs of one person twice for its m values to mean much.
    public var restsOnTooLittleEvidence: Bool { (evidencePairs ?? Self.enoughEvidence) < Self.enoughEvidence }

    static let floor = 1e-6

    /// Starting values before training: plausible for any population, Chinese or not.
    public static let initial = MatchParameters(
        m: [
            [0, 0.93, 0.03, 0.01, 0.02, 0.005, 0.005], // id
            [0, 0.80, 0.06, 0.04, 0.03, 0.03, 0.04], // name
            [0, 0.93, 0.01, 0.03, 0.02, 0.005, 0.005], // birth
            [0, 0.98, 0.02], // sex
            [0, 0.80, 0.20], // phone
            [0, 0.60, 0.10, 0.08, 0.07, 0.15], // address
        ],
        u: [
            [0, 0.00001, 0.0001, 0.00001, 0.97986, 0.00001, 0.02],
            [0, 0.001, 0.001, 0.004, 0.015, 0.03, 0.949],
            [0, 0.0003, 0.0001, 0.001, 0.004, 0.004, 0.9906],
            [0, 0.5, 0.5],
            [0, 0.0005, 0.9995],
            [0, 0.0005, 0.002, 0.01, 0.04, 0.9475],
        ],
        prior: 0.1)

    /// True when the parameters have one row per comparison and one value per level: parameters
    /// stored before the comparisons changed are retrained, never read with the wrong levels.
    public var fitsComparisons: Bool {
        m.count == Comparison.allCases.count && u.count == m.count
            && Comparison.allCases.allSatisfy { m[$0.rawValue].count == $0.levelCount && u[$0.rawValue].count == $0.levelCount }
    }

    /// At most this many bits, for or against, from an ID number that does not fit its record.
    public static let weakEvidenceBits = 2.0

    /// Each comparison's contribution (log2 m/u) for a vector; `uOverride` supplies
    /// term-frequency u values for the exact-agreement level.
    public func contributions(_ vector: ComparisonVector, uOverride: [Double?] = []) -> [Double] {
        Comparison.allCases.map { comparison in
            let level = vector[comparison]
            guard level > 0 else { return 0 }
            let mValue = max(m[comparison.rawValue][level], Self.floor)
            var uValue = u[comparison.rawValue][level]
            if level == 1, comparison.rawValue < uOverride.count, let override = uOverride[comparison.rawValue] {
                // Term frequency: agreeing on 王伟 is weaker evidence than agreeing on 欧阳娜娜.
                uValue = max(override, uValue)
            }
            let weight = log2(mValue / max(uValue, Self.floor))
            if comparison == .id, level >= ComparisonVector.IDLevel.identicalNotFitting.rawValue {
                // Possibly a relative's number: what it says is not about this person.
                return min(max(weight, -Self.weakEvidenceBits), Self.weakEvidenceBits)
            }
            return weight
        }
    }

    public func probability(weight: Double) -> Double {
        let priorWeight = log2(prior / (1 - prior))
        return 1 / (1 + pow(2, -(weight + priorWeight)))
    }
}

/// Unsupervised estimation. u comes from random record pairs (almost all are different
/// people, and a large sample makes it stable); m and the prior come from EM over the
/// candidate pairs, with pseudo-counts so that rare levels do not hinge on a few pairs.
public enum ParameterTraining {
    public struct Report: Sendable {
        public let iterations: Int
        public let candidatePairs: Int
        public let randomPairs: Int
    }

    /// The comparison vectors of `samplePairs` random record pairs, with their counts. The
    /// pairs are drawn in order from the seed and compared on every core: the same counts as
    /// one core would give.
    public static func randomPairVectors(records: [MatchRecord], samplePairs: Int, seed: UInt64) async -> [ComparisonVector: Int] {
        guard records.count > 1 else { return [:] }
        var generator = SeededGenerator(seed: seed)
        var pairs: [(Int32, Int32)] = []
        pairs.reserveCapacity(samplePairs)
        for _ in 0..<samplePairs {
            let i = Int(generator.next() % UInt64(records.count))
            var j = Int(generator.next() % UInt64(records.count))
            if i == j { j = (j + 1) % records.count }
            pairs.append((Int32(i), Int32(j)))
        }
        return await vectorCounts(records, pairs)
    }

    /// How many of `pairs` (indices into `records`) give each comparison vector, compared in
    /// slices side by side.
    public static func vectorCounts(_ records: [MatchRecord], _ pairs: [(Int32, Int32)]) async -> [ComparisonVector: Int] {
        let slices = await ParallelSlices.map(pairs.count, size: ParallelSlices.perCore(pairs.count, minimum: 20_000)) { range in
            var vectors: [ComparisonVector: Int] = [:]
            for (i, j) in pairs[range] { vectors[ComparisonVector.compare(records[Int(i)], records[Int(j)]), default: 0] += 1 }
            return vectors
        }
        var total: [ComparisonVector: Int] = [:]
        for slice in slices { total.merge(slice, uniquingKeysWith: +) }
        return total
    }

    /// Each of `pairs`' comparison vector, in order, compared in slices side by side.
    public static func vectors(_ records: [MatchRecord], _ pairs: [(Int32, Int32)]) async -> [ComparisonVector] {
        await ParallelSlices.map(pairs.count, size: ParallelSlices.perCore(pairs.count, minimum: 20_000)) { range in
            pairs[range].map { ComparisonVector.compare(records[Int($0.0)], records[Int($0.1)]) }
        }.flatMap { $0 }
    }

    /// How many times each vector occurs.
    public static func counts(of vectors: [ComparisonVector]) -> [ComparisonVector: Int] {
        var counts: [ComparisonVector: Int] = [:]
        for vector in vectors { counts[vector, default: 0] += 1 }
        return counts
    }

    /// u from random pairs, each counted by its chance of being two different people under
    /// `parameters` (nil: every pair counts). In a small district one random pair in a few
    /// thousand is one person twice; counted as strangers, they would make an agreeing ID number
    /// look a thousand times commoner among strangers than it is.
    public static func estimateU(randomPairs vectors: [ComparisonVector: Int], excludingMatchesBy parameters: MatchParameters?) -> [[Double]] {
        guard !vectors.isEmpty else { return MatchParameters.initial.u }
        var counts = Comparison.allCases.map { [Double](repeating: 0, count: $0.levelCount) }
        for (vector, count) in inOrder(vectors) {
            let strangers = parameters.map { 1 - $0.probability(weight: $0.contributions(vector).reduce(0, +)) } ?? 1
            for comparison in Comparison.allCases { counts[comparison.rawValue][vector[comparison]] += Double(count) * strangers }
        }
        return normalise(counts, pseudo: 1)
    }

    /// m without labels and without EM's tendency to drift into a degenerate solution: for each
    /// comparison, the level frequencies among candidate pairs that agree on evidence *other*
    /// than that comparison (Splink's "blocked on another rule" estimate). Pairs sharing a valid
    /// ID number are near-certain matches, so they give m for every other comparison; pairs
    /// agreeing exactly on name, birth date and sex give m for the ID number.
    /// Also returns the number of pairs the estimates rest on.
    public static func estimateMByIndependentEvidence(vectors: [ComparisonVector: Int], fallback: MatchParameters) -> (
        m: [[Double]], evidencePairs: Int
    ) {
        var evidencePairs = 0
        var counts = Comparison.allCases.map { [Double](repeating: 0, count: $0.levelCount) }
        for (vector, count) in inOrder(vectors) {
            if vector[.id] == 1 {
                evidencePairs += count
                for comparison in Comparison.allCases where comparison != .id {
                    counts[comparison.rawValue][vector[comparison]] += Double(count)
                }
            }
            // Sex may be missing (many feeds outside China have none); it must not disagree.
            if vector[.name] == 1, vector[.birth] == 1, vector[.sex] != 2, vector[.phone] == 1 || vector[.address] == 1 {
                counts[Comparison.id.rawValue][vector[.id]] += Double(count)
                if vector[.id] != 1 { evidencePairs += count }
            }
        }
        // Pseudo-counts drawn from the starting values: a level seen in a handful of pairs
        // moves only as far as its evidence allows.
        let pseudo = 50.0
        let m = counts.enumerated().map { index, row in
            let observed = row.dropFirst().reduce(0, +)
            return [0]
                + row.indices.dropFirst().map { level in
                    (row[level] + pseudo * fallback.m[index][level]) / (observed + pseudo)
                }
        }
        return (m, evidencePairs)
    }

    /// The share of candidate pairs that are matches, by EM with m and u held fixed.
    public static func estimatePrior(vectors: [ComparisonVector: Int], parameters: MatchParameters, iterations: Int = 30) -> Double {
        var current = parameters
        let vectors = inOrder(vectors)
        for _ in 0..<iterations {
            var mass = 0.0, total = 0.0
            for (vector, count) in vectors {
                mass += current.probability(weight: current.contributions(vector).reduce(0, +)) * Double(count)
                total += Double(count)
            }
            let next = min(max(mass / max(total, 1), 1e-4), 0.999)
            if abs(next - current.prior) < 1e-7 { break }
            current.prior = next
        }
        return current.prior
    }

    /// The vectors in one fixed order, by their levels. Sums of fractions taken in a dictionary's
    /// order — which differs from process to process — differed in their last bits, and so did
    /// the parameters trained from the same records.
    static func inOrder(_ vectors: [ComparisonVector: Int]) -> [(vector: ComparisonVector, count: Int)] {
        vectors.map { (vector: $0.key, count: $0.value) }.sorted { ComparisonVector.precedes($0.vector, $1.vector) }
    }

    /// Level 0 is not a probability; the others sum to 1 with `pseudo` counts spread over them.
    static func normalise(_ counts: [[Double]], pseudo: Double) -> [[Double]] {
        counts.map { row in
            let observed = row.dropFirst().reduce(0, +)
            let levels = Double(row.count - 1)
            return [0] + row.dropFirst().map { ($0 + pseudo / levels) / (observed + pseudo) }
        }
    }
}
