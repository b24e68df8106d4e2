import Testing
@testable import YibiaoCore

@Suite struct PersonNameTests {
    func name(_ raw: String) throws -> PersonName { try NameNormalizer.normalize(raw).get() }

    @Test("trims, folds width and collapses spaces")
    func cleaning() throws {
        #expect(try name("  张伟 ").display == "张伟")
        #expect(try name("张 伟").display == "张伟")
        #expect(try name("张\u{3000}伟").display == "张伟")
        #expect(try name("ＺＨＡＮＧ　Ｗｅｉ").display == "ZHANG Wei")
        #expect(try name("John   Smith").display == "John Smith")
    }

    @Test("traditional characters become simplified")
    func simplification() throws {
        #expect(try name("歐陽娜娜").display == "欧阳娜娜")
        #expect(try name("劉麗華").display == "刘丽华")
        #expect(try name("陳").display == "陈")
        #expect(try name("張偉").matchingKey == name("张伟").matchingKey)
    }

    @Test("於 and 乾 are kept: real characters in names, not 于 and 干")
    func protectedCharacters() throws {
        #expect(try name("於小明").display == "於小明")
        #expect(try name("於小明").matchingKey != name("于小明").matchingKey)
        #expect(try name("乾隆").display == "乾隆")
    }

    @Test(
        "every middle-dot variant gives the same name",
        arguments: [
            "买买提·艾力", "买买提・艾力", "买买提･艾力", "买买提•艾力", "买买提‧艾力", "买买提⋅艾力", "买买提.艾力", "买买提 · 艾力", "买买提．艾力",
        ])
    func middleDots(raw: String) throws {
        let normalised = try name(raw)
        #expect(normalised.display == "买买提·艾力")
        #expect(normalised.matchingKey == "买买提艾力")
    }

    @Test("a name written without its dot has the same key")
    func missingDot() throws {
        #expect(try name("买买提艾力").matchingKey == name("买买提·艾力").matchingKey)
        #expect(try name("买买提艾力").display == "买买提艾力")
    }

    @Test("pinyin keys: homophones agree, surname readings apply")
    func pinyin() throws {
        #expect(try name("张伟").pinyinKey == "zhangwei")
        #expect(try name("张玮").pinyinKey == name("张伟").pinyinKey)
        #expect(try name("单田芳").pinyinKey == "shantianfang")
        #expect(try name("曾国藩").pinyinKey == "zengguofan")
        #expect(try name("解缙").pinyinKey.hasPrefix("xie"))
        #expect(try name("欧阳修").pinyinKey == "ouyangxiu")
        #expect(try name("尉迟恭").pinyinKey == "yuchigong")
        #expect(try name("吕布").pinyinKey == "lubu")
        // A one-character "name" that is a surname keeps the character's usual reading.
        #expect(try name("单").pinyinKey == "dan")
    }

    /// Surnames are looked up by their first character: the same reading as trying the whole
    /// table in its order.
    @Test("surname readings found by first character as by the whole table")
    func surnameLookup() {
        func reference(_ key: String) -> String {
            var result = "", rest = Substring(key)
            for (surname, readings) in HanCharacters.surnameReadings
            where key.unicodeScalars.first == surname.unicodeScalars.first && key.hasPrefix(surname) && key.count > surname.count {
                result = readings.joined()
                rest = key.dropFirst(surname.count)
                break
            }
            for scalar in rest.unicodeScalars { result += HanCharacters.pinyin[scalar] ?? String(scalar) }
            return result
        }
        let keys = HanCharacters.surnameReadings.flatMap { [$0.0, $0.0 + "伟", $0.0 + "于伟", $0.0 + "迟"] } + ["张伟", "x", "单", "尉迟"]
        for key in keys { #expect(NameNormalizer.pinyin(of: key) == reference(key), "\(key)") }
    }

    @Test("Latin-script names")
    func latin() throws {
        let mary = try name("O'Brien,  Mary")
        #expect(mary.display == "O'Brien Mary")
        #expect(mary.matchingKey == "obrienmary")
        #expect(!mary.isHan)
        #expect(try name("José Álvarez").matchingKey == "josealvarez")
        #expect(try name("JOSE ALVAREZ").matchingKey == name("José Álvarez").matchingKey)
        #expect(try name("Jean-Luc Picard").matchingKey == "jeanlucpicard")
        // A comma or a dot at an end separates nothing: no space is left there.
        #expect(try name("Picard, ").display == "Picard")
        #expect(try name(",Mary .").display == "Mary")
    }

    @Test("rejections")
    func rejections() {
        #expect(throws: PersonNameError.self) { try name("") }
        #expect(throws: PersonNameError.self) { try name(" \u{3000} ") }
        #expect(throws: PersonNameError.self) { try name("·") }
        #expect(throws: PersonNameError.self) { try name(", .") }
        #expect(throws: PersonNameError.self) { try name("张三1") }
        #expect(throws: PersonNameError.self) { try name("李四@") }
        if case .failure(let error) = NameNormalizer.normalize("王五2") {
            #expect(error.code == "name_invalid_character")
            #expect(error.message.zh == "姓名中含有数字或符号")
        }
    }

    /// Staging keeps the name its cell normalised to, keys and all: normalising the displayed
    /// form again must give the very same name.
    @Test("a displayed name normalises to itself, with the same keys")
    func idempotent() {
        let pieces = [
            "张", "張", "伟", "偉", "欧阳", "·", "•", "・", ".", " ", "\u{3000}", ",", "-", "'", "’", "Ａ", "Mary", "José",
            "ÉLODIE", "买买提", "艾力", "于", "於", "单", "尉迟", "ｏ", "ß", "Ø", "x",
        ]
        var generator = SeededGenerator(seed: 7)
        var checked = 0
        for _ in 0..<5_000 {
            let text = (0..<Int.random(in: 1...6, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
            guard case .success(let once) = NameNormalizer.normalize(text) else { continue }
            checked += 1
            #expect(NameNormalizer.normalize(once.display) == .success(once), "\(Array(text.unicodeScalars))")
        }
        #expect(checked > 3_000)
    }

    @Test("descriptions do not carry the name")
    func privacy() throws {
        #expect(!"\(try name("张伟"))".contains("张"))
    }
}
