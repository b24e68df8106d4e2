import Testing
@testable import YibiaoCore

@Suite struct DateParserTests {
    let parser = DateParser(referenceYear: 2026)

    func date(_ y: Int, _ m: Int, _ d: Int) -> CalendarDate { CalendarDate(year: y, month: m, day: d)! }

    @Test(
        "accepted formats",
        arguments: [
            ("1985-03-02", 1985, 3, 2), ("1985/3/2", 1985, 3, 2), ("19850302", 1985, 3, 2),
            ("1985年3月2日", 1985, 3, 2), ("1985年03月02号", 1985, 3, 2), ("1985.03.02", 1985, 3, 2),
            ("85-03-02", 1985, 3, 2), ("850302", 1985, 3, 2), ("1985-3-2", 1985, 3, 2),
            ("１９８５－０３－０２", 1985, 3, 2), (" 1985/03/02 ", 1985, 3, 2),
            ("1985-03-02T00:00:00", 1985, 3, 2), ("1985-03-02 10:30:00", 1985, 3, 2),
            ("1985-03-02T00:00:00+08:00", 1985, 3, 2), ("1985-03-02T00:00:00.000+0800", 1985, 3, 2),
            // Midnight in Beijing exported as UTC: the day before at 16:00Z.
            ("1985-03-01T16:00:00Z", 1985, 3, 2), ("1985-03-01T16:00:00.000Z", 1985, 3, 2),
            ("1985-03-02T07:59:59Z", 1985, 3, 2), ("1985-03-02T20:00:00-05:00", 1985, 3, 3),
            ("2000-02-29", 2000, 2, 29),
        ])
    func accepted(raw: String, year: Int, month: Int, day: Int) throws {
        #expect(try parser.parse(raw).get() == date(year, month, day))
    }

    @Test("century rule for two-digit years")
    func centuryRule() throws {
        #expect(try parser.parse("26-01-01").get().year == 2026)
        #expect(try parser.parse("27-01-01").get().year == 1927)
        #expect(try parser.parse("00-01-01").get().year == 2000)
        #expect(try parser.parse("99-12-31").get().year == 1999)
        #expect(DateParser(referenceYear: 2050).expandYear(40) == 2040)
    }

    @Test("Excel serials where the adapter says the column holds them, including the fictitious 1900-02-29")
    func excel() throws {
        let serials = DateParser(referenceYear: 2026, acceptsExcelSerials: true)
        #expect(try serials.parse("1").get() == date(1900, 1, 1))
        #expect(try serials.parse("59").get() == date(1900, 2, 28))
        #expect(try serials.parse("61").get() == date(1900, 3, 1))
        #expect(try serials.parse("45658").get() == date(2025, 1, 1))
        #expect(try serials.parse("31108").get() == date(1985, 3, 2))
        #expect(try serials.parse("31108.0").get() == date(1985, 3, 2))
        #expect(try serials.parse("31108.75").get() == date(1985, 3, 2))
        #expect(try serials.parsePartial("1972.11").get() == PartialDate(date(1905, 5, 25)))
        #expect((try? serials.parse("60").get()) == nil)
        if case .failure(let error) = serials.parse("60") { #expect(error.code == .impossibleDate) }
    }

    @Test("no number becomes a date unless the column holds Excel serials", arguments: ["31108", "31108.0", "45658", "1972.11x", "61"])
    func numbersAreNotSerials(raw: String) {
        guard case .failure(let error) = parser.parse(raw) else {
            Issue.record("\(raw) was read as a date")
            return
        }
        #expect(error.code == .unrecognisedFormat)
    }

    @Test(
        "dates known to the month or the year keep their precision",
        arguments: [
            ("1977-10", "1977-10"), ("1977.10", "1977-10"), ("1977/10", "1977-10"), ("1977年10月", "1977-10"), ("197710", "1977-10"),
            ("1972.11", "1972-11"), ("1977年", "1977"), ("1977", "1977"), ("1977年10月5日", "1977-10-05"), ("19771005", "1977-10-05"),
            ("850302", "1985-03-02"),
        ])
    func partial(raw: String, iso: String) throws {
        #expect(try parser.parsePartial(raw).get().iso == iso)
    }

    @Test("partial dates: impossible months, an ambiguous six-digit value, and what a day-precision parse says", arguments: ["1977-13", "201203", "1977年13月", "0977-10"])
    func partialRejected(raw: String) {
        if case .success(let date) = parser.parsePartial(raw) { Issue.record("\(raw) was read as \(date)") }
    }

    @Test("partial dates: bounds, agreement as far as known, and formatting to their precision")
    func partialArithmetic() throws {
        let month = try #require(PartialDate(iso: "1977-10"))
        let year = try #require(PartialDate(iso: "1977"))
        #expect(month.precision == .month && year.precision == .year)
        #expect(month.earliest == date(1977, 10, 1) && month.latest == date(1977, 10, 31))
        #expect(try #require(PartialDate(iso: "2000-02")).latest == date(2000, 2, 29))
        #expect(month.agreesAsFarAsKnown(with: try #require(PartialDate(iso: "1977-10-05"))))
        #expect(!month.agreesAsFarAsKnown(with: try #require(PartialDate(iso: "1977-11-05"))))
        #expect(year.agreesAsFarAsKnown(with: month))
        #expect(!month.isCertainlyBefore(try #require(PartialDate(iso: "1977-10-05"))))
        #expect(month.isCertainlyBefore(try #require(PartialDate(iso: "1977-11-01"))))
        #expect(month.formatted("yyyy年M月d日") == "1977年10月")
        #expect(month.formatted("yyyy/M/d") == "1977/10")
        #expect(month.formatted("yyyyMMdd") == "197710")
        #expect(month.formatted("d.M.yyyy") == "10.1977")
        #expect(year.formatted("yyyy年M月d日") == "1977年")
        #expect(year.formatted("yyyy-MM-dd") == "1977")
        #expect(try #require(PartialDate(iso: "1977-10-05")).formatted("yyyy/M/d") == "1977/10/5")
        #expect(PartialDate(iso: "1977-1") == nil && PartialDate(iso: "77-10") == nil && PartialDate(iso: "1977-02-30") == nil)
    }

    @Test(
        "rejections with reasons",
        arguments: [
            ("", DateParseError.Code.empty), ("   ", .empty),
            ("1985-02-30", .impossibleDate), ("1985-13-01", .impossibleDate), ("1985-00-10", .impossibleDate),
            ("1900-02-29", .impossibleDate), ("19850230", .impossibleDate), ("1985年2月30日", .impossibleDate),
            ("March 2, 1985", .unrecognisedFormat), ("1985-03", .unrecognisedFormat), ("1985-03-02-01", .unrecognisedFormat),
            ("31108", .unrecognisedFormat),
            ("123456789", .unrecognisedFormat), ("1985-03-02T25:00:00", .unrecognisedFormat),
            ("0985-03-02", .outOfRange), ("abc", .unrecognisedFormat), ("1985/003/02", .unrecognisedFormat),
        ])
    func rejected(raw: String, code: DateParseError.Code) {
        guard case .failure(let error) = parser.parse(raw) else {
            Issue.record("\(raw) was accepted")
            return
        }
        #expect(error.code == code)
    }

    @Test("impossible-date messages name the day")
    func messages() {
        guard case .failure(let error) = parser.parse("1985-02-30") else { return }
        #expect(error.message.en == "1985-02 has no day 30")
        #expect(error.message.zh == "1985年2月没有30日")
    }

    @Test("calendar arithmetic round-trips", arguments: [-700_000, -1, 0, 1, 365, 11_016, 59_000, 2_000_000])
    func epochRoundTrip(days: Int) {
        #expect(CalendarDate(daysSinceEpoch: days)?.daysSinceEpoch == days)
    }

    @Test("ages")
    func ages() {
        #expect(date(1949, 12, 31).years(until: date(2026, 11, 21)) == 76)
        #expect(date(1950, 11, 21).years(until: date(2026, 11, 21)) == 76)
        #expect(date(1950, 11, 22).years(until: date(2026, 11, 21)) == 75)
        #expect(CalendarDate(year: 2023, month: 2, day: 29) == nil)
        #expect(date(1985, 3, 2).compact == "19850302")
        #expect(CalendarDate(iso: "1985-03-02") == date(1985, 3, 2))
        #expect(CalendarDate(iso: "1985-02-30") == nil)
        #expect(CalendarDate(iso: "19850302") == nil)
    }
}
