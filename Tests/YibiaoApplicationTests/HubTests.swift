import Foundation
import Logging
import PostgresNIO
import Testing
import YibiaoAdapters
@testable import YibiaoApplication
import YibiaoCore
import YibiaoMatching
import YibiaoMerge
import YibiaoStore
import YibiaoTestSupport
import YibiaoYAML

private let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// `YibiaoFuzz`, built beside the tests.
private var fuzzer: String {
    URL(fileURLWithPath: CLIProcess.executable).deletingLastPathComponent().appendingPathComponent("YibiaoFuzz").path
}

/// A hub on a fresh test database.
private func withHub(
    rules: SurvivorshipRules = .standard, rulesFile: String? = nil,
    _ body: @escaping @Sendable (Hub, HubConfiguration) async throws -> Void
) async throws {
    try await TestDatabase.withFreshDatabase { url, _ in
        var database = DatabaseConfiguration(home: FileManager.default.temporaryDirectory, externalURL: url)
        database.maximumConnections = 2
        let configuration = HubConfiguration(database: database, rules: rules, rulesFile: rulesFile, logger: .silent)
        try await Hub.withHub(configuration) { hub in try await body(hub, configuration) }
    }
}

private func ingest(_ hub: Hub, _ adapter: String, _ sample: String) async throws -> IngestOutcome {
    try await hub.ingest(
        IngestRequest(
            adapter: try FeedAdapterRegistry.load(repository.appendingPathComponent("adapters/\(adapter)").path),
            file: repository.appendingPathComponent("adapters/samples/\(sample)"), district: "110105", actor: "test"))
}

private func entryCount(_ hub: Hub) async throws -> Int {
    try await hub.verifyLog(district: "110105").checked
}

@Suite struct HubTests {
    @Test("ingest in one call: stage, match, golden records and the log; an unchanged re-run logs nothing")
    func ingestOneCall() async throws {
        try await withHub { hub, _ in
            let first = try await ingest(hub, "civil_affairs.yaml", "civil_affairs.csv")
            #expect(first.staging.reconciles)
            #expect(first.staging.staged == 6)
            #expect(first.matching?.golden.entries == 6)
            let again = try await ingest(hub, "civil_affairs.yaml", "civil_affairs.csv")
            #expect(again.staging.staged == 0)
            #expect(again.matching == nil)
            #expect(again.caughtUp?.entries == 0)
            #expect(try await entryCount(hub) == 6)
            let explanation = try await hub.explain(district: "110105", system: "civil_affairs", key: "MZ0001")
            #expect(explanation?.residentID != nil)
            var references = 0
            try await hub.crossReferences(district: "110105") { reference in
                #expect(reference.system == "civil_affairs")
                references += 1
            }
            #expect(references == 6)
        }
    }

    @Test("explain reads a link's evidence from its columns: the pair's other record, comparison by comparison")
    func explainFromColumns() async throws {
        try await TestDatabase.withFreshDatabase { url, client in
            var database = DatabaseConfiguration(home: FileManager.default.temporaryDirectory, externalURL: url)
            database.maximumConnections = 2
            try await Hub.withHub(HubConfiguration(database: database, rules: .standard, logger: .silent)) { hub in
                _ = try await ingest(hub, "civil_affairs.yaml", "civil_affairs.csv")
                _ = try await ingest(hub, "party.yaml", "party.xml")
                var matched: [(key: String, method: String, other: Int64, otherKey: String, resident: Int64)] = []
                for try await row in try await client.query(
                    """
                    SELECT r.source_key, l.method, l.other_record, o.source_key, l.resident_id
                    FROM link l JOIN source_record r USING (district, record_id)
                    JOIN source_record o ON o.district = l.district AND o.record_id = l.other_record
                    WHERE r.system_id = 'party' AND r.is_current
                    """
                ).decode((String, String, Int64, String, Int64).self) {
                    matched.append((row.0, row.1, row.2, row.3, row.4))
                }
                #expect(!matched.isEmpty, "the party sample's members are civil affairs residents too")
                for link in matched {
                    let read = try #require(try await hub.explain(district: "110105", system: "party", key: link.key))
                    #expect(read.residentID == link.resident)
                    #expect(read.method == link.method)
                    let explanation = try #require(read.explanation)
                    #expect(explanation.otherRecord == link.other)
                    #expect(explanation.method.rawValue == link.method)
                    #expect(explanation.probability > 0.5 && explanation.probability <= 1)
                    #expect(Comparison.allCases.allSatisfy { explanation.evidence($0) != nil }, "every comparison kept")
                    #expect(read.other?.key == link.otherKey)
                }
                // A record no other record matched has no evidence, and says so.
                var alone: String?
                for try await key in try await client.query(
                    "SELECT r.source_key FROM link l JOIN source_record r USING (district, record_id) WHERE l.method = 'new' LIMIT 1"
                ).decode(String.self) { alone = key }
                if let alone {
                    let read = try await hub.explain(district: "110105", system: "civil_affairs", key: alone)
                    #expect(read?.explanation == nil)
                }
            }
        }
    }

    @Test("a feed path that is a directory or missing fails before a batch is opened")
    func unreadableFeeds() async throws {
        try await withHub { hub, _ in
            let adapter = try FeedAdapterRegistry.load(repository.appendingPathComponent("adapters/civil_affairs.yaml").path)
            for (path, code) in [(repository.appendingPathComponent("adapters"), "file_is_directory"), (URL(fileURLWithPath: "/nonexistent.csv"), "file_missing")] {
                do {
                    _ = try await hub.ingest(IngestRequest(adapter: adapter, file: path, district: "110105", actor: "test"))
                    Issue.record("accepted \(path.path)")
                } catch let issue as FeedIssue {
                    #expect(issue.code == code)
                    #expect(issue.exitCode == ExitStatus.dataError)
                }
            }
            #expect(try await hub.quarantine(district: "110105").isEmpty)
        }
    }

    @Test("rules diff says what other rules would change, per field, and writes nothing; the same rules loaded at run time then do it")
    func rulesDiff() async throws {
        let text = try String(contentsOf: repository.appendingPathComponent("schemas/survivorship.yaml"), encoding: .utf8)
            .replacingOccurrences(
                of: "  name: {strategy: most_frequent, conflict: none}",
                with: "  name: {strategy: priority, priority: [social_security, civil_affairs], conflict: none}")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("yibiao-rules-\(UUID().uuidString).yaml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let proposed = try SurvivorshipRules.load(file)
        #expect(proposed != .standard)
        let counts: (entries: Int, names: Int) = try await { () async throws -> (Int, Int) in
            nonisolated(unsafe) var result = (0, 0)
            try await withHub { hub, _ in
                _ = try await ingest(hub, "civil_affairs.yaml", "civil_affairs.csv")
                _ = try await ingest(hub, "social_security.yaml", "social_security.jsonl")
                let before = try await entryCount(hub)
                let same = try await hub.rulesDiff(district: "110105", proposed: .standard)
                #expect(same.recomputed == 0 && same.entries == 0)
                let impact = try await hub.rulesDiff(district: "110105", proposed: proposed)
                #expect(impact.recomputed > 0)
                #expect(impact.entries > 0)
                #expect(Set(impact.valuesChangedByField.keys) == ["name"], "only names follow another rule")
                #expect(try await entryCount(hub) == before, "a dry run writes nothing")
                result = (impact.entries, impact.valuesChangedByField["name"] ?? 0)
            }
            return result
        }()
        // The same feeds under the file's rules, loaded as a district would at run time.
        let configuration = try HubConfiguration.fromEnvironment(["YIBIAO_RULES": file.path], logger: .silent)
        #expect(configuration.rules == proposed)
        #expect(configuration.rulesFile == file.path)
        try await withHub(rules: configuration.rules, rulesFile: configuration.rulesFile) { hub, _ in
            _ = try await ingest(hub, "civil_affairs.yaml", "civil_affairs.csv")
            _ = try await ingest(hub, "social_security.yaml", "social_security.jsonl")
            let underStandard = try await hub.rulesDiff(district: "110105", proposed: .standard)
            #expect(underStandard.valuesChangedByField["name"] == counts.names, "the diff is symmetric")
            #expect(underStandard.entries == counts.entries)
        }
    }

    @Test("a rules file that does not parse stops the configuration with its line")
    func badRulesFile() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("yibiao-rules-\(UUID().uuidString).yaml")
        try "version: 1\npriority: [a]\nfields:\n  phnoe: {strategy: priority}\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        do {
            _ = try HubConfiguration.fromEnvironment(["YIBIAO_RULES": file.path], logger: .silent)
            Issue.record("accepted")
        } catch let error as SurvivorshipRulesError {
            #expect(error.line == 4)
            #expect(error.remedy?.en.contains("phone") == true)
        }
        #expect(throws: SurvivorshipRulesError.self) { try HubConfiguration.fromEnvironment(["YIBIAO_RULES": "/nonexistent.yaml"], logger: .silent) }
    }

    @Test("a worker's entry goes through the feeds' writer: a one-record batch, pinned, logged; the same entry again changes nothing")
    func entry() async throws {
        try await withHub { hub, _ in
            _ = try await ingest(hub, "civil_affairs.yaml", "civil_affairs.csv")
            let (resident, golden) = try await hub.enter(district: "110105", resident: "110105198503020118", values: ["phone": "13912345678"], worker: "worker:li")
            #expect(golden.entries == 1)
            let again = try await hub.enter(district: "110105", resident: String(resident), values: ["phone": "13912345678"], worker: "worker:li")
            #expect(again.golden.entries == 0)
            let view = try await hub.history(district: "110105", resident: String(resident))
            #expect(view.current.fields["phone"]?.value == "13912345678")
            #expect(view.current.fields["phone"]?.system == "community_entry")
            #expect(view.current.records.filter { $0.system == "community_entry" }.count == 1)
            do {
                _ = try await hub.enter(district: "110105", resident: String(resident), values: ["national_id": "110105198503020119"], worker: "worker:li")
                Issue.record("accepted a wrong check character")
            } catch let error as StoreError {
                #expect(error.errorCode == .entryInvalid)
                #expect(!error.message.en.contains("110105198503020119"), "no ID number in the message")
            }
        }
    }

    @Test("mutated feeds ingested into a real database: every batch's counts reconcile, nothing is left running")
    func mutatedIngests() async throws {
        let keep = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-fuzz-inputs")
        let scratch = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-fuzz")
        let run = try ProcessRunner().run(
            fuzzer, ["--root", repository.path, "--inputs", "15", "--seed", "7", "--keep", keep.path, "--scratch", scratch.path])
        #expect(run.status == 0, "\(run.stdout)")
        let adapters = [
            "csv": "adapters/civil_affairs.yaml", "xlsx": "adapters/family_planning.yaml", "xml": "adapters/party.yaml",
            "jsonl": "adapters/social_security.yaml", "json": "fuzz/adapters/json_array.yaml", "fixed": "swift:hukou-fixed-width",
        ]
        let files = try FileManager.default.contentsOfDirectory(atPath: keep.path).sorted()
        #expect(files.count == 6 * 15)
        try await TestDatabase.withFreshDatabase { url, client in
            let configuration = HubConfiguration(database: DatabaseConfiguration(home: keep, externalURL: url), logger: .silent)
            try await Hub.withHub(configuration) { hub in
                var batches = 0
                for file in files {
                    let format = String(file.split(separator: "-").first!)
                    let reference = adapters[format]!
                    let adapter = try FeedAdapterRegistry.load(reference.hasPrefix("swift:") ? reference : repository.appendingPathComponent(reference).path)
                    let request = IngestRequest(adapter: adapter, file: keep.appendingPathComponent(file), district: "110105", actor: "fuzz", match: false)
                    do {
                        let outcome = try await hub.ingest(request)
                        #expect(outcome.staging.reconciles, "\(file)")
                        batches += 1
                    } catch let issue as FeedIssue {
                        // A file-level problem before the batch opened (an empty file): nothing was written.
                        #expect(issue.exitCode == ExitStatus.dataError, "\(file): \(issue)")
                    }
                }
                #expect(batches > 6 * 10)
            }
            var unreconciled = -1, running = -1
            for try await (bad, open) in try await client.query(
                """
                SELECT count(*) FILTER (WHERE rows_read <> rows_staged + rows_unchanged + rows_quarantined),
                       count(*) FILTER (WHERE status = 'running')
                FROM ingest_batch
                """
            ).decode((Int, Int).self) { (unreconciled, running) = (bad, open) }
            #expect(unreconciled == 0)
            #expect(running == 0)
        }
    }
}

@Suite struct PartialDateTests {
    @Test("dates known to the month keep their precision through ingest, golden record, history and write-back; a decimal is no serial")
    func partialDatesEndToEnd() async throws {
        let directory = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-partial")
        let adapterFile = directory.appendingPathComponent("register.yaml")
        try """
        system: register
        name: {en: Register, zh: 登记}
        format: {type: csv}
        source_key: id
        fields:
          name: {column: name, required: true}
          birth_date: birth
          death_date: death
        outbound:
          format: {type: csv}
          columns:
            - {column: name, field: name}
            - {column: birth, field: birth_date, date_format: yyyy年M月d日}
        """.write(to: adapterFile, atomically: true, encoding: .utf8)
        let feed = directory.appendingPathComponent("register.csv")
        try "id,name,birth,death\nA1,刘建华,1977年10月,\nA2,周玉兰,1972.11,2001\nA3,郑国强,31108,\n".write(to: feed, atomically: true, encoding: .utf8)
        try await withHub { hub, _ in
            let adapter = try FeedAdapterRegistry.load(adapterFile.path)
            let outcome = try await hub.ingest(IngestRequest(adapter: adapter, file: feed, district: "110105", actor: "test"))
            #expect(outcome.staging.reconciles)
            let first = try await hub.history(district: "110105", resident: try residentID(hub, key: "A1"))
            #expect(first.current.fields["birth_date"]?.value == "1977-10")
            #expect(first.timeline.first?.changes["birth_date"]?.new == "1977-10")
            let second = try await hub.history(district: "110105", resident: try residentID(hub, key: "A2"))
            #expect(second.current.fields["birth_date"]?.value == "1972-11", "a decimal is read as a month, not as Excel serial 1972.11")
            #expect(second.current.fields["death_date"]?.value == "2001")
            // A number in a column without `excel_serial` is rejected with its reason, not read as a date.
            let third = try await hub.history(district: "110105", resident: try residentID(hub, key: "A3"))
            #expect(third.current.fields["birth_date"] == nil)
            let problems = try await hub.quarantine(district: "110105")
            #expect(problems.isEmpty, "an optional bad date is a problem on the record, not a quarantined row")
            // Write-back in the system's own pattern, to the month.
            let mapper = try #require(OutboundMapper(spec: try AdapterSpec.load(adapterFile)))
            let row = try mapper.row(sourceKey: "A1", values: first.current.fields.compactMapValues(\.value))
            #expect(row.cells.contains("1977年10月"))
        }
    }

    private func residentID(_ hub: Hub, key: String) async throws -> String {
        var found: Int64?
        try await hub.crossReferences(district: "110105") { reference in
            if reference.system == "register", reference.sourceKey == key { found = reference.residentID }
        }
        return String(try #require(found))
    }
}

@Suite struct QualityReportTests {
    @Test("the data-quality report: counts per system that its listings reproduce, overlaps that add up, every read audited; drawn by a real browser")
    func report() async throws {
        try await withHub { hub, _ in
            var staged: [String: Int] = [:]
            for (adapter, sample, system) in [
                ("civil_affairs.yaml", "civil_affairs.csv", "civil_affairs"), ("family_planning.yaml", "family_planning.xlsx", "family_planning"),
                ("party.yaml", "party.xml", "party"), ("social_security.yaml", "social_security.jsonl", "social_security"),
            ] {
                staged[system] = try await ingest(hub, adapter, sample).staging.staged
            }
            let report = try await hub.qualityReport(district: "110105", reader: "cli:test")
            #expect(report.district == "110105" && report.changeLogSeq > 0)
            #expect(Set(report.systems.map(\.system)) == Set(staged.keys))
            var found = 0
            for system in report.systems {
                #expect(system.records == staged[system.system], "\(system.system): every staged record is current")
                #expect(system.residents <= system.records)
                for finding in QualityReport.Finding.allCases {
                    let rows = try await hub.qualityRows(
                        district: "110105", finding: finding, system: system.system, limit: 100_000, reader: "cli:test")
                    #expect(rows.count == system.findings[finding], "\(system.system) \(finding.rawValue): the listing is the count")
                    #expect(rows.allSatisfy { $0.system == system.system })
                    found += rows.count
                }
            }
            #expect(found > 0, "the sample feeds carry bad and missing ID numbers")
            // Found among the raw cells: the civil-affairs sample gives one ID number in its 15-digit form.
            #expect(report.systems.first { $0.system == "civil_affairs" }?.findings[.idOldFormat] == 1)
            // Every resident is known to at least one system; no pair shares more than either holds.
            #expect(report.residentsBySystemCount.values.reduce(0, +) >= report.activeResidents)
            let residents = Dictionary(uniqueKeysWithValues: report.systems.map { ($0.system, $0.residents) })
            for overlap in report.overlaps {
                #expect(overlap.residents <= min(residents[overlap.a] ?? 0, residents[overlap.b] ?? 0))
            }
            #expect(report.quarantined.reduce(0) { $0 + $1.rows } == report.batches.reduce(0) { $0 + $1.quarantined })
            #expect(report.systemNames["civil_affairs"] != nil)
            let audited = try await hub.auditEntries(district: "110105", actor: "cli:test", action: nil, limit: 1_000, reader: "cli:auditor")
            #expect(audited.contains { $0.entry.action == "report" } && audited.contains { $0.entry.action == "report_list" })

            // The page: one chart per section, no value of a person, and drawn by Chromium.
            let html = QualityReportPage.html(report)
            for section in ["systems", "overlap", "ids", "phones", "stale", "duplicates", "conflicts", "quarantine", "batches"] {
                #expect(html.contains("<figure id=\"\(section)\">"), "\(section)")
            }
            #expect(!html.contains("<script") && !html.contains("https://") && !html.contains("src="), "nothing is fetched at view time")
            #expect(html.contains("yibiao report list id-invalid --system civil_affairs"))
            try ChromiumCheck.expectDrawn(html)
        }
    }

    @Test("the data catalogue: every canonical field with the systems holding and receiving it, its owner, sensitivity, readers and coverage; as md, csv and html")
    func catalog() async throws {
        try await withHub { hub, configuration in
            for (adapter, sample) in [("civil_affairs.yaml", "civil_affairs.csv"), ("party.yaml", "party.xml")] {
                _ = try await ingest(hub, adapter, sample)
            }
            _ = try await hub.addConsumer(
                district: "110105",
                Consumers.Definition(
                    id: "office", name: "社区办公室", purpose: "community services", legalBasis: "PIPL art. 13(1)(3)",
                    grant: AccessGrant(fields: ["name", "address"])), actor: "cli:test")
            let visits = try FormSpec.load(repository.appendingPathComponent("forms/resident_visits.yaml"))
            var elderly = visits
            elderly.id = "elderly_care"
            elderly.columns = [FormSpec.Column(header: "姓名", field: "name")]
            elderly.selection = FormSpec.Selection(ageMin: 80)
            let catalog = try await hub.catalog(district: "110105", reader: "cli:test", forms: [visits, elderly])
            #expect(catalog.entries.map(\.field) == CanonicalField.all.map(\.qualifiedName))
            let used = Dictionary(uniqueKeysWithValues: catalog.entries.map { ($0.field, $0.forms) })
            #expect(used["name"] == ["elderly_care", "resident_visits"] && used["phone"] == ["resident_visits"])
            #expect(used["birth_date"] == ["elderly_care", "resident_visits"], "a form selecting by age uses the birth date")
            #expect(used["marital_status"] == [])
            let entries = Dictionary(uniqueKeysWithValues: catalog.entries.map { ($0.field, $0) })
            let name = try #require(entries["name"])
            #expect(Set(name.inbound.keys) == ["civil_affairs", "party"] && name.inbound.values.allSatisfy { $0 > 0 })
            #expect(name.residentsWithValue == catalog.activeResidents && name.coverage == 1)
            #expect(name.consumers == ["office"] && entries["phone"]?.consumers == [])
            #expect(entries["national_id"]?.sensitivity == .identifier && entries["name"]?.sensitivity == .personal)
            #expect(catalog.entries.filter { $0.domain == "party" }.allSatisfy { $0.sensitivity == .sensitive })
            #expect(entries["marital_status"]?.codeTable == "marital-status")
            #expect(entries["phone"]?.outbound.contains("civil_affairs") == true, "civil affairs' adapter sends phones back")
            #expect(catalog.entries.allSatisfy { $0.coverage >= 0 && $0.coverage <= 1 && $0.residentsWithValue <= catalog.activeResidents })
            #expect(catalog.entries.allSatisfy { Set($0.outbound).isSubset(of: ["civil_affairs", "party"]) })

            // The counts read each value where it is stored; they equal counting the record's
            // values as one object (fields winning for the name), also for a name the feed spelled
            // otherwise and for one it left empty.
            try await Database.withClient(try configuration.database.url()) { client in
                try await client.query(
                    """
                    UPDATE source_record SET fields = fields || jsonb_build_object('name', CASE WHEN record_id % 2 = 0 THEN 'Other' ELSE '' END)
                    WHERE record_id IN (SELECT record_id FROM source_record WHERE is_current ORDER BY record_id LIMIT 4)
                    """)
                var asObjects: [String: [String: Int]] = [:]
                for try await (system, field, count) in try await client.query(
                    PostgresQuery(
                        unsafeSQL: """
                            SELECT r.system_id, k.key, count(*)::int FROM source_record r
                            CROSS JOIN LATERAL jsonb_each_text(\(SourceRecordWriter.allFields("r")) || \(SourceRecordWriter.flatFacet("r", district: "110105"))) k
                            WHERE r.district = '110105' AND r.is_current AND k.value <> '' GROUP BY 1, 2
                            """)
                ).decode((String, String, Int).self) { asObjects[system, default: [:]][field] = count }
                let counts = try await FieldCounts.load(client, district: "110105", logger: .silent)
                #expect(counts.inbound == asObjects)
                #expect(counts.inbound["civil_affairs"]?["name"] != nil)
            }

            let csv = DataCatalogPage.render(catalog, as: .csv)
            #expect(csv.hasPrefix("\u{FEFF}") && csv.components(separatedBy: "\r\n").count == catalog.entries.count + 2)
            let markdown = DataCatalogPage.render(catalog, as: .md)
            #expect(markdown.split(separator: "\n").filter { $0.hasPrefix("| ") }.count == catalog.entries.count + 1)
            let html = DataCatalogPage.render(catalog, as: .html)
            #expect(html.components(separatedBy: "<tr class=").count - 1 == catalog.entries.count)
        }
    }

    @Test("the page escapes what it shows")
    func escaping() {
        #expect(QualityReportPage.escape("<b>\"x\" & 'y'</b>") == "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;")
    }
}

/// Renders HTML in headless Chromium (Debian's `chromium`, installed by scripts/setup.sh).
enum ChromiumCheck {
    static func expectDrawn(_ html: String) throws {
        let chromium = try #require(
            ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) },
            "headless Chromium is needed: scripts/setup.sh installs Debian's chromium")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("yibiao-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let page = directory.appendingPathComponent("report.html")
        let blank = directory.appendingPathComponent("blank.html")
        try Data(html.utf8).write(to: page)
        try Data("<!DOCTYPE html><html><body></body></html>".utf8).write(to: blank)
        func run(_ arguments: [String]) throws -> ProcessRunner.Output {
            // Bounded: a browser that hangs fails the test instead of stalling the run.
            try ProcessRunner().run(
                "/usr/bin/timeout",
                ["120", chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--user-data-dir=\(directory.path)/profile"] + arguments,
                environment: ["HOME": directory.path])
        }
        // The DOM as the browser built it: the charts' bars are there, with their sizes.
        let dom = try run(["--dump-dom", page.absoluteString])
        try #require(dom.succeeded, "chromium failed: \(dom.stderr.suffix(2000))")
        #expect(dom.stdout.components(separatedBy: "<svg").count - 1 >= 9, "a chart per section")
        #expect(dom.stdout.contains("<rect class=\"bar\""))
        // A screenshot of the page holds far more than one of an empty page of the same size.
        var sizes: [Int] = []
        for (source, shot) in [(page, "report.png"), (blank, "blank.png")] {
            let out = directory.appendingPathComponent(shot)
            let result = try run(["--window-size=1100,2400", "--screenshot=\(out.path)", source.absoluteString])
            try #require(result.succeeded, "chromium failed: \(result.stderr.suffix(2000))")
            sizes.append((try FileManager.default.attributesOfItem(atPath: out.path)[.size] as? Int) ?? 0)
        }
        #expect(sizes[1] > 0 && sizes[0] > 8 * sizes[1], "the report's screenshot is not blank: \(sizes)")
    }
}

@Suite struct FormTests {
    @Test("a form filled for a community holds exactly its residents, the golden values in the department's codes and masks, no field outside its grant; blank cells listed; the cursor stamped")
    func fill() async throws {
        try await withHub { hub, _ in
            for (adapter, sample) in [("civil_affairs.yaml", "civil_affairs.csv"), ("party.yaml", "party.xml")] {
                _ = try await ingest(hub, adapter, sample)
            }
            let grant = AccessGrant(fields: ["name", "sex", "national_id", "marital_status", "community_code"])
            _ = try await hub.addConsumer(
                district: "110105",
                Consumers.Definition(id: "civil_bureau", name: "区民政局", purpose: "低保年审", legalBasis: "PIPL art. 13(1)(3)", grant: grant),
                actor: "cli:test")
            let text = """
                form: dibao_review
                title: {zh: 低保年审表, en: Dibao annual review}
                department: {zh: 区民政局, en: District civil affairs bureau}
                purpose: 低保年审
                consumer: civil_bureau
                columns:
                  - {header: 姓名, field: name}
                  - {header: 性别, field: sex, codes: {"1": 男, "2": 女}}
                  - {header: 公民身份号码, field: national_id}
                  - {header: 婚姻状况, field: marital_status, codes: {"10": 未婚, "20": 已婚}}
                  - {header: 开户银行}
                """
            let spec = try FormSpec.parse(text, fileName: "dibao_review.yaml")
            let community = "110105001001"
            let out = FileManager.default.temporaryDirectory.appendingPathComponent("form-\(UUID().uuidString).csv")
            defer { try? FileManager.default.removeItem(at: out) }
            let filled = try await hub.fillForm(spec, district: "110105", community: community, format: .csv, to: out, actor: "cli:test")

            // What the form must hold: the community's active residents, in resident order.
            var expected: [[String]] = []
            var residents: [String] = []
            for try await (resident, name, sex, id, marital) in try await hub.client.query(
                """
                SELECT resident_id, named_fields(district, golden) ->> 'name', named_fields(district, golden) ->> 'sex', named_fields(district, golden) ->> 'national_id',
                       named_fields(district, golden) ->> 'marital_status'
                FROM resident WHERE district = '110105' AND status = 'active' AND named_fields(district, golden) ->> 'community_code' = \(community)
                ORDER BY resident_id
                """
            ).decode((Int64, String?, String?, String?, String?).self) {
                residents.append(String(resident))
                let cells = [
                    name.map { grant.show($0, field: "name") }, sex.map { ["1": "男", "2": "女"][$0] ?? $0 },
                    id.map { grant.show($0, field: "national_id") }, marital.map { ["10": "未婚", "20": "已婚"][$0] ?? $0 }, nil,
                ]
                let headers = spec.columns.map(\.header)
                let toFill = zip(headers, cells).filter { $0.1 == nil }.map(\.0).joined(separator: "、")
                expected.append(cells.map { $0 ?? "" } + [toFill])
            }
            try #require(!expected.isEmpty, "the sample feeds have residents in \(community)")
            #expect(filled.rows == expected.count)

            let bytes = try Data(contentsOf: out)
            #expect(bytes.starts(with: [0xEF, 0xBB, 0xBF]), "a byte-order mark, for spreadsheet programs")
            let lines = String(decoding: bytes.dropFirst(3), as: UTF8.self).components(separatedBy: "\r\n").filter { !$0.isEmpty }
            #expect(lines[0].hasPrefix("低保年审表"))
            #expect(lines[2].contains(FormLayout.cursorLabel + String(filled.cursor)) && filled.cursor > 0)
            #expect(lines[2].contains(FormLayout.fieldsLabel) && lines[2].contains("婚姻状况") && lines[2].contains("marital_status"), "each column's field, for the way back")
            #expect(lines[3] == (spec.columns.map(\.header) + [FormLayout.toFillHeader, FormLayout.residentHeader, FormLayout.checkHeader]).joined(separator: ","))
            let rows = lines.dropFirst(4).map { $0.components(separatedBy: ",") }
            #expect(rows.map { Array($0.prefix(spec.columns.count + 1)) } == expected, "exactly the community's residents, the golden values as the grant shows them")
            #expect(rows.map { $0[spec.columns.count + 1] } == residents)
            // The check code: one fingerprint per field column, of what the cell holds.
            for row in rows {
                let held = zip(spec.columns, row).filter { $0.0.field != nil }.map { (header: $0.0.header, text: $0.1) }
                #expect(row.last == FormLayout.checkCell(resident: Int64(row[spec.columns.count + 1])!, cells: held))
            }
            #expect(rows.allSatisfy { !$0[2].isEmpty ? $0[2].contains("*") : true }, "ID numbers masked under this grant")
            #expect(filled.blankCells >= rows.count, "the bank column is blank in every row")

            // A column outside the grant is refused, naming it; nothing is written.
            var wider = spec
            wider.columns.append(FormSpec.Column(header: "联系电话", field: "phone"))
            let refused = FileManager.default.temporaryDirectory.appendingPathComponent("form-\(UUID().uuidString).csv")
            await #expect(throws: FormError.self) {
                try await hub.fillForm(wider, district: "110105", community: community, format: .csv, to: refused, actor: "cli:test")
            }
            #expect(!FileManager.default.fileExists(atPath: refused.path))
            let audited = try await hub.auditEntries(district: "110105", actor: "cli:test", action: "form_fill", limit: 10, reader: "cli:auditor")
            #expect(audited.count == 1 && audited[0].entry.detail.count == expected.count)

            // Selecting by age reads the birth date: refused while the grant lacks it, then exactly the residents of that age.
            var older = spec
            older.selection = FormSpec.Selection(ageMin: 40)
            await #expect(throws: FormError.self) {
                try await hub.fillForm(older, district: "110105", community: community, format: .csv, to: refused, actor: "cli:test")
            }
            _ = try await hub.addConsumer(
                district: "110105",
                Consumers.Definition(
                    id: "civil_bureau_ages", name: "区民政局", purpose: "低保年审", legalBasis: "PIPL art. 13(1)(3)",
                    grant: AccessGrant(fields: grant.fields.union(["birth_date"]))),
                actor: "cli:test")
            older.consumer = "civil_bureau_ages"
            let today = CalendarDate.todayInChina()
            var ofAge = 0, unknown = 0
            for try await birth in try await hub.client.query(
                """
                SELECT named_fields(district, golden) ->> 'birth_date' FROM resident
                WHERE district = '110105' AND status = 'active' AND named_fields(district, golden) ->> 'community_code' = \(community)
                """
            ).decode(String?.self) {
                guard let birth, let date = PartialDate(iso: birth), date.precision == .day else {
                    unknown += 1
                    continue
                }
                if date.earliest.years(until: today) >= 40 { ofAge += 1 }
            }
            let selected = try await hub.fillForm(older, district: "110105", community: community, format: .csv, to: out, actor: "cli:test")
            #expect(selected.rows == ofAge && selected.undetermined == unknown && ofAge > 0 && ofAge < expected.count, "\(selected)")
        }
    }

    @Test("an age range admits a birth date only when it can tell: a year or month straddling a bound is undetermined, never guessed")
    func ageSelection() {
        let today = CalendarDate(year: 2026, month: 12, day: 3)!
        let sixties = FormSpec.Selection(ageMin: 60, ageMax: 69)
        #expect(sixties.admits(birthDate: "1966-12-03", on: today) == true)
        #expect(sixties.admits(birthDate: "1966-12-04", on: today) == false, "59 until tomorrow")
        #expect(sixties.admits(birthDate: "1956-12-03", on: today) == false, "70 today: 69 is in, 70 is not")
        #expect(sixties.admits(birthDate: "1956-12-04", on: today) == true, "69 until tomorrow")
        #expect(sixties.admits(birthDate: "1960", on: today) == true, "66 or 65 either way")
        #expect(sixties.admits(birthDate: "1966", on: today) == nil, "59 or 60")
        #expect(sixties.admits(birthDate: "1966-05", on: today) == true)
        #expect(sixties.admits(birthDate: "1990", on: today) == false)
        #expect(sixties.admits(birthDate: nil, on: today) == nil)
        #expect(FormSpec.Selection(ageMin: 80).admits(birthDate: "1930-06-01", on: today) == true)
        #expect(FormSpec.Selection(ageMax: 17).admits(birthDate: "2010-02-02", on: today) == true)
        let base = "form: f\ntitle: {zh: 表, en: Form}\ndepartment: {zh: 部门, en: Dept}\npurpose: p\nconsumer: c\ncolumns:\n  - {header: 姓名, field: name}\n"
        #expect((try? FormSpec.parse(base + "select: {age_min: 60}\n", fileName: "f.yaml"))?.selection == FormSpec.Selection(ageMin: 60))
        #expect(throws: SpecFileError.self) { try FormSpec.parse(base + "select: {age_min: 70, age_max: 60}\n", fileName: "f.yaml") }
        #expect(throws: SpecFileError.self) { try FormSpec.parse(base + "select: {age: 60}\n", fileName: "f.yaml") }
    }

    @Test("form specs: a wrong field names its line and the nearest canonical field; columns need headers, once each")
    func specErrors() {
        let base = "form: f\ntitle: {zh: 表, en: Form}\ndepartment: {zh: 部门, en: Dept}\npurpose: p\nconsumer: c\ncolumns:\n"
        #expect(throws: SpecFileError.self) { try FormSpec.parse(base + "  - {header: 电话, field: phon}\n", fileName: "f.yaml") }
        do {
            _ = try FormSpec.parse(base + "  - {header: 电话, field: phon}\n", fileName: "f.yaml")
        } catch let error as SpecFileError {
            #expect(error.line == 7 && error.fix?.en.contains("phone") == true, "\(error)")
        } catch {
            Issue.record("unexpected \(error)")
        }
        #expect(throws: SpecFileError.self) { try FormSpec.parse(base + "  - {header: 电话, field: phone}\n  - {header: 电话}\n", fileName: "f.yaml") }
        #expect(throws: SpecFileError.self) { try FormSpec.parse(base + "  - {field: phone}\n", fileName: "f.yaml") }
        #expect(throws: SpecFileError.self) { try FormSpec.parse(base.replacingOccurrences(of: "consumer: c\n", with: ""), fileName: "f.yaml") }
        let parsed = try? FormSpec.parse(base + "  - {header: 电话, field: phone}\n  - {header: 备注}\n", fileName: "f.yaml")
        #expect(parsed?.columns.map(\.field) == ["phone", nil])
    }
}

@Suite struct FormSuggestionTests {
    static let adapters = ["civil_affairs", "family_planning", "party", "social_security"].map {
        try! AdapterSpec.load(repository.appendingPathComponent("adapters/\($0).yaml"))
    }

    /// The columns an adapter maps one to one, with their fields.
    static func columns(of spec: AdapterSpec) -> [(String, String)] {
        spec.mappings.compactMap { mapping in
            if case .column(let column) = mapping.source { return (column, mapping.field.qualifiedName) }
            return nil
        }
    }

    @Test("the four shipped adapters' columns are placed on their fields; learnt from the other three only, nothing is placed wrong")
    func shippedColumns() {
        let all = HeaderMatcher(adapters: Self.adapters)
        for spec in Self.adapters {
            for (column, field) in Self.columns(of: spec) {
                #expect(all.place(column)?.field == field, "\(spec.system): \(column)")
            }
        }
        var placed = 0, total = 0
        for (index, spec) in Self.adapters.enumerated() {
            var others = Self.adapters
            others.remove(at: index)
            let matcher = HeaderMatcher(adapters: others)
            for (column, field) in Self.columns(of: spec) {
                total += 1
                guard let placement = matcher.place(column) else { continue }
                placed += 1
                #expect(placement.field == field, "\(spec.system): \(column) placed on \(placement.field)")
            }
        }
        #expect(placed > total / 3, "placed \(placed) of \(total) from the other adapters and the labels")
    }

    @Test("form suggest: a template's headers in GB18030 CSV and XLSX; a draft that form check reads; the unplaced listed, never guessed")
    func suggest() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("form-suggest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let headers = ["序号", "姓名", "性别（男/女）", "身份证号码*", "联系电话", "户籍地址（详细）", "开户银行"]
        let csv = directory.appendingPathComponent("template.csv")
        try Data(try #require(TextEncoder(.gb18030).encode(headers.joined(separator: ",") + "\r\n"))).write(to: csv)
        let xlsx = directory.appendingPathComponent("template.xlsx")
        let writer = try XLSXWriter(url: xlsx)
        try writer.append(headers)
        try writer.finish()
        for template in [csv, xlsx] {
            #expect(try FormSuggestion.headers(of: template) == headers)
        }
        let suggestion = FormSuggestion(headers: headers, matcher: HeaderMatcher(adapters: Self.adapters))
        #expect(suggestion.columns.map { $0.placement?.field } == [nil, "name", "sex", "national_id", "phone", "address", nil])
        #expect(suggestion.unplaced == ["序号", "开户银行"])
        #expect(suggestion.columns.compactMap(\.placement).allSatisfy { $0.confidence > 0 && $0.confidence <= 1 })
        let draft = try FormSpec.parse(suggestion.yaml(id: "template"), fileName: "template.yaml")
        #expect(draft.columns.map(\.header) == headers && draft.columns.map(\.field) == suggestion.columns.map { $0.placement?.field })
    }
}
