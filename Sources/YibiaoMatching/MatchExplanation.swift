import Foundation
public import YibiaoCore

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

    /// What a worker should know about this evidence, in plain words.
    public var notes: [LocalizedText] {
        var notes: [LocalizedText] = []
        let id = evidence(.id)?.level ?? 0
        if id == ComparisonVector.IDLevel.identicalNotFitting.rawValue || id == ComparisonVector.IDLevel.differentNotFitting.rawValue {
            notes.append(
                LocalizedText(
                    en: "The birth date or sex inside an ID number does not match its record's: the number may belong to a family member, so it counts for little either way.",
                    zh: "身份证号中的出生日期或性别与该记录不符：这个号码可能属于家人，因此无论相同与否都只作弱证据。"))
        }
        let name = evidence(.name)?.level ?? 0
        let sharedPhone = evidence(.phone)?.level == 1
        let sharedAddress = (1...3).contains(evidence(.address)?.level ?? 0)
        if name >= ComparisonVector.NameLevel.onePart.rawValue, sharedPhone || sharedAddress {
            notes.append(
                LocalizedText(
                    en: "Family members share a phone and an address: between records whose names differ, these count once and at half weight.",
                    zh: "家庭成员常共用电话和地址：姓名不同的记录之间，这两项只算一次，且只计一半权重。"))
        }
        if (evidence(.birth)?.level ?? 0) == ComparisonVector.BirthLevel.agreesAsFarAsKnown.rawValue {
            notes.append(
                LocalizedText(
                    en: "One record gives the birth date only to the month or year; it was compared as far as it is known.",
                    zh: "有一条记录的出生日期只精确到月或年，仅在已知范围内比较。"))
        }
        return notes
    }

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
