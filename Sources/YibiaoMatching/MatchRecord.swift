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

    public init(
        id: Int64, nationalID: String? = nil, nationalIDRaw: String? = nil, nameKey: String? = nil,
        pinyinKey: String? = nil, sex: Sex? = nil, birth: CalendarDate? = nil, phone: String? = nil,
        division: String? = nil, address: String? = nil, identifiers: [String: String] = [:]
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
    }

    /// The ID digits to compare: the valid ID, else the raw one when it is long enough to say something.
    var comparableID: [UInt8]? {
        if let nationalID { return Array(nationalID.utf8) }
        if let raw = nationalIDRaw, raw.utf8.count == 18 { return Array(raw.utf8) }
        return nil
    }

    /// The identifier to block and compare on when there is no citizen ID: `scheme:value`
    /// of the first other identifier (passport, residence permit, another country's number).
    var otherIdentifier: String? {
        identifiers.keys.sorted().first.map { "\($0):\(identifiers[$0]!)" }
    }
}

extension MatchRecord {
    /// From normalised canonical fields (`national_id`, `name`, `birth_date`…), as staging stores them.
    public init(id: Int64, fields: [String: String]) {
        let name = fields["name"].flatMap(PersonName.init(normalizing:))
        let birth = fields["birth_date"].flatMap { CalendarDate(iso: $0) }
        let raw = fields["national_id_raw"].map(CitizenID.clean)
        self.init(
            id: id, nationalID: fields["national_id"], nationalIDRaw: raw, nameKey: name?.matchingKey,
            pinyinKey: name?.pinyinKey, sex: fields["sex"].flatMap(Sex.init(rawValue:)), birth: birth,
            phone: fields["phone"], division: fields["division_code"], address: fields["address"],
            identifiers: fields["passport_no"].map { ["passport": $0] } ?? [:])
    }
}
