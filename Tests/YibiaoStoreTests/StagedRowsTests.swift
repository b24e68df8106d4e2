import Foundation
import PostgresNIO
import Testing
@testable import YibiaoStore
import YibiaoTestSupport

@Suite struct StagedRowsTests {
    @Test("staged rows reach the server as they were: NULLs, empty strings, Chinese, quotes and braces; no rows at all is an empty array")
    func roundTrip() async throws {
        try await TestDatabase.withFreshDatabase(migrated: false) { _, client in
            var rows = StagedRows(columns: 2)
            let values: [[String?]] = [
                ["1", "张伟"], ["2", nil], ["3", ""], ["4", "{\"a\": [1, 2]}"], ["5", "back\\slash, comma \"quoted\"\n\tline"],
            ]
            for row in values { rows.row(row) }
            #expect(rows.count == 5)
            var read: [[String?]] = []
            for try await (id, text, isNull) in try await client.query(
                """
                SELECT s.id::bigint, coalesce(s.text, ''), s.text IS NULL
                FROM unnest(\(rows.column(0))::text[], \(rows.column(1))::text[]) WITH ORDINALITY AS s(id, text, n) ORDER BY n
                """
            ).decode((Int64, String, Bool).self) {
                read.append([String(id), isNull ? nil : text])
            }
            #expect(read == values)

            let empty = StagedRows(columns: 1)
            var count = -1
            for try await n in try await client.query("SELECT count(*)::int FROM unnest(\(empty.column(0))::text[])").decode(Int.self) {
                count = n
            }
            #expect(count == 0)

            // PostgreSQL text cannot hold NUL: the character is left out, as COPY did.
            let withNUL = StagedRows(columns: 1).adding(["a\u{0}b"])
            for try await text in try await client.query("SELECT (\(withNUL.column(0))::text[])[1]").decode(String.self) {
                #expect(text == "ab")
            }
        }
    }

    @Test("blocks appended keep their order and shape")
    func append() {
        var first = StagedRows(columns: 2)
        first.row(["1", "a"])
        var second = StagedRows(columns: 2)
        second.row(["2", nil])
        second.row(["3", "c"])
        first.append(contentsOf: second)
        #expect(first.count == 3)
        #expect(first.columns == [["1", "2", "3"], ["a", nil, "c"]])
        #expect(!first.isEmpty && StagedRows(columns: 4).isEmpty)
    }
}

extension StagedRows {
    fileprivate func adding(_ row: [String?]) -> StagedRows {
        var copy = self
        copy.row(row)
        return copy
    }
}
