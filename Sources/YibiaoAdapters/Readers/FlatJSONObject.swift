import Foundation
import YibiaoCore

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
            var cursor = JSONByteCursor(bytes: raw.bindMemory(to: UInt8.self))
            var names: [String] = [], values: [String] = []
            guard object(&cursor, prefix: "", names: &names, values: &values), cursor.atEnd() else { return nil }
            return (names, values)
        }
    }

    private static func object(_ cursor: inout JSONByteCursor, prefix: String, names: inout [String], values: inout [String]) -> Bool {
        cursor.skipSpace()
        guard cursor.take(UInt8(ascii: "{")) else { return false }
        cursor.skipSpace()
        if cursor.take(UInt8(ascii: "}")) { return true }
        while true {
            cursor.skipSpace()
            guard let key = cursor.string() else { return false }
            let name = prefix.isEmpty ? key : prefix + "." + key
            cursor.skipSpace()
            guard cursor.take(UInt8(ascii: ":")) else { return false }
            cursor.skipSpace()
            switch cursor.current {
            case UInt8(ascii: "\""):
                guard let value = cursor.string() else { return false }
                names.append(name)
                values.append(value)
            case UInt8(ascii: "{"):
                guard object(&cursor, prefix: name, names: &names, values: &values) else { return false }
            default:
                return false
            }
            cursor.skipSpace()
            if cursor.take(UInt8(ascii: ",")) { continue }
            return cursor.take(UInt8(ascii: "}"))
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
        guard let columns = ColumnNames(distinct: names) else { return nil }
        lock.withLock { last = columns }
        return columns
    }
}
