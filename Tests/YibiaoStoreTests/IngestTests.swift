import Foundation
import PostgresNIO
import Testing
import YibiaoAdapters
import YibiaoCore
import YibiaoStore
import YibiaoTestSupport

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

@Suite struct IngestTests {
    let today = CalendarDate(year: 2026, month: 11, day: 21)!

    func adapter(_ name: String) throws -> any FeedAdapter {
        try FeedAdapterRegistry.load(repositoryRoot.appendingPathComponent("adapters/\(name).yaml").path)
    }

    func sample(_ file: String) -> URL { repositoryRoot.appendingPathComponent("adapters/samples/\(file)") }

    func count(_ client: PostgresClient, _ sql: String) async throws -> Int {
        for try await value in try await client.query(PostgresQuery(unsafeSQL: sql)).decode(Int.self) { return value }
        return -1
    }

    @Test("every shipped sample ingests; counts reconcile and are stored on the batch")
    func samples() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            let feeds = [
                ("civil_affairs", "civil_affairs.csv", 9, 6, 3), ("family_planning", "family_planning.xlsx", 6, 6, 0),
                ("party", "party.xml", 4, 4, 0), ("social_security", "social_security.jsonl", 8, 7, 1),
            ]
            for (name, file, read, staged, quarantined) in feeds {
                let summary = try await Ingestor(adapter: try adapter(name), district: "110105", actor: "test", today: today, logger: .silent)
                    .ingest(sample(file), client: client)
                #expect(summary.read == read, "\(name)")
                #expect(summary.staged == staged, "\(name)")
                #expect(summary.quarantined == quarantined, "\(name)")
                #expect(summary.reconciles)
                #expect(summary.fileIssue == nil)
            }
            #expect(try await count(client, "SELECT count(*) FROM ingest_batch WHERE status = 'finished' AND rows_read = rows_staged + rows_unchanged + rows_quarantined") == 4)
            #expect(try await count(client, "SELECT count(*) FROM source_record") == 23)
            #expect(try await count(client, "SELECT count(*) FROM quarantine") == 4)
            // The quarantine keeps file, row, column, value and reason.
            #expect(
                try await count(
                    client,
                    """
                    SELECT count(*) FROM quarantine WHERE file_name = 'civil_affairs.csv' AND row_number = 10
                      AND reason_code = 'ragged_row' AND raw_value LIKE 'MZ0011,孙强,%'
                    """) == 1)
            // Matching columns are lifted out; an invalid ID stays raw with its problem.
            #expect(
                try await count(
                    client,
                    """
                    SELECT count(*) FROM source_record WHERE system_id = 'civil_affairs' AND source_key = 'MZ0010'
                      AND national_id IS NULL AND national_id_raw IS NOT NULL AND problems->0->>'code' = 'id_check_mismatch'
                    """) == 1)
            // The matching key is stored only where it differs from the name (migration 0042).
            #expect(try await count(client, "SELECT count(*) FROM source_record WHERE name = '欧阳娜娜' AND name_key IS NULL AND pinyin_key = 'ouyangnana'") == 1)
            #expect(
                try await count(client, "SELECT count(*) FROM source_record WHERE source_key = 'MZ0004' AND name_key IS NOT NULL AND name_key <> name")
                    == 1)
            #expect(
                try await count(
                    client, "SELECT count(*) FROM source_record r WHERE \(SourceRecordWriter.flatFacet("r", district: "110105")) ->> 'party.member_status' = 'probationary'") == 1)
            // Stored by the district's number for the field, not its name.
            #expect(
                try await count(
                    client,
                    """
                    SELECT count(*) FROM source_record r JOIN field_number n ON n.district = r.district AND n.name = 'party.member_status'
                    WHERE field_value(r.facet, n.number::text) = 'probationary' AND field_value(r.facet, 'party.member_status') IS NULL
                    """) == 1)
        }
    }

    @Test("raw cells are kept by column position and values once: every sample's rows read back as the adapter read them, a new key gets the next position")
    func rawCellsByPosition() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            let directory = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-raw")
            defer { try? FileManager.default.removeItem(at: directory) }
            // JSON Lines whose later rows, in later chunks, have keys the first lacks (and lack some of its).
            var lines = try String(contentsOf: sample("social_security.jsonl"), encoding: .utf8).split(separator: "\n").map(String.init)
            lines[5] = lines[5].replacingOccurrences(of: "{", with: #"{"新列": "甲", "aa_extra": "","#)
            lines[6] = lines[6].replacingOccurrences(of: #""aae005": "#, with: #""zz_late": "乙", "aae005x": "#)
            let varied = directory.appendingPathComponent("varied.jsonl")
            try (lines.joined(separator: "\n") + "\n").write(to: varied, atomically: true, encoding: .utf8)
            // A first load is copied in as text: a cell with what that format escapes (tab,
            // backslash, line breaks) and its own escape-like text must come back as it was.
            var escaped = try String(contentsOf: sample("social_security.jsonl"), encoding: .utf8).split(separator: "\n").map(String.init)
            escaped[2] = escaped[2].replacingOccurrences(of: #""aab004": ""#, with: #""aab004": "a\tb\\c\nd\re \\N \\x41 ""#)
            let hostile = directory.appendingPathComponent("hostile.jsonl")
            try (escaped.joined(separator: "\n") + "\n").write(to: hostile, atomically: true, encoding: .utf8)
            let feeds = [
                ("civil_affairs", sample("civil_affairs.csv")), ("family_planning", sample("family_planning.xlsx")), ("party", sample("party.xml")),
                ("social_security", hostile), ("social_security", varied),
            ]
            for (name, file) in feeds {
                var ingestor = Ingestor(adapter: try adapter(name), district: "110105", actor: "test", today: today, logger: .silent)
                ingestor.chunkSize = 2
                ingestor.rereadUnchangedFile = true
                _ = try await ingestor.ingest(file, client: client)
                var expected: [String: [String: String]] = [:]
                var expectedValues: [String: [String: String]] = [:]
                try adapter(name).read(file, today: today) { outcome in
                    if case .record(let record) = outcome, expected[record.sourceKey] == nil {
                        expected[record.sourceKey] = record.raw
                        expectedValues[record.sourceKey] = record.fields
                    }
                }
                let writer = SourceRecordWriter(district: "110105", system: name, logger: .silent)
                let columns = try await client.withConnection { try await writer.rawColumns($0) }
                var stored: [String: [String: String]] = [:]
                for try await (key, cells) in try await client.query(
                    "SELECT source_key, raw::text FROM source_record WHERE system_id = \(name) AND is_current"
                ).decode((String, String).self) {
                    stored[key] = columns.named(try #require(RawColumns.stored(cells)))
                }
                #expect(stored == expected, "\(file.lastPathComponent)")
                #expect(!expected.isEmpty)
                // Values: `fields` leaves out what the record's columns hold; read together they
                // are every value the adapter gave, spelled as it gave them.
                var storedValues: [String: [String: String]] = [:]
                for try await (key, values, repeated) in try await client.query(
                    """
                    SELECT source_key, (\(unescaped: SourceRecordWriter.allFields("r")) || \(unescaped: SourceRecordWriter.flatFacet("r", district: "110105")))::text,
                           EXISTS (SELECT 1 FROM field_pairs(r.fields) f WHERE f.key = ANY(\(SourceRecordWriter.liftedFields)::text[]))
                    FROM source_record r WHERE system_id = \(name) AND is_current
                    """
                ).decode((String, String, Bool).self) {
                    storedValues[key] = try JSONDecoder().decode([String: String].self, from: Data(values.utf8))
                    #expect(!repeated, "\(key): fields repeats a column")
                }
                #expect(storedValues == expectedValues, "\(file.lastPathComponent)")
            }
            // Positions are the system's and stable: the first file's columns first, in byte order,
            // then the varied file's new names after them.
            var names: [String] = []
            for try await name in try await client.query(
                "SELECT name FROM source_column WHERE system_id = 'social_security' ORDER BY position"
            ).decode(String.self) { names.append(name) }
            let first = ["aab001", "aab004", "aac001", "aac002", "aac003", "aac004", "aac006", "aac008", "aac031", "aac049", "aae005", "aae140"]
            #expect(Array(names.prefix(first.count)) == first)
            #expect(Set(names.dropFirst(first.count)) == ["新列", "aa_extra", "zz_late", "aae005x"])
            #expect(names.count == first.count + 4)
        }
    }

    @Test("ingesting the same file twice stages nothing the second time: not read at all, or read and found unchanged")
    func idempotent() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            var ingestor = Ingestor(adapter: try adapter("social_security"), district: "110105", actor: "test", today: today, logger: .silent)
            let first = try await ingestor.ingest(sample("social_security.jsonl"), client: client)
            #expect(first.staged == 7)
            // The system's latest batch, the same file under the same adapter: nothing is read.
            let second = try await ingestor.ingest(sample("social_security.jsonl"), client: client)
            #expect(second.unchangedSinceBatch == first.batchID)
            #expect(second.read == 0 && second.staged == 0 && second.reconciles)
            #expect(try await count(client, "SELECT count(*) FROM ingest_batch") == 1)
            // Read anyway (`--force`): every row is recognised.
            ingestor.rereadUnchangedFile = true
            let third = try await ingestor.ingest(sample("social_security.jsonl"), client: client)
            #expect(third.unchangedSinceBatch == nil)
            #expect(third.staged == 0)
            #expect(third.unchanged == 7)
            #expect(third.quarantined == 1)
            #expect(third.reconciles)
            #expect(try await count(client, "SELECT count(*) FROM source_record") == 7)
            #expect(try await count(client, "SELECT count(*) FROM match_queue") == 7)
            // After another file of the system, the first one is read again: its rows are current no more.
            ingestor.rereadUnchangedFile = false
            let original = try String(contentsOf: sample("social_security.jsonl"), encoding: .utf8)
            let edited = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-ingest").appendingPathComponent("edited.jsonl")
            try original.replacingOccurrences(of: "张伟", with: "张玮").write(to: edited, atomically: true, encoding: .utf8)
            #expect(try await ingestor.ingest(edited, client: client).staged >= 1)
            let back = try await ingestor.ingest(sample("social_security.jsonl"), client: client)
            #expect(back.unchangedSinceBatch == nil)
            #expect(back.staged >= 1 && back.reconciles)
        }
    }

    @Test("a row held already is recognised by its key and digest without mapping it again, under the same adapter only; --force maps every row")
    func recognisedWithoutMapping() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            let directory = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-ingest")
            defer { try? FileManager.default.removeItem(at: directory) }
            let spec = """
                system: births
                name: {zh: 出生登记, en: Births}
                format:
                  type: jsonl
                source_key: id
                fields:
                  name: {column: n, required: true}
                  birth_date: {column: d, required: true}

                """
            let specFile = directory.appendingPathComponent("births.yaml")
            try spec.write(to: specFile, atomically: true, encoding: .utf8)
            let rows = [#"{"id": "1", "n": "张伟", "d": "20261120"}"#, #"{"id": "2", "n": "李娜", "d": "19800101"}"#]
            let file = directory.appendingPathComponent("births.jsonl")
            try rows.joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)
            let adapter = try FeedAdapterRegistry.load(specFile.path)
            let first = try await Ingestor(adapter: adapter, district: "110105", actor: "test", today: today, logger: .silent).ingest(file, client: client)
            #expect(first.staged == 2)
            // The same rows and one more, read on a day before row 1's birth date: mapped, row 1
            // would be quarantined (a required date in the future). In use the day only moves
            // forward; set back here, it shows which rows were mapped.
            try (rows + [#"{"id": "3", "n": "王芳", "d": "19900101"}"#]).joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)
            let earlier = CalendarDate(year: 2026, month: 11, day: 19)!
            var ingestor = Ingestor(adapter: adapter, district: "110105", actor: "test", today: earlier, logger: .silent)
            let second = try await ingestor.ingest(file, client: client)
            #expect(second.staged == 1 && second.unchanged == 2 && second.quarantined == 0 && second.reconciles)
            // `--force`: every row mapped again, and what this reading makes of it reported.
            ingestor.rereadUnchangedFile = true
            let forced = try await ingestor.ingest(file, client: client)
            #expect(forced.staged == 0 && forced.unchanged == 2 && forced.quarantineReasons == ["date_in_future": 1] && forced.reconciles)
            // Another adapter (its file changed): rows staged under the old one are mapped again.
            try (spec + "# revised\n").write(to: specFile, atomically: true, encoding: .utf8)
            let revised = try await Ingestor(adapter: try FeedAdapterRegistry.load(specFile.path), district: "110105", actor: "test", today: earlier, logger: .silent)
                .ingest(file, client: client)
            #expect(revised.unchanged == 2 && revised.quarantineReasons == ["date_in_future": 1] && revised.reconciles)
            // A recognised row still counts for the keys the rest of the file may not repeat.
            try (rows + [#"{"id": "2", "n": "李娜娜", "d": "19800101"}"#]).joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)
            let repeated = try await Ingestor(adapter: adapter, district: "110105", actor: "test", today: today, logger: .silent).ingest(file, client: client)
            #expect(repeated.staged == 0 && repeated.unchanged == 2 && repeated.quarantineReasons == ["duplicate_source_key": 1] && repeated.reconciles)
            #expect(try await count(client, "SELECT count(*) FROM source_record WHERE system_id = 'births' AND is_current") == 3)
        }
    }

    @Test("a changed cell makes a new version; the old one is kept, no longer current")
    func versions() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            let directory = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-ingest")
            defer { try? FileManager.default.removeItem(at: directory) }
            let original = try String(contentsOf: sample("social_security.jsonl"), encoding: .utf8)
            let file = directory.appendingPathComponent("ss.jsonl")
            try original.write(to: file, atomically: true, encoding: .utf8)
            let ingestor = Ingestor(adapter: try adapter("social_security"), district: "110105", actor: "test", today: today, logger: .silent)
            _ = try await ingestor.ingest(file, client: client)
            try original.replacingOccurrences(of: "13812345678", with: "13812345679").write(to: file, atomically: true, encoding: .utf8)
            let second = try await ingestor.ingest(file, client: client)
            #expect(second.staged == 1)
            #expect(second.newVersions == 1)
            #expect(second.unchanged == 6)
            #expect(try await count(client, "SELECT count(*) FROM source_record WHERE source_key = '3101000001'") == 2)
            #expect(try await count(client, "SELECT count(*) FROM source_record WHERE source_key = '3101000001' AND is_current AND version = 2 AND phone = '13812345679'") == 1)
        }
    }

    @Test("a first load's rows are version 1 without looking their keys up; a key whose rows are all superseded comes back as the next version")
    func firstLoadVersions() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            let directory = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-ingest")
            defer { try? FileManager.default.removeItem(at: directory) }
            let lines = try String(contentsOf: sample("social_security.jsonl"), encoding: .utf8).split(separator: "\n").map(String.init)
            let file = directory.appendingPathComponent("ss.jsonl")
            try lines.joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)
            let ingestor = Ingestor(adapter: try adapter("social_security"), district: "110105", actor: "test", today: today, logger: .silent)
            let first = try await ingestor.ingest(file, client: client)
            #expect(first.staged == 7)
            #expect(try await count(client, "SELECT count(*) FROM source_record WHERE system_id = 'social_security' AND version = 1 AND is_current") == 7)
            // Each copied in, and each waiting for the next match (no other record is queued).
            #expect(
                try await count(
                    client,
                    "SELECT count(*) FROM match_queue q JOIN source_record r USING (district, record_id) WHERE r.system_id = 'social_security'") == 7)
            #expect(try await count(client, "SELECT count(*) FROM match_queue") == 7)
            // The key's only row no longer current (as a superseded version is): the same row
            // again is new to the comparison, yet not the key's first version.
            try await client.query("UPDATE source_record SET is_current = false WHERE source_key = '3101000001'")
            let only = directory.appendingPathComponent("one.jsonl")
            try lines.filter { $0.contains("3101000001") }.joined(separator: "\n").write(to: only, atomically: true, encoding: .utf8)
            let again = try await ingestor.ingest(only, client: client)
            #expect(again.staged == 1)
            #expect(try await count(client, "SELECT count(*) FROM source_record WHERE source_key = '3101000001' AND is_current AND version = 2") == 1)
        }
    }

    @Test("duplicate source keys in one file: the first counts, the rest are quarantined")
    func duplicates() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            let directory = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-ingest")
            defer { try? FileManager.default.removeItem(at: directory) }
            let file = directory.appendingPathComponent("d.jsonl")
            try """
            {"aac001": "1", "aac003": "张伟"}
            {"aac001": "1", "aac003": "张伟伟"}
            {"aac001": "2", "aac003": "李娜"}
            """.write(to: file, atomically: true, encoding: .utf8)
            let summary = try await Ingestor(adapter: try adapter("social_security"), district: "110105", actor: "test", today: today, logger: .silent)
                .ingest(file, client: client)
            #expect(summary.staged == 2)
            #expect(summary.quarantineReasons == ["duplicate_source_key": 1])
        }
    }

    @Test("a file that breaks part-way: earlier rows staged, batch failed with the reason")
    func brokenFile() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            let directory = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-ingest")
            defer { try? FileManager.default.removeItem(at: directory) }
            let file = directory.appendingPathComponent("p.xml")
            try "<r><党员 编号=\"1\"><姓名>张伟</姓名></党员><党员 编号=\"2\"><姓名>李娜</姓名></党员><党员 编号=\"3\"><姓名>x</wrong>"
                .write(to: file, atomically: true, encoding: .utf8)
            let summary = try await Ingestor(adapter: try adapter("party"), district: "110105", actor: "test", today: today, logger: .silent)
                .ingest(file, client: client)
            #expect(summary.fileIssue?.code == "malformed_xml")
            #expect(summary.staged >= 1)
            #expect(summary.reconciles)
            #expect(try await count(client, "SELECT count(*) FROM ingest_batch WHERE status = 'failed' AND error_code = 'malformed_xml'") == 1)
        }
    }

    @Test("a write that fails part-way stops reading and mapping, fails the batch, and the same ingest then stages every row once")
    func writeFailsPartWay() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            let directory = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-ingest")
            defer { try? FileManager.default.removeItem(at: directory) }
            let file = directory.appendingPathComponent("p.xml")
            let members = (1...400).map { "<党员 编号=\"\($0)\"><姓名>张伟</姓名></党员>" }.joined()
            try "<r>\(members)</r>".write(to: file, atomically: true, encoding: .utf8)
            // The database refuses one row of the sixth chunk: the reading and mapping threads,
            // several chunks ahead, must stop and let the ingest end.
            _ = try await client.query(
                """
                CREATE FUNCTION refuse_row() RETURNS trigger LANGUAGE plpgsql AS
                $$ BEGIN IF NEW.source_key = '55' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$
                """)
            _ = try await client.query("CREATE TRIGGER refuse_row BEFORE INSERT ON source_record FOR EACH ROW EXECUTE FUNCTION refuse_row()")
            var ingestor = Ingestor(adapter: try adapter("party"), district: "110105", actor: "test", today: today, logger: .silent)
            ingestor.chunkSize = 10
            await #expect(throws: StoreError.self) { _ = try await ingestor.ingest(file, client: client) }
            #expect(try await count(client, "SELECT count(*) FROM source_record") == 50)
            #expect(try await count(client, "SELECT count(*) FROM ingest_batch WHERE status = 'failed' AND error_code = 'ingest_write_failed'") == 1)
            _ = try await client.query("DROP TRIGGER refuse_row ON source_record")
            let again = try await ingestor.ingest(file, client: client)
            #expect(again.read == 400 && again.staged == 350 && again.unchanged == 50 && again.reconciles)
            #expect(try await count(client, "SELECT count(*) FROM source_record") == 400)
            #expect(try await count(client, "SELECT count(DISTINCT source_key) FROM source_record") == 400)
        }
    }

    @Test("a custom Swift adapter ingests like a YAML one")
    func customAdapter() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            let summary = try await Ingestor(
                adapter: try FeedAdapterRegistry.load("swift:hukou-fixed-width"), district: "110105",
                actor: "test", today: today, logger: .silent
            )
            .ingest(sample("household_register.txt"), client: client)
            #expect(summary.staged == 6)
            #expect(summary.quarantined == 1)
            #expect(try await count(client, "SELECT count(*) FROM source_system WHERE system_id = 'household_register'") == 1)
        }
    }
}
