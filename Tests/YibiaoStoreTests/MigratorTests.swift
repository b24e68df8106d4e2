import Foundation
import PostgresNIO
import Testing
import YibiaoMerge
import YibiaoCore
import YibiaoMatching
@testable import YibiaoStore
import YibiaoTestSupport

@Suite struct MigratorTests {
    @Test("migrations apply once, in order, recorded with checksums")
    func appliesOnce() async throws {
        try await TestDatabase.withFreshDatabase(migrated: false) { _, client in
            let migrator = Migrator(logger: .silent)
            let first = try await migrator.migrate(client)
            #expect(first.map(\.version) == Migration.bundled.map(\.version))
            #expect(try await migrator.migrate(client).isEmpty)
            let applied = try await migrator.applied(client)
            #expect(applied.map(\.checksum) == Migration.bundled.map(\.checksum))
            #expect(try await migrator.pending(client).isEmpty)
        }
    }

    @Test("a changed applied migration is an error naming the file")
    func changedFile() async throws {
        try await TestDatabase.withFreshDatabase(migrated: false) { _, client in
            let original = Migration(fileName: "0001_test.sql", sql: "CREATE TABLE t (x int);")
            try await Migrator(migrations: [original], logger: .silent).migrate(client)
            let edited = Migration(fileName: "0001_test.sql", sql: "CREATE TABLE t (x bigint);")
            do {
                try await Migrator(migrations: [edited], logger: .silent).migrate(client)
                Issue.record("a changed migration was accepted")
            } catch let error as StoreError {
                #expect(error.code == "migration_changed")
                #expect(error.message.en.contains("0001_test.sql"))
                #expect(error.message.zh.contains("0001_test.sql"))
            }
        }
    }

    @Test("a database migrated by a newer yibiao is refused")
    func unknownVersion() async throws {
        try await TestDatabase.withFreshDatabase(migrated: false) { _, client in
            let newer = [Migration(fileName: "0001_a.sql", sql: "SELECT 1;"), Migration(fileName: "0002_b.sql", sql: "SELECT 2;")]
            try await Migrator(migrations: newer, logger: .silent).migrate(client)
            await #expect(throws: StoreError.self) { try await Migrator(migrations: [newer[0]], logger: .silent).migrate(client) }
        }
    }

    @Test("a failing migration leaves nothing behind and names the line")
    func failingMigrationRollsBack() async throws {
        try await TestDatabase.withFreshDatabase(migrated: false) { _, client in
            let good = Migration(fileName: "0001_good.sql", sql: "CREATE TABLE good (x int);")
            let bad = Migration(fileName: "0002_bad.sql", sql: "CREATE TABLE half (x int);\n\nCREATE TABLE broken (x nonexistent_type);")
            do {
                try await Migrator(migrations: [good, bad], logger: .silent).migrate(client)
                Issue.record("the bad migration was accepted")
            } catch let error as StoreError {
                #expect(error.code == "migration_failed")
                #expect(error.message.en.contains("0002_bad.sql failed at line 3"))
                #expect(error.message.en.contains("nonexistent_type"))
            }
            let applied = try await Migrator(migrations: [good, bad], logger: .silent).applied(client)
            #expect(applied.map(\.version) == [1])
            var halfExists = true
            for try await exists in try await client.query("SELECT to_regclass('half') IS NOT NULL").decode(Bool.self) {
                halfExists = exists
            }
            #expect(!halfExists)
        }
    }

    @Test("concurrent migrators apply each migration once")
    func concurrent() async throws {
        try await TestDatabase.withFreshDatabase(migrated: false) { _, client in
            async let a = Migrator(logger: .silent).migrate(client)
            async let b = Migrator(logger: .silent).migrate(client)
            let (first, second) = try await (a, b)
            #expect(first.count + second.count == Migration.bundled.count)
        }
    }

    @Test("migrations 0015 and 0021 rewrite stored explanations into the compact form, then into the columns a run writes")
    func compactExplanations() async throws {
        try await TestDatabase.withFreshDatabase(migrated: false) { _, client in
            try await Migrator(migrations: Migration.bundled.filter { $0.version < 15 }, logger: .silent).migrate(client)
            let a = MatchRecord(id: 10, fields: ["national_id": "11010519850302011X", "name": "张伟", "birth_date": "1985-03-02", "sex": "1"])
            let b = MatchRecord(id: 20, fields: ["name": "张伟", "birth_date": "1985-03-02", "sex": "1", "phone": "13812345678"])
            let score = MatchEngine().score(a, b, frequencies: TermFrequencies([a, b]))
            // The form written before 0015: an object per comparison, weights at full precision.
            let older = CanonicalJSON.object([
                "method": .string(score.method.rawValue), "weight": .number(score.weight), "probability": .number(score.probability),
                "other_record": .integer(10),
                "comparisons": .object(
                    Dictionary(
                        uniqueKeysWithValues: Comparison.allCases.map {
                            ($0.name, CanonicalJSON.object(["level": .integer(Int64(score.vector[$0])), "weight": .number(score.contributions[$0.rawValue])]))
                        })),
            ]).text
            try await client.query("INSERT INTO district (district, name) VALUES ('110105', 'test')")
            try await client.query(
                """
                INSERT INTO link (district, record_id, resident_id, method, weight, explanation, decided_by)
                VALUES ('110105', 20, 1, \(score.method.rawValue), \(score.weight), \(older)::jsonb, 'test'),
                       ('110105', 30, 2, 'new', NULL, '{}', 'test')
                """)
            try await Migrator(migrations: Migration.bundled.filter { $0.version <= 15 }, logger: .silent).migrate(client)
            var stored: [Int64: String] = [:]
            for try await (record, text) in try await client.query("SELECT record_id, explanation::text FROM link").decode((Int64, String).self) {
                stored[record] = text
            }
            #expect(stored[30] == "{}")
            // 0015 wrote the named compact form; it reads as what a run writes now.
            #expect(stored[20]?.contains("id:") == true)
            #expect(try MatchExplanation.decode(try #require(stored[20])) == MatchExplanation(score, record: 20))
            // 0021: the same evidence in the link's columns, as a matching run writes it now.
            try await Migrator(logger: .silent).migrate(client)
            var columns: [Int64: (Int64?, Float?, String?)] = [:]
            for try await (record, other, probability, comparisons) in try await client.query(
                """
                SELECT l.record_id, l.other_record, l.probability, c.comparisons
                FROM link l LEFT JOIN link_comparisons c USING (district, comparisons_id)
                """
            ).decode((Int64, Int64?, Float?, String?).self) { columns[record] = (other, probability, comparisons) }
            let expected = MatchExplanation(score, record: 20)
            #expect(columns[20]?.0 == 10)
            #expect(columns[20]?.1 == Float(expected.probability))
            let migrated = try #require(columns[20]?.2)
            #expect(migrated.hasPrefix("id:"), "0021 wrote the named form")
            #expect(
                try MatchExplanation(method: .probabilistic, weight: 0, probability: 0, otherRecord: 0, compactComparisons: migrated).comparisons
                    == expected.comparisons)
            #expect(columns[30].map { $0.0 == nil && $0.1 == nil && $0.2 == nil } == true, "a record alone has no evidence")
            for try await count in try await client.query(
                "SELECT count(*)::int FROM information_schema.columns WHERE table_name = 'link' AND column_name = 'explanation'"
            ).decode(Int.self) { #expect(count == 0) }
        }
    }

    @Test("migration 0018's cheaper checks accept and refuse exactly what the patterns did")
    func cheaperChecks() async throws {
        try await TestDatabase.withFreshDatabase(migrated: false) { _, client in
            // The digests were text until migration 0024 made them bytea (checked by length).
            try await Migrator(migrations: Migration.bundled.filter { $0.version < 24 }, logger: .silent).migrate(client)
            // Each value against the pattern it replaced, evaluated by the server, and against
            // the table (or domain) that checks it.
            try await client.query("INSERT INTO district (district, name) VALUES ('110105', 'test')")
            let cases: [(pattern: String, values: [String])] = [
                ("^[0-9]{6}$", ["110106", "11010", "1101055", "11010a", "１１０１０５", " 11010", "abcdef", "", "110105\n"]),
                (
                    "^[0-9]{17}[0-9X]$",
                    [
                        "11010519491231002X", "110105194912310021", "11010519491231002x", "1101051949123100X2", "X10105194912310021",
                        "11010519491231002", "1101051949123100211", "11010519491231002XX", "１10105194912310021", "11010519491231002\n",
                        "1101051949123100X", "",
                    ]
                ),
                (
                    "^[0-9a-f]{64}$",
                    [
                        String(repeating: "a", count: 64), String(repeating: "0", count: 64), String(repeating: "A", count: 64),
                        String(repeating: "a", count: 63), String(repeating: "a", count: 65), String(repeating: "a", count: 63) + "g",
                        String(repeating: "a", count: 62) + "é", String(repeating: "a", count: 63) + "\n", "",
                    ]
                ),
            ]
            var checked = 0
            for (pattern, values) in cases {
                for value in values {
                    var expected = false
                    for try await matches in try await client.query("SELECT \(value) ~ \(pattern)").decode(Bool.self) { expected = matches }
                    let accepted = try await Self.accepted(value, pattern: pattern, client)
                    #expect(accepted == expected, "\(pattern) against \(value.debugDescription): the check says \(accepted)")
                    checked += 1
                }
            }
            #expect(checked == 30)
        }
    }

    /// Whether the tables' new checks take `value` where the old pattern `pattern` applied.
    static func accepted(_ value: String, pattern: String, _ client: PostgresClient) async throws -> Bool {
        let statements: [PostgresQuery]
        switch pattern {
        case "^[0-9]{6}$":
            statements = ["INSERT INTO district (district, name) VALUES (\(value), 'test')"]
        case "^[0-9]{17}[0-9X]$":
            statements = [
                // (`resident.national_id` had it too, until migration 0023 left the value to `golden`.)
                "INSERT INTO source_record (district, system_id, source_key, version, batch_id, row_number, content_hash, raw, fields, national_id) VALUES ('110105', 'party', 'k', 1, 1, 1, repeat('a', 64), '{}', '{}', \(value))"
            ]
        default:
            statements = [
                "INSERT INTO source_record (district, system_id, source_key, version, batch_id, row_number, content_hash, raw, fields) VALUES ('110105', 'party', 'k', 1, 1, 1, \(value), '{}', '{}')",
                "INSERT INTO change_log (district, seq, resident_id, cause, actor, changes, prev_hash, hash) VALUES ('110105', 1, 1, 'entry', 't', '{}', \(value), repeat('0', 64))",
                "INSERT INTO change_log (district, seq, resident_id, cause, actor, changes, prev_hash, hash) VALUES ('110105', 1, 1, 'entry', 't', '{}', repeat('0', 64), \(value))",
                "INSERT INTO audit_log (district, seq, actor, action, prev_hash, hash) VALUES ('110105', 1, 't', 'read', \(value), repeat('0', 64))",
                "INSERT INTO audit_log (district, seq, actor, action, prev_hash, hash) VALUES ('110105', 1, 't', 'read', repeat('0', 64), \(value))",
            ]
        }
        var results: [Bool] = []
        for statement in statements {
            // Each in a transaction rolled back: the rows themselves are not wanted.
            let accepted = try await client.withConnection { connection in
                try await connection.query("BEGIN", logger: .silent)
                do {
                    try await connection.query(statement, logger: .silent)
                    try await connection.query("ROLLBACK", logger: .silent)
                    return true
                } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23514" {
                    try await connection.query("ROLLBACK", logger: .silent)
                    return false
                }
            }
            results.append(accepted)
        }
        // Every column with the rule decides alike.
        #expect(Set(results).count == 1, "\(pattern): columns disagree on \(value.debugDescription): \(results)")
        return results.allSatisfy { $0 }
    }

    @Test("migration 0019 keeps each golden value and drops its provenance; a field without a value is left out")
    func goldenValues() async throws {
        try await TestDatabase.withFreshDatabase(migrated: false) { _, client in
            try await Migrator(migrations: Migration.bundled.filter { $0.version < 19 }, logger: .silent).migrate(client)
            try await client.query("INSERT INTO district (district, name) VALUES ('110105', 'test')")
            try await client.query(
                """
                INSERT INTO resident (district, resident_id, name, provenance) VALUES
                    ('110105', 1, '张伟', '{"name": {"rule": "most_frequent", "value": "张伟", "record": 1, "system": "civil_affairs"},
                                         "death_date": {"rule": "override", "value": null, "record": null, "system": null},
                                         "party.branch": {"rule": "domain_owner", "value": "第一支部", "record": 7, "system": "party"}}'),
                    ('110105', 2, NULL, '{}')
                """)
            try await Migrator(logger: .silent).migrate(client)
            var documents: [Int64: String] = [:]
            for try await (id, golden) in try await client.query("SELECT resident_id, named_fields(district, golden)::text FROM resident").decode(
                (Int64, String).self)
            {
                documents[id] = golden
            }
            #expect(documents == [1: #"{"name": "张伟", "party.branch": "第一支部"}"#, 2: "{}"])
            for try await columns in try await client.query(
                "SELECT count(*)::int FROM pg_attribute WHERE attrelid = 'resident'::regclass AND attname = 'provenance' AND NOT attisdropped"
            ).decode(Int.self) { #expect(columns == 0) }
            // New residents get an empty document by default.
            try await client.query("INSERT INTO resident (district, resident_id) VALUES ('110105', 3)")
            for try await golden in try await client.query("SELECT golden::text FROM resident WHERE resident_id = 3").decode(String.self) {
                #expect(golden == "{}")
            }
        }
    }

    @Test("migration 0020 keeps each row's raw cells as an array by its system's column positions")
    func rawColumns() async throws {
        try await TestDatabase.withFreshDatabase(migrated: false) { _, client in
            try await Migrator(migrations: Migration.bundled.filter { $0.version < 20 }, logger: .silent).migrate(client)
            try await client.query(
                """
                INSERT INTO source_record (district, system_id, source_key, version, batch_id, row_number, content_hash, raw, fields) VALUES
                    ('110105', 'party', 'a', 1, 1, 1, repeat('a', 64), '{"姓名": "张伟", "党支部": "", "b": "x\\"y"}', '{}'),
                    ('110105', 'party', 'b', 1, 1, 2, repeat('a', 64), '{"b": "2"}', '{}'),
                    ('110105', 'party', 'c', 1, 1, 3, repeat('a', 64), '{}', '{}'),
                    ('110105', 'civil_affairs', 'a', 1, 2, 1, repeat('a', 64), '{"b": "3"}', '{}')
                """)
            try await Migrator(logger: .silent).migrate(client)
            var columns: [String: [String]] = [:]
            for try await (system, name) in try await client.query(
                "SELECT system_id, name FROM source_column ORDER BY system_id, position"
            ).decode((String, String).self) { columns[system, default: []].append(name) }
            // Positions in the server's order of the names (this cluster's collation is C).
            #expect(columns == ["party": ["b", "党支部", "姓名"], "civil_affairs": ["b"]])
            var raw: [String: [String?]] = [:]
            for try await (system, key, cells) in try await client.query(
                "SELECT system_id, source_key, array_to_json(raw_cells(raw))::text FROM source_record"
            ).decode((String, String, String).self) { raw["\(system)/\(key)"] = try JSONDecoder().decode([String?].self, from: Data(cells.utf8)) }
            #expect(raw == ["party/a": [#"x"y"#, "", "张伟"], "party/b": ["2"], "party/c": [], "civil_affairs/a": ["3"]])
        }
    }

    @Test("migration 0039 keeps each district's comparison texts once, and every link names the text it held")
    func comparisonsShared() async throws {
        try await TestDatabase.withFreshDatabase(migrated: false) { _, client in
            try await Migrator(migrations: Migration.bundled.filter { $0.version < 39 }, logger: .silent).migrate(client)
            try await client.query("INSERT INTO district (district, name) VALUES ('110105', 'a'), ('110106', 'b')")
            let (first, second) = ("1:19.87 1:13.947 1:14.192 1:0.997 1:11.118 1:13.23", "0:0 1:12.989 2:-3.5 1:0.997 0:0 0:0")
            try await client.query(
                """
                INSERT INTO link (district, record_id, resident_id, method, weight, other_record, probability, comparisons, decided_by)
                VALUES ('110105', 1, 1, 'deterministic', 73.4, 2, 1, \(first), 'test'),
                       ('110105', 2, 1, 'deterministic', 73.4, 1, 1, \(first), 'test'),
                       ('110105', 3, 2, 'probabilistic', 20.5, 4, 0.9, \(second), 'test'),
                       ('110105', 5, 3, 'new', NULL, NULL, NULL, NULL, 'test'),
                       ('110106', 1, 1, 'deterministic', 73.4, 2, 1, \(first), 'test')
                """)
            try await Migrator(logger: .silent).migrate(client)
            var texts: [String: String?] = [:]
            for try await (district, record, text) in try await client.query(
                """
                SELECT l.district, l.record_id, c.comparisons
                FROM link l LEFT JOIN link_comparisons c ON c.district = l.district AND c.comparisons_id = l.comparisons_id
                """
            ).decode((String, Int64, String?).self) { texts["\(district)/\(record)"] = text }
            let expected: [String: String?] = ["110105/1": first, "110105/2": first, "110105/3": second, "110105/5": nil, "110106/1": first]
            #expect(texts == expected)
            for try await (district, count) in try await client.query(
                "SELECT district, count(*)::int FROM link_comparisons GROUP BY district ORDER BY district"
            ).decode((String, Int).self) { #expect(count == (district == "110105" ? 2 : 1)) }
        }
    }

    @Test("migration 0040 writes fields and facets as staging writes them now; a document it cannot carry stays JSON, and reads the same")
    func fieldsDelimited() async throws {
        try await TestDatabase.withFreshDatabase(migrated: false) { _, client in
            try await Migrator(migrations: Migration.bundled.filter { $0.version < 40 }, logger: .silent).migrate(client)
            let documents: [(key: String, fields: String, facet: String)] = [
                ("plain", #"{"marital_status": "20", "community_code": "110105003002"}"#, #"{"38": "3100013830", "41": "1", "party.x": ""}"#),
                ("empty", "{}", "{}"),
                ("separator", #"{"address": "a\u001fb"}"#, #"{"38": "x\u001ey"}"#),
                ("number", #"{"marital_status": 20}"#, #"{"41": null}"#),
            ]
            for (row, document) in documents.enumerated() {
                try await client.query(
                    """
                    INSERT INTO source_record (district, system_id, source_key, version, batch_id, row_number, content_hash, raw, fields, facet)
                    VALUES ('110105', 'party', \(document.key), 1, 1, \(row + 1), decode(repeat('ab', 32), 'hex'), '', \(document.fields)::jsonb,
                            \(document.facet)::jsonb)
                    """)
            }
            try await Migrator(logger: .silent).migrate(client)
            var stored: [String: (fields: String, facet: String)] = [:]
            for try await (key, fields, facet) in try await client.query("SELECT source_key, fields, facet FROM source_record").decode(
                (String, String, String).self)
            {
                stored[key] = (fields, facet)
            }
            #expect(stored["plain"]?.fields == StoredPairs.text(["marital_status": "20", "community_code": "110105003002"]))
            #expect(stored["plain"]?.facet == StoredPairs.text(["38": "3100013830", "41": "1", "party.x": ""]))
            #expect(stored["empty"].map { $0.fields.isEmpty && $0.facet.isEmpty } == true)
            for key in ["separator", "number"] {
                #expect(stored[key].map { $0.fields.hasPrefix("{") && $0.facet.hasPrefix("{") } == true, "\(key) stays JSON")
            }
            #expect(StoredPairs.pairs(try #require(stored["separator"]?.fields)).map { $0.map(\.value) } == ["a\u{1F}b"])
            #expect(StoredPairs.pairs(try #require(stored["number"]?.facet)).map { $0.map(\.value) } == [nil])
            // The server reads every form alike.
            for try await (key, pairs) in try await client.query(
                "SELECT source_key, (SELECT coalesce(jsonb_object_agg(key, value), '{}')::text FROM field_pairs(fields)) FROM source_record"
            ).decode((String, String).self) {
                let expected: [String: [String: String]] = [
                    "plain": ["marital_status": "20", "community_code": "110105003002"], "empty": [:], "separator": ["address": "a\u{1F}b"],
                    "number": ["marital_status": "20"],
                ]
                #expect(try JSONDecoder().decode([String: String].self, from: Data(pairs.utf8)) == expected[key], "\(key)")
            }
            for try await count in try await client.query("SELECT count(*)::int FROM source_record WHERE field_value(facet, '38') IS NOT NULL").decode(Int.self) {
                #expect(count == 2)
            }
        }
    }

    @Test("migration 0042 keeps a record's name key only where it differs from its name; the matcher reads the same keys")
    func nameKeyWhenDifferent() async throws {
        try await TestDatabase.withFreshDatabase(migrated: false) { _, client in
            try await Migrator(migrations: Migration.bundled.filter { $0.version < 42 }, logger: .silent).migrate(client)
            try await client.query(
                """
                INSERT INTO source_record (district, system_id, source_key, version, batch_id, row_number, content_hash, raw, fields, name, name_key)
                VALUES ('110105', 'party', 'han', 1, 1, 1, decode(repeat('ab', 32), 'hex'), '', '', '张伟', '张伟'),
                       ('110105', 'party', 'latin', 1, 1, 2, decode(repeat('ab', 32), 'hex'), '', '', 'Amelia Graham', 'ameliagraham'),
                       ('110105', 'party', 'none', 1, 1, 3, decode(repeat('ab', 32), 'hex'), '', '', NULL, NULL)
                """)
            try await Migrator(logger: .silent).migrate(client)
            var stored: [String: String?] = [:]
            var read: [String: String?] = [:]
            for try await (key, nameKey, matched) in try await client.query(
                "SELECT source_key, name_key, coalesce(name_key, name) FROM source_record"
            ).decode((String, String?, String?).self) {
                stored[key] = nameKey
                read[key] = matched
            }
            let expectedStored: [String: String?] = ["han": nil, "latin": "ameliagraham", "none": nil]
            let expectedRead: [String: String?] = ["han": "张伟", "latin": "ameliagraham", "none": nil]
            #expect(stored == expectedStored)
            #expect(read == expectedRead)
        }
    }

    @Test("migrations 0037 and 0038 drop the stored keys that hold the birth date and the phone's, keep the others in their order, and leave keyless rows keyless")
    func birthDayKeysDropped() async throws {
        try await TestDatabase.withFreshDatabase(migrated: false) { _, client in
            try await Migrator(migrations: Migration.bundled.filter { $0.version < 37 }, logger: .silent).migrate(client)
            var fields = ["name": "Amelia Graham", "birth_date": "1990-06-19", "sex": "2", "phone": "13812345678"]
            fields["address"] = "5 mcgivern crescent new town 2163 act"
            let record = MatchRecord(id: 1, fields: fields)
            // As staging stored them before: every blocking key.
            let before = MatchEngine.blockingKeys(of: record).map { MatchEngine.storedKey(kind: $0.kind, key: $0.key) }
            #expect(before.count > MatchEngine.lookupKeys(of: record).count)
            try await client.query(
                """
                INSERT INTO source_record (district, system_id, source_key, version, batch_id, row_number, content_hash, raw, fields, is_current, birth_date, match_keys)
                VALUES ('110105', 'party', 'a', 1, 1, 1, decode(repeat('a', 64), 'hex'), '', '{}', true, '1990-06-19', \(before)),
                       ('110105', 'party', 'b', 1, 1, 2, decode(repeat('a', 64), 'hex'), '', '{}', true, NULL, NULL),
                       ('110105', 'party', 'c', 1, 1, 3, decode(repeat('a', 64), 'hex'), '', '{}', false, '1990-06-19', \(before))
                """)
            try await Migrator(logger: .silent).migrate(client)
            var keys: [String: [Int64]?] = [:]
            for try await (key, stored) in try await client.query("SELECT source_key, match_keys FROM source_record").decode((String, [Int64]?).self) {
                keys[key] = stored
            }
            #expect(keys["a"] == MatchEngine.lookupKeys(of: record))
            #expect(keys["b"] == .some(nil))
            // A superseded version is in no index of keys: left as it was.
            #expect(keys["c"] == before)
        }
    }

    @Test("migration 0022 takes out of fields only the values the record's columns hold as they are")
    func fieldsWithoutColumns() async throws {
        try await TestDatabase.withFreshDatabase(migrated: false) { _, client in
            try await Migrator(migrations: Migration.bundled.filter { $0.version < 22 }, logger: .silent).migrate(client)
            let full = #"""
                {"name": "欧阳娜娜", "sex": "2", "birth_date": "1990-05", "national_id": "11010519900501002X", "phone": "13812345678",
                 "division_code": "110105", "address": "望京街2号", "marital_status": "20", "community_code": "110105003002"}
                """#
            try await client.query(
                """
                INSERT INTO source_record (district, system_id, source_key, version, batch_id, row_number, content_hash, raw, fields,
                                           name, sex, birth_date, national_id, phone, division_code, address)
                VALUES ('110105', 'party', 'same', 1, 1, 1, repeat('a', 64), '[]', \(full)::jsonb,
                        '欧阳娜娜', '2', '1990-05', '11010519900501002X', '13812345678', '110105', '望京街2号'),
                       -- The feed spelled the name otherwise; a phone its column holds differently.
                       ('110105', 'party', 'other', 1, 1, 2, repeat('a', 64), '[]', \(full)::jsonb || '{"name": "欧阳 娜娜"}',
                        '欧阳娜娜', '2', '1990-05', '11010519900501002X', '010-1234', '110105', '望京街2号'),
                       ('110105', 'party', 'none', 1, 1, 3, repeat('a', 64), '[]', '{}', NULL, NULL, NULL, NULL, NULL, NULL, NULL)
                """)
            try await Migrator(logger: .silent).migrate(client)
            var fields: [String: [String: String]] = [:]
            var all: [String: [String: String]] = [:]
            for try await (key, stored, together) in try await client.query(
                "SELECT source_key, (SELECT coalesce(jsonb_object_agg(key, value), '{}')::text FROM field_pairs(r.fields)), \(unescaped: SourceRecordWriter.allFields("r"))::text FROM source_record r"
            ).decode((String, String, String).self) {
                fields[key] = try JSONDecoder().decode([String: String].self, from: Data(stored.utf8))
                all[key] = try JSONDecoder().decode([String: String].self, from: Data(together.utf8))
            }
            let original = try JSONDecoder().decode([String: String].self, from: Data(full.utf8))
            #expect(fields["same"] == ["marital_status": "20", "community_code": "110105003002"])
            #expect(all["same"] == original)
            #expect(fields["other"] == ["marital_status": "20", "community_code": "110105003002", "name": "欧阳 娜娜", "phone": "13812345678"])
            var other = original
            other["name"] = "欧阳 娜娜"
            #expect(all["other"] == other, "the feed's own spelling and value win over the columns'")
            #expect(fields["none"] == [:] && all["none"] == [:])
        }
    }

    @Test("migration 0023 keeps a resident's values in golden only, with the columns an index or check needs")
    func residentValuesOnce() async throws {
        try await TestDatabase.withFreshDatabase(migrated: false) { _, client in
            try await Migrator(migrations: Migration.bundled.filter { $0.version < 23 }, logger: .silent).migrate(client)
            let golden = #"{"name": "张伟", "phone": "13812345678", "birth_date": "1985-03-02", "community_code": "110105003002"}"#
            try await client.query("INSERT INTO district (district, name) VALUES ('110105', 'test')")
            try await client.query(
                """
                INSERT INTO resident (district, resident_id, name, name_key, sex, birth_date, national_id, phone, address, golden, community_code)
                VALUES ('110105', 1, '张伟', '张伟', '1', '1985-03-02', '110105198503020118', '13812345678', '望京街2号', \(golden)::jsonb,
                        '110105003002')
                """)
            try await Migrator(logger: .silent).migrate(client)
            var columns: [String] = []
            for try await name in try await client.query(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'resident' ORDER BY ordinal_position"
            ).decode(String.self) { columns.append(name) }
            #expect(columns.contains("golden") && columns.contains("birth_date") && columns.contains("community_code"))
            for dropped in ["name", "name_key", "pinyin_key", "sex", "national_id", "phone", "division_code", "address", "marital_status"] {
                #expect(!columns.contains(dropped), "\(dropped)")
            }
            for try await (values, birth, community) in try await client.query(
                "SELECT golden::text, birth_date, community_code FROM resident WHERE resident_id = 1"
            ).decode((String, String, String).self) {
                #expect(try JSONDecoder().decode([String: String].self, from: Data(values.utf8)).count == 4)
                #expect(birth == "1985-03-02" && community == "110105003002")
            }
            // The death-after-birth check stays.
            await #expect(throws: (any Error).self) {
                try await client.query("UPDATE resident SET death_date = '1980-01-01' WHERE resident_id = 1")
            }
        }
    }

    @Test("migration 0024 stores each digest as its 32 bytes: the same digest, read back in hexadecimal")
    func binaryDigests() async throws {
        try await TestDatabase.withFreshDatabase(migrated: false) { _, client in
            try await Migrator(migrations: Migration.bundled.filter { $0.version < 24 }, logger: .silent).migrate(client)
            let content = "0f" + String(repeating: "a1", count: 31), previous = String(repeating: "0", count: 64)
            let hash = "ff" + String(repeating: "3c", count: 31)
            try await client.query(
                """
                INSERT INTO source_record (district, system_id, source_key, version, batch_id, row_number, content_hash, raw, fields)
                VALUES ('110105', 'party', 'a', 1, 1, 1, \(content), '[]', '{}')
                """)
            try await client.query(
                """
                INSERT INTO change_log (district, seq, resident_id, cause, actor, changes, prev_hash, hash)
                VALUES ('110105', 1, 1, 'entry', 't', '{}', \(previous), \(hash))
                """)
            try await Migrator(logger: .silent).migrate(client)
            for try await (stored, bytes) in try await client.query(
                "SELECT encode(content_hash, 'hex'), octet_length(content_hash) FROM source_record"
            ).decode((String, Int).self) {
                #expect(stored == content && bytes == 32)
            }
            for try await (storedPrevious, storedHash) in try await client.query(
                "SELECT encode(prev_hash, 'hex'), encode(hash, 'hex') FROM change_log"
            ).decode((String, String).self) {
                #expect(storedPrevious == previous && storedHash == hash)
            }
            // Still append-only; a digest of another length is refused.
            await #expect(throws: (any Error).self) { try await client.query("UPDATE change_log SET actor = 'x'") }
            await #expect(throws: (any Error).self) {
                try await client.query(
                    """
                    INSERT INTO change_log (district, seq, resident_id, cause, actor, changes, prev_hash, hash)
                    VALUES ('110105', 2, 1, 'entry', 't', '{}', decode(\(hash), 'hex'), decode(\(content + "00"), 'hex'))
                    """)
            }
        }
    }

    @Test("migration 0025 indexes superseded versions on their own: still one current version per key, each version once")
    func supersededVersions() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            func insert(_ version: Int, current: Bool) async throws {
                try await client.query(
                    """
                    INSERT INTO source_record (district, system_id, source_key, version, batch_id, row_number, content_hash, raw, fields, is_current)
                    VALUES ('110105', 'party', 'k', \(version), 1, 1, decode(repeat('ab', 32), 'hex'), '[]', '{}', \(current))
                    """)
            }
            try await insert(1, current: false)
            try await insert(2, current: true)
            await #expect(throws: (any Error).self, "a second current version") { try await insert(3, current: true) }
            await #expect(throws: (any Error).self, "a version twice") { try await insert(1, current: false) }
            try await insert(3, current: false)
            var indexes: [String] = []
            for try await name in try await client.query(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'source_record' ORDER BY 1"
            ).decode(String.self) { indexes.append(name) }
            #expect(indexes.contains("source_record_superseded") && indexes.contains("source_record_current"))
            #expect(!indexes.contains("source_record_district_system_id_source_key_version_key"))
        }
    }

    @Test("migration 0026 groups a record's facet values by domain, 0031 names them by number; read back, they are the same values")
    func nestedThenNumberedFacets() async throws {
        try await TestDatabase.withFreshDatabase(migrated: false) { _, client in
            try await Migrator(migrations: Migration.bundled.filter { $0.version < 26 }, logger: .silent).migrate(client)
            let flat = #"{"party.branch": "第一支部", "party.joined_on": "2020-07-01", "civil_affairs.elderly_allowance": "true"}"#
            for (key, facet) in [("a", flat), ("b", "{}")] {
                try await client.query(
                    """
                    INSERT INTO source_record (district, system_id, source_key, version, batch_id, row_number, content_hash, raw, fields, facet)
                    VALUES ('110105', 'party', \(key), 1, 1, 1, decode(repeat('ab', 32), 'hex'), '[]', '{}', \(facet)::jsonb)
                    """)
            }
            // As JSON: the column is jsonb until migration 0040 (then `field_pairs` reads it).
            func facets(_ column: String = "facet::text") async throws -> [String: String] {
                var stored: [String: String] = [:]
                for try await (key, facet) in try await client.query(
                    PostgresQuery(unsafeSQL: "SELECT source_key, \(column) FROM source_record")
                ).decode((String, String).self) {
                    stored[key] = facet
                }
                return stored
            }
            let decoder = JSONDecoder()
            try await Migrator(migrations: Migration.bundled.filter { $0.version < 31 }, logger: .silent).migrate(client)
            let nested = try await facets()
            #expect(
                try decoder.decode([String: [String: String]].self, from: Data(try #require(nested["a"]).utf8))
                    == ["party": ["branch": "第一支部", "joined_on": "2020-07-01"], "civil_affairs": ["elderly_allowance": "true"]])
            // A number already given (by the change log) keeps its name; the facet's names follow it.
            try await client.query("INSERT INTO change_field (district, number, name) VALUES ('110105', 1, 'name')")
            try await Migrator(logger: .silent).migrate(client)
            let numbers = try await FieldNumbers.load(district: "110105", client, logger: .silent)
            #expect(numbers.byNumber == [1: "name", 2: "civil_affairs.elderly_allowance", 3: "party.branch", 4: "party.joined_on"])
            let numbered = try await facets("(SELECT coalesce(jsonb_object_agg(key, value), '{}')::text FROM field_pairs(facet))")
            #expect(
                try decoder.decode([String: String].self, from: Data(try #require(numbered["a"]).utf8))
                    == ["2": "true", "3": "第一支部", "4": "2020-07-01"])
            #expect(numbered["b"] == "{}")
            for try await (key, back) in try await client.query(
                "SELECT source_key, \(unescaped: SourceRecordWriter.flatFacet("r", district: "110105"))::text FROM source_record r"
            ).decode((String, String).self) {
                #expect(
                    try decoder.decode([String: String].self, from: Data(back.utf8))
                        == (key == "a" ? decoder.decode([String: String].self, from: Data(flat.utf8)) : [:]))
            }
            // What staging writes now is the same shape; a field without a number keeps its name.
            #expect(
                SourceRecordWriter.storedFacet(["party.branch": "第一支部", "party.joined_on": "2020-07-01", "party.dues_paid_until": "2025-10"], numbers: numbers)
                    == "\u{1E}3\u{1F}第一支部\u{1E}4\u{1F}2020-07-01\u{1E}party.dues_paid_until\u{1F}2025-10")
        }
    }

    @Test("migration 0032 names a golden record's fields by number, numbering names it lacks; named_fields reads them back")
    func numberedGolden() async throws {
        try await TestDatabase.withFreshDatabase(migrated: false) { _, client in
            try await Migrator(migrations: Migration.bundled.filter { $0.version < 32 }, logger: .silent).migrate(client)
            try await client.query("INSERT INTO district (district, name) VALUES ('110105', '朝阳区')")
            // `name` numbered already (by the change log); the rest get the next numbers, in name order.
            try await client.query("INSERT INTO field_number (district, number, name) VALUES ('110105', 1, 'name')")
            let golden = #"{"name": "张伟", "phone": "13812345678", "party.branch": "第一支部"}"#
            try await client.query(
                "INSERT INTO resident (district, resident_id, golden) VALUES ('110105', 1, \(golden)::jsonb), ('110105', 2, '{}')")
            try await Migrator(logger: .silent).migrate(client)
            let numbers = try await FieldNumbers.load(district: "110105", client, logger: .silent)
            #expect(numbers.byNumber == [1: "name", 2: "party.branch", 3: "phone"])
            var stored: [Int64: String] = [:], named: [Int64: String] = [:]
            for try await (id, document, names) in try await client.query(
                "SELECT resident_id, golden::text, named_fields(district, golden)::text FROM resident"
            ).decode((Int64, String, String).self) {
                stored[id] = document
                named[id] = names
            }
            let decoder = JSONDecoder()
            #expect(
                try decoder.decode([String: String].self, from: Data(try #require(stored[1]).utf8))
                    == ["1": "张伟", "2": "第一支部", "3": "13812345678"])
            #expect(
                try decoder.decode([String: String].self, from: Data(try #require(named[1]).utf8))
                    == decoder.decode([String: String].self, from: Data(golden.utf8)))
            #expect(stored[2] == "{}" && named[2] == "{}")
        }
    }

    @Test("migration 0034 keeps raw cells delimited where the form carries them, as JSON where it does not; raw_cells reads both")
    func delimitedRawCells() async throws {
        try await TestDatabase.withFreshDatabase(migrated: false) { _, client in
            try await Migrator(migrations: Migration.bundled.filter { $0.version < 34 }, logger: .silent).migrate(client)
            let rows: [(String, String)] = [
                ("a", #"["张伟", "", null, "x\"y,z"]"#), ("b", "[]"), ("c", #"[""]"#), ("d", #"["a\u001fb", "c"]"#), ("e", "[null]"),
            ]
            for (key, cells) in rows {
                try await client.query(
                    """
                    INSERT INTO source_record (district, system_id, source_key, version, batch_id, row_number, content_hash, raw, fields)
                    VALUES ('110105', 'party', \(key), 1, 1, 1, decode(repeat('ab', 32), 'hex'), \(cells)::jsonb, '{}')
                    """)
            }
            try await Migrator(logger: .silent).migrate(client)
            var stored: [String: String] = [:], read: [String: [String?]] = [:]
            for try await (key, text, cells) in try await client.query(
                "SELECT source_key, raw, array_to_json(raw_cells(raw))::text FROM source_record"
            ).decode((String, String, String).self) {
                stored[key] = text
                read[key] = try JSONDecoder().decode([String?].self, from: Data(cells.utf8))
            }
            #expect(stored["a"] == "\u{1F}张伟\u{1F}\u{1F}\u{1E}\u{1F}x\"y,z")
            #expect(stored["e"] == "\u{1F}\u{1E}")
            #expect(stored["b"] == "[]" && stored["c"] == #"[""]"# && stored["d"]?.hasPrefix("[") == true)
            #expect(read == ["a": ["张伟", "", nil, #"x"y,z"#], "b": [], "c": [""], "d": ["a\u{1F}b", "c"], "e": [nil]])
            // The hub reads what the migration wrote as it reads its own, in Swift and in SQL.
            for (key, text) in stored { #expect(RawColumns.stored(text) == read[key], "\(key)") }
            for try await differing in try await client.query(
                """
                SELECT count(*)::int FROM source_record
                WHERE array_to_json(\(unescaped: RawColumns.cellsSQL("raw")))::text IS DISTINCT FROM array_to_json(raw_cells(raw))::text
                """
            ).decode(Int.self) { #expect(differing == 0) }
        }
    }

    @Test("migration 0035 keeps the change log's documents as json text: entries written before still verify and read; new ones are stored as written")
    func changeLogAsJSON() async throws {
        try await TestDatabase.withFreshDatabase(migrated: false) { _, client in
            try await Migrator(migrations: Migration.bundled.filter { $0.version < 35 }, logger: .silent).migrate(client)
            try await client.query("INSERT INTO district (district, name) VALUES ('110105', '朝阳区')")
            try await client.query("INSERT INTO resident (district, resident_id) VALUES ('110105', 1)")
            let changes: [String: ChangeLog.Change] = ["phone": .init(old: "13800000000", new: "13912345678"), "name": .init(old: nil, new: "张伟")]
            func append() async throws {
                _ = try await client.withConnection { connection in
                    try await connection.transaction(logger: .silent) {
                        try await ChangeLog.append(
                            [ChangeLog.Entry(residentID: 1, cause: "entry", causeRef: nil, actor: "test", changes: changes)], district: "110105",
                            on: connection, logger: .silent)
                    }
                }
            }
            try await append()
            try await Migrator(logger: .silent).migrate(client)
            try await append()
            var types: [String] = []
            for try await type in try await client.query(
                "SELECT data_type FROM information_schema.columns WHERE table_name = 'change_log' AND column_name = 'changes'"
            ).decode(String.self) { types.append(type) }
            #expect(types == ["json"])
            var texts: [String] = []
            for try await text in try await client.query("SELECT changes::text FROM change_log ORDER BY seq").decode(String.self) { texts.append(text) }
            #expect(texts.count == 2 && texts[0].contains(": ") && !texts[1].contains(" "), "\(texts)")
            let numbers = try await FieldNumbers.load(district: "110105", client, logger: .silent)
            #expect(texts.allSatisfy { ChangeLog.storedChanges($0, numbers: numbers) == changes })
            let (checked, broken) = try await ChangeLog.verify(client, district: "110105", logger: .silent)
            #expect(checked == 2 && broken == nil)
        }
    }

    @Test("migration 0036 keeps input digests as uuids (the same bytes; a retired resident's its text's MD5) and no empty problem lists")
    func smallerDigestsAndProblems() async throws {
        try await TestDatabase.withFreshDatabase(migrated: false) { _, client in
            try await Migrator(migrations: Migration.bundled.filter { $0.version < 36 }, logger: .silent).migrate(client)
            try await client.query("INSERT INTO district (district, name) VALUES ('110105', '朝阳区')")
            try await client.query("INSERT INTO resident (district, resident_id, inputs_hash) VALUES ('110105', 1, md5('inputs'))")
            try await client.query(
                "INSERT INTO resident (district, resident_id, status, merged_into, inputs_hash) VALUES ('110105', 2, 'retired', 1, 'retired:1')")
            try await client.query("INSERT INTO resident (district, resident_id) VALUES ('110105', 3)")
            for (key, problems) in [("a", "[]"), ("b", #"[{"field": "national_id", "reason": "checksum"}]"#)] {
                try await client.query(
                    """
                    INSERT INTO source_record (district, system_id, source_key, version, batch_id, row_number, content_hash, raw, fields, problems)
                    VALUES ('110105', 'party', \(key), 1, 1, 1, decode(repeat('ab', 32), 'hex'), '[]', '{}', \(problems)::jsonb)
                    """)
            }
            try await Migrator(logger: .silent).migrate(client)
            var digests: [Int64: String?] = [:]
            for try await (id, digest) in try await client.query(
                "SELECT resident_id, replace(inputs_hash::text, '-', '') FROM resident"
            ).decode((Int64, String?).self) { digests[id] = digest }
            var expected: [String] = []
            for try await digest in try await client.query("SELECT md5('inputs'), md5('retired:1')").decode((String, String).self) {
                expected = [digest.0, digest.1]
            }
            #expect(digests == [1: expected[0], 2: expected[1], 3: nil])
            var problems: [String: String?] = [:]
            for try await (key, text) in try await client.query("SELECT source_key, problems::text FROM source_record").decode((String, String?).self) {
                problems[key] = text
            }
            #expect(problems["a"] == .some(nil) && problems["b"]??.contains("checksum") == true)
        }
    }

    @Test("migration 0027 keeps one index on identifiers, led by what is looked up: rows kept, each (resident, scheme, value) once, a lookup by ID number through the index")
    func identifierIndex() async throws {
        try await TestDatabase.withFreshDatabase(migrated: false) { _, client in
            try await Migrator(migrations: Migration.bundled.filter { $0.version < 27 }, logger: .silent).migrate(client)
            try await client.query("INSERT INTO district (district, name) VALUES ('110105', '朝阳区')")
            try await client.query("INSERT INTO resident (district, resident_id, golden) VALUES ('110105', 1, '{}'), ('110105', 2, '{}')")
            // A relative's ID number typed into someone's record: one value, two residents.
            try await client.query(
                """
                INSERT INTO resident_identifier (district, resident_id, scheme, value)
                VALUES ('110105', 1, 'cn_citizen_id', '11010519850302011X'), ('110105', 2, 'cn_citizen_id', '11010519850302011X'),
                       ('110105', 1, 'passport', 'E12345678')
                """)
            try await Migrator(logger: .silent).migrate(client)
            var count = 0
            for try await rows in try await client.query("SELECT count(*) FROM resident_identifier").decode(Int.self) { count = rows }
            #expect(count == 3)
            await #expect(throws: (any Error).self, "the same identifier of the same resident twice") {
                try await client.query("INSERT INTO resident_identifier (district, resident_id, scheme, value) VALUES ('110105', 1, 'passport', 'E12345678')")
            }
            var indexes: [String] = []
            for try await definition in try await client.query(
                "SELECT indexdef FROM pg_indexes WHERE tablename = 'resident_identifier' ORDER BY 1"
            ).decode(String.self) { indexes.append(definition) }
            #expect(indexes.count == 1)
            #expect(indexes.first?.contains("(district, scheme, value, resident_id)") == true, "\(indexes)")
            // Three rows would be read by a scan: the plan is asked of the index alone.
            let plan = try await client.withConnection { connection in
                try await connection.query("SET enable_seqscan = off", logger: .silent)
                var plan = ""
                for try await line in try await connection.query(
                    "EXPLAIN SELECT resident_id FROM resident_identifier WHERE district = '110105' AND scheme = 'cn_citizen_id' AND value = '11010519850302011X'",
                    logger: .silent
                ).decode(String.self) { plan += line + "\n" }
                return plan
            }
            #expect(plan.contains("resident_identifier_pkey"), "\(plan)")
        }
    }

    @Test("migration 0017 turns text lookup keys into numbers, clearing the old ones for the next run to fill")
    func hashedLookupKeys() async throws {
        try await TestDatabase.withFreshDatabase(migrated: false) { _, client in
            try await Migrator(migrations: Migration.bundled.filter { $0.version < 17 }, logger: .silent).migrate(client)
            try await client.query(
                """
                INSERT INTO source_record (district, system_id, source_key, version, batch_id, row_number, content_hash, raw, fields, match_keys)
                VALUES ('110105', 'party', 'DY1', 1, 1, 1, repeat('a', 64), '{}', '{}', ARRAY['n:张伟', 'ph:13812345678'])
                """)
            try await Migrator(logger: .silent).migrate(client)
            for try await (type, cleared) in try await client.query(
                """
                SELECT format_type(a.atttypid, a.atttypmod), (SELECT bool_and(match_keys IS NULL) FROM source_record)
                FROM pg_attribute a WHERE a.attrelid = 'source_record'::regclass AND a.attname = 'match_keys'
                """
            ).decode((String, Bool).self) {
                #expect(type == "bigint[]")
                #expect(cleared)
            }
            // The index lookups matching makes still find a record by one of its keys.
            try await client.query("UPDATE source_record SET match_keys = ARRAY[\(MatchEngine.storedKey(kind: 7, key: "n:张伟"))]::bigint[]")
            for try await count in try await client.query(
                "SELECT count(*) FROM source_record WHERE is_current AND match_keys @> ARRAY[\(MatchEngine.storedKey(kind: 7, key: "n:张伟"))]::bigint[]"
            ).decode(Int.self) { #expect(count == 1) }
        }
    }
}
