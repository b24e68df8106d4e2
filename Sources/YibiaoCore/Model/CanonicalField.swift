/// The canonical resident schema: every field a feed may map to, its kind and its domain.
/// Minimum necessary (PIPL art. 6): there is deliberately no field for ethnicity, religion or
/// free-text remarks.
public struct CanonicalField: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case text
        case citizenID
        case name
        case date
        case sex
        case phone
        case division
        /// A community's 12-digit statistical code (county + street + community).
        case community
        case code(table: String)
        case integer
        case decimal
        case boolean
        /// One of a fixed set of values.
        case choice([String])
        /// Several values, `;`-separated in feeds.
        case list
    }

    public enum Domain: String, Sendable, Hashable, CaseIterable {
        case core
        case civilAffairs = "civil_affairs"
        case familyPlanning = "family_planning"
        case party
        case socialSecurity = "social_security"

        /// Party membership and family planning are sensitive (PIPL art. 28).
        public var isSensitive: Bool { self == .party || self == .familyPlanning }
    }

    public let name: String
    public let kind: Kind
    public let domain: Domain
    public let label: LocalizedText

    /// `name` for core fields, `domain.name` for facet fields. Kept, not formed when asked:
    /// staging asks it of every field of every row.
    public let qualifiedName: String

    init(_ name: String, _ kind: Kind, _ domain: Domain, en: String, zh: String) {
        self.name = name
        self.kind = kind
        self.domain = domain
        self.label = LocalizedText(en: en, zh: zh)
        self.qualifiedName = domain == .core ? name : "\(domain.rawValue).\(name)"
    }
}

extension CanonicalField {
    public static let all: [CanonicalField] = [
        .init("national_id", .citizenID, .core, en: "citizen ID number", zh: "公民身份号码"),
        .init("name", .name, .core, en: "name", zh: "姓名"),
        .init("sex", .sex, .core, en: "sex", zh: "性别"),
        .init("birth_date", .date, .core, en: "date of birth", zh: "出生日期"),
        .init("death_date", .date, .core, en: "date of death", zh: "死亡日期"),
        .init("phone", .phone, .core, en: "phone", zh: "联系电话"),
        .init("address", .text, .core, en: "address", zh: "住址"),
        .init("division_code", .division, .core, en: "division code", zh: "行政区划代码"),
        // The community (社区/村) the resident is registered with: what a community office's view
        // and a worker's scope are drawn by.
        .init("community_code", .community, .core, en: "community code", zh: "所属社区代码"),
        .init("marital_status", .code(table: "marital-status"), .core, en: "marital status", zh: "婚姻状况"),
        .init("political_status", .code(table: "political-status"), .core, en: "political status", zh: "政治面貌"),
        .init("household_book_no", .text, .core, en: "household register number", zh: "户口簿号"),
        .init("relationship_to_head", .code(table: "family-relationship"), .core, en: "relationship to the head of household", zh: "与户主关系"),
        .init("passport_no", .text, .core, en: "passport number", zh: "护照号码"),
        // Another country's personal number (social security, national insurance): an identifier
        // for matching like the passport, for residents without a citizen ID.
        .init("social_security_no", .text, .core, en: "social security number (other schemes)", zh: "社会保障号码（其他体系）"),

        .init("subsistence_allowance", .boolean, .civilAffairs, en: "subsistence allowance (dibao)", zh: "低保"),
        .init("subsistence_certificate_no", .text, .civilAffairs, en: "dibao certificate number", zh: "低保证号"),
        .init("subsistence_amount", .decimal, .civilAffairs, en: "dibao amount", zh: "低保金额"),
        .init("subsistence_since", .date, .civilAffairs, en: "dibao since", zh: "低保起始日期"),
        .init("extreme_poverty_support", .choice(["centralised", "dispersed"]), .civilAffairs, en: "extreme poverty support", zh: "特困供养"),
        .init("disability_certificate_no", .text, .civilAffairs, en: "disability certificate number", zh: "残疾证号"),
        .init("disability_category", .integer, .civilAffairs, en: "disability category", zh: "残疾类别"),
        .init("disability_grade", .integer, .civilAffairs, en: "disability grade", zh: "残疾等级"),
        .init("elderly_allowance", .boolean, .civilAffairs, en: "elderly allowance", zh: "高龄津贴"),

        .init("birth_service_certificate_no", .text, .familyPlanning, en: "birth service certificate number", zh: "生育服务证号"),
        .init("one_child_certificate_no", .text, .familyPlanning, en: "one-child certificate number", zh: "独生子女证号"),
        .init("one_child_certificate_date", .date, .familyPlanning, en: "one-child certificate date", zh: "独生子女证发证日期"),
        .init("children_count", .integer, .familyPlanning, en: "number of children", zh: "现有子女数"),
        .init("sons_count", .integer, .familyPlanning, en: "number of sons", zh: "男孩数"),
        .init("daughters_count", .integer, .familyPlanning, en: "number of daughters", zh: "女孩数"),

        .init("branch", .text, .party, en: "party branch", zh: "所在支部"),
        .init("member_status", .choice(["full", "probationary"]), .party, en: "member status", zh: "党员状态"),
        .init("relation_type", .choice(["normal", "mobile"]), .party, en: "organisational relation", zh: "组织关系类型"),
        .init("joined_on", .date, .party, en: "joined the party", zh: "入党时间"),
        .init("confirmed_on", .date, .party, en: "full membership since", zh: "转正时间"),
        .init("transferred_in_on", .date, .party, en: "relation transferred in", zh: "关系转入时间"),
        .init("dues_paid_until", .date, .party, en: "dues paid until", zh: "党费缴至"),

        .init("person_number", .text, .socialSecurity, en: "social security person number (aac001)", zh: "个人编号"),
        .init("employer_code", .text, .socialSecurity, en: "employer code (aab001)", zh: "单位编号"),
        .init("employer_name", .text, .socialSecurity, en: "employer name (aab004)", zh: "单位名称"),
        .init("insured_status", .text, .socialSecurity, en: "insured status (aac008)", zh: "参保状态"),
        .init("payment_status", .choice(["1", "2", "3"]), .socialSecurity, en: "payment status (aac031)", zh: "缴费状态"),
        .init("insurance_types", .list, .socialSecurity, en: "insurance types (aae140)", zh: "险种"),
        .init("first_insured_on", .date, .socialSecurity, en: "first insured (aac049)", zh: "首次参保时间"),
    ]

    private static let byQualifiedName = Dictionary(uniqueKeysWithValues: all.map { ($0.qualifiedName, $0) })

    public static func named(_ qualifiedName: String) -> CanonicalField? { byQualifiedName[qualifiedName] }

    public static func fields(in domain: Domain) -> [CanonicalField] { all.filter { $0.domain == domain } }
}

/// The closest candidates to a misspelt name (Levenshtein distance), for "did you mean" hints.
public enum Suggestion {
    public static func nearest(to word: String, in candidates: [String], maxDistance: Int = 4) -> String? {
        var best: (String, Int)?
        for candidate in candidates {
            let distance = levenshtein(Array(word.lowercased()), Array(candidate.lowercased()))
            if distance <= maxDistance, distance < (best?.1 ?? .max) { best = (candidate, distance) }
        }
        return best?.0
    }

    static func levenshtein(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
