/// A JSON value written in one canonical form: object keys in UTF-8 byte order, no whitespace,
/// only the escapes JSON requires. Hashes over JSON (the change log's chain) need exactly one
/// spelling per value, and Foundation's `JSONSerialization` with sorted keys is both slow on
/// Linux (it sorts with locale-aware string comparison) and not specified to be stable.
public enum CanonicalJSON: Sendable, Hashable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([CanonicalJSON])
    case object([String: CanonicalJSON])

    /// A string, or null.
    public static func optional(_ value: String?) -> CanonicalJSON { value.map(CanonicalJSON.string) ?? .null }

    /// A flat object of strings.
    public static func strings(_ values: [String: String]) -> CanonicalJSON { .object(values.mapValues(CanonicalJSON.string)) }

    public var text: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(128)
        write(into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    private func write(into bytes: inout [UInt8]) {
        switch self {
        case .null: bytes.append(contentsOf: "null".utf8)
        case .bool(let value): bytes.append(contentsOf: (value ? "true" : "false").utf8)
        case .integer(let value): bytes.append(contentsOf: String(value).utf8)
        // Non-finite numbers have no JSON spelling.
        case .number(let value): bytes.append(contentsOf: (value.isFinite ? String(value) : "null").utf8)
        case .string(let value): Self.writeString(value, into: &bytes)
        case .array(let values):
            bytes.append(UInt8(ascii: "["))
            for (index, value) in values.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                value.write(into: &bytes)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let members):
            bytes.append(UInt8(ascii: "{"))
            for (index, key) in members.keys.sorted(by: { $0.utf8Precedes($1) }).enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                Self.writeString(key, into: &bytes)
                bytes.append(UInt8(ascii: ":"))
                members[key]!.write(into: &bytes)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// The text of `.strings(values)`, written without building the tree first (staging writes
    /// three such objects per row; the tree's dictionary and lookups were most of their cost).
    public static func objectText(_ values: [String: String]) -> String {
        objectText(pairs: values.map { ($0.key, $0.value) })
    }

    /// The same for members given as pairs, whose keys must be distinct (a dictionary's are).
    /// Sorted in place: the dictionary form's pairs are the one array made.
    public static func objectText(pairs values: consuming [(key: String, value: String)]) -> String {
        values.sort { $0.key.utf8Precedes($1.key) }
        var bytes: [UInt8] = [UInt8(ascii: "{")]
        bytes.reserveCapacity(values.reduce(2) { $0 + $1.key.utf8.count + $1.value.utf8.count + 6 })
        for (index, member) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            writeString(member.key, into: &bytes)
            bytes.append(UInt8(ascii: ":"))
            writeString(member.value, into: &bytes)
        }
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends `value` as a JSON string, exactly as `text` writes strings: for callers that
    /// write a fixed shape straight into bytes (many small objects, no tree to build).
    public static func appendString(_ value: String, to bytes: inout [UInt8]) {
        writeString(value, into: &bytes)
    }

    private static func writeString(_ value: String, into bytes: inout [UInt8]) {
        let hex = hexDigits
        bytes.append(UInt8(ascii: "\""))
        // Most strings need no escape: copied whole. (Checked over the string's own bytes when it
        // has them: a byte at a time through `utf8` cost more than the copy.)
        func needsEscape(_ byte: UInt8) -> Bool { byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") }
        let plain = !value.containsUTF8Byte(where: needsEscape)
        if plain {
            bytes.append(contentsOf: value.utf8)
            bytes.append(UInt8(ascii: "\""))
            return
        }
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x00..<0x20: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
