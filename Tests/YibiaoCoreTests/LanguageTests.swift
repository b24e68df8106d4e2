import Testing
import YibiaoCore

@Suite struct LanguageTests {
    @Test("--lang wins, then LC_ALL, LC_MESSAGES, LANG; English otherwise")
    func detection() {
        #expect(Language.detect(explicit: "zh", environment: ["LANG": "en_US.UTF-8"]) == .zh)
        #expect(Language.detect(explicit: nil, environment: ["LANG": "zh_CN.UTF-8"]) == .zh)
        #expect(Language.detect(explicit: nil, environment: ["LC_ALL": "en_US.UTF-8", "LANG": "zh_CN.UTF-8"]) == .en)
        #expect(Language.detect(explicit: nil, environment: ["LC_MESSAGES": "zh_TW", "LANG": "C"]) == .zh)
        #expect(Language.detect(explicit: nil, environment: [:]) == .en)
        #expect(Language.detect(explicit: nil, environment: ["LANG": "fr_FR.UTF-8"]) == .en)
        #expect(Language.detect(explicit: "xx", environment: ["LANG": "zh_CN"]) == .zh)
        #expect(Language(tag: "C.UTF-8") == .en)
        #expect(LocalizedText(en: "a", zh: "甲").text(in: .zh) == "甲")
    }
}
