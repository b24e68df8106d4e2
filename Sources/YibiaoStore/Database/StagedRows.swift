import NIOCore
import PostgresNIO
import YibiaoCore

/// Rows for one statement, sent column by column as `text[]` parameters and read back with
/// `unnest($1::bigint[], $2::text[], …) AS s(…)`.
///
/// This replaces session-local staging tables: Citus cannot join a session's temporary table to
/// a distributed one, but it ships a statement whose rows travel inside it to the one node that
/// holds the district. The planner also sees exactly how many rows an array holds (a custom plan
/// of the unnamed statement), where a staging table needed an `ANALYZE` to stop it from
/// scanning a district whole for one row. Written by hand because PostgresNIO encodes no array
/// with NULL elements.
public struct StagedRows: Sendable {
    public private(set) var columns: [[String?]]
    public private(set) var count = 0

    public init(columns: Int) {
        self.columns = Array(repeating: [], count: columns)
    }

    public var isEmpty: Bool { count == 0 }

    public mutating func row(_ values: [String?]) {
        precondition(values.count == columns.count, "a staged row has one value per column")
        for (index, value) in values.enumerated() { columns[index].append(value) }
        count += 1
    }

    /// Another block's rows after these.
    public mutating func append(contentsOf other: StagedRows) {
        precondition(other.columns.count == columns.count, "staged rows of one shape")
        for index in columns.indices { columns[index].append(contentsOf: other.columns[index]) }
        count += other.count
    }

    /// Column `index` as one `text[]` parameter; the statement casts it to the column's type.
    func column(_ index: Int) -> TextArrayParameter { TextArrayParameter(columns[index]) }
}

/// A `text[]` parameter whose elements may be NULL, in PostgreSQL's binary array format.
struct TextArrayParameter: PostgresNonThrowingEncodable, Sendable {
    let values: [String?]

    init(_ values: [String?]) { self.values = values }

    static var psqlType: PostgresDataType { .textArray }
    static var psqlFormat: PostgresFormat { .binary }

    func encode<JSONEncoder: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        guard !values.isEmpty else {
            buffer.writeMultipleIntegers(Int32(0), Int32(0), PostgresDataType.text.rawValue)
            return
        }
        let hasNulls: Int32 = values.contains(where: { $0 == nil }) ? 1 : 0
        buffer.writeMultipleIntegers(Int32(1), hasNulls, PostgresDataType.text.rawValue, Int32(values.count), Int32(1))
        for value in values {
            guard let value else {
                buffer.writeInteger(Int32(-1))
                continue
            }
            // PostgreSQL text cannot hold NUL: left out, as COPY into staging did. (The check runs
            // over the string's own bytes: through `utf8.contains` it was a twentieth of staging.)
            let hasNul = value.containsUTF8Byte(0)
            if hasNul {
                let bytes = value.utf8.filter { $0 != 0 }
                buffer.writeInteger(Int32(bytes.count))
                buffer.writeBytes(bytes)
            } else {
                buffer.writeInteger(Int32(value.utf8.count))
                buffer.writeString(value)
            }
        }
    }
}
