public import Foundation
public import YibiaoCore
import YibiaoAdapters

/// Generates a synthetic district: a population in households, four noisy feeds in the shipped
/// adapters' formats, and the ground truth. Deterministic for a seed; streamed household by
/// household, so memory does not grow with the population (only a 6 MB ID bitmap).
public final class DistrictSynthesizer {
    public struct Configuration: Sendable {
        public var residents: Int
        public var seed: UInt64
        public var noise: Double = 1
        public var district = "110105"
        /// The day the exports were taken; fixed so that output does not depend on the clock.
        public var asOf = CalendarDate(year: 2025, month: 12, day: 31)!

        public init(residents: Int, seed: UInt64) {
            self.residents = residents
            self.seed = seed
        }
    }

    public struct Summary: Sendable, Codable {
        public var residents = 0
        public var households = 0
        public var deceased = 0
        public var records: [String: Int] = [:]
        /// Injected noise by kind, over all feeds.
        public var injected: [String: Int] = [:]
    }

    public static let feeds = ["civil_affairs", "family_planning", "party", "social_security"]
    /// Bumped whenever the feeds' columns change, so that a district generated before is not reused.
    public static let layoutVersion = 2

    let configuration: Configuration
    let noise: NoiseProfile
    let output: URL
    private var ids = IDAllocator()
    private var summary = Summary()
    private var keyCounters: [String: Int] = [:]
    private var recentAdults: [SynthPerson] = []
    private let districtName: String

    private var civil: CSVWriter!
    private var familyPlanning: XLSXWriter!
    private var party: XMLRecordWriter!
    private var socialSecurity: JSONLinesWriter!
    private var truth: TextOutput!
    private var population: TextOutput!

    public init(configuration: Configuration, output: URL) {
        self.configuration = configuration
        self.noise = NoiseProfile().scaled(by: configuration.noise)
        self.output = output
        self.districtName = DivisionCodeTable.standard.fullName(configuration.district) ?? "某区"
    }

    /// Writes everything to the output directory; `progress` gets the residents done so far.
    public func run(progress: (Int) -> Void = { _ in }) throws -> Summary {
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        civil = try CSVWriter(url: output.appendingPathComponent("civil_affairs.csv"), columns: FeedLayout.civilAffairs, encoding: .gb18030)
        familyPlanning = try XLSXWriter(url: output.appendingPathComponent("family_planning.xlsx"), sheetName: "育龄妇女及家庭")
        try familyPlanning.append(FeedLayout.familyPlanning)
        party = try XMLRecordWriter(
            output: TextOutput(url: output.appendingPathComponent("party.xml")), rootElement: "党员信息",
            rootAttributes: [("导出单位", "党工委")], recordElement: "党员", columns: FeedLayout.party)
        socialSecurity = try JSONLinesWriter(url: output.appendingPathComponent("social_security.jsonl"), columns: FeedLayout.socialSecurity)
        truth = try TextOutput(url: output.appendingPathComponent("truth.csv"))
        population = try TextOutput(url: output.appendingPathComponent("population.csv"))
        try truth.write("feed,source_key,person_id,noise\n")
        try population.write("person_id,household_id,name,sex,birth_date,national_id,relationship,household_book,alive,death_date\n")

        var household = 0
        var lastReported = 0
        while summary.residents < configuration.residents {
            var rng = SeededGenerator(seed: configuration.seed, stream: UInt64(household))
            let members = makeHousehold(household, rng: &rng)
            household += 1
            summary.households += 1
            for person in members {
                summary.residents += 1
                if !person.isAlive { summary.deceased += 1 }
                try population.write(
                    [
                        String(person.id), String(person.householdID), person.name, person.sex.rawValue,
                        person.birth.iso, person.nationalID, person.relationship, person.householdBook,
                        person.isAlive ? "1" : "0", person.deathDate?.iso ?? "",
                    ].joined(separator: ",") + "\n")
                try writeFeeds(for: person, household: members, rng: &rng)
            }
            if summary.residents - lastReported >= 10_000 {
                lastReported = summary.residents
                progress(summary.residents)
            }
        }
        try civil.finish()
        try familyPlanning.finish()
        try party.finish()
        try socialSecurity.finish()
        try truth.finish()
        try population.finish()
        try writeManifest()
        progress(summary.residents)
        return summary
    }

    // MARK: Households

    private func birthDate(age: Int, rng: inout SeededGenerator) -> CalendarDate {
        let latest = configuration.asOf.daysSinceEpoch - age * 365 - Int(Double(age) * 0.2422)
        return CalendarDate(daysSinceEpoch: latest - rng.int(0...364))!
    }

    private func givenName(_ sex: Sex, rng: inout SeededGenerator) -> String {
        let pool = sex == .male ? NameTables.maleGiven : NameTables.femaleGiven
        return rng.chance(0.8) ? rng.pick(pool) + rng.pick(pool) : rng.pick(pool)
    }

    private func address(rng: inout SeededGenerator) -> String {
        let street = rng.pick(NameTables.streets)
        if rng.chance(0.2) { return "\(districtName)\(street)\(rng.int(1...200))号" }
        return "\(districtName)\(street)\(rng.int(1...60))号\(rng.pick(NameTables.compounds))\(rng.int(1...30))号楼\(rng.int(1...6))单元\(rng.int(1...24))\((rng.int(1...4)).zeroPadded(2))"
    }

    private func mobile(rng: inout SeededGenerator) -> String {
        rng.pick(["13", "15", "18", "17", "19"]) + String(rng.int(0...9)) + (rng.int(0...99_999_999)).zeroPadded(8)
    }

    private func makeID(birth: CalendarDate, sex: Sex, bornHere: Bool, rng: inout SeededGenerator, near: Int? = nil) -> (String, Int) {
        let division = bornHere ? configuration.district : rng.pick(NameTables.birthplaces)
        let sequence = ids.allocate(birth: birth, sex: sex, rng: &rng, near: near)
        let body = division + birth.compact + (sequence).zeroPadded(3)
        return (body + String(CitizenID.checkCharacter(forFirst17: body.utf8.map { Int($0) - 48 })), sequence)
    }

    private struct Member {
        var sex: Sex
        var age: Int
        var relationship: String
        var surname: String?
        var twinOf: Int?
    }

    private func makeHousehold(_ index: Int, rng: inout SeededGenerator) -> [SynthPerson] {
        let asOf = configuration.asOf
        var plan: [Member] = []
        let type = rng.weighted([("family", 0.30), ("couple", 0.12), ("single", 0.14), ("elderly", 0.14), ("widowed", 0.10), ("three", 0.20)])
        func couple(_ ageRange: ClosedRange<Int>) {
            let husband = rng.int(ageRange)
            plan.append(Member(sex: .male, age: husband, relationship: "02"))
            plan.append(Member(sex: .female, age: max(husband + rng.int(-6...3), 20), relationship: "12"))
        }
        func children(motherAge: Int, count: Int, relationship: (Sex) -> String) {
            var previous: Int?
            for _ in 0..<count {
                let sex: Sex = rng.chance(0.51) ? .male : .female
                // A twin shares the birth date of the previous child.
                if let last = previous, rng.chance(0.015) {
                    plan.append(Member(sex: sex, age: last, relationship: relationship(sex), twinOf: plan.count - 1))
                    continue
                }
                let age = max(motherAge - rng.int(22...38), 0)
                previous = age
                plan.append(Member(sex: sex, age: age, relationship: relationship(sex)))
            }
        }
        switch type {
        case "family":
            couple(28...52)
            children(motherAge: plan[1].age, count: rng.weighted([(1, 0.55), (2, 0.38), (3, 0.07)])) { $0 == .male ? "20" : "30" }
        case "couple":
            couple(23...38)
        case "single":
            plan.append(Member(sex: rng.chance(0.5) ? .male : .female, age: rng.int(19...62), relationship: "02"))
        case "elderly":
            couple(60...92)
        case "widowed":
            plan.append(Member(sex: rng.chance(0.7) ? .female : .male, age: rng.int(65...98), relationship: "02"))
        default:
            couple(30...50)
            children(motherAge: plan[1].age, count: rng.weighted([(1, 0.7), (2, 0.3)])) { $0 == .male ? "20" : "30" }
            let grandparentAge = plan[0].age + rng.int(24...34)
            plan.append(Member(sex: .male, age: grandparentAge, relationship: "51"))
            if rng.chance(0.6) { plan.append(Member(sex: .female, age: grandparentAge - rng.int(0...4), relationship: "52")) }
        }

        let transliterated = rng.chance(0.015)
        let familySurname = NameTables.surnameChoice.pick(using: &rng)
        let motherSurname = NameTables.surnameChoice.pick(using: &rng)
        let grandmotherSurname = NameTables.surnameChoice.pick(using: &rng)
        let fatherGiven = transliterated ? rng.pick(NameTables.transliteratedMale) : ""
        let book = "\(configuration.district)-\((index + 1).zeroPadded(7))"
        let homeAddress = address(rng: &rng)
        let moved = rng.chance(0.06)
        let oldAddress = moved ? address(rng: &rng) : nil
        let landline = "010-" + String(rng.int(5...8)) + (rng.int(0...9_999_999)).zeroPadded(7)
        let bornHere = rng.chance(0.8)
        let dibao = rng.chance(0.025)

        var people: [SynthPerson] = []
        var sequences: [Int] = []
        for (position, member) in plan.enumerated() {
            var birth = birthDate(age: member.age, rng: &rng)
            var preferredSequence: Int?
            if let twin = member.twinOf, twin < people.count {
                birth = people[twin].birth
                preferredSequence = sequences[twin] + 1
            }
            let name: String
            if transliterated {
                let given = member.sex == .male ? rng.pick(NameTables.transliteratedMale) : rng.pick(NameTables.transliteratedFemale)
                name = given + "·" + (member.relationship == "20" || member.relationship == "30" ? fatherGiven : rng.pick(NameTables.transliteratedMale))
            } else {
                let surname: String =
                    switch member.relationship {
                    case "12": motherSurname
                    case "52": grandmotherSurname
                    case "20", "30": rng.chance(0.01) ? familySurname + motherSurname : familySurname
                    default: familySurname
                    }
                name = surname + givenName(member.sex, rng: &rng)
            }
            let born = member.relationship == "20" || member.relationship == "30" ? (bornHere || rng.chance(0.5)) : rng.chance(0.75)
            let (id, sequence) = makeID(birth: birth, sex: member.sex, bornHere: born, rng: &rng, near: preferredSequence)
            sequences.append(sequence)
            let adult = member.age >= 18
            var person = SynthPerson(
                id: summary.residents + position + 1, householdID: index + 1, name: name, sex: member.sex, birth: birth,
                nationalID: id, relationship: member.relationship, householdBook: book, address: homeAddress,
                phone: adult ? (member.age >= 75 && rng.chance(0.5) ? landline : mobile(rng: &rng)) : nil,
                marital: "10")
            if moved {
                person.previousAddress = oldAddress
                if adult, rng.chance(0.5) { person.previousPhone = mobile(rng: &rng) }
            }
            switch member.relationship {
            case "02" where plan.count > 1 && plan[1].relationship == "12", "12", "51", "52":
                person.marital = rng.chance(0.1) ? "22" : "20"
            case "02":
                person.marital = type == "widowed" ? "30" : (member.age < 30 || rng.chance(0.5) ? "10" : "40")
            default:
                person.marital = member.age >= 22 && rng.chance(0.3) ? "20" : "10"
            }
            if member.age >= 70, rng.chance(0.015) {
                person.deathDate = CalendarDate(daysSinceEpoch: asOf.daysSinceEpoch - rng.int(30...1000))
            }
            if adult, rng.chance(member.sex == .male && member.age >= 60 ? 0.12 : 0.06) {
                person.isPartyMember = true
                let joinAge = rng.int(18...min(max(member.age, 18), 45))
                person.partyJoined = CalendarDate(daysSinceEpoch: birth.daysSinceEpoch + joinAge * 365 + rng.int(0...364))
                if let joined = person.partyJoined, joined > asOf { person.partyJoined = CalendarDate(daysSinceEpoch: asOf.daysSinceEpoch - rng.int(10...300)) }
                person.partyProbationary = (person.partyJoined.map { asOf.daysSinceEpoch - $0.daysSinceEpoch < 365 }) ?? false
                person.partyMobile = rng.chance(0.05)
                person.partyBranch = member.age >= 65 ? "离退休党支部" : rng.pick(NameTables.partyBranches)
            }
            if (18...59).contains(member.age), rng.chance(0.8) { person.employer = rng.pick(NameTables.employers) }
            person.dibao = dibao
            if member.age >= 16, rng.chance(0.015) { person.disability = (rng.int(1...7), rng.int(1...4)) }
            people.append(person)
        }
        // Children counts for parents; elderly couples have children living elsewhere.
        let kids = people.filter { $0.relationship == "20" || $0.relationship == "30" }
        for index in people.indices where ["02", "12"].contains(people[index].relationship) {
            if type == "elderly" || type == "widowed" {
                let count = rng.weighted([(1, 0.7), (2, 0.25), (3, 0.05)])
                people[index].childrenCount = count
                people[index].sons = rng.int(0...count)
                people[index].daughters = count - people[index].sons
            } else if !kids.isEmpty {
                people[index].childrenCount = kids.count
                people[index].sons = kids.filter { $0.sex == .male }.count
                people[index].daughters = kids.count - people[index].sons
            }
        }
        // Unrelated namesakes born the same day exist in every district.
        if let first = people.first, first.age(on: asOf) >= 18, !recentAdults.isEmpty, rng.chance(0.004) {
            let model = rng.pick(recentAdults)
            if model.sex == first.sex {
                let (id, _) = makeID(birth: model.birth, sex: model.sex, bornHere: rng.chance(0.5), rng: &rng)
                people[0] = SynthPerson(
                    id: first.id, householdID: first.householdID, name: model.name, sex: model.sex,
                    birth: model.birth, nationalID: id, relationship: first.relationship,
                    householdBook: first.householdBook, address: first.address, phone: first.phone,
                    marital: first.marital)
            }
        }
        for person in people where person.age(on: asOf) >= 18 {
            if recentAdults.count < 200 { recentAdults.append(person) } else { recentAdults[rng.int(0...199)] = person }
        }
        return people
    }

    // MARK: Feeds

    private func nextKey(_ feed: String) -> Int {
        keyCounters[feed, default: 0] += 1
        return keyCounters[feed]!
    }

    private func writeFeeds(for person: SynthPerson, household: [SynthPerson], rng: inout SeededGenerator) throws {
        let asOf = configuration.asOf
        let age = person.age(on: asOf)
        func included(_ probability: Double) -> Bool {
            rng.chance(probability) && (person.isAlive || rng.chance(noise.deceasedLingering))
        }
        let spouse = household.first { $0.id != person.id && ["02", "12"].contains($0.relationship) && ["02", "12"].contains(person.relationship) }
        var social = 0.0
        if (18...59).contains(age) { social = 0.85 } else if age >= 60 { social = 0.8 }
        var family = 0.0
        if person.sex == .female, (20...49).contains(age), spouse != nil || person.childrenCount > 0 { family = 0.85 }
        if person.sex == .male, (20...55).contains(age), spouse != nil, person.childrenCount > 0 { family = 0.6 }
        if age >= 60, person.childrenCount == 1, ["02", "12"].contains(person.relationship) { family = 0.7 }
        var civilChance = 0.0
        if age >= 80 { civilChance = 0.95 }
        if person.dibao || person.disability != nil { civilChance = 1 }
        if civilChance == 0, spouse != nil, (20...45).contains(age) { civilChance = 0.2 }

        let feeds: [(String, Double)] = [
            ("civil_affairs", civilChance), ("family_planning", family),
            ("party", person.isPartyMember ? 0.98 : 0), ("social_security", social),
        ]
        for (feed, probability) in feeds where included(probability) {
            let copies = rng.chance(noise.duplicateRecord) ? 2 : 1
            for copy in 0..<copies {
                var record = NoisyRecord(person: person, feed: feed)
                applyNoise(&record, rng: &rng, duplicate: copy > 0)
                let key = try write(record, feed: feed, rng: &rng)
                try truth.write("\(feed),\(key),\(person.id),\(record.injected.joined(separator: ";"))\n")
                summary.records[feed, default: 0] += 1
                for tag in record.injected { summary.injected[tag, default: 0] += 1 }
            }
        }
    }

    struct NoisyRecord {
        let person: SynthPerson
        let feed: String
        var nationalID: String
        var name: String
        var birth: CalendarDate
        var birthSwapped = false
        var phone: String?
        var address: String
        var injected: [String] = []

        init(person: SynthPerson, feed: String) {
            self.person = person
            self.feed = feed
            nationalID = person.nationalID
            name = person.name
            birth = person.birth
            phone = person.phone
            address = person.address
        }
    }

    private func applyNoise(_ record: inout NoisyRecord, rng: inout SeededGenerator, duplicate: Bool) {
        let person = record.person
        if duplicate { record.injected.append("duplicate") }
        // ID number: at most one fault.
        let roll = Double(rng.next() >> 11) / Double(1 << 53)
        var threshold = noise.missingID
        if roll < threshold {
            record.nationalID = ""
            record.injected.append("id_missing")
        } else if roll
            < {
                threshold += noise.mistypedID
                return threshold
            }()
        {
            var digits = Array(record.nationalID)
            let position = rng.int(0...16)
            let original = digits[position]
            repeat { digits[position] = Character(String(rng.int(0...9))) } while digits[position] == original
            record.nationalID = String(digits)
            record.injected.append("id_mistyped")
        } else if roll
            < {
                threshold += noise.transposedID
                return threshold
            }()
        {
            var digits = Array(record.nationalID)
            let candidates = (6...15).filter { digits[$0] != digits[$0 + 1] }
            if let position = candidates.isEmpty ? nil : rng.pick(candidates) {
                digits.swapAt(position, position + 1)
                record.nationalID = String(digits)
                record.injected.append("id_transposed")
            }
        } else if person.birth.year < 1985, person.birth.year >= 1900, rng.chance(noise.fifteenDigitID) {
            record.nationalID = String(record.nationalID.prefix(6)) + String(record.nationalID.dropFirst(8).prefix(9))
            record.injected.append("id_15_digit")
        } else if record.feed == "family_planning", rng.chance(noise.excelDamagedID) {
            record.nationalID = String(format: "%.11E", Double(record.nationalID.prefix(17)) ?? 0).replacingOccurrences(of: "E+", with: "E+")
            record.injected.append("id_excel_damaged")
        } else if rng.chance(noise.formattedID) {
            switch rng.int(0...2) {
            case 0: record.nationalID = record.nationalID.lowercased()
            case 1: record.nationalID = String(record.nationalID.prefix(6)) + " " + String(record.nationalID.dropFirst(6).prefix(8)) + " " + String(record.nationalID.suffix(4))
            default: record.nationalID = String(record.nationalID.unicodeScalars.map { $0.properties.numericType != nil ? Character(Unicode.Scalar($0.value + 0xFEE0)!) : Character($0) })
            }
            record.injected.append("id_formatted")
        }
        // Name.
        if record.name.unicodeScalars.contains("·") {
            if rng.chance(noise.middleDotVariant) {
                record.name = record.name.replacingOccurrences(of: "·", with: rng.pick(["・", "•", ".", "", "．", "‧"]))
                record.injected.append("name_dot_variant")
            }
        } else if rng.chance(noise.traditionalName) {
            let converted = String(record.name.map { NameTables.traditional[$0] ?? $0 })
            if converted != record.name {
                record.name = converted
                record.injected.append("name_traditional")
            }
        } else if rng.chance(noise.homophoneName) {
            var characters = Array(record.name)
            let positions = characters.indices.dropFirst().filter { NameTables.homophones[characters[$0]] != nil }
            if let position = positions.isEmpty ? nil : rng.pick(Array(positions)) {
                characters[position] = rng.pick(NameTables.homophones[characters[position]]!)
                record.name = String(characters)
                record.injected.append("name_homophone")
            }
        }
        // Birth date: day and month swapped where both could be months.
        if person.birth.day <= 12, person.birth.day != person.birth.month, rng.chance(noise.swappedDayMonth),
            let swapped = CalendarDate(year: person.birth.year, month: person.birth.day, day: person.birth.month)
        {
            record.birth = swapped
            record.birthSwapped = true
            record.injected.append("birth_swapped")
        }
        // Moves: this system was not told.
        if let old = person.previousAddress, rng.chance(noise.staleAfterMove) {
            record.address = old
            if let oldPhone = person.previousPhone { record.phone = oldPhone }
            record.injected.append("stale_after_move")
        }
        if record.feed == "civil_affairs" || record.feed == "family_planning", rng.chance(noise.placeholderPhone) {
            record.phone = CommunityOffice.phone
            record.injected.append("placeholder_phone")
        }
        if !person.isAlive { record.injected.append("deceased") }
    }

    private func write(_ record: NoisyRecord, feed: String, rng: inout SeededGenerator) throws -> String {
        let person = record.person
        let asOf = configuration.asOf
        switch feed {
        case "civil_affairs":
            let key = "MZ" + (nextKey(feed)).zeroPadded(7)
            let elderly = person.age(on: asOf) >= 80
            try civil.append([
                key, record.name, person.sex == .male ? "男" : "女", record.nationalID,
                "\(record.birth.year)/\(record.birth.month)/\(record.birth.day)",
                ["10": "未婚", "20": "已婚", "22": "再婚", "30": "丧偶", "40": "离异"][person.marital] ?? "未说明",
                record.phone ?? "", record.address, person.dibao ? "是" : "否",
                person.dibao ? "DB" + (person.householdID).zeroPadded(6) : "",
                person.dibao ? String(format: "%.2f", Double(800 + person.householdID % 700)) : "",
                person.disability.map { disability in person.nationalID + "\(disability.category)\(disability.grade)" } ?? "",
                person.disability.map { String($0.category) } ?? "", person.disability.map { String($0.grade) } ?? "",
                elderly ? "是" : "否", CommunityOffice.code(forAddress: record.address, district: configuration.district) ?? "",
            ])
            return key
        case "family_planning":
            let key = "JS-" + (nextKey(feed)).zeroPadded(7)
            let serial = record.birth.daysSinceEpoch - CalendarDate(year: 1899, month: 12, day: 30)!.daysSinceEpoch
            let relationship = ["02": "户主", "12": "妻", "20": "子", "30": "女", "51": "父亲", "52": "母亲"][person.relationship] ?? "其他"
            let oneChild = person.childrenCount == 1 && person.age(on: asOf) >= 45
            try familyPlanning.append(mixed: [
                .text(key), .text(record.name), .text(person.sex == .male ? "男" : "女"),
                record.nationalID.isEmpty ? .empty : (record.injected.contains("id_excel_damaged") ? .number(record.nationalID) : .text(record.nationalID)),
                .number(String(serial)), .text(["10": "未婚", "20": "初婚", "22": "再婚", "30": "丧偶", "40": "离婚"][person.marital] ?? "未说明"),
                .text(person.householdBook), .text(relationship), .number(String(person.childrenCount)),
                .number(String(person.sons)), .number(String(person.daughters)),
                oneChild ? .text("DS" + (person.householdID).zeroPadded(7)) : .empty,
                oneChild ? .number(String(serial + 30 * 365)) : .empty, record.phone.map { .text($0) } ?? .empty,
            ])
            return key
        case "party":
            let key = "DY" + (nextKey(feed)).zeroPadded(7)
            let joined = person.partyJoined
            let confirmed = joined.flatMap { person.partyProbationary ? nil : CalendarDate(daysSinceEpoch: $0.daysSinceEpoch + 365) }
            func dotted(_ date: CalendarDate?) -> String {
                guard let date else { return "" }
                return date.year.zeroPadded(4) + "." + date.month.zeroPadded(2) + "." + date.day.zeroPadded(2)
            }
            let dues = CalendarDate(year: asOf.year, month: rng.int(1...12), day: 1)!
            try party.append([
                key, record.name, person.sex.rawValue, record.nationalID, dotted(record.birth),
                person.partyProbationary ? "中共预备党员" : "中共党员", person.partyBranch,
                person.partyProbationary ? "预备党员" : "正式党员", joined?.iso ?? "",
                confirmed?.iso ?? "", person.partyMobile ? "流动" : "正常", dues.iso, record.phone ?? "",
            ])
            return key
        default:
            let key = "31" + nextKey(feed).zeroPadded(8)
            let retired = person.age(on: asOf) >= 60
            let employer = person.employer
            let employerIndex = employer.flatMap { NameTables.employers.firstIndex(of: $0) } ?? 0
            let employerCode = employer == nil ? "" : "91110105MA" + employerIndex.zeroPadded(2)
            try socialSecurity.append([
                key, record.nationalID, record.name, person.sex.rawValue, record.birth.compact, employerCode, employer ?? "",
                person.isAlive ? "1" : "2", retired ? "3" : (employer == nil ? "2" : "1"),
                retired ? "110,310" : (employer == nil ? "110" : "110,210,310,410,510"),
                CalendarDate(daysSinceEpoch: person.birth.daysSinceEpoch + min(22, max(person.age(on: asOf), 18)) * 365)!.compact,
                record.phone ?? "",
            ])
            return key
        }
    }

    private func writeManifest() throws {
        struct Manifest: Codable {
            let residents: Int
            let seed: UInt64
            let noise: Double
            let district: String
            let asOf: String
            let noiseRates: NoiseProfile
            let summary: Summary
        }
        let manifest = Manifest(
            residents: configuration.residents, seed: configuration.seed, noise: configuration.noise,
            district: configuration.district, asOf: configuration.asOf.iso, noiseRates: noise, summary: summary)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(manifest).write(to: output.appendingPathComponent("manifest.json"))
    }
}

/// The number a community office types in for residents without a phone.
public enum CommunityOffice {
    public static let phone = "010-65012345"

    /// The community whose office keeps the address: each street belongs to one community, three
    /// communities to a street office (county + street + community, 12 digits).
    public static func code(forAddress address: String, district: String) -> String? {
        guard let street = NameTables.streets.firstIndex(where: { address.contains($0) }) else { return nil }
        return district + (street / 3 + 1).zeroPadded(3) + (street % 3 + 1).zeroPadded(3)
    }

    /// Every community of a synthetic district.
    public static func communities(district: String) -> [String] {
        NameTables.streets.indices.map { district + ($0 / 3 + 1).zeroPadded(3) + ($0 % 3 + 1).zeroPadded(3) }
    }
}
