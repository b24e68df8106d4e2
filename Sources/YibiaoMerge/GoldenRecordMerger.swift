import YibiaoCore

/// One source record of a resident, as the merge sees it.
public struct Observation: Sendable, Hashable {
    public let recordID: Int64
    public let system: String
    /// When it was received, in microseconds since 1970; later is more recent.
    public let receivedAt: Int64
    /// Qualified field name → canonical text (`phone`, `party.branch`).
    public let values: [String: String]

    public init(recordID: Int64, system: String, receivedAt: Int64, values: [String: String]) {
        self.recordID = recordID
        self.system = system
        self.receivedAt = receivedAt
        self.values = values
    }
}

/// A person's resolution of a field: it holds until a source sends a newer, different value.
public struct Override: Sendable, Hashable {
    public let field: String
    /// nil: the person decided the field has no value.
    public let value: String?
    public let createdAt: Int64

    public init(field: String, value: String?, createdAt: Int64) {
        self.field = field
        self.value = value
        self.createdAt = createdAt
    }
}

/// A golden value and where it came from.
public struct FieldValue: Sendable, Hashable, Codable {
    public let value: String?
    public let recordID: Int64?
    public let system: String?
    /// The strategy that chose it, or `override`.
    public let rule: String

    public init(value: String?, recordID: Int64?, system: String?, rule: String) {
        self.value = value
        self.recordID = recordID
        self.system = system
        self.rule = rule
    }
}

/// A disagreement the rules do not settle: a person decides.
public struct FieldConflict: Sendable, Hashable {
    public enum Reason: String, Sendable, Hashable, Codable {
        case trustedSourcesDisagree = "trusted_sources_disagree"
        case sourcesDisagree = "sources_disagree"
        /// A source sent a value newer than a person's resolution, and different from it.
        case newerThanOverride = "newer_than_override"
        /// The chosen date of death lies before the chosen date of birth.
        case deathBeforeBirth = "death_before_birth"
    }

    public struct Candidate: Sendable, Hashable, Codable {
        public let value: String?
        /// `override` for a person's earlier resolution.
        public let systems: [String]
        public let records: [Int64]

        public init(value: String?, systems: [String], records: [Int64]) {
            self.value = value
            self.systems = systems
            self.records = records
        }
    }

    public let field: String
    public let reason: Reason
    /// Ordered by value, so that the same disagreement is recognised again.
    public let candidates: [Candidate]

    public init(field: String, reason: Reason, candidates: [Candidate]) {
        self.field = field
        self.reason = reason
        self.candidates = candidates
    }

    /// What makes two conflicts on a field the same disagreement.
    public var identity: [String?] { [reason.rawValue] + candidates.map(\.value) }
}

/// The golden record of one resident: the chosen value of every field, and the open conflicts.
public struct MergeOutcome: Sendable, Hashable {
    public var values: [String: FieldValue] = [:]
    public var conflicts: [String: FieldConflict] = [:]
}

/// Assembles golden records from source records under survivorship rules. Pure and deterministic:
/// the same records, rules and overrides always give the same record.
public struct GoldenRecordMerger: Sendable {
    public let rules: SurvivorshipRules

    public init(rules: SurvivorshipRules = .standard) {
        self.rules = rules
    }

    /// The fields a golden record holds: every canonical field (helpers such as the raw ID text are not).
    public static let goldenFields: Set<String> = Set(CanonicalField.all.map(\.qualifiedName))

    public func merge(_ observations: [Observation], overrides: [String: Override] = [:]) -> MergeOutcome {
        if observations.count == 1, overrides.isEmpty { return merge(only: observations[0]) }
        return mergeGrouped(observations, overrides: overrides)
    }

    /// The merge of any records and resolutions: candidates grouped by field, then ranked.
    func mergeGrouped(_ observations: [Observation], overrides: [String: Override]) -> MergeOutcome {
        var byField: [String: [(observation: Observation, value: String)]] = [:]
        // Grown once, not rehashed field by field (a resident's records share most fields).
        byField.reserveCapacity(observations.map(\.values.count).max() ?? 0)
        for observation in observations {
            for (field, value) in observation.values where !value.isEmpty && Self.goldenFields.contains(field) {
                byField[field, default: []].append((observation, value))
            }
        }
        var outcome = MergeOutcome()
        outcome.values.reserveCapacity(byField.count + overrides.count)
        // Each field once: those the records give, then those only an override gives.
        for field in Array(byField.keys) + overrides.keys.filter({ byField[$0] == nil }) {
            let candidates = byField[field] ?? []
            let rule = rules.rule(for: field)
            if let override = overrides[field] {
                outcome.values[field] = FieldValue(value: override.value, recordID: nil, system: nil, rule: "override")
                let newer = candidates.filter { $0.observation.receivedAt > override.createdAt && $0.value != override.value }
                if !newer.isEmpty {
                    var listed = Self.candidates(newer)
                    listed.append(FieldConflict.Candidate(value: override.value, systems: ["override"], records: []))
                    outcome.conflicts[field] = FieldConflict(field: field, reason: .newerThanOverride, candidates: Self.sorted(listed))
                }
                continue
            }
            guard !candidates.isEmpty else { continue }
            let winner = best(of: candidates, field: field, rule: rule)
            outcome.values[field] = FieldValue(
                value: winner.value, recordID: winner.observation.recordID,
                system: winner.observation.system, rule: rule.strategy.rawValue)
            switch rule.conflict {
            case .none: break
            case .trusted:
                let trusted = candidates.filter { rules.trusted.contains($0.observation.system) }
                if Self.disagree(trusted) {
                    outcome.conflicts[field] = FieldConflict(
                        field: field, reason: .trustedSourcesDisagree,
                        candidates: Self.sorted(Self.candidates(candidates)))
                }
            case .any:
                if Self.disagree(candidates) {
                    outcome.conflicts[field] = FieldConflict(
                        field: field, reason: .sourcesDisagree,
                        candidates: Self.sorted(Self.candidates(candidates)))
                }
            }
        }
        withholdDeathBeforeBirth(&outcome, candidates: byField["death_date"] ?? [])
        return outcome
    }

    /// The merge of a resident with one record and no resolution (a person one system knows):
    /// each value is the record's, and nothing can disagree. The same outcome as the general path, without
    /// grouping candidates by field.
    func merge(only observation: Observation) -> MergeOutcome {
        var outcome = MergeOutcome()
        outcome.values.reserveCapacity(observation.values.count)
        for (field, value) in observation.values where !value.isEmpty && Self.goldenFields.contains(field) {
            outcome.values[field] = FieldValue(
                value: value, recordID: observation.recordID, system: observation.system, rule: rules.rule(for: field).strategy.rawValue)
        }
        if outcome.values["death_date"] != nil {
            withholdDeathBeforeBirth(&outcome, candidates: [(observation, observation.values["death_date"]!)])
        }
        return outcome
    }

    /// A date of death before the date of birth cannot both be right (dates known to the month
    /// count as every day of it). It is not taken into the golden record (nor logged, nor sent
    /// on) until a person decides. `candidates`: the records' dates of death.
    func withholdDeathBeforeBirth(_ outcome: inout MergeOutcome, candidates: [(observation: Observation, value: String)]) {
        guard let death = outcome.values["death_date"], let deathDate = death.value.flatMap(PartialDate.init(iso:)),
            let birth = outcome.values["birth_date"]?.value.flatMap(PartialDate.init(iso:)),
            deathDate.isCertainlyBefore(birth), death.rule != "override"
        else { return }
        if outcome.conflicts["death_date"] == nil {
            outcome.conflicts["death_date"] = FieldConflict(
                field: "death_date", reason: .deathBeforeBirth, candidates: Self.sorted(Self.candidates(candidates)))
        }
        outcome.values["death_date"] = nil
    }

    /// Two of the candidates hold different values.
    static func disagree(_ candidates: [(observation: Observation, value: String)]) -> Bool {
        guard let first = candidates.first?.value else { return false }
        return candidates.contains { $0.value != first }
    }

    /// The best candidate under the rule; every tie is broken (trust, recency, record id) so
    /// that the outcome never depends on the order records were read in.
    func best(
        of candidates: [(observation: Observation, value: String)], field: String,
        rule: SurvivorshipRules.Rule
    ) -> (observation: Observation, value: String) {
        // Most fields of most residents have one candidate: nothing to rank.
        guard candidates.count > 1 else { return candidates[0] }
        let order = rule.priority ?? rules.priority
        func trust(_ system: String) -> Int { order.firstIndex(of: system) ?? order.count }
        // What only one strategy needs is found only for it (asked for every field of most residents).
        let owners: [String] =
            if rule.strategy == .domainOwner {
                rules.owners[rule.domain ?? CanonicalField.named(field).map { $0.domain.rawValue } ?? "core"] ?? []
            } else { [] }
        var frequency: [String: Int] = [:]
        if rule.strategy == .mostFrequent { for candidate in candidates { frequency[candidate.value, default: 0] += 1 } }
        // Smaller keys rank first: the strategy's own key, then trust (systems outside the order
        // alphabetically), then recency, then record id.
        let first = rule.first ?? []
        func key(_ candidate: (observation: Observation, value: String)) -> (first: Int, strategy: Int64, trust: Int, system: String, recency: Int64, record: Int64) {
            let system = candidate.observation.system
            let rank = trust(system)
            let strategy: Int64 =
                switch rule.strategy {
                case .priority: 0
                case .domainOwner: owners.contains(system) ? 0 : 1
                case .mostRecent: -candidate.observation.receivedAt
                case .mostFrequent: -Int64(frequency[candidate.value]!)
                case .mostComplete: -Int64(candidate.value.count)
                }
            return (
                first.firstIndex(of: system) ?? first.count, strategy, rank, rank == order.count ? system : "", -candidate.observation.receivedAt,
                candidate.observation.recordID
            )
        }
        // Each candidate's key once, not once per comparison. Keys end in the record id: no two
        // are equal, so the smallest is the one a sort would put first.
        return candidates.map { (key: key($0), candidate: $0) }.min { $0.key < $1.key }!.candidate
    }

    static func candidates(_ observed: [(observation: Observation, value: String)]) -> [FieldConflict.Candidate] {
        var grouped: [String: (systems: Set<String>, records: [Int64])] = [:]
        for (observation, value) in observed {
            grouped[value, default: ([], [])].systems.insert(observation.system)
            grouped[value, default: ([], [])].records.append(observation.recordID)
        }
        return grouped.map { FieldConflict.Candidate(value: $0.key, systems: $0.value.systems.sorted(), records: $0.value.records.sorted()) }
    }

    static func sorted(_ candidates: [FieldConflict.Candidate]) -> [FieldConflict.Candidate] {
        candidates.sorted { ($0.value ?? "", $0.systems.joined()) < ($1.value ?? "", $1.systems.joined()) }
    }
}

/// What a merge changes against the stored golden record: its values (provenance is not
/// stored; it is the merge itself, computed again when asked for).
public struct GoldenDiff: Sendable, Hashable {
    public struct Change: Sendable, Hashable, Codable {
        public let old: String?
        public let new: String?

        public init(old: String?, new: String?) {
            self.old = old
            self.new = new
        }
    }

    /// Fields whose value changed: what the change log records, and what must be written.
    public var changes: [String: Change] = [:]
    /// Conflicts to raise (new disagreements).
    public var raise: [FieldConflict] = []
    /// Fields whose open conflict is over (the sources now agree, or it changed into another).
    public var supersede: [String] = []

    public var isEmpty: Bool { changes.isEmpty && raise.isEmpty && supersede.isEmpty }

    /// `stored`: the golden values as stored (a field without a value is absent).
    public init(stored: [String: String], openConflicts: [String: FieldConflict], outcome: MergeOutcome) {
        // Every field either side has, once (no set of them, no order: `changes` is keyed).
        // A new golden record changes every field it has.
        if stored.isEmpty { changes.reserveCapacity(outcome.values.count) }
        for (field, value) in outcome.values where stored[field] != value.value {
            changes[field] = Change(old: stored[field], new: value.value)
        }
        for (field, old) in stored where outcome.values[field] == nil {
            changes[field] = Change(old: old, new: nil)
        }
        for field in Set(openConflicts.keys).union(outcome.conflicts.keys).sorted() {
            let old = openConflicts[field], new = outcome.conflicts[field]
            if old?.identity == new?.identity { continue }
            if old != nil { supersede.append(field) }
            if let new { raise.append(new) }
        }
    }
}

extension MergeOutcome {
    /// The values a golden record stores: every field that has one.
    public var storedValues: [String: String] { values.compactMapValues(\.value) }
}

/// The golden record at a past time, replayed from change-log entries (oldest first).
public enum GoldenHistory {
    public static func state(replaying changes: some Sequence<[String: GoldenDiff.Change]>) -> [String: String] {
        var state: [String: String] = [:]
        for entry in changes {
            for (field, change) in entry { state[field] = change.new }
        }
        return state
    }
}
