/// The pairs of a JSON object as PostgreSQL's `jsonb` prints it, each value as `jsonb_each_text`
/// gives it: a string unescaped, a number, `true` or `false` as written, an object or array as
/// its JSON text, and `null` as nil.
///
/// Written by hand for the reads of many documents (a refresh's records, a slice's stored golden
/// values): taking each document apart on the server (`jsonb_each_text` into arrays) was the
/// largest statement of a first load (4.2 s for 246,624 records), and Foundation's
/// `JSONSerialization` builds an `NSDictionary` of `Any` per document, costing as much here as
/// it saved there. These documents are flat objects of strings; the reader still accepts any
/// JSON object and returns nil for text that is not one, so nothing is ever read wrongly.
enum JSONBObjectText {
    static func pairs(_ text: String) -> [(key: String, value: String?)]? {
        var text = text
        return text.withUTF8 { bytes in
            var reader = Reader(bytes: bytes)
            return reader.object()
        }
    }

    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        init(bytes: UnsafeBufferPointer<UInt8>) {
            self.bytes = bytes
        }

        mutating func object() -> [(key: String, value: String?)]? {
            skipSpace()
            guard take(UInt8(ascii: "{")) else { return nil }
            var pairs: [(key: String, value: String?)] = []
            skipSpace()
            if take(UInt8(ascii: "}")) { return atEnd() ? pairs : nil }
            while true {
                skipSpace()
                guard let key = string() else { return nil }
                skipSpace()
                guard take(UInt8(ascii: ":")) else { return nil }
                skipSpace()
                guard let value = value() else { return nil }
                pairs.append((key, value))
                skipSpace()
                if take(UInt8(ascii: ",")) { continue }
                guard take(UInt8(ascii: "}")) else { return nil }
                return atEnd() ? pairs : nil
            }
        }

        /// A value as text (`.some(nil)` for `null`); nil when the text is not a JSON value.
        private mutating func value() -> String?? {
            guard index < bytes.count else { return nil }
            switch bytes[index] {
            case UInt8(ascii: "\""):
                guard let text = string() else { return nil }
                return .some(text)
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let start = index
                guard skipComposite() else { return nil }
                return .some(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self))
            default:
                // A number, true, false or null: up to the next separator.
                let start = index
                while index < bytes.count, !Self.endsScalar(bytes[index]) { index += 1 }
                let word = UnsafeBufferPointer(rebasing: bytes[start..<index])
                if word.elementsEqual("null".utf8) { return .some(nil) }
                guard word.elementsEqual("true".utf8) || word.elementsEqual("false".utf8) || Self.isNumber(word) else { return nil }
                return .some(String(decoding: word, as: UTF8.self))
            }
        }

        private static func endsScalar(_ byte: UInt8) -> Bool {
            byte == UInt8(ascii: ",") || byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") || byte == 0x20 || byte == 0x0A
                || byte == 0x09 || byte == 0x0D
        }

        private static func isNumber(_ word: UnsafeBufferPointer<UInt8>) -> Bool {
            !word.isEmpty
                && word.allSatisfy { ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || "-+.eE".utf8.contains($0) }
        }

        /// Past an object or array, strings inside it included; false when it does not close
        /// as it opened. (Its inside is not checked further: the whole is given as its text.)
        private mutating func skipComposite() -> Bool {
            var closers: [UInt8] = []
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "\""):
                    guard string() != nil else { return false }
                    continue
                case UInt8(ascii: "{"): closers.append(UInt8(ascii: "}"))
                case UInt8(ascii: "["): closers.append(UInt8(ascii: "]"))
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    guard closers.popLast() == bytes[index] else { return false }
                    if closers.isEmpty {
                        index += 1
                        return true
                    }
                default:
                    break
                }
                index += 1
            }
            return false
        }

        /// A string at `index`, unescaped; nil when it is not a well-formed JSON string.
        private mutating func string() -> String? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            let start = index
            // Most strings have no escape: one copy of their bytes.
            while index < bytes.count, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\") { index += 1 }
            guard index < bytes.count else { return nil }
            if bytes[index] == UInt8(ascii: "\"") {
                defer { index += 1 }
                return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            }
            var unescaped = Array(UnsafeBufferPointer(rebasing: bytes[start..<index]))
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                if byte == UInt8(ascii: "\"") {
                    return String(decoding: unescaped, as: UTF8.self)
                }
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
                        guard take(UInt8(ascii: "\\")), take(UInt8(ascii: "u")), let low = hex4(), (0xDC00..<0xE000).contains(low) else {
                            return nil
                        }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let scalar = Unicode.Scalar(code) else { return nil }
                    UTF8.encode(scalar) { unescaped.append($0) }
                default:
                    return nil
                }
            }
            return nil
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

        private mutating func take(_ byte: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        private mutating func skipSpace() {
            while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x09 || bytes[index] == 0x0D { index += 1 }
        }

        private func atEnd() -> Bool {
            var at = index
            while at < bytes.count, bytes[at] == 0x20 || bytes[at] == 0x0A || bytes[at] == 0x09 || bytes[at] == 0x0D { at += 1 }
            return at == bytes.count
        }
    }
}
