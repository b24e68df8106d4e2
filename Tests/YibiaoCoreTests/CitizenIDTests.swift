import Testing
@testable import YibiaoCore

@Suite struct CitizenIDTests {
    let today = CalendarDate(year: 2026, month: 11, day: 21)!

    func valid(_ raw: String) throws -> CitizenID {
        try CitizenID.parse(raw, today: today).get()
    }

    func reason(_ raw: String) -> CitizenIDError.Reason? {
        if case .failure(let error) = CitizenID.parse(raw, today: today) { return error.reason }
        return nil
    }

    @Test("the standard's examples validate")
    func standardExamples() throws {
        let first = try valid("11010519491231002X")
        #expect(first.value == "11010519491231002X")
        #expect(first.birthDate == CalendarDate(year: 1949, month: 12, day: 31))
        #expect(first.sex == .female)
        #expect(first.divisionCode == "110105")
        #expect(!first.upgradedFromFifteenDigits)
        let second = try valid("440524188001010014")
        #expect(second.sex == .male)
        #expect(second.birthDate == CalendarDate(year: 1880, month: 1, day: 1))
    }

    @Test(
        "check character table",
        arguments: [
            ("11010519491231002", Character("X")), ("44052418800101001", "4"), ("11010119900307001", "1"),
        ])
    func checkCharacter(body: String, expected: Character) {
        #expect(CitizenID.checkCharacter(forFirst17: body.map { $0.wholeNumberValue! }) == expected)
    }

    @Test(
        "entry noise is cleaned",
        arguments: [
            "11010519491231002x", // lowercase x
            "１１０１０５１９４９１２３１００２Ｘ", // full-width digits and X
            "11010519491231002Ⅹ", // Roman numeral ten
            "11010519491231002×", // multiplication sign
            " 110105 19491231 002X ", // spaces
            "110105\u{00A0}19491231\u{3000}002X", // NBSP and ideographic space
            "110105-19491231-002X", // hyphens
        ])
    func cleaned(raw: String) throws {
        #expect(try valid(raw).value == "11010519491231002X")
    }

    @Test("15-digit IDs are upgraded to 18")
    func upgrade() throws {
        let id = try valid("110105491231002")
        #expect(id.value == "11010519491231002X")
        #expect(id.upgradedFromFifteenDigits)
        #expect(id.sex == .female)
        #expect(try valid("440524800101001").value == "440524198001010013")
    }

    @Test("precise reasons for invalid IDs")
    func reasons() {
        #expect(reason("") == .empty)
        #expect(reason("   ") == .empty)
        #expect(reason("1.10105E+17") == .excelScientific)
        #expect(reason("1.10105194912E+17") == .excelScientific)
        #expect(reason("1.10105e+17") == .excelScientific)
        #expect(reason("11010519491231002") == .wrongLength(17))
        #expect(reason("1101051949123100211") == .wrongLength(19))
        #expect(reason("1101051949A231002X") == .invalidCharacter(position: 11))
        #expect(reason("X10105194912310021") == .invalidCharacter(position: 1))
        #expect(reason("11010519490230002X") == .invalidBirthDate(year: 1949, month: 2, day: 30))
        #expect(reason("110105194913310023") == .invalidBirthDate(year: 1949, month: 13, day: 31))
        #expect(reason("110105491301002") == .invalidBirthDate(year: 1949, month: 13, day: 1))
        #expect(reason("110105203001010016") == .futureBirthDate)
        #expect(reason("999999194912310021") == .unknownDivision("999999"))
        #expect(reason("110105194912310021") == .checkMismatch(expected: "X", found: "1"))
        #expect(reason("110105194912310000") == .excelTruncated)
    }

    @Test("a transposition is caught by the check character")
    func transposition() {
        #expect(reason("11010519491321002X") != nil)
        #expect(reason("11015019491231002X") != nil)
    }

    @Test("retired division codes stay valid in old IDs; 市辖区 codes count")
    func historicalDivisions() throws {
        // 110103 崇文区 was retired in 2010; people born there keep it.
        let body = "11010319700101002"
        let check = CitizenID.checkCharacter(forFirst17: body.map { $0.wholeNumberValue! })
        #expect(try valid(body + String(check)).divisionCode == "110103")
        let city = "33010119700101002"
        let cityCheck = CitizenID.checkCharacter(forFirst17: city.map { $0.wholeNumberValue! })
        #expect(try valid(city + String(cityCheck)).divisionCode == "330101")
    }

    @Test("without a division table or a date, only structure and check are tested")
    func optionalChecks() {
        let body = "99999920300101002"
        let check = CitizenID.checkCharacter(forFirst17: body.map { $0.wholeNumberValue! })
        #expect((try? CitizenID.parse(body + String(check), today: nil, divisions: nil).get()) != nil)
    }

    @Test("the byte-wise check of ASCII digits and X gives what the check by characters gave, on 20,000 random texts")
    func byteWiseCheck() {
        // The check as it was, character by character: the reference.
        func referenceClean(_ raw: String) -> String {
            var result = String.UnicodeScalarView()
            for scalar in TextNormalization.nfkc(raw).unicodeScalars {
                if TextNormalization.isSpace(scalar) || "-‐‑–—_".unicodeScalars.contains(scalar) { continue }
                switch scalar {
                case "x", "×", "✕", "Х", "х", "Ⅹ", "ⅹ": result.append("X")
                case "a"..."z": result.append(Unicode.Scalar(scalar.value - 32)!)
                default: result.append(scalar)
                }
            }
            return String(result)
        }
        func referenceCharacters(_ text: String) -> CitizenIDError? {
            for (offset, character) in text.enumerated() {
                let isDigit = character.isASCII && character.isNumber
                let isFinalX = character == "X" && offset == text.count - 1 && text.count == 18
                if !isDigit && !isFinalX { return .init(.invalidCharacter(position: offset + 1)) }
            }
            if text.count != 15 && text.count != 18 { return .init(.wrongLength(text.count)) }
            return nil
        }
        var random = SeededGenerator(seed: 11)
        let alphabet = ["0", "1", "7", "9", "X", "x", "-", " ", "Ｘ", "１", "٣", "é", "e\u{301}", "\r\n", "Ⅹ", "a", "."]
        let valid = "11010519491231002X"
        for round in 0..<20_000 {
            var text = ""
            if round % 3 == 0 {
                // A valid number with a few characters changed, added or taken out.
                var characters = Array(valid)
                for _ in 0..<Int.random(in: 0...2, using: &random) {
                    let at = Int.random(in: 0..<characters.count, using: &random)
                    switch Int.random(in: 0...2, using: &random) {
                    case 0: characters[at] = Character(alphabet.randomElement(using: &random)!)
                    case 1: characters.insert(Character(alphabet.randomElement(using: &random)!), at: at)
                    default: characters.remove(at: at)
                    }
                }
                text = String(characters)
            } else {
                for _ in 0..<Int.random(in: 0...20, using: &random) { text += alphabet.randomElement(using: &random)! }
            }
            let cleaned = CitizenID.clean(text)
            #expect(cleaned == referenceClean(text), "\(text.debugDescription)")
            guard !cleaned.isEmpty, !(cleaned.contains("E") && (cleaned.contains(".") || cleaned.contains("+"))) else { continue }
            let reason: CitizenIDError.Reason? =
                if case .failure(let error) = CitizenID.parse(text, today: nil, divisions: nil) { error.reason } else { nil }
            if let expected = referenceCharacters(cleaned) {
                #expect(reason == expected.reason, "\(text.debugDescription)")
            } else if case .invalidCharacter = reason {
                Issue.record("\(text.debugDescription): refused for a character the reference accepts")
            }
        }
    }

    @Test("descriptions never show the whole number")
    func masking() throws {
        let id = try valid("11010519491231002X")
        #expect(id.masked == "110105********002X")
        #expect("\(id)" == id.masked)
        if case .failure(let error) = CitizenID.parse("110105194912310021", today: today) {
            #expect(!error.description.contains("110105194912310021"))
            #expect(error.message.zh.contains("校验码"))
        }
    }
}
