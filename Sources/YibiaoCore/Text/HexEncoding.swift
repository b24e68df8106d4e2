extension Sequence<UInt8> {
    /// Lower-case hexadecimal, two digits per byte (digests). Written out by hand because
    /// `String(format: "%02x")` costs microseconds per byte on Linux: on the change log's hot
    /// path that was most of the time. The digits are computed, not looked up in an array made
    /// per call, and written into the string's own storage.
    public var hexString: String {
        let bytes = Array(self)
        return String(unsafeUninitializedCapacity: 2 * bytes.count) { buffer in
            for (index, byte) in bytes.enumerated() {
                buffer[2 * index] = hexDigit(byte >> 4)
                buffer[2 * index + 1] = hexDigit(byte & 0x0F)
            }
            return 2 * bytes.count
        }
    }
}

extension Collection<UInt8> {
    /// The same digits appended to `bytes` (text built as bytes, such as a digest's input).
    public func appendHexDigits(to bytes: inout [UInt8]) {
        for byte in self {
            bytes.append(hexDigit(byte >> 4))
            bytes.append(hexDigit(byte & 0x0F))
        }
    }
}

@inline(__always)
private func hexDigit(_ nibble: UInt8) -> UInt8 {
    nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
}
