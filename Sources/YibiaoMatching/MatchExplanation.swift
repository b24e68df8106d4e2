import Foundation
import YibiaoCore

/// Why a record is linked to its resident: the strongest pair that brought it into its cluster,
/// comparison by comparison. Stored with the link (`link.explanation`) and read back as this
/// type by `yibiao explain` and the API.
public struct MatchExplanation: Codable, Sendable, Hashable {
    /// One comparison's agreement level and its log2(m/u) weight.
    public struct Evidence: Codable, Sendable, Hashable {
        public let level: Int
        public let weight: Double

        public init(level: Int, weight: Double) {
            self.level = level
            self.weight = weight
        }
    }

    public let method: PairScore.Method
    public let weight: Double
    public let probability: Double
    /// The other record of the pair.
    public let otherRecord: Int64
    /// Keyed by the comparison's name (`id`, `name`, `birth`, …).
    public let comparisons: [String: Evidence]

    enum CodingKeys: String, CodingKey {
        case method, weight, probability, comparisons
        case otherRecord = "other_record"
    }

    public init(method: PairScore.Method, weight: Double, probability: Double, otherRecord: Int64, comparisons: [String: Evidence]) {
        self.method = method
        self.weight = weight
        self.probability = probability
        self.otherRecord = otherRecord
        self.comparisons = comparisons
    }

    /// The explanation of `score` as seen from `record`, one side of the pair.
    public init(_ score: PairScore, record: Int64) {
        var comparisons: [String: Evidence] = [:]
        for comparison in Comparison.allCases {
            comparisons[comparison.name] = Evidence(level: Int(score.vector[comparison]), weight: score.contributions[comparison.rawValue])
        }
        self.init(
            method: score.method, weight: score.weight, probability: score.probability,
            otherRecord: score.a == record ? score.b : score.a, comparisons: comparisons)
    }

    public func evidence(_ comparison: Comparison) -> Evidence? { comparisons[comparison.name] }

    /// The stored form: canonical JSON with the Codable keys (a test decodes it back with
    /// JSONDecoder). Written by hand because Foundation's encoder costs more than the matching
    /// itself on a district's worth of links.
    public var json: String {
        CanonicalJSON.object([
            "method": .string(method.rawValue), "weight": .number(weight), "probability": .number(probability),
            "other_record": .integer(otherRecord),
            "comparisons": .object(comparisons.mapValues { .object(["level": .integer(Int64($0.level)), "weight": .number($0.weight)]) }),
        ]).text
    }

    /// Reads a stored explanation; nil for a record that no other record matched (`{}`).
    public static func decode(_ json: String) throws -> MatchExplanation? {
        let data = Data(json.utf8)
        if json.trimmingCharacters(in: .whitespaces) == "{}" { return nil }
        return try JSONDecoder().decode(MatchExplanation.self, from: data)
    }
}

extension Comparison {
    /// The stable name used in stored explanations.
    public var name: String { String(describing: self) }
}
