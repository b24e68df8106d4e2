import PostgresNIO
import Testing
import YibiaoTestSupport

@testable import YibiaoStore

@Suite struct RowReaderTests {
    @Test("cells read as PostgresNIO reads them: integers, booleans, text of every text type, NULLs, other types through PostgresNIO")
    func sameAsPostgresNIO() async throws {
        try await TestDatabase.withFreshDatabase(migrated: false) { _, client in
            try await client.query("CREATE DOMAIN code_text AS text CHECK (VALUE <> '')", logger: .silent)
            let sql: PostgresQuery = """
                SELECT 9007199254740993::bigint, NULL::bigint, 42::int, true, false, '张伟 é'::text, 'ab'::varchar(5), 'ab'::char(4),
                       'x'::code_text, NULL::text, '2f1d3c1e-0000-4000-8000-000000000001'::uuid, '{1,2}'::bigint[]
                """
            for try await row in try await client.query(sql, logger: .silent) {
                var cells = RowReader(row)
                #expect(try cells.int64() == 9_007_199_254_740_993)
                #expect(try cells.optionalInt64() == nil)
                #expect(try cells.int64() == 42)
                #expect(try cells.bool() == true)
                #expect(try cells.bool() == false)
                #expect(try cells.string() == "张伟 é")
                #expect(try cells.text() == "ab")
                #expect(try cells.text() == "ab  ")
                #expect(try cells.text() == "x")
                #expect(try cells.text() == nil)
                let expected = try row.decode((Int64, Int64?, Int64, Bool, Bool, String, String, String, String, String?, String, [Int64]).self).10
                #expect(try cells.string() == expected)
                #expect(try cells.decode([Int64].self) == [1, 2])
                #expect(throws: RowReader.MissingColumn.self) { try cells.text() }
            }
            for try await row in try await client.query("SELECT NULL::text, NULL::text[]", logger: .silent) {
                var cells = RowReader(row)
                #expect(throws: (any Error).self) { try cells.string() }
                #expect(throws: (any Error).self) { try cells.strings() }
            }
            // Text arrays: empty, with a NULL element, two dimensions, a lower bound other than 1 (the last three as PostgresNIO reads them).
            let arrays: PostgresQuery = """
                SELECT ARRAY['张伟', '', 'a"b,c{}']::text[], '{}'::text[], NULL::text[], ARRAY['x', NULL]::text[],
                       ARRAY[['a', 'b'], ['c', 'd']]::text[], '[0:1]={p,q}'::text[]
                """
            for try await row in try await client.query(arrays, logger: .silent) {
                var cells = RowReader(row)
                #expect(try cells.strings() == ["张伟", "", #"a"b,c{}"#])
                #expect(try cells.strings() == [])
                #expect(try cells.textArray() == nil)
                #expect(throws: (any Error).self) { try cells.strings() }
                // Where PostgresNIO refuses an array, so does the reader; where it reads one, the same.
                let columns = row.makeRandomAccess()
                for index in 4...5 {
                    let ours = try? cells.strings()
                    #expect(ours == (try? columns[index].decode([String].self)), "column \(index)")
                }
            }
        }
    }
}
