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
        #expect(ComparisonVector.compare(a, record(2, ["name": "李娜"]))[.name] == 5)
        #expect(ComparisonVector.compare(record(1, ["name": "John Smith"]), record(2, ["name": "Jon Smith"]))[.name] == 3)
    }

    @Test("birth levels: exact, swapped day and month, one part off, different")
    func birthLevels() {
        let a = record(1, ["birth_date": "1985-03-02"])
        #expect(ComparisonVector.compare(a, record(2, ["birth_date": "1985-03-02"]))[.birth] == 1)
        #expect(ComparisonVector.compare(a, record(2, ["birth_date": "1985-02-03"]))[.birth] == 2)
        #expect(ComparisonVector.compare(a, record(2, ["birth_date": "1986-03-02"]))[.birth] == 3)
        #expect(ComparisonVector.compare(a, record(2, ["birth_date": "1990-07-09"]))[.birth] == 4)
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
