import PostgresNIO
import Testing
import YibiaoCore
import YibiaoMatching
import YibiaoStore
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

    @Test("migration 0015 rewrites stored explanations into the compact form MatchExplanation writes")
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
            try await Migrator(logger: .silent).migrate(client)
            var stored: [Int64: String] = [:]
            for try await (record, text) in try await client.query("SELECT record_id, explanation::text FROM link").decode((Int64, String).self) {
                stored[record] = text
            }
            #expect(stored[30] == "{}")
            let written = MatchExplanation(score, record: 20).json
            var same = false
            for try await equal in try await client.query("SELECT \(try #require(stored[20]))::jsonb = \(written)::jsonb").decode(Bool.self) {
                same = equal
            }
            #expect(same, "migrated \(stored[20] ?? "") against written \(written)")
            #expect(try MatchExplanation.decode(try #require(stored[20])) == MatchExplanation(score, record: 20))
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
