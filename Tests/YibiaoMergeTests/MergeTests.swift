import Foundation
import Testing
import YibiaoYAML
import YibiaoCore
@testable import YibiaoMerge

@Suite struct SurvivorshipRulesTests {
    @Test("the shipped rules parse, and schemas/survivorship.yaml is what is embedded")
    func shippedRules() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("schemas/survivorship.yaml"), encoding: .utf8)
        #expect(text.trimmingCharacters(in: .newlines) == EmbeddedSurvivorshipRules.yaml, "run scripts/embed-data.sh (make build does)")
        let rules = SurvivorshipRules.standard
        #expect(rules.priority.first == "community_entry")
        #expect(rules.rule(for: "phone").strategy == .mostRecent)
        #expect(rules.rule(for: "birth_date").conflict == .trusted)
        #expect(rules.rule(for: "party.branch").strategy == .domainOwner)
        #expect(rules.rule(for: "marital_status").priority?.first == "community_entry")
        #expect(rules.owners["party"] == ["party"])
    }

    @Test(
        "mistakes name the line and key and suggest a fix",
        arguments: [
            ("version: 1\nfields: {phone: {strategy: priority}}", "priority", nil as String?),
            ("priority: [a]\nfields:\n  phone: {strategy: most_recnt}", "fields.phone.strategy", "most_recent"),
            ("priority: [a]\nfields:\n  phnoe: {strategy: priority}", "fields.phnoe", "phone"),
            ("priority: [a]\nfeilds: {}", "feilds", "fields"),
            ("priority: [a]\nfields:\n  phone: {conflict: any}", "fields.phone", nil),
            ("priority: a", "priority", nil),
            ("priority: [a]\nfields:\n  political_status: {strategy: domain_owner, domain: core}", "fields.political_status.domain", nil),
        ])
    func mistakes(text: String, key: String, hint: String?) {
        do {
            _ = try SurvivorshipRules.parse(text, fileName: "rules.yaml")
            Issue.record("accepted: \(text)")
        } catch let error as SurvivorshipRulesError {
            #expect(error.key == key)
            #expect(error.message.en.hasPrefix("rules.yaml"))
            if let hint { #expect(error.remedy?.en.contains(hint) == true, "\(error.remedy?.en ?? "no remedy")") }
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("the canonical text: the same rules give the same text, other rules another; comments do not count")
    func canonicalText() throws {
        let reparsed = try SurvivorshipRules.parse("# a comment\n" + EmbeddedSurvivorshipRules.yaml, fileName: "r.yaml")
        #expect(reparsed.canonicalText == SurvivorshipRules.standard.canonicalText)
        var changed = SurvivorshipRules.standard
        changed.fields["phone"]?.strategy = .priority
        #expect(changed.canonicalText != SurvivorshipRules.standard.canonicalText)
        #expect(SurvivorshipRules.standard.canonicalText.hasPrefix(#"{"default":{"conflict":"none","domain":null,"priority":null,"strategy":"priority"}"#))
    }

    @Test("a line number comes with errors inside the document")
    func lineNumbers() throws {
        #expect(throws: SurvivorshipRulesError.self) { try SurvivorshipRules.parse("priority: [a]\n\nfields:\n  phone: {strategy: nope}\n", fileName: "r.yaml") }
        do { _ = try SurvivorshipRules.parse("priority: [a]\n\nfields:\n  phone: {strategy: nope}\n", fileName: "r.yaml") } catch let error as SurvivorshipRulesError {
            #expect(error.line == 4)
        }
    }
}

@Suite struct GoldenRecordMergerTests {
    static let rules = SurvivorshipRules(
        priority: ["community_entry", "civil_affairs", "social_security", "family_planning", "party"],
        owners: ["party": ["party"], "social_security": ["social_security"]],
        trusted: ["community_entry", "civil_affairs", "social_security"],
        defaultRule: .init(strategy: .priority),
        facetDefault: .init(strategy: .domainOwner),
        fields: [
            "phone": .init(strategy: .mostRecent),
            "name": .init(strategy: .mostFrequent),
            "address": .init(strategy: .mostComplete),
            "birth_date": .init(strategy: .priority, conflict: .trusted),
            "death_date": .init(strategy: .priority, conflict: .any),
            "marital_status": .init(strategy: .priority, priority: ["family_planning", "civil_affairs"]),
            "political_status": .init(strategy: .domainOwner, domain: "party"),
        ])
    let merger = GoldenRecordMerger(rules: Self.rules)

    func obs(_ id: Int64, _ system: String, at time: Int64, _ values: [String: String]) -> Observation {
        Observation(recordID: id, system: system, receivedAt: time, values: values)
    }

    @Test("priority: the most trusted source wins, whatever order the records come in")
    func priority() {
        let records = [
            obs(1, "party", at: 30, ["sex": "1"]), obs(2, "civil_affairs", at: 10, ["sex": "2"]),
            obs(3, "social_security", at: 20, ["sex": "1"]),
        ]
        for permutation in [records, records.reversed(), [records[1], records[2], records[0]]] {
            let outcome = merger.merge(permutation)
            #expect(outcome.values["sex"] == FieldValue(value: "2", recordID: 2, system: "civil_affairs", rule: "priority"))
        }
    }

    @Test("a field's own order replaces the global one")
    func ownOrder() {
        let outcome = merger.merge([obs(1, "civil_affairs", at: 1, ["marital_status": "20"]), obs(2, "family_planning", at: 1, ["marital_status": "40"])])
        #expect(outcome.values["marital_status"]?.value == "40")
    }

    @Test("domain owner: the party system owns party fields and political status, others fill in when it is silent")
    func domainOwner() {
        let outcome = merger.merge([
            obs(1, "civil_affairs", at: 1, ["political_status": "13", "party.branch": "第一支部"]),
            obs(2, "party", at: 1, ["political_status": "01", "party.branch": "第二支部"]),
            obs(3, "community_entry", at: 1, ["social_security.employer_name": "某公司"]),
        ])
        #expect(outcome.values["political_status"]?.system == "party")
        #expect(outcome.values["party.branch"]?.value == "第二支部")
        #expect(outcome.values["social_security.employer_name"]?.system == "community_entry")
        #expect(outcome.values["party.branch"]?.rule == "domain_owner")
    }

    @Test("most recent: the latest received wins; a tie goes to the more trusted source")
    func mostRecent() {
        #expect(
            merger.merge([
                obs(1, "civil_affairs", at: 10, ["phone": "13800000001"]),
                obs(2, "party", at: 20, ["phone": "13800000002"]),
            ]).values["phone"]?.value == "13800000002")
        #expect(
            merger.merge([
                obs(1, "party", at: 10, ["phone": "13800000002"]),
                obs(2, "civil_affairs", at: 10, ["phone": "13800000001"]),
            ]).values["phone"]?.value == "13800000001")
    }

    @Test("most frequent: a typo in one feed does not win; a tie goes to the more trusted source")
    func mostFrequent() {
        let outcome = merger.merge([
            obs(1, "civil_affairs", at: 1, ["name": "张伟"]), obs(2, "party", at: 1, ["name": "张玮"]),
            obs(3, "social_security", at: 1, ["name": "张玮"]),
        ])
        #expect(outcome.values["name"]?.value == "张玮")
        #expect(outcome.values["name"]?.recordID == 3)
        let tie = merger.merge([obs(1, "party", at: 1, ["name": "张玮"]), obs(2, "civil_affairs", at: 1, ["name": "张伟"])])
        #expect(tie.values["name"]?.value == "张伟")
    }

    @Test("most complete: the fullest address")
    func mostComplete() {
        let outcome = merger.merge([
            obs(1, "civil_affairs", at: 1, ["address": "朝阳区幸福路1号"]),
            obs(2, "party", at: 1, ["address": "北京市朝阳区幸福路1号3单元201"]),
        ])
        #expect(outcome.values["address"]?.system == "party")
    }

    @Test("unknown systems rank after the listed ones, alphabetically; empty values are no values")
    func unknownSystems() {
        let outcome = merger.merge([
            obs(1, "zeta", at: 1, ["sex": "1"]), obs(2, "alpha", at: 1, ["sex": "2"]),
            obs(3, "civil_affairs", at: 1, ["sex": ""]),
        ])
        #expect(outcome.values["sex"]?.system == "alpha")
    }

    @Test("fields outside the canonical schema are not golden fields")
    func helpersIgnored() {
        let outcome = merger.merge([obs(1, "civil_affairs", at: 1, ["national_id_raw": "110105...", "name": "李娜"])])
        #expect(outcome.values.keys.sorted() == ["name"])
    }

    @Test("conflict policy trusted: two trusted sources disagree → a conflict; an untrusted one alone → none")
    func trustedConflict() throws {
        let disagree = merger.merge([
            obs(1, "civil_affairs", at: 1, ["birth_date": "1980-01-02"]),
            obs(2, "social_security", at: 1, ["birth_date": "1980-02-01"]),
            obs(3, "party", at: 1, ["birth_date": "1980-01-02"]),
        ])
        let conflict = try #require(disagree.conflicts["birth_date"])
        #expect(conflict.reason == .trustedSourcesDisagree)
        #expect(conflict.candidates.map(\.value) == ["1980-01-02", "1980-02-01"])
        #expect(conflict.candidates[0].systems == ["civil_affairs", "party"])
        #expect(conflict.candidates[0].records == [1, 3])
        // The rules still give a provisional value.
        #expect(disagree.values["birth_date"]?.value == "1980-01-02")
        let untrusted = merger.merge([
            obs(1, "civil_affairs", at: 1, ["birth_date": "1980-01-02"]),
            obs(2, "party", at: 1, ["birth_date": "1980-02-01"]),
        ])
        #expect(untrusted.conflicts.isEmpty)
    }

    @Test("conflict policy any: any disagreement; none: never")
    func anyAndNone() {
        #expect(
            merger.merge([
                obs(1, "civil_affairs", at: 1, ["death_date": "2020-01-01"]),
                obs(2, "party", at: 1, ["death_date": "2020-01-02"]),
            ]).conflicts["death_date"]?.reason == .sourcesDisagree)
        #expect(
            merger.merge([
                obs(1, "civil_affairs", at: 1, ["phone": "13800000001"]),
                obs(2, "social_security", at: 2, ["phone": "13800000002"]),
            ]).conflicts.isEmpty)
    }

    @Test("one record without resolutions merges as the general path merges it")
    func oneRecordAsGrouped() {
        let records = [
            obs(1, "civil_affairs", at: 5, ["name": "张伟", "sex": "1", "phone": "", "national_id_raw": "123", "party.branch": "第一支部"]),
            obs(2, "party", at: 5, ["birth_date": "1980-01-02", "death_date": "1979-05-01", "political_status": "01"]),
            obs(3, "community_entry", at: 5, ["birth_date": "1980-01", "death_date": "1980-01-15"]),
            obs(4, "social_security", at: 5, ["death_date": "2020-01-01", "social_security.employer_name": "某公司"]),
            obs(5, "other", at: 5, [:]),
        ]
        for record in records {
            #expect(merger.merge([record]) == merger.mergeGrouped([record], overrides: [:]), "record \(record.recordID)")
        }
        #expect(merger.merge([records[1]]).conflicts["death_date"]?.reason == .deathBeforeBirth)
        #expect(merger.merge([records[0]]).values["national_id_raw"] == nil, "a helper field is not a golden field")
    }

    @Test("a date of death before the date of birth is a conflict")
    func deathBeforeBirth() {
        let outcome = merger.merge([obs(1, "civil_affairs", at: 1, ["birth_date": "1980-01-02", "death_date": "1979-05-01"])])
        #expect(outcome.conflicts["death_date"]?.reason == .deathBeforeBirth)
        #expect(outcome.conflicts["death_date"]?.candidates.map(\.value) == ["1979-05-01"])
        #expect(outcome.values["death_date"] == nil, "an impossible date of death is not taken (nor logged) while the conflict is open")
        let decided = merger.merge(
            [obs(1, "civil_affairs", at: 1, ["birth_date": "1980-01-02", "death_date": "1979-05-01"])],
            overrides: ["death_date": Override(field: "death_date", value: "1979-05-01", createdAt: 2)])
        #expect(decided.values["death_date"]?.value == "1979-05-01", "a person's resolution stands")
        #expect(merger.merge([obs(1, "civil_affairs", at: 1, ["birth_date": "1980-01-02", "death_date": "2020-05-01"])]).conflicts.isEmpty)
    }

    @Test("an override holds against older values and against equal newer ones; a newer different value raises a conflict")
    func overrides() throws {
        let records = [obs(1, "civil_affairs", at: 10, ["birth_date": "1980-01-02"]), obs(2, "social_security", at: 20, ["birth_date": "1980-02-01"])]
        let resolved = merger.merge(records, overrides: ["birth_date": Override(field: "birth_date", value: "1980-02-01", createdAt: 30)])
        #expect(resolved.values["birth_date"] == FieldValue(value: "1980-02-01", recordID: nil, system: nil, rule: "override"))
        #expect(resolved.conflicts.isEmpty)
        let echoed = merger.merge(
            records + [obs(3, "civil_affairs", at: 40, ["birth_date": "1980-02-01"])],
            overrides: ["birth_date": Override(field: "birth_date", value: "1980-02-01", createdAt: 30)])
        #expect(echoed.conflicts.isEmpty)
        let newer = merger.merge(
            records + [obs(3, "civil_affairs", at: 40, ["birth_date": "1979-12-31"])],
            overrides: ["birth_date": Override(field: "birth_date", value: "1980-02-01", createdAt: 30)])
        #expect(newer.values["birth_date"]?.value == "1980-02-01", "not silently overwritten")
        let conflict = try #require(newer.conflicts["birth_date"])
        #expect(conflict.reason == .newerThanOverride)
        #expect(conflict.candidates.map(\.value) == ["1979-12-31", "1980-02-01"])
        #expect(conflict.candidates[1].systems == ["override"])
        // An override of a field no source has, and an override to "no value".
        let entered = merger.merge([], overrides: ["phone": Override(field: "phone", value: "13912345678", createdAt: 1)])
        #expect(entered.values["phone"]?.value == "13912345678")
        let blank = merger.merge(records, overrides: ["death_date": Override(field: "death_date", value: nil, createdAt: 50)])
        #expect(blank.values["death_date"] == FieldValue(value: nil, recordID: nil, system: nil, rule: "override"))
    }

    @Test("the diff: value changes are logged and written, a new source of the same value is neither; conflicts raised and superseded")
    func diff() {
        // Stored from record 1 alone; record 7 now gives the same name (most frequent: the
        // name's provenance moves) and a newer phone.
        let stored = ["name": "张伟", "phone": "13800000001", "address": "幸福路1号"]
        let outcome = merger.merge([
            obs(1, "civil_affairs", at: 1, ["name": "张伟", "phone": "13800000001"]),
            obs(
                7, "social_security", at: 2,
                [
                    "name": "张伟", "phone": "13800000002",
                    "birth_date": "1980-01-01",
                ]),
            obs(8, "civil_affairs", at: 3, ["birth_date": "1981-01-01"]),
        ])
        let old = FieldConflict(field: "sex", reason: .trustedSourcesDisagree, candidates: [])
        let diff = GoldenDiff(stored: stored, openConflicts: ["sex": old], outcome: outcome)
        #expect(
            diff.changes == [
                "phone": .init(old: "13800000001", new: "13800000002"),
                "address": .init(old: "幸福路1号", new: nil),
                "birth_date": .init(old: nil, new: "1981-01-01"),
            ])
        #expect(diff.supersede == ["sex"])
        #expect(diff.raise.map(\.field) == ["birth_date"])
        // Merging the same again against what was just stored: nothing.
        #expect(outcome.storedValues == ["name": "张伟", "phone": "13800000002", "birth_date": "1981-01-01"])
        let again = GoldenDiff(stored: outcome.storedValues, openConflicts: outcome.conflicts, outcome: outcome)
        #expect(again.isEmpty)
        // A field with no value (a person's "no value") is stored as absent: no change.
        let blank = merger.merge([], overrides: ["death_date": Override(field: "death_date", value: nil, createdAt: 5)])
        #expect(blank.values["death_date"] != nil)
        #expect(GoldenDiff(stored: [:], openConflicts: [:], outcome: blank).isEmpty)
    }

    @Test("the same disagreement is recognised across merges; a changed one replaces the open one")
    func conflictIdentity() {
        let first = merger.merge([obs(1, "civil_affairs", at: 1, ["birth_date": "1980-01-02"]), obs(2, "social_security", at: 1, ["birth_date": "1980-02-01"])])
        let newVersion = merger.merge([obs(5, "civil_affairs", at: 9, ["birth_date": "1980-01-02"]), obs(2, "social_security", at: 1, ["birth_date": "1980-02-01"])])
        #expect(GoldenDiff(stored: first.storedValues, openConflicts: first.conflicts, outcome: newVersion).raise.isEmpty)
        let changed = merger.merge([obs(5, "civil_affairs", at: 9, ["birth_date": "1980-01-03"]), obs(2, "social_security", at: 1, ["birth_date": "1980-02-01"])])
        let diff = GoldenDiff(stored: first.storedValues, openConflicts: first.conflicts, outcome: changed)
        #expect(diff.supersede == ["birth_date"])
        #expect(diff.raise.count == 1)
    }

    @Test("history: replaying change-log entries gives the record as it stood")
    func history() {
        let entries: [[String: GoldenDiff.Change]] = [
            ["name": .init(old: nil, new: "张伟"), "phone": .init(old: nil, new: "1")],
            ["phone": .init(old: "1", new: "2")],
            ["phone": .init(old: "2", new: nil)],
        ]
        #expect(GoldenHistory.state(replaying: entries.prefix(2)) == ["name": "张伟", "phone": "2"])
        #expect(GoldenHistory.state(replaying: entries) == ["name": "张伟"])
        #expect(GoldenHistory.state(replaying: []) == [:])
    }
}

@Suite struct FreeSystemNamesTests {
    @Test("a district's own system ids own domains: party_membership owns the party domain by its rules")
    func ownersByName() throws {
        let rules = try SurvivorshipRules.parse(
            """
            version: 1
            priority: [civil_affairs, party_membership]
            owners: {party: [party_membership]}
            fields:
              political_status: {strategy: domain_owner, domain: party}
            """, fileName: "district.yaml")
        let merger = GoldenRecordMerger(rules: rules)
        let outcome = merger.merge([
            Observation(recordID: 1, system: "civil_affairs", receivedAt: 20, values: ["political_status": "13", "party.branch": "旧支部"]),
            Observation(recordID: 2, system: "party_membership", receivedAt: 10, values: ["political_status": "01", "party.branch": "第一党支部"]),
        ])
        #expect(outcome.values["political_status"]?.value == "01")
        #expect(outcome.values["political_status"]?.system == "party_membership")
        #expect(outcome.values["party.branch"]?.system == "party_membership", "facets default to their domain's owner")
    }
}

@Suite struct MaskingTests {
    @Test("identifiers keep 6 + 4; short values and other text keep only their first character")
    func masking() {
        #expect(Masking.identifier("110105198503020118") == "110105********0118")
        #expect(Masking.identifier("12345") == "1****")
        #expect(Masking.cell("MZ0011,孙强,男") == "M" + String(repeating: "*", count: 10))
        #expect(Masking.cell("11010519850302011X") == "110105********011X")
        #expect(Masking.cell("") == "")
    }
}

@Suite struct PlaceholderAndFirstTests {
    func obs(_ id: Int64, _ system: String, at time: Int64, _ values: [String: String]) -> Observation {
        Observation(recordID: id, system: system, receivedAt: time, values: values)
    }

    let office = "010-65012345"

    @Test("a placeholder is dropped where a real value exists, whichever record is newer or more trusted")
    func placeholderDropped() {
        let placeholders = Placeholders(phones: [office])
        let records = [obs(1, "civil_affairs", at: 30, ["phone": office, "name": "张伟"]), obs(2, "party", at: 10, ["phone": "13812345678"])]
        for permutation in [records, records.reversed()] {
            let filtered = placeholders.filter(permutation)
            let outcome = GoldenRecordMerger().merge(filtered)
            #expect(outcome.values["phone"]?.value == "13812345678")
            // Only the placeholder goes: the record's other values stay.
            #expect(filtered.first { $0.recordID == 1 }?.values["name"] == "张伟")
        }
    }

    @Test("a placeholder that is the only value stays: nothing disappears without a trace")
    func onlyPlaceholderStays() {
        let placeholders = Placeholders(phones: [office])
        let records = [obs(1, "civil_affairs", at: 30, ["phone": office]), obs(2, "party", at: 10, ["phone": office])]
        #expect(placeholders.filter(records) == records)
        #expect(Placeholders().filter(records) == records)
        #expect(placeholders.contains("phone", office))
        #expect(!placeholders.contains("address", office))
    }

    @Test("first: a worker's entry wins before the strategy is asked; without one, the strategy decides")
    func firstSources() throws {
        let rules = try SurvivorshipRules.parse(
            """
            version: 1
            priority: [civil_affairs, community_entry]
            fields:
              address: {strategy: most_complete, first: [community_entry], conflict: none}
            """, fileName: "t.yaml")
        let merger = GoldenRecordMerger(rules: rules)
        let long = obs(1, "civil_affairs", at: 10, ["address": "北京市朝阳区幸福路1号院2号楼3单元401"])
        let entry = obs(2, "community_entry", at: 5, ["address": "北京市朝阳区建国路88号"])
        #expect(merger.merge([long, entry]).values["address"]?.value == "北京市朝阳区建国路88号")
        #expect(merger.merge([long, obs(3, "party", at: 1, ["address": "朝阳区建国路88号"])]).values["address"]?.value == long.values["address"])
        // `first` is part of the rules' fingerprint only when given.
        let without = try SurvivorshipRules.parse(
            "version: 1\npriority: [civil_affairs, community_entry]\nfields:\n  address: {strategy: most_complete, conflict: none}\n", fileName: "t.yaml")
        #expect(rules.canonicalText != without.canonicalText)
        #expect(!without.canonicalText.contains("first"))
    }
}
