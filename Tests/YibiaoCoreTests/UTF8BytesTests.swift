import Foundation
import Testing
import YibiaoCore

@Suite struct UTF8BytesTests {
    @Test("a byte is found in small and large texts, ASCII or not, as a byte-by-byte search finds it")
    func sameAsByteByByte() {
        let texts = [
            "", "a", "a.b", "张伟", "北京市朝阳区建国路88号", String(repeating: "长文本", count: 200) + ".", "line\nbreak", "nul\u{0}inside",
            NSString(string: "bridged.text") as String,
        ]
        for text in texts {
            for byte: UInt8 in [0, 0x0A, UInt8(ascii: "."), 0xE5, UInt8(ascii: "z")] {
                #expect(text.containsUTF8Byte(byte) == text.utf8.contains(byte), "\(text.utf8.count) bytes, byte \(byte)")
            }
            #expect(text.containsUTF8Byte(where: { $0 >= 0x80 }) == text.utf8.contains(where: { $0 >= 0x80 }))
        }
    }

    @Test("byte order of UTF-8, as a byte-by-byte comparison orders texts")
    func byteOrder() {
        let texts = ["", "a", "ab", "a.b", "B", "name", "national_id", "national_id_raw", "张伟", "张", "é", "e\u{301}", String(repeating: "长", count: 50)]
        for x in texts {
            for y in texts {
                #expect(x.utf8Precedes(y) == x.utf8.lexicographicallyPrecedes(y.utf8), "\(x.utf8.count) and \(y.utf8.count) bytes")
            }
        }
    }

    @Test("a text as a key by its bytes: equal exactly when the bytes are, one hash for equal bytes, two spellings of é two keys")
    func keysByBytes() {
        let texts = [
            "", "a", "ab", "张伟", "張偉", "é", "e\u{301}", String(repeating: "长", count: 50), "北京市朝阳区某某路1号",
            NSString(string: "张伟") as String, String("x张伟".dropFirst()),
        ]
        for x in texts {
            for y in texts {
                #expect((UTF8Key(x) == UTF8Key(y)) == x.utf8.elementsEqual(y.utf8), "\(x.utf8.count) and \(y.utf8.count) bytes")
                if x.utf8.elementsEqual(y.utf8) { #expect(UTF8Key(x).hashValue == UTF8Key(y).hashValue) }
            }
        }
        // As `String` keys they were one: a memo keeps what each spelling becomes.
        #expect(Set(["é", "e\u{301}"]).count == 1 && Set([UTF8Key("é"), UTF8Key("e\u{301}")]).count == 2)
    }
}
