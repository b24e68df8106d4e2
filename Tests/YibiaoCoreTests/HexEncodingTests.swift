import Foundation
import Testing
import YibiaoCore

@Suite struct HexEncodingTests {
    @Test("every byte as two lower-case digits, in order; nothing for no bytes")
    func everyByte() {
        let bytes = (0...255).map { UInt8($0) }
        #expect(bytes.hexString == bytes.map { String(format: "%02x", $0) }.joined())
        #expect([UInt8]().hexString == "")
        #expect([0x00, 0x0f, 0xa0, 0xff].hexString == "000fa0ff")
        // Any sequence of bytes, not only arrays.
        #expect("Az".utf8.hexString == "417a")
        var text = Array("id:".utf8)
        bytes.appendHexDigits(to: &text)
        #expect(text == Array(("id:" + bytes.hexString).utf8))
    }
}
