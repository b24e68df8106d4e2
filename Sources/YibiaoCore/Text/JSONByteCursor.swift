/// A cursor over the bytes of JSON text, with the pieces the hand-written JSON readers share
/// (a feed record's strings, `FlatJSONObject`; a stored document as jsonb prints it,
/// `JSONBObjectText`). Strict: what is not well-formed JSON gives nil or false, never a guess.
/// The caller keeps `bytes` alive while the cursor is used.
public struct JSONByteCursor {
    public let bytes: UnsafeBufferPointer<UInt8>
    public private(set) var index = 0

    public init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// The byte at the cursor, nil at the end.
    public var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    public mutating func take(_ byte: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    public mutating func skipSpace() {
        while index < bytes.count, Self.isSpace(bytes[index]) { index += 1 }
    }

    /// Only JSON whitespace is left.
    public mutating func atEnd() -> Bool {
        skipSpace()
        return index == bytes.count
    }

    static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x0A || byte == 0x09 || byte == 0x0D }

    /// A string at the cursor, unescaped; nil when it is not a well-formed JSON string (a raw
    /// control character, an unknown escape, a lone surrogate, `\u0000`, which neither PostgreSQL
    /// text nor our cells hold).
    public mutating func string() -> String? {
        guard take(UInt8(ascii: "\"")) else { return nil }
        let start = index
        // Most strings have no escape: one copy of their bytes.
        while index < bytes.count, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\"), bytes[index] >= 0x20 { index += 1 }
        guard index < bytes.count, bytes[index] >= 0x20 else { return nil }
        if bytes[index] == UInt8(ascii: "\"") {
            defer { index += 1 }
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        }
        var unescaped = Array(UnsafeBufferPointer(rebasing: bytes[start..<index]))
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if byte < 0x20 { return nil }
            if byte == UInt8(ascii: "\"") { return String(decoding: unescaped, as: UTF8.self) }
            guard byte == UInt8(ascii: "\\") else {
                unescaped.append(byte)
                continue
            }
            guard index < bytes.count else { return nil }
            let escape = bytes[index]
            index += 1
            switch escape {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): unescaped.append(escape)
            case UInt8(ascii: "b"): unescaped.append(0x08)
            case UInt8(ascii: "f"): unescaped.append(0x0C)
            case UInt8(ascii: "n"): unescaped.append(0x0A)
            case UInt8(ascii: "r"): unescaped.append(0x0D)
            case UInt8(ascii: "t"): unescaped.append(0x09)
            case UInt8(ascii: "u"):
                guard var code = hex4() else { return nil }
                if (0xD800..<0xDC00).contains(code) {
                    // A surrogate pair: the low half must follow.
                    guard take(UInt8(ascii: "\\")), take(UInt8(ascii: "u")), let low = hex4(), (0xDC00..<0xE000).contains(low) else { return nil }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                }
                guard code != 0, let scalar = Unicode.Scalar(code) else { return nil }
                UTF8.encode(scalar) { unescaped.append($0) }
            default:
                return nil
            }
        }
        return nil
    }

    /// Past an object or array at the cursor, strings inside it included, and its text; nil when
    /// it does not close as it opened. (Its inside is not checked further.)
    public mutating func composite() -> String? {
        let start = index
        var closers: [UInt8] = []
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\""):
                guard string() != nil else { return nil }
                continue
            case UInt8(ascii: "{"): closers.append(UInt8(ascii: "}"))
            case UInt8(ascii: "["): closers.append(UInt8(ascii: "]"))
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                guard closers.popLast() == bytes[index] else { return nil }
                if closers.isEmpty {
                    index += 1
                    return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                }
            default:
                break
            }
            index += 1
        }
        return nil
    }

    /// A number, `true`, `false` or `null` at the cursor, as written (`null` as `.some(nil)`);
    /// nil when the word is none of these.
    public mutating func scalar() -> String?? {
        let start = index
        while index < bytes.count, !Self.endsScalar(bytes[index]) { index += 1 }
        let word = UnsafeBufferPointer(rebasing: bytes[start..<index])
        if word.elementsEqual("null".utf8) { return .some(nil) }
        let isNumber = !word.isEmpty && word.allSatisfy { ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || "-+.eE".utf8.contains($0) }
        guard word.elementsEqual("true".utf8) || word.elementsEqual("false".utf8) || isNumber else { return nil }
        return .some(String(decoding: word, as: UTF8.self))
    }

    private static func endsScalar(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: ",") || byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") || isSpace(byte)
    }

    private mutating func hex4() -> UInt32? {
        guard index + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: return nil
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }
}
