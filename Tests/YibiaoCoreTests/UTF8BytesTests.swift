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
}
