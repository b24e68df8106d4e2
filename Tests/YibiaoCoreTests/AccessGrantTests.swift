import Testing
import YibiaoCore

@Suite struct AccessGrantTests {
    let record: [String: String] = [
        "name": "欧阳娜娜", "national_id": "110105198503020118", "phone": "13812345678", "address": "北京市朝阳区幸福路1号院2号楼",
        "birth_date": "1985-03-02", "sex": "2", "party.branch": "第一党支部", "civil_affairs.subsistence_allowance": "true",
        "civil_affairs.disability_certificate_no": "11010519850302011842", "family_planning.children_count": "1",
    ]

    @Test("only granted fields pass, ungranted ones are absent (not blank); a facet grant covers its fields")
    func filtering() {
        let grant = AccessGrant(fields: ["name", "sex"], facets: ["civil_affairs": ""])
        let view = grant.view(record)
        #expect(Set(view.keys) == ["name", "sex", "civil_affairs.subsistence_allowance", "civil_affairs.disability_certificate_no"])
        #expect(!grant.allows("party.branch") && !grant.allows("family_planning.children_count") && !grant.allows("no_such_field"))
        #expect(grant.allowedFields.first == "name")
    }

    @Test("identifiers and phones are masked by default, in full only when granted so; other fields masked on request")
    func masks() {
        let masked = AccessGrant(fields: ["national_id", "phone", "name", "address", "birth_date"], facets: ["civil_affairs": ""])
        let view = masked.view(record)
        #expect(view["national_id"] == "110105********0118")
        #expect(view["phone"] == "138****5678")
        #expect(view["civil_affairs.disability_certificate_no"] == "110105**********1842")
        #expect(view["name"] == "欧阳娜娜" && view["address"] == record["address"] && view["birth_date"] == "1985-03-02")
        let full = AccessGrant(fields: ["national_id", "phone"], unmasked: ["national_id", "phone"])
        #expect(full.view(record) == ["national_id": "110105198503020118", "phone": "13812345678"])
        let hidden = AccessGrant(fields: ["name", "address", "birth_date"], masked: ["name", "address", "birth_date"])
        #expect(hidden.view(record) == ["name": "欧***", "address": "北京市朝阳区********", "birth_date": "1985-**-**"])
        #expect(Masking.phone("010-65012345") == "010*****2345")
    }

    @Test("changes are filtered and masked the same way; an entry touching nothing granted is empty")
    func changes() {
        let grant = AccessGrant(fields: ["phone"])
        let view = grant.view(changes: ["phone": (old: "13812345678", new: "13900001111"), "party.branch": (old: nil, new: "x")])
        #expect(view.count == 1 && view["phone"]?.old == "138****5678" && view["phone"]?.new == "139****1111")
        #expect(grant.view(changes: ["name": (old: nil, new: "王芳")]).isEmpty)
    }

    @Test("scope: the whole district, or only the named communities; a resident with no community only district-wide")
    func scope() {
        #expect(AccessGrant(fields: ["name"]).covers(community: nil))
        let office = AccessGrant(fields: ["name"], communities: ["110105001001"])
        #expect(office.covers(community: "110105001001"))
        #expect(!office.covers(community: "110105001002") && !office.covers(community: nil))
    }

    @Test("a sensitive system's keys need its facet: a party key says the person is a member")
    func systemKeys() {
        let plain = AccessGrant(fields: ["name"], systems: ["civil_affairs", "party"])
        #expect(plain.maySeeKeys(of: "civil_affairs", domain: .civilAffairs))
        #expect(!plain.maySeeKeys(of: "party", domain: .party))
        #expect(!plain.maySeeKeys(of: "social_security", domain: .socialSecurity))
        let party = AccessGrant(fields: ["name"], facets: ["party": "党员管理"], systems: ["party"])
        #expect(party.maySeeKeys(of: "party", domain: .party))
    }

    @Test("a grant as written is checked whole: unknown fields with a hint, sensitive facets without purpose, masks on codes, unknown systems, bad communities")
    func problems() {
        let systems: [String: CanonicalField.Domain] = ["civil_affairs": .civilAffairs, "party": .party]
        #expect(AccessGrant(fields: ["name"], facets: ["party": "党员教育"], systems: ["party"]).problems(knownSystems: systems).isEmpty)
        let bad = AccessGrant(
            fields: ["nmae", "party.branch"], facets: ["family_planning": " ", "health": "x"], masked: ["sex"], systems: ["tax", "party"],
            communities: ["11010500100", "999999001001"])
        let messages = bad.problems(knownSystems: systems).map(\.message.en)
        #expect(messages.contains { $0.contains("nmae") && $0.contains("did you mean name") })
        #expect(messages.contains { $0.contains("party.branch") && $0.contains("sensitive") })
        #expect(messages.contains { $0.contains("family_planning facet is sensitive") })
        #expect(messages.contains { $0.contains("health is not a facet") })
        #expect(messages.contains { $0.contains("sex cannot be shown half-masked") })
        #expect(messages.contains { $0.contains("tax is not a known system") })
        #expect(messages.contains { $0.contains("party's keys") })
        #expect(messages.contains { $0.contains("11010500100") && $0.contains("twelve digits") })
        #expect(messages.contains { $0.contains("999999") })
        #expect(AccessGrant().problems(knownSystems: systems).map(\.message.en).contains { $0.contains("names no field") })
    }

    @Test("community codes: twelve digits led by a county code of any year")
    func communityCodes() {
        #expect((try? DivisionCodeTable.standard.validateCommunity(" 110105001001 ").get()) == "110105001001")
        #expect((try? DivisionCodeTable.standard.validateCommunity("110103001001").get()) == "110103001001", "retired counties count")
        for bad in ["110105001", "11010500100A", "110105000000", "999999001001", ""] {
            #expect((try? DivisionCodeTable.standard.validateCommunity(bad).get()) == nil, "\(bad)")
        }
    }
}
