extension Sequence<UInt8> {
    /// Lower-case hexadecimal, two digits per byte (digests). Written out by hand because
    /// `String(format: "%02x")` costs microseconds per byte on Linux: on the change log's hot
    /// path that was most of the time.
    public var hexString: String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64)
        for byte in self {
            bytes.append(digits[Int(byte >> 4)])
            bytes.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
