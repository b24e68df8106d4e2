import Foundation
import Testing
import YibiaoAdapters
import YibiaoCore
import YibiaoSynth
import YibiaoTestSupport

let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// One 20,000-resident district shared by the statistical tests (generating it takes seconds).
final class SharedDistrict: @unchecked Sendable {
    static let shared = SharedDistrict()
    let directory: URL
    let summary: DistrictSynthesizer.Summary
    let people: [Int: [String]]
    /// (feed, key) → (person id, noise tags)
    let truth: [String: (Int, Set<String>)]

    private init() {
        directory = try! TestDatabase.makeTemporaryDirectory(prefix: "yibiao-synth")
        summary = try! DistrictSynthesizer(configuration: .init(residents: 20_000, seed: 42), output: directory).run()
        var people: [Int: [String]] = [:]
        for line in try! String(contentsOf: directory.appendingPathComponent("population.csv"), encoding: .utf8).split(separator: "\n").dropFirst() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            people[Int(fields[0])!] = fields
        }
        self.people = people
        var truth: [String: (Int, Set<String>)] = [:]
        for line in try! String(contentsOf: directory.appendingPathComponent("truth.csv"), encoding: .utf8).split(separator: "\n").dropFirst() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            truth[fields[0] + "/" + fields[1]] = (Int(fields[2])!, Set(fields[3].split(separator: ";").map(String.init)))
        }
        self.truth = truth
    }

    func records(_ feed: String) throws -> [MappedRecord] {
        let adapter = try FeedAdapterRegistry.load(repository.appendingPathComponent("adapters/\(feed).yaml").path)
        let file = [
            "civil_affairs": "civil_affairs.csv", "family_planning": "family_planning.xlsx",
            "party": "party.xml", "social_security": "social_security.jsonl",
        ][feed]!
        var records: [MappedRecord] = []
        try adapter.read(directory.appendingPathComponent(file), today: CalendarDate(year: 2026, month: 1, day: 1)!) { outcome in
            switch outcome {
            case .record(let record): records.append(record)
            case .quarantined(let issue): Issue.record("\(feed): quarantined \(issue)")
            }
        }
        return records
    }
}

@Suite struct SynthDeterminismTests {
    @Test("the same seed gives byte-identical files; another seed does not")
    func deterministic() throws {
        let base = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-synth-det")
        defer { try? FileManager.default.removeItem(at: base) }
        for (name, seed) in [("a", UInt64(5)), ("b", 5), ("c", 6)] {
            _ = try DistrictSynthesizer(configuration: .init(residents: 3_000, seed: seed), output: base.appendingPathComponent(name)).run()
        }
        for file in ["civil_affairs.csv", "family_planning.xlsx", "party.xml", "social_security.jsonl", "truth.csv", "population.csv", "manifest.json"] {
            let a = try Data(contentsOf: base.appendingPathComponent("a/\(file)"))
            let b = try Data(contentsOf: base.appendingPathComponent("b/\(file)"))
            let c = try Data(contentsOf: base.appendingPathComponent("c/\(file)"))
            #expect(a == b, "\(file) differs between two runs with one seed")
            #expect(a != c || file == "manifest.json", "\(file) is the same for two seeds")
        }
    }

    @Test("noise 0 gives clean feeds")
    func clean() throws {
        let base = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-synth-clean")
        defer { try? FileManager.default.removeItem(at: base) }
        var configuration = DistrictSynthesizer.Configuration(residents: 2_000, seed: 3)
        configuration.noise = 0
        let summary = try DistrictSynthesizer(configuration: configuration, output: base).run()
        #expect(summary.injected.keys.filter { $0 != "deceased" }.isEmpty, "\(summary.injected)")
    }
}

@Suite struct SynthShapeTests {
    let district = SharedDistrict.shared
    let asOf = CalendarDate(year: 2025, month: 12, day: 31)!

    func age(_ fields: [String]) -> Int {
        let parts = fields[4].split(separator: "-").map { Int($0)! }
        return CalendarDate(year: parts[0], month: parts[1], day: parts[2])!.years(until: asOf)
    }

    @Test("population: size, valid unique IDs consistent with sex and birth date")
    func population() throws {
        #expect(district.people.count >= 20_000 && district.people.count < 20_010)
        var seen: Set<String> = []
        for (_, fields) in district.people {
            let id = try CitizenID.parse(fields[5], today: asOf).get()
            #expect(id.birthDate.iso == fields[4])
            #expect(id.sex.rawValue == fields[3])
            #expect(seen.insert(fields[5]).inserted, "duplicate ID")
        }
        let bornHere = district.people.values.filter { $0[5].hasPrefix("110105") }.count
        #expect(Double(bornHere) / Double(district.people.count) > 0.6)
        #expect(Double(bornHere) / Double(district.people.count) < 0.95)
    }

    @Test("households: one book each, spouses present, children born when the mother was 14–50")
    func households() {
        let byHousehold = Dictionary(grouping: district.people.values, by: { $0[1] })
        #expect(byHousehold.count == district.summary.households)
        var checkedChildren = 0
        for (_, members) in byHousehold {
            #expect(Set(members.map { $0[7] }).count == 1)
            #expect(members.filter { $0[6] == "02" }.count == 1)
            guard let mother = members.first(where: { $0[6] == "12" }) else { continue }
            for child in members where child[6] == "20" || child[6] == "30" {
                let difference = age(mother) - age(child)
                #expect((14...50).contains(difference), "mother \(age(mother)), child \(age(child))")
                checkedChildren += 1
            }
        }
        #expect(checkedChildren > 2_000)
        let sizes = byHousehold.values.map(\.count)
        #expect(Double(sizes.reduce(0, +)) / Double(sizes.count) > 2.2)
    }

    @Test("twins and unrelated same-name-same-birthday strangers exist")
    func twinsAndNamesakes() {
        let byHousehold = Dictionary(grouping: district.people.values, by: { $0[1] })
        let twins = byHousehold.values.filter { members in
            let kids = members.filter { $0[6] == "20" || $0[6] == "30" }
            return Set(kids.map { $0[4] }).count < kids.count
        }
        #expect(twins.count >= 3)
        let byNameAndBirth = Dictionary(grouping: district.people.values, by: { $0[2] + "|" + $0[4] })
        let strangers = byNameAndBirth.values.filter { group in group.count > 1 && Set(group.map { $0[1] }).count > 1 }
        #expect(strangers.count >= 5)
    }

    @Test("names: compound surnames, middle-dot names, realistic top surname share")
    func names() {
        let names = district.people.values.map { $0[2] }
        #expect(names.contains { $0.hasPrefix("欧阳") || $0.hasPrefix("司马") || $0.hasPrefix("上官") || $0.hasPrefix("司徒") })
        #expect(names.filter { $0.contains("·") }.count > 50)
        let wang = Double(names.filter { $0.hasPrefix("王") }.count) / Double(names.count)
        #expect(wang > 0.04 && wang < 0.11)
    }

    @Test("coverage per feed matches the design")
    func coverage() {
        var inFeed: [String: Set<Int>] = [:]
        for (key, value) in district.truth { inFeed[String(key.split(separator: "/")[0]), default: []].insert(value.0) }
        let alive = district.people.values.filter { $0[8] == "1" }
        func share(_ feed: String, _ people: [[String]]) -> Double {
            Double(people.filter { inFeed[feed]?.contains(Int($0[0])!) == true }.count) / Double(max(people.count, 1))
        }
        let working = alive.filter { (18...59).contains(age($0)) }
        let retired = alive.filter { age($0) >= 60 }
        let veryOld = alive.filter { age($0) >= 80 }
        let adults = alive.filter { age($0) >= 18 }
        let kids = alive.filter { age($0) < 16 }
        #expect((0.78...0.92).contains(share("social_security", working)))
        #expect((0.72...0.88).contains(share("social_security", retired)))
        #expect(share("social_security", kids) == 0)
        #expect(share("civil_affairs", veryOld) > 0.9)
        #expect((0.04...0.12).contains(share("party", adults)))
        #expect(share("party", kids) == 0)
        let mothers = alive.filter { $0[6] == "12" && (20...49).contains(age($0)) }
        #expect(share("family_planning", mothers) > 0.75)
        // Each feed has keys of its own.
        #expect(district.truth.keys.filter { $0.hasPrefix("party/") }.allSatisfy { $0.hasPrefix("party/DY") })
    }

    @Test("noise rates within tolerance of the documented defaults")
    func noiseRates() {
        let total = Double(district.truth.count)
        func rate(_ tag: String) -> Double { Double(district.truth.values.filter { $0.1.contains(tag) }.count) / total }
        #expect(abs(rate("id_missing") - 0.03) < 0.01)
        #expect(abs(rate("id_mistyped") - 0.0097) < 0.005)
        #expect(rate("id_transposed") > 0.002 && rate("id_transposed") < 0.01)
        #expect(rate("duplicate") > 0.006 && rate("duplicate") < 0.015)
        #expect(rate("name_traditional") > 0.01 && rate("name_traditional") < 0.04)
        #expect(rate("name_homophone") > 0.002)
        #expect(rate("stale_after_move") > 0.01)
        #expect(rate("id_15_digit") > 0.005)
        // The office's number is shared by many unrelated people.
        let placeholder = district.truth.values.filter { $0.1.contains("placeholder_phone") }.map(\.0)
        #expect(Set(placeholder).count > 20)
        #expect(district.truth.values.contains { $0.1.contains("deceased") })
    }

    @Test("feeds read back through the shipped adapters: nothing quarantined; ID problems only where injected; clean IDs are the true ones")
    func readBack() throws {
        for feed in DistrictSynthesizer.feeds {
            let records = try district.records(feed)
            #expect(records.count == district.summary.records[feed])
            for record in records {
                guard let (person, tags) = district.truth[feed + "/" + record.sourceKey] else {
                    Issue.record("\(feed) \(record.sourceKey) not in truth")
                    continue
                }
                let idTags = tags.filter { $0.hasPrefix("id_") && $0 != "id_formatted" && $0 != "id_15_digit" }
                if record.problems.contains(where: { $0.field == "national_id" }) {
                    #expect(!idTags.isEmpty, "\(feed) \(record.sourceKey): an ID problem that was not injected")
                }
                if idTags.isEmpty {
                    #expect(record.fields["national_id"] == district.people[person]?[5], "\(feed) \(record.sourceKey)")
                }
            }
        }
    }
}
