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
}
