import NIOCore
import PostgresNIO

/// A row's cells read in order, for the loads that decode hundreds of thousands of rows (a
/// district's records for matching, its links, a refresh's records). PostgresNIO's decoding of
/// a whole row as a tuple (`rows.decode((Int64, String?, …).self)`) is generic over the tuple
/// and was most of such a load: about 9 µs a row of 14 columns on this side, against 1.3 µs on
/// the server. Integers, booleans and text are read here straight from the cell's bytes, as PostgresNIO
/// reads them; any other type goes through PostgresNIO's own decoding.
struct RowReader {
    private var cells: PostgresRow.Iterator

    init(_ row: PostgresRow) {
        cells = row.makeIterator()
    }

    /// The statement gave fewer columns than its reader reads: a mistake in this program.
    struct MissingColumn: Error {}

    private mutating func next() throws -> PostgresCell {
        guard let cell = cells.next() else { throw MissingColumn() }
        return cell
    }

    mutating func int64() throws -> Int64 {
        try Self.int64(try next())
    }

    /// An integer, or nil for NULL.
    mutating func optionalInt64() throws -> Int64? {
        let cell = try next()
        guard cell.bytes != nil else { return nil }
        return try Self.int64(cell)
    }

    private static func int64(_ cell: PostgresCell) throws -> Int64 {
        if cell.format == .binary, cell.dataType == .int8, let bytes = cell.bytes, bytes.readableBytes == 8,
            let value = bytes.getInteger(at: bytes.readerIndex, as: Int64.self)
        {
            return value
        }
        return try cell.decode(Int64.self)
    }

    mutating func bool() throws -> Bool {
        let cell = try next()
        if cell.format == .binary, cell.dataType == .bool, let bytes = cell.bytes, bytes.readableBytes == 1,
            let value = bytes.getInteger(at: bytes.readerIndex, as: UInt8.self)
        {
            return value != 0
        }
        return try cell.decode(Bool.self)
    }

    /// A `bytea`'s bytes, or nil for NULL.
    mutating func bytes() throws -> [UInt8]? {
        let cell = try next()
        guard let bytes = cell.bytes else { return nil }
        if cell.format == .binary, cell.dataType == .bytea { return Array(bytes.readableBytesView) }
        return Array(try cell.decode(ByteBuffer.self).readableBytesView)
    }

    /// Text, or nil for NULL.
    mutating func text() throws -> String? {
        let cell = try next()
        guard cell.bytes != nil else { return nil }
        return try Self.string(cell)
    }

    /// Text that may not be NULL (PostgresNIO's error if it is).
    mutating func string() throws -> String {
        try Self.string(try next())
    }

    private static func string(_ cell: PostgresCell) throws -> String {
        switch cell.dataType {
        case .text, .varchar, .bpchar, .name:
            if let bytes = cell.bytes, let text = bytes.getString(at: bytes.readerIndex, length: bytes.readableBytes) { return text }
        default: break
        }
        return try cell.decode(String.self)
    }

    /// A `text[]`, or nil for NULL.
    mutating func textArray() throws -> [String]? {
        let cell = try next()
        guard cell.bytes != nil else { return nil }
        return try Self.strings(cell)
    }

    /// A `text[]` that may not be NULL (PostgresNIO's error if it is).
    mutating func strings() throws -> [String] {
        try Self.strings(try next())
    }

    /// One dimension from 1 without NULL elements is read from PostgreSQL's binary array format
    /// here; any other array through PostgresNIO (which refuses most of them).
    private static func strings(_ cell: PostgresCell) throws -> [String] {
        if var bytes = cell.bytes, cell.format == .binary, cell.dataType == .textArray,
            let (dimensions, hasNulls, elementType) = bytes.readMultipleIntegers(as: (Int32, Int32, UInt32).self)
        {
            if dimensions == 0, bytes.readableBytes == 0 { return [] }
            if dimensions == 1, hasNulls == 0, elementType == PostgresDataType.text.rawValue,
                let (count, lowerBound) = bytes.readMultipleIntegers(as: (Int32, Int32).self), count >= 0, lowerBound == 1
            {
                var values: [String] = []
                values.reserveCapacity(Int(count))
                for _ in 0..<count {
                    guard let length = bytes.readInteger(as: Int32.self), length >= 0, let value = bytes.readString(length: Int(length)) else { break }
                    values.append(value)
                }
                if values.count == count, bytes.readableBytes == 0 { return values }
            }
        }
        return try cell.decode([String].self)
    }

    mutating func decode<Value: PostgresDecodable>(_: Value.Type) throws -> Value {
        try next().decode(Value.self)
    }
}
