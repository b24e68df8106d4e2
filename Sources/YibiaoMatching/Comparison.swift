public import YibiaoCore

/// The comparisons Fellegi–Sunter scores, each with agreement levels. Level 0 means a value is
/// missing on one side: it says nothing and weighs nothing.
public enum Comparison: Int, CaseIterable, Sendable, Codable {
    case id, name, birth, sex, phone, address

    /// Number of levels including 0 (missing).
    public var levelCount: Int {
        switch self {
        case .id: 7
        case .name: 7
        case .birth: 7
        case .sex: 3
        case .phone: 3
        case .address: 6
        }
    }

    public func levelName(_ level: Int) -> LocalizedText {
        let names: [[(String, String)]] = [
            [
                ("missing", "缺失"), ("identical", "相同"), ("one digit differs", "一位不同"), ("two digits swapped", "两位颠倒"),
                ("different", "不同"),
                ("identical, but its birth date or sex does not fit a record: it may belong to a family member", "相同，但号码中的出生日期或性别与记录不符，可能是家人的号码"),
                ("different, but one of them does not fit its record: it may belong to a family member", "不同，但其中一个号码与其记录不符，可能是家人的号码"),
            ],
            [
                ("missing", "缺失"), ("identical", "相同"), ("same pinyin", "拼音相同"), ("very similar", "非常相似"), ("similar", "相似"),
                ("one part agrees (surname or given name)", "姓或名之一相同"), ("different", "不同"),
            ],
            [
                ("missing", "缺失"), ("identical", "相同"), ("day and month swapped", "日月颠倒"), ("one digit differs", "一位数字不同"),
                ("one part differs", "年月日之一不同"), ("agrees as far as known (only the month or year is given)", "在已知范围内一致（仅有年月或年份）"),
                ("different", "不同"),
            ],
            [("missing", "缺失"), ("same", "相同"), ("different", "不同")],
            [("missing", "缺失"), ("same", "相同"), ("different", "不同")],
            [
                ("missing", "缺失"), ("identical", "相同"), ("very similar", "非常相似"), ("similar", "相似"), ("somewhat similar", "部分相似"),
                ("different", "不同"),
            ],
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
/// Kept as one number, four bits a level, the first comparison highest: training and scoring
/// make one per candidate pair (millions in a district), and an array each was an allocation
/// and a hash over a buffer.
public struct ComparisonVector: Sendable, Hashable, Codable {
    private var packed: UInt32

    /// The levels in `Comparison` order.
    public var levels: [UInt8] {
        get { Comparison.allCases.map { UInt8(self[$0]) } }
        set { self = ComparisonVector(levels: newValue) }
    }

    public init(levels: [UInt8]) {
        precondition(levels.count <= 8 && levels.allSatisfy { $0 < 16 }, "a comparison vector holds at most eight levels below 16")
        packed = 0
        for (index, level) in levels.enumerated() { packed |= UInt32(level) << Self.shift(index) }
    }

    private init(_ id: Int, _ name: Int, _ birth: Int, _ sex: Int, _ phone: Int, _ address: Int) {
        packed =
            UInt32(id) << Self.shift(0) | UInt32(name) << Self.shift(1) | UInt32(birth) << Self.shift(2)
            | UInt32(sex) << Self.shift(3) | UInt32(phone) << Self.shift(4) | UInt32(address) << Self.shift(5)
    }

    private static func shift(_ index: Int) -> UInt32 { UInt32(28 - 4 * index) }

    public subscript(_ comparison: Comparison) -> Int { Int(packed >> Self.shift(comparison.rawValue) & 0xF) }

    /// Level by level, the first comparison first (the order training sums in).
    static func precedes(_ a: ComparisonVector, _ b: ComparisonVector) -> Bool { a.packed < b.packed }

    // As before the levels were packed: `{"levels": [...]}`.
    private enum CodingKeys: String, CodingKey { case levels }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let levels = try container.decode([UInt8].self, forKey: .levels)
        guard levels.count <= 8, levels.allSatisfy({ $0 < 16 }) else {
            throw DecodingError.dataCorruptedError(forKey: .levels, in: container, debugDescription: "not a comparison vector")
        }
        self.init(levels: levels)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(levels, forKey: .levels)
    }

    public static func compare(_ a: MatchRecord, _ b: MatchRecord) -> ComparisonVector {
        ComparisonVector(
            idLevel(a, b), nameLevel(a, b), birthLevel(a, b),
            a.sex?.isKnown == true && b.sex?.isKnown == true ? (a.sex == b.sex ? 1 : 2) : 0,
            a.phone != nil && b.phone != nil ? (a.phone == b.phone ? 1 : 2) : 0,
            addressLevel(a.address, b.address))
    }

    public enum IDLevel: Int {
        case missing, identical, oneDigit, transposed, different, identicalNotFitting, differentNotFitting
    }

    public enum NameLevel: Int {
        case missing, identical, samePinyin, verySimilar, similar, onePart, different
    }

    public enum BirthLevel: Int {
        case missing, identical, dayMonthSwapped, oneDigit, onePart, agreesAsFarAsKnown, different
    }

    static func idLevel(_ a: MatchRecord, _ b: MatchRecord) -> Int {
        let level: IDLevel
        if let x = a.nationalID, let y = b.nationalID {
            // Two valid numbers that differ are two people: a single typo always breaks the check
            // character (namesakes born a day apart have IDs one birth digit apart). Compared as
            // they are (ASCII digits), without copying their bytes out.
            level = x == y ? .identical : .different
        } else {
            guard let x = a.comparableID, let y = b.comparableID else { return otherIdentifierLevel(a, b) }
            level = citizenIDLevel(x, y)
        }
        // An ID that its own record contradicts may be a relative's: weak evidence either way.
        guard a.idContradictsRecord || b.idContradictsRecord else { return level.rawValue }
        return (level == .identical ? IDLevel.identicalNotFitting : .differentNotFitting).rawValue
    }

    /// Two citizen ID numbers, one of them at least not valid (18 characters, or a raw one of
    /// another length against either).
    static func citizenIDLevel(_ x: [UInt8], _ y: [UInt8]) -> IDLevel {
        if x == y { return .identical }
        guard x.count == 18, y.count == 18 else {
            // A digit left out or added: one edit apart, unless more is wrong.
            return StringSimilarity.damerauLevenshtein(x, y, limit: 1) == 1 ? .oneDigit : .different
        }
        // The check character follows the body: compare the first 17 positions.
        let (p, q) = (Array(x.prefix(17)), Array(y.prefix(17)))
        if (0..<17).filter({ p[$0] != q[$0] }).count <= 1 { return .oneDigit }
        return StringSimilarity.isAdjacentTransposition(p, q) ? .transposed : .different
    }

    /// Passports and other schemes: the same scheme with the same value agrees; one edit apart
    /// (a character replaced, left out or added) or two neighbours swapped is a typo.
    static func otherIdentifierLevel(_ a: MatchRecord, _ b: MatchRecord) -> Int {
        guard !a.identifiers.isEmpty, !b.identifiers.isEmpty else { return 0 }
        var best = IDLevel.missing
        for (scheme, value) in a.identifiers {
            guard let other = b.identifiers[scheme] else { continue }
            if value == other { return IDLevel.identical.rawValue }
            let p = Array(value.utf8), q = Array(other.utf8)
            let level: IDLevel =
                switch StringSimilarity.damerauLevenshtein(p, q, limit: 1) {
                case 1: StringSimilarity.isAdjacentTransposition(p, q) ? .transposed : .oneDigit
                default: .different
                }
            if best == .missing || level.rawValue < best.rawValue { best = level }
        }
        return best.rawValue
    }

    static func nameLevel(_ a: MatchRecord, _ b: MatchRecord) -> Int {
        guard let x = a.nameKey, let y = b.nameKey, !x.isEmpty, !y.isEmpty else { return 0 }
        if x == y { return NameLevel.identical.rawValue }
        let p = a.pinyinKey ?? x, q = b.pinyinKey ?? y
        if a.pinyinKey != nil, b.pinyinKey != nil, p == q { return NameLevel.samePinyin.rawValue }
        // The same parts in another order (family name first in one system, last in another).
        // (Cheap tests first: most pairs compared are strangers, in training hundreds of thousands.)
        if a.nameParts.count > 1, a.nameParts.count == b.nameParts.count, b.nameParts.contains(a.nameParts[0]),
            a.nameParts.sorted() == b.nameParts.sorted()
        {
            return NameLevel.verySimilar.rawValue
        }
        let similarity = StringSimilarity.jaroWinkler(p, q)
        if similarity >= 0.94 { return NameLevel.verySimilar.rawValue }
        if similarity >= 0.85 { return NameLevel.similar.rawValue }
        if a.nameParts.contains(where: b.nameParts.contains) { return NameLevel.onePart.rawValue }
        return NameLevel.different.rawValue
    }

    /// Birth dates at their precision: a date known only to the month or year agrees with another
    /// as far as both are known, or not at all.
    static func birthLevel(_ a: MatchRecord, _ b: MatchRecord) -> Int {
        if a.partialBirth == nil, b.partialBirth == nil { return birthLevel(a.birth, b.birth) }
        guard let x = a.knownBirth, let y = b.knownBirth else { return BirthLevel.missing.rawValue }
        return (x.agreesAsFarAsKnown(with: y) ? BirthLevel.agreesAsFarAsKnown : BirthLevel.different).rawValue
    }

    static func birthLevel(_ a: CalendarDate?, _ b: CalendarDate?) -> Int {
        guard let a, let b else { return 0 }
        if a == b { return BirthLevel.identical.rawValue }
        if a.year == b.year, a.month == b.day, a.day == b.month { return BirthLevel.dayMonthSwapped.rawValue }
        // The eight digits YYYYMMDD compared in place (no text: random pairs in training compare
        // hundreds of thousands of dates): one digit wrong, or two neighbours swapped.
        let x = digits(a), y = digits(b)
        var differing = 0, first = 0, second = 0
        for i in 0..<8 where x[i] != y[i] {
            differing += 1
            if differing == 1 { first = i } else if differing == 2 { second = i }
        }
        if differing == 1 || (differing == 2 && second == first + 1 && x[first] == y[second] && x[second] == y[first]) {
            return BirthLevel.oneDigit.rawValue
        }
        let same = (a.year == b.year ? 1 : 0) + (a.month == b.month ? 1 : 0) + (a.day == b.day ? 1 : 0)
        return (same == 2 ? BirthLevel.onePart : BirthLevel.different).rawValue
    }

    /// A date's digits as `CalendarDate.compact` writes them (YYYYMMDD).
    static func digits(_ date: CalendarDate) -> SIMD8<UInt8> {
        let (y, m, d) = (date.year, date.month, date.day)
        return SIMD8(
            UInt8(y / 1000 % 10), UInt8(y / 100 % 10), UInt8(y / 10 % 10), UInt8(y % 10), UInt8(m / 10), UInt8(m % 10), UInt8(d / 10),
            UInt8(d % 10))
    }

    static func addressLevel(_ a: String?, _ b: String?) -> Int {
        guard let a, let b, !a.isEmpty, !b.isEmpty else { return 0 }
        if a == b { return 1 }
        let similarity = StringSimilarity.characterBigramJaccard(a, b)
        if similarity >= 0.8 { return 2 }
        if similarity >= 0.6 { return 3 }
        if similarity >= 0.4 { return 4 }
        return 5
    }
}
