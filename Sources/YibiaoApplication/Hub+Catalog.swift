public import Foundation
public import YibiaoCore
import YibiaoMerge
import YibiaoAdapters
import YibiaoStore

/// The district's "account book" (一本账) of data: every canonical field and facet, which systems
/// hold it and which receive it, who owns it by the survivorship rules, its code table, how
/// sensitive it is, who reads it, and how many residents have a value.
public struct DataCatalog: Sendable {
    public enum Sensitivity: String, Sendable {
        /// A sensitive domain (PIPL art. 28): party membership, family planning.
        case sensitive
        /// An identifier or phone number: masked unless granted in full.
        case identifier
        case personal

        public var label: LocalizedText {
            switch self {
            case .sensitive: LocalizedText(en: "sensitive (PIPL art. 28)", zh: "敏感（个保法第28条）")
            case .identifier: LocalizedText(en: "identifier, masked by default", zh: "标识号，默认遮盖")
            case .personal: LocalizedText(en: "personal", zh: "个人信息")
            }
        }
    }

    public struct Entry: Sendable {
        public var field: String
        public var label: LocalizedText
        /// `core`, or the facet's domain.
        public var domain: String
        public var codeTable: String?
        public var sensitivity: Sensitivity
        /// System → its current records with a value.
        public var inbound: [String: Int]
        /// Systems sent the field when it changes.
        public var outbound: [String]
        /// Whose value wins, as the rules say.
        public var owner: String
        /// Active consumers granted the field.
        public var consumers: [String]
        /// Forms (`forms/`) with a column taking the field, or selecting by it.
        public var forms: [String] = []
        public var residentsWithValue: Int
        /// Share of active residents with a value.
        public var coverage: Double
    }

    public var district: String
    public var asOf: Date
    public var activeResidents: Int
    public var entries: [Entry]
}

extension Hub {
    /// The catalogue of `district`'s data, from the canonical schema, the rules, the outbound
    /// adapters, the consumers' grants, the forms and the counts of values. Audited as a read.
    /// `forms`: the district's form specs, for the forms using each field.
    public func catalog(district: String, reader: String, forms: [FormSpec] = []) async throws -> DataCatalog {
        let counts = try await FieldCounts.load(client, district: district, logger: logger)
        let outbound = try await OutboundSystems(district: district, logger: logger).load(client)
        let consumers = try await listConsumers(district: district).filter(\.active)
        var formsByField: [String: Set<String>] = [:]
        for form in forms {
            for field in form.columns.compactMap(\.field) + (form.selection == nil ? [] : ["birth_date"]) { formsByField[field, default: []].insert(form.id) }
        }
        let entries = CanonicalField.all.map { field in
            let name = field.qualifiedName
            var codeTable: String?
            if case .code(let table) = field.kind { codeTable = table }
            let sensitivity: DataCatalog.Sensitivity =
                field.domain.isSensitive ? .sensitive : AccessGrant.maskedByDefault.contains(name) ? .identifier : .personal
            let inbound = counts.inbound.compactMapValues { $0[name] }
            let withValue = counts.golden[name] ?? 0
            return DataCatalog.Entry(
                field: name, label: field.label, domain: field.domain.rawValue, codeTable: codeTable, sensitivity: sensitivity,
                inbound: inbound, outbound: outbound.values.filter { $0.mapper.fields.contains(name) }.map(\.id).sorted(),
                owner: Self.owner(of: field, rules: rules), consumers: consumers.filter { $0.grant.allows(name) }.map(\.id).sorted(),
                forms: (formsByField[name] ?? []).sorted(),
                residentsWithValue: withValue, coverage: counts.activeResidents == 0 ? 0 : Double(withValue) / Double(counts.activeResidents))
        }
        try await audit(district, actor: reader, "catalog", AuditLog.Detail(count: entries.count))
        return DataCatalog(district: district, asOf: Date(), activeResidents: counts.activeResidents, entries: entries)
    }

    /// The rule that picks the field's golden value, said in a few words.
    static func owner(of field: CanonicalField, rules: SurvivorshipRules) -> String {
        let rule = rules.rule(for: field.qualifiedName)
        let first = rule.first.map { $0.joined(separator: ", ") + " first; then " } ?? ""
        switch rule.strategy {
        case .priority:
            return first + ((rule.priority ?? rules.priority).first.map { "\($0) (priority)" } ?? "priority")
        case .domainOwner:
            let domain = rule.domain ?? field.domain.rawValue
            return first + ((rules.owners[domain]?.first ?? rules.priority.first).map { "\($0) (owns \(domain))" } ?? "domain owner")
        case .mostRecent, .mostFrequent, .mostComplete:
            return first + rule.strategy.rawValue.replacingOccurrences(of: "_", with: " ")
        }
    }
}
