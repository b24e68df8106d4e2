import PostgresNIO
import Testing
import YibiaoStore
import YibiaoTestSupport

/// The constraints of schema v1 hold in the database itself.
@Suite struct SchemaTests {
    func expectRejected(_ client: PostgresClient, _ sql: String, state: String) async {
        do {
            try await client.query(PostgresQuery(unsafeSQL: sql))
            Issue.record("accepted: \(sql)")
        } catch {
            #expect(PostgresErrorText.sqlState(error) == state, "\(PostgresErrorText.serverMessage(error))")
        }
    }

    @Test("our sessions run without JIT (it cost the bulk statements more than it saved); the server's default is left alone")
    func sessionsWithoutJIT() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            for try await (ours, server) in try await client.query(
                "SELECT current_setting('jit'), (SELECT boot_val FROM pg_settings WHERE name = 'jit')"
            ).decode((String, String).self) {
                #expect(ours == "off")
                #expect(server == "on")
            }
        }
    }

    @Test("districts are six digits; batch counts must reconcile")
    func batches() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            await expectRejected(client, "INSERT INTO district VALUES ('12345', 'x')", state: "23514")
            try await client.query("INSERT INTO district (district, name) VALUES ('110105', '朝阳区')")
            let hash = String(repeating: "a", count: 64)
            try await client.query(
                """
                INSERT INTO ingest_batch (district, system_id, adapter, file_name, file_sha256, actor, rows_read, rows_staged)
                VALUES ('110105', 'civil_affairs', 'civil_affairs.yaml', 'a.csv', \(hash), 'test', 10, 10)
                """)
            await expectRejected(client, "UPDATE ingest_batch SET status = 'finished', rows_quarantined = 1", state: "23514")
            try await client.query("UPDATE ingest_batch SET status = 'finished'")
            await expectRejected(
                client,
                """
                INSERT INTO ingest_batch (district, system_id, adapter, file_name, file_sha256, actor)
                VALUES ('110105', 'no_such_system', 'x', 'a.csv', '\(hash)', 'test')
                """, state: "23503")
        }
    }

    @Test("the change log is append-only")
    func appendOnly() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            let zero = String(repeating: "0", count: 64)
            try await client.query("INSERT INTO district (district, name) VALUES ('110105', '朝阳区')")
            try await client.query("INSERT INTO resident (district) VALUES ('110105')")
            try await client.query(
                """
                INSERT INTO change_log (district, seq, resident_id, cause, actor, changes, prev_hash, hash)
                SELECT '110105', 1, resident_id, 'batch', 'test', '{}', decode(\(zero), 'hex'), decode(\(zero), 'hex') FROM resident
                """)
            await expectRejected(client, "UPDATE change_log SET actor = 'someone else'", state: "42501")
            await expectRejected(client, "DELETE FROM change_log", state: "42501")
            await expectRejected(
                client,
                """
                INSERT INTO change_log (district, seq, resident_id, cause, actor, changes, prev_hash, hash)
                SELECT '110105', 2, resident_id, 'gossip', 'test', '{}', decode('\(zero)', 'hex'), decode('\(zero)', 'hex') FROM resident
                """, state: "23514")
        }
    }

    @Test("a source record links to exactly one resident; manual links need a reason")
    func links() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            let hash = String(repeating: "b", count: 64)
            try await client.query("INSERT INTO district (district, name) VALUES ('110105', '朝阳区')")
            try await client.query(
                """
                INSERT INTO ingest_batch (district, system_id, adapter, file_name, file_sha256, actor)
                VALUES ('110105', 'party', 'party.yaml', 'p.xml', \(hash), 'test')
                """)
            try await client.query(
                """
                INSERT INTO source_record (district, system_id, source_key, version, batch_id, row_number, content_hash, raw, fields)
                SELECT '110105', 'party', 'P-1', 1, batch_id, 1, decode(\(hash), 'hex'), '{}', '{}' FROM ingest_batch
                """)
            try await client.query("INSERT INTO resident (district) VALUES ('110105'), ('110105')")
            try await client.query(
                """
                INSERT INTO link (district, record_id, resident_id, method, decided_by)
                SELECT '110105', (SELECT min(record_id) FROM source_record), min(resident_id), 'deterministic', 'matcher' FROM resident
                """)
            await expectRejected(
                client,
                """
                INSERT INTO link (district, record_id, resident_id, method, decided_by)
                SELECT '110105', (SELECT min(record_id) FROM source_record), max(resident_id), 'deterministic', 'matcher' FROM resident
                """, state: "23505")
            await expectRejected(client, "UPDATE link SET method = 'manual'", state: "23514")
            await expectRejected(
                client,
                """
                INSERT INTO source_record (district, system_id, source_key, version, batch_id, row_number, content_hash, raw, fields, national_id)
                SELECT '110105', 'party', 'P-2', 1, batch_id, 2, decode('\(hash)', 'hex'), '{}', '{}', '12345' FROM ingest_batch
                """, state: "23514")
        }
    }

    @Test("no field for ethnicity, religion or free-text remarks exists anywhere")
    func minimumNecessary() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            let rows = try await client.query(
                """
                SELECT table_name || '.' || column_name FROM information_schema.columns
                WHERE table_schema = 'public' AND (column_name ~* '(ethnic|nation_ality|religio|remark|note|comment|民族|宗教|备注)')
                """)
            var offending: [String] = []
            for try await name in rows.decode(String.self) { offending.append(name) }
            #expect(offending.isEmpty)
        }
    }

    @Test("a district given as a query parameter narrows the district-led indexes (no cast on the column)")
    func districtParameterUsesIndexes() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            var plan: [String] = []
            try await client.withConnection { connection in
                try await connection.query("SET enable_seqscan = off", logger: .init(label: "test"))
                for try await line in try await connection.query(
                    """
                    EXPLAIN SELECT record_id FROM source_record
                    WHERE district = \("110105") AND system_id = \("party") AND source_key = \("DY0001") AND version = 1
                    """, logger: .init(label: "test")
                ).decode(String.self) { plan.append(line) }
            }
            // Before, the text parameter met a char(6) column: district ended up in a Filter,
            // checked row by row after scanning the index on the other columns.
            #expect(plan.filter { $0.contains("Index Cond") }.joined().contains("district"), "\(plan)")
            #expect(!plan.filter { $0.contains("Filter") }.joined().contains("district"), "\(plan)")
            var types: [String] = []
            for try await type in try await client.query(
                """
                SELECT DISTINCT data_type FROM information_schema.columns WHERE column_name = 'district' AND table_schema = 'public'
                """
            ).decode(String.self) { types.append(type) }
            #expect(types == ["text"])
        }
    }
}
