public import YibiaoCore

/// What matching knows of a source record: plain values, no database.
public struct MatchRecord: Sendable, Hashable {
    public let id: Int64
    /// A valid (or upgraded) 18-character citizen ID.
    public var nationalID: String?
    /// An ID that failed validation, cleaned (NFKC, no separators): partial agreement still counts.
    public var nationalIDRaw: String?
    public var nameKey: String?
    public var pinyinKey: String?
    public var sex: Sex?
    public var birth: CalendarDate?
    public var phone: String?
    public var division: String?
    public var address: String?
    /// Other identifiers (scheme → value): passports, residence permits, other countries' schemes.
    public var identifiers: [String: String]
    /// The name's parts, folded like the key: given names and surname of a Latin-script name,
    /// surname and given name of a Han name, the parts of a transliterated name (买买提·艾力).
    /// A part agreeing when the whole name does not is evidence of its own, and blocks.
    public var nameParts: [String]
    /// A birth date known only to the month or the year (`birth` is nil then).
    public var partialBirth: PartialDate?

    public init(
        id: Int64, nationalID: String? = nil, nationalIDRaw: String? = nil, nameKey: String? = nil,
        pinyinKey: String? = nil, sex: Sex? = nil, birth: CalendarDate? = nil, phone: String? = nil,
        division: String? = nil, address: String? = nil, identifiers: [String: String] = [:], nameParts: [String]? = nil
    ) {
        self.id = id
        self.nationalID = nationalID
        self.nationalIDRaw = nationalIDRaw
        self.nameKey = nameKey
        self.pinyinKey = pinyinKey
        self.sex = sex
        self.birth = birth
        self.phone = phone
        self.division = division
        self.address = address
        self.identifiers = identifiers
        self.nameParts = nameParts ?? nameKey.map(NameNormalizer.parts(ofKey:)) ?? []
    }

    /// The birth date as far as it is known.
    public var knownBirth: PartialDate? { birth.map(PartialDate.init) ?? partialBirth }

    /// Reads a stored birth date (`YYYY-MM-DD`, `YYYY-MM` or `YYYY`) into `birth` or `partialBirth`.
    public mutating func setBirth(iso text: String?) {
        guard let text else { return }
        if let day = CalendarDate(iso: text) {
            birth = day
        } else {
            partialBirth = PartialDate(iso: text)
        }
    }

    /// True when the record's valid ID number encodes a birth date or sex that the record itself
    /// clearly contradicts: the number may belong to a relative (a spouse's ID typed into the
    /// record). One typo in the birth date is not a contradiction; a different sex is one only
    /// when the birth date differs too.
    public var idContradictsRecord: Bool {
        guard let birth, let (encoded, encodedSex) = encodedInID, encoded != birth else { return false }
        if let sex, sex.isKnown, sex != encodedSex { return true }
        return ComparisonVector.birthLevel(birth, encoded) == ComparisonVector.BirthLevel.different.rawValue
    }

    /// The birth date and sex the valid ID number encodes.
    var encodedInID: (CalendarDate, Sex)? {
        guard let nationalID else { return nil }
        // Read in place (asked of both records of every pair compared): no copy of the bytes.
        func decode(_ digits: UnsafeBufferPointer<UInt8>) -> (CalendarDate, Sex)? {
            guard digits.count == 18 else { return nil }
            func number(_ range: Range<Int>) -> Int { digits[range].reduce(0) { $0 * 10 + Int($1) - 48 } }
            guard let date = CalendarDate(year: number(6..<10), month: number(10..<12), day: number(12..<14)) else { return nil }
            return (date, (Int(digits[16]) - 48) % 2 == 1 ? .male : .female)
        }
        if let decoded = nationalID.utf8.withContiguousStorageIfAvailable(decode) { return decoded }
        return Array(nationalID.utf8).withUnsafeBufferPointer(decode)
    }

    /// The ID digits to compare: the valid ID, else the raw one when it is long enough to say something.
    var comparableID: [UInt8]? {
        if let nationalID { return Array(nationalID.utf8) }
        // A digit too few or too many is still one typo away; shorter or longer says nothing.
        if let raw = nationalIDRaw, (17...19).contains(raw.utf8.count) { return Array(raw.utf8) }
        return nil
    }

    /// The identifiers to block on besides the citizen ID: `scheme:value` of each other one
    /// (passport, residence permit, another country's number).
    var otherIdentifierKeys: [String] {
        identifiers.keys.sorted().map { "\($0):\(identifiers[$0]!)" }
    }
}

extension MatchRecord {
    /// From normalised canonical fields (`national_id`, `name`, `birth_date`…), as staging stores them.
    public init(id: Int64, fields: [String: String]) {
        let name = fields["name"].flatMap(PersonName.init(normalizing:))
        let parts = name.map { NameNormalizer.parts(ofDisplay: $0.display) }
        let raw = fields["national_id_raw"].map(CitizenID.clean)
        self.init(
            id: id, nationalID: fields["national_id"], nationalIDRaw: raw, nameKey: name?.matchingKey,
            pinyinKey: name?.pinyinKey, sex: fields["sex"].flatMap(Sex.init(rawValue:)),
            phone: fields["phone"], division: fields["division_code"], address: fields["address"],
            identifiers: Self.otherIdentifiers(passport: fields["passport_no"], socialSecurity: fields["social_security_no"]), nameParts: parts)
        setBirth(iso: fields["birth_date"])
    }

    /// The identifier schemes other than the citizen ID that matching compares, by the scheme
    /// names `resident_identifier` uses.
    public static func otherIdentifiers(passport: String?, socialSecurity: String?) -> [String: String] {
        var identifiers: [String: String] = [:]
        if let passport, !passport.isEmpty { identifiers["passport"] = passport }
        if let socialSecurity, !socialSecurity.isEmpty { identifiers["social_security"] = socialSecurity }
        return identifiers
    }
}
