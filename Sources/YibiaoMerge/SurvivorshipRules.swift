import YibiaoCore
import Yams
public import YibiaoYAML

/// How each golden field is chosen, and which disagreements need a person
/// (`schemas/survivorship.yaml`, documented in docs/merge.md).
public struct SurvivorshipRules: Sendable, Hashable {
    public enum Strategy: String, Sendable, Hashable, CaseIterable {
        /// The most trusted source (the rule's own order, else the global one).
        case priority
        /// The system owning the field's domain, then the priority order.
        case domainOwner = "domain_owner"
        /// The value received last.
        case mostRecent = "most_recent"
        /// The value most records agree on.
        case mostFrequent = "most_frequent"
        /// The longest value (the fullest address).
        case mostComplete = "most_complete"
    }

    public enum ConflictPolicy: String, Sendable, Hashable, CaseIterable {
        case none
        /// Two trusted sources disagree.
        case trusted
        /// Any two sources disagree.
        case any
    }

    public struct Rule: Sendable, Hashable {
        public var strategy: Strategy
        public var conflict: ConflictPolicy
        /// Replaces the global order for this field.
        public var priority: [String]?
        /// For `domain_owner` on a core field: whose domain it is.
        public var domain: String?
        /// Sources whose value wins before the strategy is asked (`first: [community_entry]`: a
        /// worker's verified entry of a new address wins over a longer old one).
        public var first: [String]?

        public init(
            strategy: Strategy, conflict: ConflictPolicy = .none, priority: [String]? = nil, domain: String? = nil, first: [String]? = nil
        ) {
            self.strategy = strategy
            self.conflict = conflict
            self.priority = priority
            self.domain = domain
            self.first = first
        }
    }

    public var priority: [String]
    public var owners: [String: [String]]
    public var trusted: Set<String>
    public var defaultRule: Rule
    public var facetDefault: Rule
    public var fields: [String: Rule]

    public init(
        priority: [String], owners: [String: [String]] = [:], trusted: Set<String> = [],
        defaultRule: Rule = Rule(strategy: .priority), facetDefault: Rule = Rule(strategy: .domainOwner),
        fields: [String: Rule] = [:]
    ) {
        self.priority = priority
        self.owners = owners
        self.trusted = trusted
        self.defaultRule = defaultRule
        self.facetDefault = facetDefault
        self.fields = fields
    }

    /// The rule for a qualified field name (`phone`, `party.branch`).
    public func rule(for field: String) -> Rule {
        if let rule = fields[field] { return rule }
        return field.contains(".") ? facetDefault : defaultRule
    }

    /// The rules in one canonical JSON form: equal rules, equal text (comments and layout of the
    /// file do not count). Golden records remember it, so that other rules recompute them.
    public var canonicalText: String {
        func json(_ rule: Rule) -> CanonicalJSON {
            var members: [String: CanonicalJSON] = [
                "strategy": .string(rule.strategy.rawValue), "conflict": .string(rule.conflict.rawValue),
                "priority": rule.priority.map { .array($0.map(CanonicalJSON.string)) } ?? .null, "domain": .optional(rule.domain),
            ]
            // Only when given: rules written before `first` existed keep their fingerprint.
            if let first = rule.first { members["first"] = .array(first.map(CanonicalJSON.string)) }
            return .object(members)
        }
        return CanonicalJSON.object([
            "priority": .array(priority.map(CanonicalJSON.string)),
            "owners": .object(owners.mapValues { .array($0.map(CanonicalJSON.string)) }),
            "trusted": .array(trusted.sorted().map(CanonicalJSON.string)),
            "default": json(defaultRule), "facet_default": json(facetDefault), "fields": .object(fields.mapValues(json)),
        ]).text
    }

    /// The rules shipped in `schemas/survivorship.yaml`.
    public static let standard: SurvivorshipRules = {
        do { return try parse(EmbeddedSurvivorshipRules.yaml, fileName: "survivorship.yaml") } catch {
            preconditionFailure("the embedded survivorship rules do not parse: \(error)")
        }
    }()
}

/// A mistake in a rules file: which line and key, and what to do.
public typealias SurvivorshipRulesError = SpecFileError

extension SurvivorshipRules {
    /// Parses and checks a rules file; every mistake names its line and key.
    public static func parse(_ text: String, fileName: String) throws -> SurvivorshipRules {
        let yaml = YAMLWalker(fileName: fileName, kind: .rules)
        return try RulesParser(yaml: yaml).rules(try yaml.root(of: text))
    }
}

private struct RulesParser {
    let yaml: YAMLWalker

    func systems(_ node: Node, key: String) throws -> [String] {
        try yaml.strings(node, key: key, example: "[civil_affairs, party]")
    }

    func rule(_ node: Node, key: String) throws -> SurvivorshipRules.Rule {
        var rule = SurvivorshipRules.Rule(strategy: .priority)
        var sawStrategy = false
        for (name, _, value) in try yaml.entries(node, path: key, allowed: ["strategy", "conflict", "priority", "domain", "first"]) {
            switch name {
            case "strategy":
                rule.strategy = try yaml.choice(value, key: "\(key).strategy", as: SurvivorshipRules.Strategy.self)
                sawStrategy = true
            case "conflict": rule.conflict = try yaml.choice(value, key: "\(key).conflict", as: SurvivorshipRules.ConflictPolicy.self)
            case "priority": rule.priority = try systems(value, key: "\(key).priority")
            case "first": rule.first = try systems(value, key: "\(key).first")
            default:
                let domain = try yaml.string(value, key: "\(key).domain")
                guard CanonicalField.Domain(rawValue: domain) != nil, domain != "core" else {
                    throw yaml.fail(
                        value, key: "\(key).domain", en: "`\(domain)` is not a facet domain",
                        zh: "`\(domain)` 不是专题领域",
                        fixEN: "one of civil_affairs, family_planning, party, social_security")
                }
                rule.domain = domain
            }
        }
        guard sawStrategy else {
            throw yaml.fail(
                node, key: key, en: "the rule has no strategy", zh: "该规则缺少 strategy",
                fixEN: "add strategy: priority (or domain_owner, most_recent, most_frequent, most_complete)",
                fixZH: "请添加 strategy: priority（或 domain_owner、most_recent、most_frequent、most_complete）")
        }
        return rule
    }

    func rules(_ root: Node) throws -> SurvivorshipRules {
        var rules = SurvivorshipRules(priority: [])
        var sawPriority = false
        for (key, _, value) in try yaml.entries(
            root, path: "",
            allowed: [
                "version", "priority", "owners", "trusted", "default", "facet_default", "fields",
            ])
        {
            switch key {
            case "version":
                guard try yaml.string(value, key: key) == "1" else {
                    throw yaml.fail(value, key: key, en: "only version 1 is known", zh: "仅支持 version 1")
                }
            case "priority":
                rules.priority = try systems(value, key: key)
                sawPriority = true
            case "owners":
                for (domain, _, list) in try yaml.entries(value, path: key, allowed: CanonicalField.Domain.allCases.filter { $0 != .core }.map(\.rawValue)) {
                    rules.owners[domain] = try systems(list, key: "owners.\(domain)")
                }
            case "trusted": rules.trusted = Set(try systems(value, key: key))
            case "default": rules.defaultRule = try rule(value, key: key)
            case "facet_default": rules.facetDefault = try rule(value, key: key)
            default:
                let known = CanonicalField.all.map(\.qualifiedName)
                for (field, fieldNode, ruleNode) in try yaml.entries(value, path: key, allowed: []) {
                    guard CanonicalField.named(field) != nil else {
                        let hint = Suggestion.nearest(to: field, in: known)
                        throw yaml.fail(
                            fieldNode, key: "fields.\(field)", en: "`\(field)` is not a canonical field",
                            zh: "`\(field)` 不是标准字段",
                            fixEN: hint.map { "did you mean `\($0)`?" } ?? "facet fields are written domain.field, e.g. party.branch",
                            fixZH: hint.map { "是否应为 `\($0)`？" } ?? "专题字段写作 领域.字段，如 party.branch")
                    }
                    rules.fields[field] = try rule(ruleNode, key: "fields.\(field)")
                }
            }
        }
        guard sawPriority, !rules.priority.isEmpty else {
            throw yaml.fail(
                root, key: "priority", en: "the rules need a priority list of sources", zh: "规则需要来源优先级列表 priority",
                fixEN: "e.g. priority: [community_entry, civil_affairs, social_security]")
        }
        return rules
    }
}
