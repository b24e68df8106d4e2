import Foundation
public import YibiaoAdapters
import YibiaoCore

/// A system's raw column names in the order of their positions (`source_column`): a staged row
/// keeps its raw cells in position order (`cells`), instead of an object naming every cell (the
/// names were over half of the document, repeated in every row).
/// A name gets the next position the first time a row of the system has it, and keeps it.
public struct RawColumns: Sendable, Hashable {
    public struct Position: Sendable, Hashable {
        public let position: Int
        public let name: String
    }

    public private(set) var names: [String]
    private var index: [String: Int]

    public init(names: [String] = []) {
        self.names = names
        self.index = Dictionary(names.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Gives each name the records have and this lacks the next position (new names in byte
    /// order, so that the same file always numbers them alike); returns the positions added.
    public mutating func extend(with records: some Sequence<MappedRecord>) -> [Position] {
        var added: Set<String> = []
        // Rows of one file share their column names: once every name of a row has a position,
        // the next row with the same names and every cell adds none.
        var covered: ColumnNames?
        for record in records {
            let row = record.rawRow
            let complete = !row.values.contains(nil)
            if complete, row.columns === covered { continue }
            for (name, value) in zip(row.columns.names, row.values) where value != nil && index[name] == nil { added.insert(name) }
            if complete { covered = row.columns }
        }
        var positions: [Position] = []
        for name in added.sorted(by: { $0.utf8Precedes($1) }) {
            index[name] = names.count
            names.append(name)
            positions.append(Position(position: names.count, name: name))
        }
        return positions
    }

    /// The row's cells in position order, ending at its last cell, as `source_record.raw` keeps
    /// them (migration 0034): each cell after U+001F, and U+001E for a column the row does not
    /// have (a JSON Lines object without the key) — 40 bytes a row fewer than a JSON array,
    /// whose per-element entries and quotes cost more than most cells. A row that form cannot
    /// carry (a cell holding U+001E, U+001F or NUL; no cells, or one empty one, which would read
    /// back as none) is kept as a JSON array instead; `stored(_:)` and SQL's `raw_cells` read
    /// both. Every name must have a position (`extend`).
    public func cells(_ raw: [String: String]) -> String {
        let row = RawRow(number: 0, cells: raw)
        return cells(row, placement: placement(of: row.columns))
    }

    /// Each of `columns`' positions in `names` (-1 for a name without one): rows sharing
    /// their column names share this, computed once (`cells(_:placement:)`).
    public func placement(of columns: ColumnNames) -> [Int] {
        columns.names.map { index[$0] ?? -1 }
    }

    /// `cells(_:)` of a row whose columns' placement is `placement`.
    public func cells(_ row: RawRow, placement: [Int]) -> String {
        var width = 0
        var delimitable = true
        var bytes = 0
        for (position, value) in row.values.enumerated() {
            guard let value else { continue }
            width = max(width, placement[position] + 1)
            bytes += value.utf8.count + 1
            if delimitable, value.containsUTF8Byte(where: { $0 == Self.separator || $0 == Self.missing || $0 == 0 }) { delimitable = false }
        }
        var slots = [String?](repeating: nil, count: width)
        for (position, value) in row.values.enumerated() where value != nil { slots[placement[position]] = value }
        if slots.isEmpty || (slots.count == 1 && slots[0] == "") { delimitable = false }
        guard delimitable else { return Self.jsonArray(slots) }
        var text: [UInt8] = []
        text.reserveCapacity(bytes + width)
        for slot in slots {
            text.append(Self.separator)
            if let slot { text.append(contentsOf: slot.utf8) } else { text.append(Self.missing) }
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// U+001F (unit separator) before each cell; U+001E (record separator) for no cell.
    static let separator: UInt8 = 0x1F
    static let missing: UInt8 = 0x1E

    static func jsonArray(_ slots: [String?]) -> String {
        var bytes: [UInt8] = [UInt8(ascii: "[")]
        for (offset, slot) in slots.enumerated() {
            if offset > 0 { bytes.append(UInt8(ascii: ",")) }
            if let slot { CanonicalJSON.appendString(slot, to: &bytes) } else { bytes.append(contentsOf: "null".utf8) }
        }
        bytes.append(UInt8(ascii: "]"))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// SQL for the cells of `column` (a stored `raw`) as `text[]`: what the schema's `raw_cells`
    /// gives, spelled out, so that the hub's statements call no function of the schema's own (on
    /// Citus, a statement runs on the district's node, where only built-in functions are sure
    /// to be).
    public static func cellsSQL(_ column: String) -> String {
        """
        CASE WHEN left(\(column), 1) = chr(31) THEN string_to_array(substr(\(column), 2), chr(31), chr(30))
             ELSE ARRAY(SELECT jsonb_array_elements_text(\(column)::jsonb)) END
        """
    }

    /// The cells of a stored row, in either form `cells` writes (or the JSON arrays written
    /// before migration 0034); nil when the text is neither.
    public static func stored(_ text: String) -> [String?]? {
        if text.utf8.first == separator {
            return text.utf8.dropFirst().split(separator: separator, omittingEmptySubsequences: false).map { cell in
                cell.elementsEqual([missing]) ? nil : String(decoding: cell, as: UTF8.self)
            }
        }
        return try? JSONDecoder().decode([String?].self, from: Data(text.utf8))
    }

    /// A row's cells by name, from its array as `cells` wrote it.
    public func named(_ cells: [String?]) -> [String: String] {
        var raw: [String: String] = [:]
        for (offset, cell) in cells.enumerated() where offset < names.count {
            if let cell { raw[names[offset]] = cell }
        }
        return raw
    }
}
