import Foundation
public import YibiaoCore

/// Why a record is linked to its resident: the strongest pair that brought it into its cluster,
/// comparison by comparison. Stored in the link's columns (`other_record`, `probability`,
/// `comparisons`; a review item keeps it as one JSON document) and read back as this type by
/// `yibiao explain` and the API.
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

    /// The explanation of `score` as seen from `record`, one side of the pair. Weights are kept
    /// to three decimals: they are shown to one, and a district stores one explanation per link.
    public init(_ score: PairScore, record: Int64) {
        var comparisons: [String: Evidence] = [:]
        for comparison in Comparison.allCases {
            comparisons[comparison.name] = Evidence(
                level: Int(score.vector[comparison]), weight: Self.rounded(score.contributions[comparison.rawValue]))
        }
        self.init(
            method: score.method, weight: Self.rounded(score.weight), probability: score.probability,
            otherRecord: score.a == record ? score.b : score.a, comparisons: comparisons)
    }

    /// An explanation read from a link's columns; `comparisons` in the compact text.
    public init(method: PairScore.Method, weight: Double, probability: Double, otherRecord: Int64, compactComparisons: String) throws {
        self.init(
            method: method, weight: weight, probability: probability, otherRecord: otherRecord,
            comparisons: try Self.parseCompact(compactComparisons))
    }

    /// The comparisons as a link stores them (`1:19.869 1:11.467 …`, or `id:1:19.869 …`).
    public var compactComparisons: String { Self.compactText(comparisons) }

    /// `value` to three decimals (the nearest double to them).
    static func rounded(_ value: Double) -> Double {
        guard value.isFinite else { return value }
        let thousandths = (value * 1000).rounded()
        return thousandths == 0 ? 0 : thousandths / 1000
    }

    /// The comparisons as stored, separated by spaces: `level:weight` for each comparison in the
    /// order of `Comparison`'s raw values when all of them and only they are there (`1:19.882
    /// 0:0 …`; the names were 32 bytes of a link's 80 of evidence), else `name:level:weight`
    /// (`id:0:0 name:1:12.989 …`, as links written before keep them) — a third of the size of an
    /// object per comparison. A comparison's raw value never changes (stored parameters are
    /// keyed by it too); `parseCompact` reads both forms.
    static func compactText(_ comparisons: [String: Evidence]) -> String {
        let known = Comparison.allCases.map(\.name)
        if comparisons.count == known.count, known.allSatisfy({ comparisons[$0] != nil }) {
            return known.map { name in
                let evidence = comparisons[name]!
                return "\(evidence.level):\(decimalText(evidence.weight))"
            }.joined(separator: " ")
        }
        let names = known.filter { comparisons[$0] != nil } + comparisons.keys.filter { !known.contains($0) }.sorted()
        return names.map { name in
            let evidence = comparisons[name]!
            return "\(name):\(evidence.level):\(decimalText(evidence.weight))"
        }.joined(separator: " ")
    }

    /// The compact comparisons of `score` as `MatchExplanation(score, record:)` would store
    /// them, written straight from the score: a first load writes one per record, and the
    /// dictionary and formatted decimals in between were most of the time its links took.
    public static func compactComparisons(of score: PairScore) -> String {
        var text = ""
        text.reserveCapacity(16 * Comparison.allCases.count)
        for comparison in Comparison.allCases {
            if !text.isEmpty { text += " " }
            text += String(score.vector[comparison])
            text += ":"
            text += decimalText(score.contributions[comparison.rawValue])
        }
        return text
    }

    /// Up to three decimals, without trailing zeros (`15`, `12.989`, `-0.5`): the value rounded
    /// to thousandths, written from that whole number (`String(format:)` cost microseconds a
    /// value). Beyond a trillion a double no longer holds thousandths apart: formatted there.
    static func decimalText(_ value: Double) -> String {
        let scaled = (value * 1000).rounded()
        guard scaled.isFinite, scaled.magnitude < 1e15 else {
            var text = String(format: "%.3f", rounded(value))
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
            return text == "-0" ? "0" : text
        }
        let thousandths = Int64(scaled)
        guard thousandths != 0 else { return "0" }
        var text = thousandths < 0 ? "-" : ""
        text += String(thousandths.magnitude / 1000)
        var fraction = thousandths.magnitude % 1000
        if fraction != 0 {
            var digits = 3
            while fraction % 10 == 0 {
                fraction /= 10
                digits -= 1
            }
            let written = String(fraction)
            text += "." + String(repeating: "0", count: digits - written.count) + written
        }
        return text
    }

    static func parseCompact(_ text: String) throws -> [String: Evidence] {
        var comparisons: [String: Evidence] = [:]
        for (position, part) in text.split(separator: " ").enumerated() {
            let fields = part.split(separator: ":", omittingEmptySubsequences: false)
            // `level:weight` names its comparison by position.
            let name = fields.count == 2 ? Comparison(rawValue: position)?.name : fields.count == 3 ? String(fields[0]) : nil
            guard let name, let level = Int(fields[fields.count - 2]), let weight = Double(fields[fields.count - 1]) else {
                throw DecodingError.dataCorrupted(
                    .init(codingPath: [CodingKeys.comparisons], debugDescription: "not name:level:weight or level:weight"))
            }
            comparisons[name] = Evidence(level: level, weight: weight)
        }
        return comparisons
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        method = try container.decode(PairScore.Method.self, forKey: .method)
        weight = try container.decode(Double.self, forKey: .weight)
        probability = try container.decode(Double.self, forKey: .probability)
        otherRecord = try container.decode(Int64.self, forKey: .otherRecord)
        if let text = try? container.decode(String.self, forKey: .comparisons) {
            comparisons = try Self.parseCompact(text)
        } else {
            // One object per comparison: the form before migration 0015.
            comparisons = try container.decode([String: Evidence].self, forKey: .comparisons)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(method, forKey: .method)
        try container.encode(weight, forKey: .weight)
        try container.encode(probability, forKey: .probability)
        try container.encode(otherRecord, forKey: .otherRecord)
        try container.encode(Self.compactText(comparisons), forKey: .comparisons)
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
            "comparisons": .string(Self.compactText(comparisons)),
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
    /// The stable name used in stored explanations (the case's name, looked up: reflecting
    /// on the case each time cost more than the rest of a link's row).
    public var name: String { Self.names[rawValue] }

    private static let names = allCases.map { String(describing: $0) }
}
