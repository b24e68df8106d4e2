import Testing
import YibiaoCore

@Suite struct CanonicalJSONTests {
    @Test("an object of strings written directly is the tree's text: keys in byte order, escapes, Chinese, empty")
    func objectText() {
        let cases: [[String: String]] = [
            [:],
            ["name": "张伟", "phone": "13812345678"],
            ["b": "line\nbreak", "a": "quote \" and \\ backslash", "c": "tab\tand \u{1}"],
            ["姓名": "李波健", "Zeta": "", "alpha": "x", "公民身份号码": "11010519491231002X"],
        ]
        for values in cases {
            #expect(CanonicalJSON.objectText(values) == CanonicalJSON.strings(values).text)
            // Given as pairs in any order, the same text.
            #expect(CanonicalJSON.objectText(pairs: values.map { ($0.key, $0.value) }.reversed()) == CanonicalJSON.strings(values).text)
        }
        #expect(CanonicalJSON.objectText(["b": "1", "a": "\"\n"]) == #"{"a":"\"\n","b":"1"}"#)
        #expect(CanonicalJSON.objectText(["x": "\u{1}"]) == #"{"x":"\u0001"}"#)
        #expect(CanonicalJSON.objectText([:]) == "{}")
    }
}
