/// What a downstream consumer may see: which canonical fields and facets, which of them masked,
/// which communities' residents, which systems' local keys. Pure: the API, the change feed and
/// extracts all filter through the same `view`, so they cannot disagree.
public struct AccessGrant: Sendable, Hashable, Codable {
    /// Canonical fields granted one by one (qualified names: `phone`, `civil_affairs.subsistence_allowance`).
    public var fields: Set<String>
    /// Whole facets granted, each with its purpose (required for the sensitive ones).
    public var facets: [String: String]
    /// Fields shown in full that are masked by default.
    public var unmasked: Set<String>
    /// Fields masked that are shown in full by default.
    public var masked: Set<String>
    /// Systems whose local keys a cross-reference may show.
    public var systems: Set<String>
    /// Empty: the whole district.
    public var communities: Set<String>

    public init(
        fields: Set<String> = [], facets: [String: String] = [:], unmasked: Set<String> = [], masked: Set<String> = [],
        systems: Set<String> = [], communities: Set<String> = []
    ) {
        self.fields = fields
        self.facets = facets
        self.unmasked = unmasked
        self.masked = masked
        self.systems = systems
        self.communities = communities
    }

    /// How a value is shown.
    public enum Mask: String, Sendable, Hashable {
        case none, identifier, phone, name, address, date
    }

    /// Identifiers and phones are masked unless granted in full (DESIGN.md, "Privacy by design").
    public static let maskedByDefault: Set<String> = [
        "national_id", "phone", "passport_no", "social_security_no", "household_book_no",
        "civil_affairs.subsistence_certificate_no", "civil_affairs.disability_certificate_no",
        "family_planning.birth_service_certificate_no", "family_planning.one_child_certificate_no",
        "social_security.person_number",
    ]

    public func allows(_ field: String) -> Bool {
        guard let canonical = CanonicalField.named(field) else { return false }
        return fields.contains(field) || (canonical.domain != .core && facets[canonical.domain.rawValue] != nil)
    }

    /// Every field the grant lets through, in the canonical schema's order.
    public var allowedFields: [String] {
        CanonicalField.all.map(\.qualifiedName).filter(allows)
    }

    public func mask(for field: String) -> Mask {
        let masked = (Self.maskedByDefault.contains(field) && !unmasked.contains(field)) || self.masked.contains(field)
        guard masked, let canonical = CanonicalField.named(field) else { return .none }
        return Self.maskKind(canonical) ?? .none
    }

    /// The mask a field takes when masked, or nil when masking it would mean nothing (a code,
    /// a number, yes/no): such a field is granted or not, never half-shown.
    public static func maskKind(_ field: CanonicalField) -> Mask? {
        switch field.kind {
        case .citizenID: .identifier
        case .phone: .phone
        case .name: .name
        case .date: .date
        case .text where field.name == "address": .address
        case .text: .identifier
        default: nil
        }
    }

    public func show(_ value: String, field: String) -> String {
        switch mask(for: field) {
        case .none: value
        case .identifier: Masking.identifier(value)
        case .phone: Masking.phone(value)
        case .name: Masking.name(value)
        case .address: Masking.address(value)
        case .date: Masking.date(value)
        }
    }

    /// A golden record (qualified field → value) as this consumer sees it: ungranted fields left
    /// out — not blanked, so that their existence does not show — and the rest masked.
    public func view(_ record: [String: String]) -> [String: String] {
        var shown: [String: String] = [:]
        for (field, value) in record where allows(field) { shown[field] = show(value, field: field) }
        return shown
    }

    /// One change-log entry's changes (field → old, new) as this consumer sees them; empty when it
    /// touched nothing the consumer may see.
    public func view(changes: [String: (old: String?, new: String?)]) -> [String: (old: String?, new: String?)] {
        var shown: [String: (old: String?, new: String?)] = [:]
        for (field, change) in changes where allows(field) {
            shown[field] = (change.old.map { show($0, field: field) }, change.new.map { show($0, field: field) })
        }
        return shown
    }

    /// Whether a resident of `community` (nil: none known) is in scope.
    public func covers(community: String?) -> Bool {
        communities.isEmpty || community.map(communities.contains) == true
    }

    /// A system's local keys are shown only when granted, and a sensitive system's only with its
    /// facet: having a record in the party system says the person is a member.
    public func maySeeKeys(of system: String, domain: CanonicalField.Domain?) -> Bool {
        guard systems.contains(system) else { return false }
        guard let domain, domain.isSensitive else { return true }
        return facets[domain.rawValue] != nil
    }

    // MARK: Checking a grant as a person wrote it

    public struct Problem: Error, Sendable, Hashable {
        public let message: LocalizedText
    }

    /// Every problem with the grant, so that a person fixes them in one go.
    public func problems(knownSystems: [String: CanonicalField.Domain]) -> [Problem] {
        var problems: [Problem] = []
        let names = CanonicalField.all.map(\.qualifiedName)
        for field in (fields.union(unmasked).union(masked)).sorted() where CanonicalField.named(field) == nil {
            let hint = Suggestion.nearest(to: field, in: names)
            problems.append(
                Problem(
                    message: LocalizedText(
                        en: "\(field) is not a canonical field" + (hint.map { "; did you mean \($0)?" } ?? ""),
                        zh: "\(field) 不是标准字段" + (hint.map { "；是否要写 \($0)？" } ?? ""))))
        }
        for field in fields.sorted() {
            guard let canonical = CanonicalField.named(field), canonical.domain.isSensitive, facets[canonical.domain.rawValue] == nil
            else { continue }
            problems.append(
                Problem(
                    message: LocalizedText(
                        en: "\(field) belongs to the sensitive \(canonical.domain.rawValue) facet: grant the facet with a purpose (--facet \(canonical.domain.rawValue)=PURPOSE)",
                        zh: "\(field) 属于敏感的 \(canonical.domain.rawValue) 分类：请连同用途授予该分类（--facet \(canonical.domain.rawValue)=用途）")))
        }
        let domains = Set(CanonicalField.Domain.allCases.filter { $0 != .core }.map(\.rawValue))
        for (facet, purpose) in facets.sorted(by: { $0.key < $1.key }) {
            if !domains.contains(facet) {
                problems.append(
                    Problem(
                        message: LocalizedText(
                            en: "\(facet) is not a facet; facets are \(domains.sorted().joined(separator: ", "))",
                            zh: "\(facet) 不是分类；分类有 \(domains.sorted().joined(separator: "、"))")))
            } else if CanonicalField.Domain(rawValue: facet)?.isSensitive == true,
                purpose.allSatisfy(\.isWhitespace)
            {
                problems.append(
                    Problem(
                        message: LocalizedText(
                            en: "the \(facet) facet is sensitive (PIPL art. 28): state the purpose it is granted for (--facet \(facet)=PURPOSE)",
                            zh: "\(facet) 分类属于敏感个人信息（个人信息保护法第二十八条）：请写明授予的用途（--facet \(facet)=用途）")))
            }
        }
        for field in masked.sorted() {
            guard let canonical = CanonicalField.named(field), Self.maskKind(canonical) == nil else { continue }
            problems.append(
                Problem(
                    message: LocalizedText(
                        en: "\(field) cannot be shown half-masked (it is a code or a number): leave it out of the grant instead",
                        zh: "\(field) 是代码或数值，无法部分遮盖：如不应看到，请不要授予该字段")))
        }
        for field in unmasked.union(masked).sorted() where CanonicalField.named(field) != nil && !allows(field) {
            problems.append(
                Problem(
                    message: LocalizedText(
                        en: "\(field) is given a masking rule but is not granted", zh: "\(field) 设置了遮盖方式，但并未授予该字段")))
        }
        for system in systems.sorted() {
            guard let domain = knownSystems[system] else {
                let known = knownSystems.keys.sorted()
                problems.append(
                    Problem(
                        message: LocalizedText(
                            en: "\(system) is not a known system; known: \(known.joined(separator: ", "))",
                            zh: "\(system) 不是已知系统；已知系统：\(known.joined(separator: "、"))")))
                continue
            }
            if domain.isSensitive, facets[domain.rawValue] == nil {
                problems.append(
                    Problem(
                        message: LocalizedText(
                            en: "\(system)'s keys tell that a person is in it (sensitive): grant the \(domain.rawValue) facet with a purpose too",
                            zh: "\(system) 的编号本身即表明此人在该系统中（敏感信息）：须同时连同用途授予 \(domain.rawValue) 分类")))
            }
        }
        for community in communities.sorted() {
            if case .failure(let error) = DivisionCodeTable.standard.validateCommunity(community) {
                problems.append(Problem(message: LocalizedText(en: "\(community): \(error.message.en)", zh: "\(community)：\(error.message.zh)")))
            }
        }
        if fields.isEmpty && facets.isEmpty {
            problems.append(
                Problem(
                    message: LocalizedText(
                        en: "the grant names no field and no facet: give --fields and/or --facet",
                        zh: "授权未包含任何字段或分类：请给出 --fields 和/或 --facet")))
        }
        return problems
    }
}
