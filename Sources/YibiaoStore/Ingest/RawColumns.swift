public import YibiaoAdapters
import YibiaoCore

/// A system's raw column names in the order of their positions (`source_column`): a staged row
/// keeps its raw cells as a JSON array, element i the cell of position i + 1, instead of an
/// object naming every cell (the names were over half of the document, repeated in every row).
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
        for record in records {
            for name in record.raw.keys where index[name] == nil { added.insert(name) }
        }
        var positions: [Position] = []
        for name in added.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            index[name] = names.count
            names.append(name)
            positions.append(Position(position: names.count, name: name))
        }
        return positions
    }

    /// The row's cells as a JSON array in position order, `null` where the row has no such
    /// column (a JSON Lines object without the key), ending at its last cell. Every name must
    /// have a position (`extend`).
    public func cells(_ raw: [String: String]) -> String {
        var slots = [String?](repeating: nil, count: raw.keys.map { index[$0]! + 1 }.max() ?? 0)
        for (name, value) in raw { slots[index[name]!] = value }
        var bytes: [UInt8] = [UInt8(ascii: "[")]
        bytes.reserveCapacity(raw.values.reduce(2) { $0 + $1.utf8.count + 3 })
        for (offset, slot) in slots.enumerated() {
            if offset > 0 { bytes.append(UInt8(ascii: ",")) }
            if let slot { CanonicalJSON.appendString(slot, to: &bytes) } else { bytes.append(contentsOf: "null".utf8) }
        }
        bytes.append(UInt8(ascii: "]"))
        return String(decoding: bytes, as: UTF8.self)
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
