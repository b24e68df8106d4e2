import Testing
import YibiaoCore

@Suite struct ValueSpecificityTests {
    let birth = CanonicalField.named("birth_date")!
    let marital = CanonicalField.named("marital_status")!
    let relationship = CanonicalField.named("relationship_to_head")!
    let phone = CanonicalField.named("phone")!

    @Test("a date to the day refines its month and year; never the other way, never across months")
    func dates() {
        #expect(ValueSpecificity.refines("1977-10-05", "1977-10", field: birth))
        #expect(ValueSpecificity.refines("1977-10-05", "1977", field: birth))
        #expect(ValueSpecificity.refines("1977-10", "1977", field: birth))
        #expect(!ValueSpecificity.refines("1977-10", "1977-10-05", field: birth))
        #expect(!ValueSpecificity.refines("1977-11-05", "1977-10", field: birth))
        #expect(!ValueSpecificity.refines("1977-10-05", "1977-10-05", field: birth))
        #expect(!ValueSpecificity.refines("not a date", "1977", field: birth))
    }

    @Test("a specific code refines its group's general code (trailing 0) in hierarchical tables only")
    func codes() {
        #expect(ValueSpecificity.refines("21", "20", field: marital))
        #expect(ValueSpecificity.refines("23", "20", field: marital))
        #expect(!ValueSpecificity.refines("20", "21", field: marital))
        #expect(!ValueSpecificity.refines("30", "20", field: marital))
        #expect(!ValueSpecificity.refines("22", "21", field: marital))
        #expect(ValueSpecificity.refines("11", "10", field: relationship))
        #expect(!ValueSpecificity.refines("13812345678", "1381234567", field: phone))
    }
}
