import Foundation
import Testing
import YibiaoCore

@Suite struct JSONByteCursorTests {
    func withCursor<T>(_ text: String, _ body: (inout JSONByteCursor) -> T) -> T {
        var text = text
        return text.withUTF8 { bytes in
            var cursor = JSONByteCursor(bytes: bytes)
            return body(&cursor)
        }
    }

    @Test("strings: plain, every escape, surrogate pairs; what JSONSerialization reads, they read alike")
    func strings() throws {
        for json in [
            #""""#, #""张伟""#, #""a\"b\\c\/d""#, #""\b\f\n\r\t""#, #""\u5f20\u4F1F""#, #""\ud83d\ude00""#, #""e\u0301 é""#, "\"\u{7F}\"",
        ] {
            let expected = try JSONSerialization.jsonObject(with: Data(json.utf8), options: [.fragmentsAllowed]) as? String
            #expect(withCursor(json) { $0.string() } == expected, "\(json)")
            #expect(
                withCursor(json) { cursor in
                    _ = cursor.string()
                    return cursor.atEnd()
                }, "\(json)")
        }
    }

    @Test("what is not a well-formed string, object or scalar gives nil")
    func malformed() {
        for json in [#""open"#, #""\q""#, #""\u12""#, #""\ud800""#, #""\udc00""#, #""\u0000""#, "\"raw\u{9}tab\"", "\"line\nbreak\"", "x"] {
            #expect(withCursor(json) { $0.string() } == nil, "\(json)")
        }
        for json in ["[1, 2}", "{\"a\": [1}", "{\"a\": \"}", "[", "{\"a\": \"\\q\"}"] {
            #expect(withCursor(json) { $0.composite() } == nil, "\(json)")
        }
        for json in ["tru", "nul", "1a", "", "\"x\""] {
            #expect(withCursor(json) { $0.scalar() } == nil, "\(json)")
        }
    }

    @Test("objects and arrays give their text; scalars as written, null as none")
    func compositesAndScalars() {
        #expect(withCursor(#"{"a": [1, "]"], "b": {}} rest"#) { $0.composite() } == #"{"a": [1, "]"], "b": {}}"#)
        #expect(withCursor("[[], [{}]]") { $0.composite() } == "[[], [{}]]")
        for word in ["0", "-12.5e3", "true", "false"] {
            #expect(withCursor(word + ",") { $0.scalar() } == .some(word))
        }
        #expect(withCursor("null}") { $0.scalar() } == .some(nil))
        #expect(withCursor("  \n\t ") { $0.atEnd() })
        #expect(!withCursor(" x") { $0.atEnd() })
    }
}
