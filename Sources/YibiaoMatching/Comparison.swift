public import YibiaoCore

/// The comparisons Fellegi–Sunter scores, each with agreement levels. Level 0 means a value is
/// missing on one side: it says nothing and weighs nothing.
public enum Comparison: Int, CaseIterable, Sendable, Codable {
    case id, name, birth, sex, phone, address

    /// Number of levels including 0 (missing).
    public var levelCount: Int {
        switch self {
        case .id: 5
        case .name: 6
        case .birth: 5
        case .sex: 3
        case .phone: 3
        case .address: 5
        }
    }

    public func levelName(_ level: Int) -> LocalizedText {
        let names: [[(String, String)]] = [
            [("missing", "缺失"), ("identical", "相同"), ("one digit differs", "一位不同"), ("two digits swapped", "两位颠倒"), ("different", "不同")],
            [("missing", "缺失"), ("identical", "相同"), ("same pinyin", "拼音相同"), ("very similar", "非常相似"), ("similar", "相似"), ("different", "不同")],
            [("missing", "缺失"), ("identical", "相同"), ("day and month swapped", "日月颠倒"), ("one part differs", "年月日之一不同"), ("different", "不同")],
            [("missing", "缺失"), ("same", "相同"), ("different", "不同")],
            [("missing", "缺失"), ("same", "相同"), ("different", "不同")],
            [("missing", "缺失"), ("identical", "相同"), ("very similar", "非常相似"), ("similar", "相似"), ("different", "不同")],
        ]
        let pair = names[rawValue][level]
        return LocalizedText(en: pair.0, zh: pair.1)
    }

    public var label: LocalizedText {
        switch self {
        case .id: LocalizedText(en: "ID number", zh: "身份证号")
        case .name: LocalizedText(en: "name", zh: "姓名")
        case .birth: LocalizedText(en: "date of birth", zh: "出生日期")
        case .sex: LocalizedText(en: "sex", zh: "性别")
        case .phone: LocalizedText(en: "phone", zh: "电话")
        case .address: LocalizedText(en: "address", zh: "地址")
        }
    }
}

/// The agreement level of every comparison for one pair.
public struct ComparisonVector: Sendable, Hashable, Codable {
    public var levels: [UInt8]

    public subscript(_ comparison: Comparison) -> Int { Int(levels[comparison.rawValue]) }

    public static func compare(_ a: MatchRecord, _ b: MatchRecord) -> ComparisonVector {
        ComparisonVector(levels: [
            UInt8(idLevel(a, b)), UInt8(nameLevel(a, b)), UInt8(birthLevel(a.birth, b.birth)),
            UInt8(a.sex?.isKnown == true && b.sex?.isKnown == true ? (a.sex == b.sex ? 1 : 2) : 0),
            UInt8(a.phone != nil && b.phone != nil ? (a.phone == b.phone ? 1 : 2) : 0),
            UInt8(addressLevel(a.address, b.address)),
        ])
    }

    static func idLevel(_ a: MatchRecord, _ b: MatchRecord) -> Int {
        guard let x = a.comparableID, let y = b.comparableID, x.count == y.count else {
            // Other identifier schemes: the same scheme with the same value agrees, another value differs.
            let shared = Set(a.identifiers.keys).intersection(b.identifiers.keys)
            guard !shared.isEmpty else { return 0 }
            if shared.contains(where: { a.identifiers[$0] == b.identifiers[$0] }) { return 1 }
            let close = shared.contains { scheme in
                let p = Array(a.identifiers[scheme]!.unicodeScalars), q = Array(b.identifiers[scheme]!.unicodeScalars)
                return p.count == q.count && zip(p, q).filter { $0 != $1 }.count == 1
            }
            return close ? 2 : 4
        }
        if x == y { return 1 }
        // Two valid IDs that differ are two people: a single typo always breaks the check character.
        if a.nationalID != nil, b.nationalID != nil { return 4 }
        var differences: [Int] = []
        for index in 0..<x.count where x[index] != y[index] {
            differences.append(index)
            if differences.count > 2 { return 4 }
        }
        // The check character follows the body: compare the first 17 positions.
        let body = differences.filter { $0 < 17 }
        if body.count == 1 { return 2 }
        if body.count == 2, body[1] == body[0] + 1, x[body[0]] == y[body[1]], x[body[1]] == y[body[0]] { return 3 }
        if body.isEmpty { return 2 }
        return 4
    }

    static func nameLevel(_ a: MatchRecord, _ b: MatchRecord) -> Int {
        guard let x = a.nameKey, let y = b.nameKey, !x.isEmpty, !y.isEmpty else { return 0 }
        if x == y { return 1 }
        guard let p = a.pinyinKey, let q = b.pinyinKey else { return 5 }
        if p == q { return 2 }
        let similarity = StringSimilarity.jaroWinkler(p, q)
        if similarity >= 0.94 { return 3 }
        if similarity >= 0.85 { return 4 }
        return 5
    }

    static func birthLevel(_ a: CalendarDate?, _ b: CalendarDate?) -> Int {
        guard let a, let b else { return 0 }
        if a == b { return 1 }
        if a.year == b.year, a.month == b.day, a.day == b.month { return 2 }
        let same = (a.year == b.year ? 1 : 0) + (a.month == b.month ? 1 : 0) + (a.day == b.day ? 1 : 0)
        return same == 2 ? 3 : 4
    }

    static func addressLevel(_ a: String?, _ b: String?) -> Int {
        guard let a, let b, !a.isEmpty, !b.isEmpty else { return 0 }
        if a == b { return 1 }
        let similarity = StringSimilarity.characterBigramJaccard(a, b)
        if similarity >= 0.7 { return 2 }
        if similarity >= 0.4 { return 3 }
        return 4
    }
}
