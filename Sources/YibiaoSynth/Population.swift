public import YibiaoCore

/// One synthetic resident: the truth that the feeds are noisy copies of.
public struct SynthPerson: Sendable, Hashable {
    public let id: Int
    public let householdID: Int
    public let name: String
    public let sex: Sex
    public let birth: CalendarDate
    public let nationalID: String
    /// GB/T 4761 relationship to the head of household.
    public let relationship: String
    public let householdBook: String
    public var address: String
    public var phone: String?
    /// Before a move inside the district: what stale feeds still hold.
    public var previousAddress: String?
    public var previousPhone: String?
    public var marital: String
    public var deathDate: CalendarDate?
    public var childrenCount = 0
    public var sons = 0
    public var daughters = 0
    // Domain facts.
    public var isPartyMember = false
    public var partyJoined: CalendarDate?
    public var partyProbationary = false
    public var partyMobile = false
    public var partyBranch = ""
    public var employer: String?
    public var dibao = false
    public var disability: (category: Int, grade: Int)?

    public static func == (lhs: SynthPerson, rhs: SynthPerson) -> Bool { lhs.id == rhs.id }
    public func hash(into hasher: inout Hasher) { hasher.combine(id) }

    public func age(on date: CalendarDate) -> Int { birth.years(until: date) }
    public var isAlive: Bool { deathDate == nil }
}

/// Hands out ID sequence numbers so that no two people share an ID: one bit per
/// (birth date, sequence). 1900–2039 × 1,000 sequences is 6.4 MB whatever the population.
struct IDAllocator {
    private var bits: [UInt64]
    private static let firstDay = CalendarDate(year: 1900, month: 1, day: 1)!.daysSinceEpoch
    private static let days = 140 * 366

    init() {
        bits = [UInt64](repeating: 0, count: Self.days * 1000 / 64 + 1)
    }

    /// A free sequence number (odd for men, even for women), searched from a random start.
    mutating func allocate(birth: CalendarDate, sex: Sex, rng: inout SeededGenerator, near preferred: Int? = nil) -> Int {
        let day = birth.daysSinceEpoch - Self.firstDay
        var sequence = preferred ?? rng.int(0...999)
        for _ in 0..<1000 {
            let parityOK = (sequence % 2 == 1) == (sex == .male)
            let bit = day * 1000 + sequence
            if parityOK, bits[bit / 64] & (1 << UInt64(bit % 64)) == 0 {
                bits[bit / 64] |= 1 << UInt64(bit % 64)
                return sequence
            }
            sequence = (sequence + 1) % 1000
        }
        return sequence // a day with 1,000 births: cannot happen at district scale
    }
}
