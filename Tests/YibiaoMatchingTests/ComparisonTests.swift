import Foundation
import Testing
import YibiaoCore
@testable import YibiaoMatching

@Suite struct ComparisonTests {
    func record(_ id: Int64, _ fields: [String: String]) -> MatchRecord { MatchRecord(id: id, fields: fields) }

    @Test("Jaro-Winkler reference values")
    func jaroWinkler() {
        #expect(abs(StringSimilarity.jaroWinkler("martha", "marhta") - 0.9611) < 0.001)
        #expect(abs(StringSimilarity.jaroWinkler("dwayne", "duane") - 0.84) < 0.001)
        #expect(StringSimilarity.jaroWinkler("", "") == 1)
        #expect(StringSimilarity.jaroWinkler("abc", "") == 0)
        #expect(StringSimilarity.jaroWinkler("zhangwei", "zhangwei") == 1)
    }

    @Test("Jaro-Winkler on Han names and texts longer than a stack buffer; bigram overlap as sets")
    func similarityBeyondASCII() {
        #expect(StringSimilarity.jaroWinkler("欧阳娜娜", "欧阳娜") > 0.9)
        #expect(StringSimilarity.jaroWinkler("张伟", "李娜") == 0)
        let long = String(repeating: "北京市朝阳区建国路", count: 400)
        #expect(StringSimilarity.jaroWinkler(long, long + "甲") > 0.99)
        #expect(StringSimilarity.characterBigramJaccard(long, long) == 1)
        // Repeated pairs count once: {ab, ba} against {ab}.
        #expect(StringSimilarity.characterBigramJaccard("abab", "ab") == 0.5)
        #expect(StringSimilarity.characterBigramJaccard("甲", "甲") == 1)
        #expect(StringSimilarity.characterBigramJaccard("", "甲") == 0)
        #expect(StringSimilarity.bigrams("abab") == [UInt64(97) << 32 | 98, UInt64(98) << 32 | 97])
    }

    @Test("a phone's or an address's holders are the different names it is given with")
    func holders() {
        var records: [MatchRecord] = []
        let people: [(name: String, phone: String?, address: String?)] = [
            ("张伟", "13800000001", "甲路1号"), ("张伟", "13800000001", "甲路1号"), ("李娜", "13800000001", "甲路1号"),
            ("王芳", "13800000001", nil), ("赵敏", "13800000002", "乙路2号"), ("赵敏", "13800000002", "乙路2号"),
            ("孙丽", nil, "乙路2号"), ("周杰", "13800000003", "丙路3号"),
        ]
        for (index, person) in people.enumerated() {
            var fields = ["name": person.name]
            fields["phone"] = person.phone
            fields["address"] = person.address
            records.append(MatchRecord(id: Int64(index + 1), fields: fields))
        }
        records.append(MatchRecord(id: 99, fields: ["phone": "13800000003"])) // no name: not a holder
        let frequencies = TermFrequencies(records)
        #expect(frequencies.phoneHolders("13800000001") == 3)
        #expect(frequencies.phoneHolders("13800000002") == 1)
        #expect(frequencies.phoneHolders("13800000003") == 1)
        #expect(frequencies.addressHolders("甲路1号") == 2)
        #expect(frequencies.addressHolders("乙路2号") == 2)
        #expect(frequencies.addressHolders("丙路3号") == 1)
        #expect(frequencies.addressHolders("丁路4号") == 1)
    }

    @Test("a comparison vector: its levels as given, ordered level by level, encoded as a list of levels")
    func vectorPacking() throws {
        let levels: [UInt8] = [6, 0, 3, 2, 1, 5]
        let vector = ComparisonVector(levels: levels)
        #expect(vector.levels == levels)
        #expect(Comparison.allCases.map { vector[$0] } == levels.map(Int.init))
        var changed = vector
        changed.levels = [1, 1, 1, 1, 1, 1]
        #expect(changed[.address] == 1 && changed != vector)
        let others: [[UInt8]] = [[6, 0, 3, 2, 1, 4], [5, 6, 6, 2, 2, 5], [6, 1, 0, 0, 0, 0], [0, 0, 0, 0, 0, 1]]
        for other in others {
            #expect(ComparisonVector.precedes(ComparisonVector(levels: other), vector) == other.lexicographicallyPrecedes(levels))
        }
        let json = try JSONEncoder().encode(vector)
        #expect(String(decoding: json, as: UTF8.self) == #"{"levels":[6,0,3,2,1,5]}"#)
        #expect(try JSONDecoder().decode(ComparisonVector.self, from: json) == vector)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(ComparisonVector.self, from: Data(#"{"levels":[16]}"#.utf8)) }
    }

    @Test("ID levels: identical, one typo, transposition, two valid IDs are never similar")
    func idLevels() {
        let valid = record(1, ["national_id": "11010519491231002X"])
        #expect(ComparisonVector.compare(valid, record(2, ["national_id": "11010519491231002X"]))[.id] == 1)
        #expect(ComparisonVector.compare(valid, record(2, ["national_id_raw": "11010519491231003X"]))[.id] == 2)
        #expect(ComparisonVector.compare(valid, record(2, ["national_id_raw": "11010519492131002X"]))[.id] == 3)
        #expect(ComparisonVector.compare(valid, record(2, ["national_id": "440524188001010014"]))[.id] == 4)
        #expect(ComparisonVector.compare(valid, record(2, [:]))[.id] == 0)
    }

    @Test("name levels: key, pinyin, similar, different")
    func nameLevels() {
        let a = record(1, ["name": "张伟"])
        #expect(ComparisonVector.compare(a, record(2, ["name": "張偉"]))[.name] == 1)
        #expect(ComparisonVector.compare(a, record(2, ["name": "张玮"]))[.name] == 2)
        #expect(ComparisonVector.compare(record(1, ["name": "买买提·艾力"]), record(2, ["name": "买买提艾力"]))[.name] == 1)
        #expect(ComparisonVector.compare(a, record(2, ["name": "李娜"]))[.name] == 6)
        #expect(ComparisonVector.compare(record(1, ["name": "John Smith"]), record(2, ["name": "Jon Smith"]))[.name] == 3)
        // The same parts in another order; one part in common (a missing or replaced part).
        #expect(ComparisonVector.compare(record(1, ["name": "Amelia Graham"]), record(2, ["name": "Graham Amelia"]))[.name] == 3)
        #expect(ComparisonVector.compare(record(1, ["name": "Jock Wilde"]), record(2, ["name": "Wilde"]))[.name] == 5)
        #expect(ComparisonVector.compare(a, record(2, ["name": "张小红"]))[.name] == 5)
    }

    @Test("name parts: spaces and middle dots separate, a Han name splits into surname and given name")
    func nameParts() {
        #expect(record(1, ["name": "Mary Ann Smith"]).nameParts == ["mary", "ann", "smith"])
        #expect(record(1, ["name": "买买提·艾力"]).nameParts == ["买买提", "艾力"])
        #expect(record(1, ["name": "欧阳娜娜"]).nameParts == ["欧", "阳娜娜"])
        #expect(record(1, ["name": "José"]).nameParts == ["jose"])
        #expect(MatchRecord(id: 1, nameKey: "张伟").nameParts == ["张", "伟"])
        // Han characters alone, from the display text as stored: surname and given name.
        #expect(NameNormalizer.parts(ofDisplay: "张伟") == ["张", "伟"])
        #expect(NameNormalizer.parts(ofDisplay: "张") == ["张"])
        #expect(NameNormalizer.parts(ofDisplay: "") == [])
        #expect(NameNormalizer.parts(ofDisplay: "张伟A") == ["张", "伟a"])
        #expect(NameNormalizer.parts(ofDisplay: "欧阳 娜娜") == ["欧阳", "娜娜"])
    }

    @Test("birth levels: exact, swapped day and month, one part off, different")
    func birthLevels() {
        let a = record(1, ["birth_date": "1985-03-02"])
        #expect(ComparisonVector.compare(a, record(2, ["birth_date": "1985-03-02"]))[.birth] == 1)
        #expect(ComparisonVector.compare(a, record(2, ["birth_date": "1985-02-03"]))[.birth] == 2)
        #expect(ComparisonVector.compare(a, record(2, ["birth_date": "1986-03-02"]))[.birth] == 3)
        #expect(ComparisonVector.compare(a, record(2, ["birth_date": "1958-03-02"]))[.birth] == 3, "two neighbouring digits swapped")
        #expect(ComparisonVector.compare(a, record(2, ["birth_date": "1985-03-20"]))[.birth] == 3, "the day's digits swapped")
        #expect(ComparisonVector.compare(a, record(2, ["birth_date": "1985-03-13"]))[.birth] == 4, "two digits apart, not neighbours swapped")
        // The digits compared are the ones `compact` writes, zeros included.
        for date in [CalendarDate(year: 5, month: 1, day: 9)!, CalendarDate(year: 1985, month: 12, day: 31)!, CalendarDate(year: 9999, month: 10, day: 1)!] {
            #expect(Array(date.compact.utf8).map { $0 - UInt8(ascii: "0") } == (0..<8).map { ComparisonVector.digits(date)[$0] })
        }
        #expect(ComparisonVector.compare(a, record(2, ["birth_date": "1985-11-02"]))[.birth] == 4)
        #expect(ComparisonVector.compare(a, record(2, ["birth_date": "1990-07-09"]))[.birth] == 6)
        // Known to the month or the year: agreeing as far as known is a level of its own.
        #expect(ComparisonVector.compare(a, record(2, ["birth_date": "1985-03"]))[.birth] == 5)
        #expect(ComparisonVector.compare(a, record(2, ["birth_date": "1985"]))[.birth] == 5)
        #expect(ComparisonVector.compare(a, record(2, ["birth_date": "1985-04"]))[.birth] == 6)
        #expect(ComparisonVector.compare(record(1, ["birth_date": "1985-03"]), record(2, [:]))[.birth] == 0)
        // A partial birth date still blocks by its year.
        let partial = record(3, ["name": "张伟", "birth_date": "1985-03"])
        #expect(MatchEngine.blockingKeys(of: partial).contains { $0.key == "nby:张伟|1985" })
    }

    @Test("other identifiers: one edit or a swap of neighbours is a typo; more is another number")
    func otherIdentifierLevels() {
        let a = record(1, ["social_security_no": "1804974"])
        #expect(ComparisonVector.compare(a, record(2, ["social_security_no": "1804974"]))[.id] == 1)
        #expect(ComparisonVector.compare(a, record(2, ["social_security_no": "1804975"]))[.id] == 2)
        #expect(ComparisonVector.compare(a, record(2, ["social_security_no": "180497"]))[.id] == 2)
        #expect(ComparisonVector.compare(a, record(2, ["social_security_no": "1809474"]))[.id] == 3)
        #expect(ComparisonVector.compare(a, record(2, ["social_security_no": "5592088"]))[.id] == 4)
        #expect(ComparisonVector.compare(a, record(2, ["passport_no": "E1804974"]))[.id] == 0, "another scheme says nothing")
    }

    @Test("Damerau-Levenshtein distance with a limit")
    func damerauLevenshtein() {
        func distance(_ a: String, _ b: String, _ limit: Int = 3) -> Int {
            StringSimilarity.damerauLevenshtein(Array(a.utf8), Array(b.utf8), limit: limit)
        }
        #expect(distance("kitten", "sitting") == 3)
        #expect(distance("abcd", "acbd") == 1)
        #expect(distance("abc", "abc") == 0)
        #expect(distance("", "abc") == 3)
        #expect(distance("abcdef", "badcfe", 1) == 2, "stops at limit + 1")
        #expect(distance("abc", "abcdefgh", 2) == 3)
    }

    @Test("an ID number whose birth date and sex its record contradicts is weak evidence, both ways")
    func relativesID() {
        // The wife's record carries her husband's ID (a man born 1949-12-31).
        let husband = record(1, ["national_id": "110105194912310035", "name": "王建国", "birth_date": "1949-12-31", "sex": "1"])
        let wife = record(2, ["national_id": "110105194912310035", "name": "李秀英", "birth_date": "1952-06-18", "sex": "2"])
        #expect(!husband.idContradictsRecord)
        #expect(wife.idContradictsRecord)
        #expect(ComparisonVector.compare(husband, wife)[.id] == 5)
        let wifeOwn = record(3, ["national_id": "110105195206180026", "name": "李秀英", "birth_date": "1952-06-18", "sex": "2"])
        #expect(ComparisonVector.compare(wife, wifeOwn)[.id] == 6)
        // A one-digit slip in the record's birth date is not a contradiction.
        let typo = record(4, ["national_id": "110105194912310035", "birth_date": "1949-12-21", "sex": "1"])
        #expect(!typo.idContradictsRecord)
        let parameters = MatchParameters.initial
        for level in [5, 6] {
            var levels = [UInt8](repeating: 0, count: Comparison.allCases.count)
            levels[Comparison.id.rawValue] = UInt8(level)
            let weight = parameters.contributions(ComparisonVector(levels: levels))[Comparison.id.rawValue]
            #expect(abs(weight) <= MatchParameters.weakEvidenceBits)
        }
    }

    @Test("two valid IDs one digit apart are two people: namesakes born a day apart, twins one sequence number apart")
    func validIDsOneDigitApart() {
        let a = record(1, ["national_id": "11010519491231002X"])
        #expect(ComparisonVector.compare(a, record(2, ["national_id": "110105194912310035"]))[.id] == 4)
        #expect(ComparisonVector.compare(a, record(2, ["national_id": CitizenIDTestValues.valid(body: "11010519491221002")]))[.id] == 4)
        // A typo breaks the check character: one digit off against an invalid number is a typo.
        #expect(ComparisonVector.compare(a, record(2, ["national_id_raw": "11010519491221002X"]))[.id] == 2)
        #expect(ComparisonVector.compare(a, record(2, ["national_id_raw": "1101051949123102X"]))[.id] == 2, "a digit left out")
    }
}

/// Valid ID numbers made from a 17-digit body, for tests.
enum CitizenIDTestValues {
    static func valid(body: String) -> String {
        body + String(CitizenID.checkCharacter(forFirst17: body.utf8.map { Int($0) - 48 }))
    }
}

@Suite struct MatchEngineTests {
    func person(_ id: Int64, _ name: String, _ birth: String, sex: String, nationalID: String? = nil, phone: String? = nil, address: String? = nil) -> MatchRecord {
        var fields = ["name": name, "birth_date": birth, "sex": sex]
        if let nationalID { fields["national_id"] = nationalID }
        if let phone { fields["phone"] = phone }
        if let address { fields["address"] = address }
        return MatchRecord(id: id, fields: fields)
    }

    @Test("the same valid ID links deterministically; records without an ID link on name, birth and phone")
    func links() async {
        let records = [
            person(1, "张伟", "1985-03-02", sex: "1", nationalID: "110105198503020118", phone: "13812345678"),
            person(2, "張偉", "1985-03-02", sex: "1", nationalID: "110105198503020118"),
            person(3, "张伟", "1985-03-02", sex: "1", phone: "13812345678", address: "北京市朝阳区幸福路1号"),
            person(4, "李娜", "1990-01-01", sex: "2", nationalID: "110105199001010023"),
        ]
        let result = await MatchEngine().match(records)
        #expect(result.clusters.contains([1, 2, 3]))
        #expect(result.clusters.contains([4]))
        #expect(result.links.contains { $0.method == .deterministic })
    }

    @Test("twins and same-name-same-birthday strangers are not merged")
    func twinsAndNamesakes() async {
        let records = [
            // Twins: same surname, birth date, address and phone; different given names and IDs.
            person(1, "王大明", "2010-05-05", sex: "1", nationalID: "110105201005050317", phone: "010-65001234", address: "幸福路1号"),
            person(2, "王小明", "2010-05-05", sex: "1", nationalID: "110105201005050333", phone: "010-65001234", address: "幸福路1号"),
            // Strangers: same name and birthday, different IDs, phones and addresses.
            person(3, "张伟", "1985-03-02", sex: "1", nationalID: "110105198503020118", phone: "13812345678", address: "幸福路2号"),
            person(4, "张伟", "1985-03-02", sex: "1", nationalID: "330102198503020151", phone: "13987654321", address: "和平街9号"),
        ]
        let result = await MatchEngine().match(records)
        #expect(result.clusters.count == 4, "\(result.clusters)")
    }

    /// 300 unrelated people (ids 1–300), each with another name and birth date.
    func strangers() -> [MatchRecord] {
        (0..<300).map { stranger($0, id: Int64($0 + 1)) }
    }

    /// The stranger of `index` (0..<300) under `id`, with a phone when given.
    func stranger(_ index: Int, id: Int64, phone: String? = nil) -> MatchRecord {
        let given = String(Character(UnicodeScalar(0x4E00 + index * 7)!))
        return person(id, "赵" + given, "19\(40 + index % 60)-0\(1 + index % 9)-1\(index % 9)", sex: index % 2 == 0 ? "1" : "2", phone: phone)
    }

    @Test("blocks hold exactly the records sharing a key's text, whatever the hash: texts sharing a hash are never put together")
    func blocksByText() {
        var records = strangers()
        records.append(contentsOf: (0..<60).map { stranger($0, id: Int64($0 + 1_001), phone: "138111\(20_000 + $0 % 7)") })
        let keys = records.map { MatchEngine.blockingKeys(of: $0) }
        for kind in MatchEngine.blockingKeys.indices {
            // What a dictionary keyed by the text gives.
            var expected: [String: [Int32]] = [:]
            for (index, recordKeys) in keys.enumerated() {
                for (keyKind, key) in recordKeys where keyKind == kind { expected[key, default: []].append(Int32(index)) }
            }
            for hash in [MatchEngine.keyBytesHash, { _ in 42 }, { UInt64($0.utf8.count % 3) }] as [(String) -> UInt64] {
                let blocks = MatchEngine.blocks(MatchEngine.KeysOfKind(walking: kind, keys), hash: hash)
                #expect(blocks.count == expected.count, "kind \(kind)")
                #expect(Dictionary(blocks.map { ($0.key, $0.members) }, uniquingKeysWith: +) == expected, "kind \(kind)")
            }
        }
    }

    /// 12,000 people (ids 1–12,000): past two slices of the smallest size on any core count
    /// (5,000 records a slice at least). Some share phones, some addresses.
    func manyPeople() -> [MatchRecord] {
        var records: [MatchRecord] = []
        for index in 0..<12_000 {
            let given = String(Character(UnicodeScalar(0x4E00 + index % 700)!)) + String(Character(UnicodeScalar(0x4E00 + index / 700)!))
            let birth = "19\(40 + index % 60)-0\(1 + index % 9)-1\(index % 9)"
            let phone: String? = index % 3 == 0 ? "1381112\(1_000 + index % 400)" : nil
            let address: String? = index % 5 == 0 ? "北京市朝阳区建国路\(index % 90)号\(index % 7)单元" : nil
            records.append(person(Int64(index + 1), "赵" + given, birth, sex: index % 2 == 0 ? "1" : "2", phone: phone, address: address))
        }
        return records
    }

    @Test("term frequencies counted side by side are those counted in one pass")
    func frequenciesSideBySide() async throws {
        let records = manyPeople()
        let counted = await TermFrequencies.counting(records)
        #expect(counted == TermFrequencies(records))
        // Shared phones and addresses are counted (the records were built to share them).
        let phone = try #require(records.compactMap(\.phone).first)
        #expect(counted.phoneHolders(phone) > 1)
        let address = try #require(records.compactMap(\.address).first)
        #expect(counted.addressHolders(address) > 1)
    }

    @Test("keys set apart by kind in slices are each kind's keys in record order, as walking every record's keys gives them")
    func keysByKindInSlices() async {
        let records = manyPeople()
        let keys = records.map { MatchEngine.blockingKeys(of: $0) }
        let byKind = await MatchEngine.keysByKind(records)
        let onePass = MatchEngine.KeysOfKind.byKind(keys.indices) { keys[$0] }
        #expect(byKind.count == MatchEngine.blockingKeys.count && onePass.count == byKind.count)
        for kind in MatchEngine.blockingKeys.indices {
            let walked = MatchEngine.KeysOfKind(walking: kind, keys)
            #expect(byKind[kind].records == walked.records && onePass[kind].records == walked.records, "kind \(kind)")
            #expect(byKind[kind].keys == walked.keys && onePass[kind].keys == walked.keys, "kind \(kind)")
            let blocks: [(key: String, members: [Int32])] = MatchEngine.blocks(byKind[kind])
            let expected: [(key: String, members: [Int32])] = MatchEngine.blocks(walked)
            #expect(blocks.map { $0.key } == expected.map { $0.key }, "kind \(kind)")
            #expect(blocks.map { $0.members } == expected.map { $0.members }, "kind \(kind)")
        }
        #expect(byKind.reduce(0) { $0 + $1.keys.count } == keys.reduce(0) { $0 + $1.count })
    }

    @Test("blocking found once serves training and matching alike; a blocking of other records is not used")
    func blockingHandedOn() async throws {
        var records = strangers()
        // A second record of 120 of them, with a phone the first one lacks.
        for index in 0..<120 {
            records.append(stranger(index, id: Int64(index + 1_001), phone: "1381112\(1_000 + index)"))
        }
        let engine = MatchEngine()
        let blocking = await engine.blocking(of: records)
        #expect(blocking.recordCount == records.count)
        let (alone, aloneReport) = await engine.trained(on: records, randomPairs: 50_000)
        let (handed, report) = await engine.trained(on: records, randomPairs: 50_000, blocking: blocking)
        #expect(report.candidatePairs == aloneReport.candidatePairs && report.candidatePairs > 0)
        // Equal but for the last bits: sums over hashed tables need not add in one order.
        let estimates = { (p: MatchParameters) -> [Double] in p.m.flatMap { $0 } + p.u.flatMap { $0 } + [p.prior] }
        #expect(zip(estimates(handed.parameters), estimates(alone.parameters)).allSatisfy { abs($0 - $1) <= 1e-12 * max(abs($0), 1e-300) })
        let fresh = await alone.match(records)
        let reused = await alone.match(records, blocking: blocking)
        #expect(reused.clusters == fresh.clusters)
        #expect(reused.links.map(\.a) == fresh.links.map(\.a) && reused.links.map(\.b) == fresh.links.map(\.b))
        #expect(reused.candidatePairs == fresh.candidatePairs && reused.pairsByBlockingKey == fresh.pairsByBlockingKey)
        #expect(fresh.clusters.contains([1, 1_001]))
        // Compared once: the same parameters and the same links, scored from the vectors kept.
        let compared = await blocking.comparing(records)
        let (fromVectors, _) = await engine.trained(on: records, randomPairs: 50_000, blocking: compared)
        #expect(estimates(fromVectors.parameters) == estimates(handed.parameters))
        let scoredFromVectors = await alone.match(records, blocking: compared)
        #expect(scoredFromVectors.clusters == fresh.clusters)
        #expect(scoredFromVectors.links == fresh.links && scoredFromVectors.review == fresh.review)
        // The blocking of fewer records does not fit: the engine blocks again and finds the same.
        let other = await engine.blocking(of: Array(records.dropLast()))
        let refused = await alone.match(records, blocking: other)
        #expect(refused.clusters == fresh.clusters && refused.candidatePairs == fresh.candidatePairs)
    }

    @Test("twins without ID numbers, and spouses sharing a phone and an address, stay apart")
    func householdWithoutIDs() async {
        // Enough unrelated people for the prior to mean something; then one family, two feeds each.
        var records = strangers()
        let family = [
            ("王大明", "2010-05-05", "1"), ("王小明", "2010-05-05", "1"), ("王建国", "1980-02-11", "1"), ("李秀英", "1982-07-23", "2"),
        ]
        var id: Int64 = 1000
        var people: [[Int64]] = []
        for (name, birth, sex) in family {
            var own: [Int64] = []
            for _ in 0..<2 {
                id += 1
                own.append(id)
                records.append(person(id, name, birth, sex: sex, phone: "13811112222", address: "北京市朝阳区幸福路1号3单元201"))
            }
            people.append(own)
        }
        let (engine, _) = await MatchEngine().trained(on: records, randomPairs: 50_000)
        let result = await engine.match(records)
        for own in people {
            #expect(result.clusters.contains(own), "each family member is one resident: \(result.clusters.filter { $0.contains(own[0]) })")
        }
    }

    @Test("an ID number with one typo links when name, birth date and address agree; twins' IDs one sequence digit apart do not")
    func oneTypoInAnID() async {
        var records = strangers()
        let own = CitizenIDTestValues.valid(body: "11010519491231003")
        // One digit mistyped (…1221…): the check character no longer fits, the number is kept raw.
        records.append(person(501, "王建国", "1949-12-31", sex: "1", nationalID: own, address: "北京市朝阳区幸福路1号3单元201"))
        var typo = person(502, "王建国", "1949-12-31", sex: "1", address: "北京市朝阳区幸福路1号3单元201")
        typo.nationalIDRaw = "11010519491221003" + String(own.last!)
        records.append(typo)
        // A digit left out altogether.
        var short = person(503, "王建国", "1949-12-31", sex: "1", address: "北京市朝阳区幸福路1号3单元201")
        short.nationalIDRaw = String(own.prefix(10) + own.dropFirst(11))
        records.append(short)
        // Twins: the same birth date and address, sequence digits one apart, other given names.
        records.append(person(601, "李大明", "2010-05-05", sex: "1", nationalID: "110105201005050317", address: "幸福路9号"))
        records.append(person(602, "李小明", "2010-05-05", sex: "1", nationalID: "110105201005050333", address: "幸福路9号"))
        let result = await MatchEngine().trained(on: records, randomPairs: 50_000).0.match(records)
        #expect(result.clusters.contains([501, 502, 503]), "\(result.clusters.filter { $0.contains(501) })")
        #expect(!result.clusters.contains { $0.contains(601) && $0.contains(602) })
    }

    @Test("household evidence between family-like records counts once, at half weight; a phone held by several names weighs less")
    func householdEvidence() {
        let engine = MatchEngine()
        let husband = person(1, "王建国", "1980-02-11", sex: "1", phone: "13811112222", address: "幸福路1号3单元201")
        let wife = person(2, "李秀英", "1982-07-23", sex: "2", phone: "13811112222", address: "幸福路1号3单元201")
        let frequencies = TermFrequencies([husband, wife])
        #expect(frequencies.phoneHolders("13811112222") == 2)
        let score = engine.score(husband, wife, frequencies: frequencies)
        let raw = engine.parameters.contributions(score.vector)
        let household = score.contributions[Comparison.phone.rawValue] + score.contributions[Comparison.address.rawValue]
        #expect(household > 0)
        #expect(household <= max(raw[Comparison.phone.rawValue], raw[Comparison.address.rawValue]) / 2 + 1e-9)
        #expect(frequencies.addressHolders("幸福路1号3单元201") == 2)
        // The same person in two feeds keeps the full weight of both (one holder, names agree)…
        let again = person(3, "王建国", "1980-02-11", sex: "1", phone: "13811112222", address: "幸福路1号3单元201")
        let same = engine.score(husband, again, frequencies: TermFrequencies([husband, again]))
        #expect(same.contributions[Comparison.address.rawValue] == raw[Comparison.address.rawValue])
        // …less one bit for each doubling of the people the address is shared by.
        let family = engine.score(husband, again, frequencies: TermFrequencies([husband, again, wife]))
        #expect(abs(family.contributions[Comparison.address.rawValue] - (raw[Comparison.address.rawValue] - 1)) < 1e-9)
    }

    @Test("blocking finds names in another order, with a part missing, with a typo after three letters, and addresses by their numbers")
    func generalBlocking() {
        let engine = MatchEngine()
        func meet(_ a: MatchRecord, _ b: MatchRecord) -> Bool { engine.candidatePairs([a, b]).pairs.count == 1 }
        let base = person(1, "Amelia Graham", "1990-06-19", sex: "2", address: "5 mcgivern crescent new town 2163 act")
        #expect(meet(base, person(2, "Graham Amelia", "1990-06-19", sex: "0")))
        #expect(meet(base, person(2, "Graham", "1990-06-19", sex: "0")))
        #expect(meet(base, person(2, "Amelua Grahem", "1990-06-19", sex: "0")))
        #expect(meet(base, person(2, "Amelia Graham", "1991-06-19", sex: "0")), "name and birth year")
        #expect(meet(base, person(2, "Zoe Smith", "1950-01-01", sex: "0", address: "5 mcgiven cresent newtown 2163 act")))
        #expect(!meet(base, person(2, "Zoe Smith", "1950-01-01", sex: "0", address: "7 other road 3000 vic")))
        // Keys are stable text: the same record gives the same keys in every process.
        #expect(MatchEngine.minHash(of: "5 mcgivern crescent new town 2163 act") == MatchEngine.minHash(of: "5 mcgivern crescent new town 2163 act"))
        #expect(MatchEngine.addressNumbers("北京市朝阳区望京街46号公寓25号楼6单元901") == "46|25|6|901")
    }

    @Test("stored lookup keys: the kind in the top byte, a hash of the key's text that never changes, one per blocking key")
    func storedKeys() {
        // FNV-1a (64 bits) of the key's UTF-8, computed apart from this code: rows staged by any
        // version must be found by every later one.
        #expect(MatchEngine.storedKey(kind: 1, key: "nb:李波健|2007-08-05") == 144_076_947_824_247_912)
        let record = person(1, "Amelia Graham", "1990-06-19", sex: "2", phone: "13812345678", address: "5 mcgivern crescent new town 2163 act")
        let keys = MatchEngine.blockingKeys(of: record)
        // Stored, or found among the records born the same day or with the same phone: every key
        // one way or another.
        let stored = MatchEngine.lookupKeys(of: record) + MatchEngine.birthDayKeys(of: record) + [MatchEngine.phoneKey(of: record)!]
        #expect(stored.count == keys.count && Set(stored).count == stored.count)
        #expect(Set(MatchEngine.birthDayKeys(of: record).map(MatchEngine.kind(ofStoredKey:))) == MatchEngine.birthDayKinds)
        #expect(
            MatchEngine.lookupKeys(of: record).allSatisfy {
                !MatchEngine.birthDayKinds.contains(MatchEngine.kind(ofStoredKey: $0)) && MatchEngine.kind(ofStoredKey: $0) != MatchEngine.phoneKind
            })
        #expect(MatchEngine.phoneKey(of: record) == MatchEngine.storedKey(kind: 3, key: "ph:13812345678"))
        // The address's sketches, its pairs found once for all four, are the text's own.
        let address = "5 mcgivern crescent new town 2163 act", seeds = MatchEngine.addressSketchSeeds
        for seed in seeds.prefix(2) { #expect(keys.contains { $0 == (10, "asb:" + MatchEngine.minHash(of: address, seed: seed)! + "|1990-06-19") }) }
        #expect(keys.contains { $0 == (11, "as:" + MatchEngine.minHash(of: address, seed: seeds[2])! + "." + MatchEngine.minHash(of: address, seed: seeds[3])!) })
        for (kind, key) in keys {
            let value = MatchEngine.storedKey(kind: kind, key: key)
            #expect(stored.contains(value))
            #expect(MatchEngine.kind(ofStoredKey: value) == kind && value >= 0)
        }
        #expect(MatchEngine.storedKey(kind: 7, key: "n:amelia graham") != MatchEngine.storedKey(kind: 1, key: "n:amelia graham"))
        let engine = MatchEngine()
        #expect(engine.blockLimit(forStoredKey: MatchEngine.storedKey(kind: 7, key: "n:amelia graham")) == MatchEngine.looseBlockSize)
        #expect(engine.blockLimit(forStoredKey: MatchEngine.storedKey(kind: 1, key: "nb:x|1990-06-19")) == engine.maximumBlockSize)
    }

    @Test("keys of the birth-day kinds hold the full birth date, so the records born that day hold every such block; none without one")
    func birthDayKeys() {
        let records = [
            person(1, "Amelia Graham", "1990-06-19", sex: "2", nationalID: "110105199006190023", phone: "13812345678", address: "5 mcgivern crescent new town 2163 act"),
            person(2, "张伟", "1985-03-02", sex: "1", address: "北京市朝阳区望京街46号公寓25号楼6单元901"),
            person(3, "买买提·艾力", "2001-12-31", sex: "1", phone: "13900001111"),
            person(4, "Zoe", "1950-01-01", sex: "0"),
            person(5, "李波健", "1990-06", sex: "1", address: "北京市朝阳区和平街19号"),
            person(6, "王明军", "1949", sex: "1", nationalID: "110105194912012073"),
            person(7, "Amelia Graham", "", sex: "2", phone: "13812345678"),
        ]
        for record in records {
            let keys = MatchEngine.blockingKeys(of: record)
            let byDay = keys.filter { MatchEngine.birthDayKinds.contains($0.kind) }
            if let day = record.birth?.iso {
                #expect(!byDay.isEmpty)
                for (_, key) in byDay { #expect(key.contains(day), "\(key) without \(day)") }
            } else {
                #expect(byDay.isEmpty && MatchEngine.birthDayKeys(of: record).isEmpty)
            }
            #expect(Set(MatchEngine.birthDayKeys(of: record)) == Set(byDay.map { MatchEngine.storedKey(kind: $0.kind, key: $0.key) }))
            let stored = keys.filter { !MatchEngine.birthDayKinds.contains($0.kind) && $0.kind != MatchEngine.phoneKind }
            #expect(Set(MatchEngine.lookupKeys(of: record)) == Set(stored.map { MatchEngine.storedKey(kind: $0.kind, key: $0.key) }))
            #expect(MatchEngine.phoneKey(of: record) == keys.first { $0.kind == MatchEngine.phoneKind }.map { MatchEngine.storedKey(kind: $0.kind, key: $0.key) })
        }
    }

    @Test("a chain of weak links cannot merge two people with different valid IDs")
    func noChainMerge() async {
        let records = [
            person(1, "张伟", "1985-03-02", sex: "1", nationalID: "110105198503020118", phone: "13812345678"),
            person(2, "张伟", "1985-03-02", sex: "1", phone: "13812345678"),
            person(3, "张伟", "1985-03-02", sex: "1", nationalID: "330102198503020151", phone: "13812345678"),
        ]
        let result = await MatchEngine().match(records)
        #expect(!result.clusters.contains { $0.contains(1) && $0.contains(3) })
    }

    @Test("a shared placeholder phone is weak evidence (term frequency)")
    func placeholderPhone() async {
        var records: [MatchRecord] = []
        for index in 0..<40 {
            records.append(
                person(
                    Int64(index + 1), "居民\(Character(UnicodeScalar(0x4E00 + index)!))", "19\(50 + index)-01-01",
                    sex: "1", phone: "010-65012345"))
        }
        let frequencies = TermFrequencies(records)
        let engine = MatchEngine()
        let shared = engine.score(records[0], records[1], frequencies: frequencies)
        let rare = engine.score(
            person(100, "甲", "1950-01-01", sex: "1", phone: "13800000001"),
            person(101, "乙", "1951-01-01", sex: "1", phone: "13800000001"), frequencies: frequencies)
        #expect(shared.contributions[Comparison.phone.rawValue] < rare.contributions[Comparison.phone.rawValue])
    }

    @Test("pairwise quality arithmetic")
    func quality() {
        let truth: [Int64: Int] = [1: 1, 2: 1, 3: 1, 4: 2, 5: 2]
        let perfect = PairwiseQuality(predicted: [[1, 2, 3], [4, 5]], truth: truth)
        #expect(perfect.f1 == 1)
        let split = PairwiseQuality(predicted: [[1, 2], [3], [4, 5]], truth: truth)
        #expect(split.precision == 1)
        #expect(abs(split.recall - 0.5) < 1e-9)
        let merged = PairwiseQuality(predicted: [[1, 2, 3, 4, 5]], truth: truth)
        #expect(merged.recall == 1)
        #expect(abs(merged.precision - 0.4) < 1e-9)
    }
}

@Suite struct GeneralEngineTests {
    func traveller(_ id: Int64, _ name: String, _ birth: String, passport: String?, phone: String? = nil) -> MatchRecord {
        var record = MatchRecord(id: id, fields: ["name": name, "birth_date": birth, "sex": "2"].merging(phone.map { ["phone": $0] } ?? [:]) { $1 })
        if let passport { record.identifiers["passport"] = passport }
        return record
    }

    @Test("Latin-script names and another identifier scheme work without any citizen ID")
    func latinAndPassports() async {
        let records = [
            traveller(1, "Maria García", "1990-04-12", passport: "PAB123456"),
            traveller(2, "MARIA GARCIA", "1990-04-12", passport: "PAB123456"),
            traveller(3, "María Garcia", "1990-12-04", passport: "PAB123456"), // day and month swapped
            traveller(4, "Maria Garcia", "1990-04-12", passport: "XYZ987654", phone: "+33 6 12 34 56 78"),
        ]
        #expect(ComparisonVector.compare(records[0], records[1])[.id] == 1)
        #expect(ComparisonVector.compare(records[0], records[3])[.id] == 4)
        #expect(ComparisonVector.compare(records[0], traveller(9, "x", "1990-01-01", passport: "PAB123457"))[.id] == 2)
        let result = await MatchEngine().match(records)
        #expect(result.clusters.contains([1, 2, 3]), "\(result.clusters)")
        #expect(!result.clusters.contains { $0.contains(4) && $0.contains(1) })
    }
}

extension MatchEngine.KeysOfKind {
    /// `kind`'s keys among every record's `keys`, found by walking them all: what blocking did
    /// before the keys were set apart by kind once, kept as the tests' reference.
    init(walking kind: Int, _ keys: [[(kind: Int, key: String)]]) {
        self.init()
        for (index, recordKeys) in keys.enumerated() {
            for entry in recordKeys where entry.kind == kind {
                records.append(Int32(index))
                self.keys.append(entry.key)
            }
        }
    }
}
