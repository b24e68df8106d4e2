import Foundation
import YibiaoCore

/// Builds rows for PostgreSQL's COPY text format: tab-separated, `\N` for NULL,
/// backslash, tab, newline and carriage return escaped.
public struct CopyText: Sendable {
    public private(set) var bytes: [UInt8] = []
    /// Rows added (`append` counts the other block's too).
    public private(set) var count = 0

    public init(reserving capacity: Int = 1 << 16) {
        bytes.reserveCapacity(capacity)
    }

    public mutating func row(_ fields: [String?]) {
        for (index, field) in fields.enumerated() {
            if index > 0 { bytes.append(0x09) }
            guard let field else {
                bytes.append(contentsOf: [0x5C, 0x4E])
                continue
            }
            // Most values hold nothing to escape: copied whole.
            if !field.containsUTF8Byte(where: { $0 == 0x5C || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D || $0 == 0x00 }) {
                bytes.append(contentsOf: field.utf8)
                continue
            }
            for byte in field.utf8 {
                switch byte {
                case 0x5C: bytes.append(contentsOf: [0x5C, 0x5C])
                case 0x09: bytes.append(contentsOf: [0x5C, 0x74])
                case 0x0A: bytes.append(contentsOf: [0x5C, 0x6E])
                case 0x0D: bytes.append(contentsOf: [0x5C, 0x72])
                case 0x00: continue // PostgreSQL text cannot hold NUL
                default: bytes.append(byte)
                }
            }
        }
        bytes.append(0x0A)
        count += 1
    }

    public var isEmpty: Bool { bytes.isEmpty }

    /// Another block's rows after these.
    public mutating func append(_ other: CopyText) {
        bytes.append(contentsOf: other.bytes)
        count += other.count
    }
}

enum JSONText {
    /// A JSON object of string values, keys sorted (stable output, stable hashes).
    static func object(_ values: [String: String]) -> String {
        CanonicalJSON.objectText(values)
    }

    static func encode<T: Encodable>(_ value: [T]) -> String {
        // Most records have no problems: no encoder for an empty list.
        if value.isEmpty { return "[]" }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }

    static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }
}

/// A PostgreSQL array literal, for a staged text column cast to an array.
enum PostgresArrayText {
    /// A `bigint[]` literal (`{1,-2}`): digits need no quoting.
    static func literal(_ values: [Int64]) -> String {
        "{" + values.map(String.init).joined(separator: ",") + "}"
    }
}
