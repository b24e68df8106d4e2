import Foundation

/// The common shape of a JSON feed's record — an object of strings, perhaps with objects of
/// strings inside — read straight from its bytes into cells (`address.city` for nested keys).
/// Anything else (a number, true, false, null, an array, bytes that are not UTF-8, text that is
/// not JSON) gives nil, and the record is read by Foundation as before,
/// which then also says what is wrong with it.
///
/// Written by hand: `JSONSerialization` builds an `NSDictionary` of `Any` per record, about a
/// sixth of staging a JSON Lines feed; the cells a record gives are the same either way
/// (JSONReaderTests read every sample both ways).
enum FlatJSONObject {
    static func cells(_ data: Data) -> (names: [String], values: [String])? {
        guard String(validating: data, as: UTF8.self) != nil else { return nil }
        return data.withUnsafeBytes { raw in
            var reader = Reader(bytes: raw.bindMemory(to: UInt8.self))
            var names: [String] = [], values: [String] = []
            guard reader.object(prefix: "", names: &names, values: &values), reader.atEnd() else { return nil }
            return (names, values)
        }
    }

    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        init(bytes: UnsafeBufferPointer<UInt8>) {
            self.bytes = bytes
        }

        mutating func object(prefix: String, names: inout [String], values: inout [String]) -> Bool {
            skipSpace()
            guard take(UInt8(ascii: "{")) else { return false }
            skipSpace()
            if take(UInt8(ascii: "}")) { return true }
            while true {
                skipSpace()
                guard let key = string() else { return false }
                let name = prefix.isEmpty ? key : prefix + "." + key
                skipSpace()
                guard take(UInt8(ascii: ":")) else { return false }
                skipSpace()
                guard index < bytes.count else { return false }
                if bytes[index] == UInt8(ascii: "\"") {
                    guard let value = string() else { return false }
                    names.append(name)
                    values.append(value)
                } else if bytes[index] == UInt8(ascii: "{") {
                    guard object(prefix: name, names: &names, values: &values) else { return false }
                } else {
                    return false
                }
                skipSpace()
                if take(UInt8(ascii: ",")) { continue }
                return take(UInt8(ascii: "}"))
            }
        }

        /// A string at `index`, unescaped; nil when it is not a well-formed JSON string.
        private mutating func string() -> String? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            let start = index
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
                // A raw control character is not allowed in a JSON string.
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
                        guard take(UInt8(ascii: "\\")), take(UInt8(ascii: "u")), let low = hex4(), (0xDC00..<0xE000).contains(low) else {
                            return nil
                        }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    // A lone surrogate or NUL: Foundation's reading decides what it is.
                    guard code != 0, let scalar = Unicode.Scalar(code) else { return nil }
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

        mutating func atEnd() -> Bool {
            skipSpace()
            return index == bytes.count
        }
    }
}

/// The column names of a JSON feed's last record, shared by the next one that names the same
/// keys in the same order (nearly every record of a feed): rows with one `ColumnNames` are
/// mapped with one lookup of the adapter's columns, not one per record.
final class RecentColumnNames: @unchecked Sendable {
    private let lock = NSLock()
    private var last: ColumnNames?

    /// nil when a name comes twice (or `a.b` beside `a: {b}`): Foundation's reading decides then.
    func columns(for names: [String]) -> ColumnNames? {
        if let known = lock.withLock({ last }), known.names.count == names.count,
            zip(known.names, names).allSatisfy({ $0.utf8.elementsEqual($1.utf8) })
        {
            return known
        }
        guard Set(names).count == names.count else { return nil }
        let columns = ColumnNames(names)
        lock.withLock { last = columns }
        return columns
    }
}
