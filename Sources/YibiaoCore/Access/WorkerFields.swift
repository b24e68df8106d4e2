/// Which canonical fields a community worker may see and change for the residents of their
/// communities. Pure: the hub enforces it on every entry and lookup, the sync client builds its
/// form and its spreadsheet template from the same list, so they cannot disagree.
public struct WorkerFields: Sendable, Hashable {
    /// Facets granted on top of the core fields (`yibiao worker add --facet civil_affairs`).
    public let facets: Set<CanonicalField.Domain>

    public init(facets: Set<CanonicalField.Domain> = []) {
        self.facets = facets.subtracting([.core])
    }

    /// What a worker verifies in person at the door. Left out on purpose: the citizen ID number
    /// (it is how the person is found; a wrong one is corrected by the district, not the form),
    /// political status (it says who is a party member: the party facet's), and identifiers of
    /// other schemes.
    public static let coreEditable: [String] = [
        "name", "sex", "birth_date", "death_date", "phone", "address", "division_code", "community_code",
        "marital_status", "household_book_no", "relationship_to_head",
    ]

    /// Shown beside the editable fields so the worker can tell they have the right person.
    public static let identifying: [String] = ["national_id", "name", "sex", "birth_date"]

    /// Every field this worker may change, in the canonical schema's order.
    public var editable: [String] {
        let core = Set(Self.coreEditable)
        return CanonicalField.all.filter { field in
            field.domain == .core ? core.contains(field.name) : facets.contains(field.domain)
        }.map(\.qualifiedName)
    }

    /// What a lookup shows: the identifying fields and the editable ones.
    public var readable: [String] {
        let fields = Set(editable + Self.identifying)
        return CanonicalField.all.map(\.qualifiedName).filter(fields.contains)
    }

    public func mayEdit(_ field: String) -> Bool { editable.contains(field) }

    /// Facet names as given on the command line: the facets, or what is wrong with the names.
    public static func parseFacets(_ names: [String]) -> (facets: Set<CanonicalField.Domain>, problem: LocalizedText?) {
        var facets: Set<CanonicalField.Domain> = []
        var unknown: [String] = []
        for name in names {
            if let domain = CanonicalField.Domain(rawValue: name), domain != .core { facets.insert(domain) } else { unknown.append(name) }
        }
        guard unknown.isEmpty else {
            let known = CanonicalField.Domain.allCases.filter { $0 != .core }.map(\.rawValue).joined(separator: ", ")
            return (
                facets,
                LocalizedText(
                    en: "not a facet: \(unknown.joined(separator: ", ")) (facets: \(known))",
                    zh: "不是信息类别：\(unknown.joined(separator: "、"))（可选：\(known)）")
            )
        }
        return (facets, nil)
    }
}
