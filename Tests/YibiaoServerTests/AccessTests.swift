import Crypto
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import PostgresNIO
import Testing
import Yams
import YibiaoAdapters
import YibiaoApplication
import YibiaoCore
import YibiaoServer
import YibiaoStore
import YibiaoTestSupport

private let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
private let district = "110105"

/// A hub on a fresh database with the four sample feeds ingested.
private func withDistrict(_ body: @escaping @Sendable (Hub, PostgresClient) async throws -> Void) async throws {
    try await TestDatabase.withFreshDatabase { url, client in
        var database = DatabaseConfiguration(home: FileManager.default.temporaryDirectory, externalURL: url)
        database.maximumConnections = 4
        try await Hub.withHub(HubConfiguration(database: database, logger: .silent)) { hub in
            for (adapter, sample) in [
                ("civil_affairs.yaml", "civil_affairs.csv"), ("family_planning.yaml", "family_planning.xlsx"), ("party.yaml", "party.xml"),
                ("social_security.yaml", "social_security.jsonl"),
            ] {
                _ = try await hub.ingest(
                    IngestRequest(
                        adapter: try FeedAdapterRegistry.load(repository.appendingPathComponent("adapters/\(adapter)").path),
                        file: repository.appendingPathComponent("adapters/samples/\(sample)"), district: district, actor: "test"))
            }
            try await body(hub, client)
        }
    }
}

private func add(_ hub: Hub, _ id: String, _ grant: AccessGrant, rate: Int = 6000) async throws -> (Consumers.Consumer, String) {
    try await hub.addConsumer(
        district: district, Consumers.Definition(id: id, name: id, purpose: "test \(id)", legalBasis: "test", grant: grant, ratePerMinute: rate),
        actor: "test")
}

private func bearer(_ token: String, language: String? = nil) -> HTTPFields {
    var fields: HTTPFields = [.authorization: "Bearer \(token)"]
    if let language { fields[.acceptLanguage] = language }
    return fields
}

private func object(_ response: TestResponse) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
}

private func app(_ hub: Hub) -> some ApplicationProtocol {
    Application(router: YibiaoServer.makeRouter(hub: hub, audit: AuditRecorder(hub: hub), server: ServerConfiguration()))
}

/// Every active resident and the community its golden record places it in.
private func communities(_ client: PostgresClient) async throws -> [Int64: String?] {
    var result: [Int64: String?] = [:]
    for try await (id, community) in try await client.query(
        "SELECT resident_id, named_fields(district, golden) ->> 'community_code' FROM resident WHERE district = \(district) AND status = 'active'"
    ).decode((Int64, String?).self) { result[id] = community }
    return result
}

private func scalar(_ client: PostgresClient, _ query: PostgresQuery) async throws -> Int {
    for try await value in try await client.query(query).decode(Int.self) { return value }
    return 0
}

private func isMaskedID(_ text: String) -> Bool { text.wholeMatch(of: #/[0-9]{6}\*{8}[0-9X]{4}/#) != nil }
private func isMaskedPhone(_ text: String) -> Bool { text.wholeMatch(of: #/.{3}\*+.{4}/#) != nil }

@Suite struct AccessTests {
    @Test("a community consumer sees exactly its community's residents and its granted fields, masked — in the API, the change feed and extracts alike")
    func communityScope() async throws {
        try await withDistrict { hub, client in
            let community = "110105001001"
            let grant = AccessGrant(fields: ["name", "national_id", "phone", "address"], communities: [community])
            let (consumer, token) = try await add(hub, "office", grant)
            let everyone = try await communities(client)
            let expected = Set(everyone.filter { $0.value == community }.keys)
            #expect(expected.count >= 2, "the sample places two residents in \(community)")
            #expect(everyone.count > expected.count)
            let allowed: Set<String> = ["name", "national_id", "phone", "address"]

            try await app(hub).test(.router) { client in
                // The API: every resident in the district asked for; only the community answers.
                var seen: Set<Int64> = []
                for id in everyone.keys.sorted() {
                    let response = try await client.execute(uri: "/v1/residents/\(id)", method: .get, headers: bearer(token))
                    if response.status == .ok {
                        seen.insert(id)
                        let fields = try #require(try object(response)["fields"] as? [String: String])
                        #expect(Set(fields.keys).isSubset(of: allowed))
                        if let nationalID = fields["national_id"] { #expect(isMaskedID(nationalID), "\(nationalID)") }
                        if let phone = fields["phone"] { #expect(isMaskedPhone(phone), "\(phone)") }
                    } else {
                        #expect(response.status == .notFound)
                    }
                }
                #expect(seen == expected)
                // A resident that does not exist answers exactly as one outside the scope.
                let outside = try #require(everyone.keys.first { !expected.contains($0) })
                let a = try await client.execute(uri: "/v1/residents/\(outside)", method: .get, headers: bearer(token))
                let b = try await client.execute(uri: "/v1/residents/999999", method: .get, headers: bearer(token))
                #expect(a.status == b.status && a.body == b.body)

                // The change feed, paged to its end.
                var after: Int64 = 0
                var fed: Set<Int64> = []
                while true {
                    let page = try object(try await client.execute(uri: "/v1/changes?after=\(after)&limit=3", method: .get, headers: bearer(token)))
                    let changes = try #require(page["changes"] as? [[String: Any]])
                    for change in changes {
                        fed.insert(try #require(change["resident"] as? Int64))
                        let fields = try #require(change["fields"] as? [String: [String: Any]])
                        #expect(!fields.isEmpty && Set(fields.keys).isSubset(of: allowed))
                        if let id = fields["national_id"]?["new"] as? String { #expect(isMaskedID(id)) }
                    }
                    let next = try #require(page["next_after"] as? Int64)
                    #expect(next > after || next == page["head"] as? Int64)
                    if next == page["head"] as? Int64 { break }
                    after = next
                }
                #expect(fed == expected)

                // The streamed extract.
                let extract = try await client.execute(uri: "/v1/extract", method: .get, headers: bearer(token))
                #expect(extract.status == .ok)
                let lines = String(buffer: extract.body).split(separator: "\n").map(String.init)
                let rows = try lines.dropLast().map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
                #expect(Set(rows.compactMap { $0["id"] as? Int64 }) == expected)
                for row in rows { #expect(Set((row["fields"] as? [String: String] ?? [:]).keys).isSubset(of: allowed)) }
                let lastLine = try #require(lines.last)
                let manifest = try #require(
                    (try JSONSerialization.jsonObject(with: Data(lastLine.utf8)) as? [String: Any])?["manifest"] as? [String: Any])
                #expect(manifest["rows"] as? Int == expected.count)
                let digest = SHA256.hash(data: Data(lines.dropLast().map { $0 + "\n" }.joined().utf8)).map { String(format: "%02x", $0) }.joined()
                #expect(manifest["sha256"] as? String == digest)
            }

            // The extract file, with its manifest.
            let directory = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-extract")
            let file = directory.appendingPathComponent("office.csv")
            let result = try await hub.extract(as: consumer, since: nil, format: .csv, to: file, actor: "test")
            #expect(result.rows == expected.count)
            let text = try String(contentsOf: file, encoding: .utf8)
            let header = try #require(text.split(separator: "\r\n").first)
            #expect(header == "resident_id,status,merged_into,national_id,name,phone,address")
            let ids = Set(text.split(separator: "\r\n").dropFirst().compactMap { Int64($0.split(separator: ",").first ?? "") })
            #expect(ids == expected)
            let manifest = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: result.manifest)) as? [String: Any])
            #expect(manifest["sha256"] as? String == SHA256.hash(data: try Data(contentsOf: file)).map { String(format: "%02x", $0) }.joined())
            #expect(manifest["rows"] as? Int == expected.count)
            #expect(manifest["cursor"] as? Int64 == result.cursor)
            let mode = try #require(try FileManager.default.attributesOfItem(atPath: file.path)[.posixPermissions] as? Int)
            #expect(mode == 0o640)
        }
    }

    @Test("an ungranted facet is never seen: not in records, the change feed, extracts, nor as a sensitive system's keys; granted with a purpose, it is")
    func sensitiveFacets() async throws {
        try await withDistrict { hub, client in
            let keys: Set<String> = ["civil_affairs", "party", "social_security", "family_planning"]
            let (_, plain) = try await add(hub, "plain", AccessGrant(fields: ["name", "sex"], systems: ["civil_affairs", "social_security"]))
            let (_, party) = try await add(
                hub, "party-office", AccessGrant(fields: ["name"], facets: ["party": "党员教育管理"], systems: ["civil_affairs", "party"]))
            let members = try await scalar(client, "SELECT count(*)::int FROM resident WHERE district = \(district) AND named_fields(district, golden) ? 'party.branch'")
            #expect(members > 0)
            try await app(hub).test(.router) { http in
                let all = try object(try await http.execute(uri: "/v1/changes?limit=1000", method: .get, headers: bearer(plain)))
                let fields = try #require(all["changes"] as? [[String: Any]]).flatMap { ($0["fields"] as? [String: Any] ?? [:]).keys }
                #expect(!fields.isEmpty && fields.allSatisfy { ["name", "sex"].contains($0) })
                let extract = String(buffer: try await http.execute(uri: "/v1/extract", method: .get, headers: bearer(plain)).body)
                #expect(!extract.contains("party.") && !extract.contains("family_planning."))
                let partyExtract = String(buffer: try await http.execute(uri: "/v1/extract", method: .get, headers: bearer(party)).body)
                #expect(partyExtract.components(separatedBy: "party.branch").count - 1 == members)

                // A party member's civil-affairs key: the plain consumer gets no party key back.
                for try await (key, hasParty) in try await client.query(
                    """
                    SELECT r.source_key, EXISTS (SELECT 1 FROM link l2 JOIN source_record p USING (district, record_id)
                        WHERE l2.district = l.district AND l2.resident_id = l.resident_id AND p.system_id = 'party' AND p.is_current)
                    FROM source_record r JOIN link l USING (district, record_id) WHERE r.district = \(district) AND r.system_id = 'civil_affairs' AND r.is_current
                    """
                ).decode((String, Bool).self) {
                    let plainRef = try object(try await http.execute(uri: "/v1/xref/civil_affairs/\(key)", method: .get, headers: bearer(plain)))
                    let plainSystems = Set(try #require(plainRef["keys"] as? [[String: String]]).compactMap { $0["system"] })
                    #expect(plainSystems.isSubset(of: ["civil_affairs", "social_security"]))
                    let partyRef = try object(try await http.execute(uri: "/v1/xref/civil_affairs/\(key)", method: .get, headers: bearer(party)))
                    let partySystems = Set(try #require(partyRef["keys"] as? [[String: String]]).compactMap { $0["system"] })
                    #expect(partySystems.contains("party") == hasParty)
                    #expect(partySystems.isSubset(of: keys))
                }
                // Asking by an ungranted system's key is refused whoever the key is.
                let refused = try await http.execute(uri: "/v1/xref/party/DY0001", method: .get, headers: bearer(plain))
                #expect(refused.status == .forbidden)
            }
        }
    }

    @Test("masking: ID numbers 6 + 4 and phones 3 + 4 unless granted in full; lookup by ID needs the ID granted")
    func masking() async throws {
        try await withDistrict { hub, client in
            let (_, masked) = try await add(hub, "masked", AccessGrant(fields: ["name", "national_id", "phone"]))
            let (_, full) = try await add(hub, "full", AccessGrant(fields: ["name", "national_id", "phone"], unmasked: ["national_id", "phone"]))
            let (_, named) = try await add(hub, "named", AccessGrant(fields: ["name", "sex"], masked: ["name"]))
            var golden: (name: String, phone: String)?
            for try await row in try await client.query(
                """
                SELECT named_fields(district, golden) ->> 'name', named_fields(district, golden) ->> 'phone' FROM resident
                WHERE district = \(district) AND named_fields(district, golden) ->> 'national_id' = '110105198503020118'
                """
            ).decode((String, String).self) { golden = row }
            let (name, phone) = try #require(golden)
            let body = ByteBuffer(string: #"{"national_id": "110105198503020118"}"#)
            try await app(hub).test(.router) { http in
                let a = try object(try await http.execute(uri: "/v1/residents/lookup", method: .post, headers: bearer(masked), body: body))
                let b = try object(try await http.execute(uri: "/v1/residents/lookup", method: .post, headers: bearer(full), body: body))
                #expect((a["fields"] as? [String: String])?["national_id"] == "110105********0118")
                #expect((b["fields"] as? [String: String])?["national_id"] == "110105198503020118")
                #expect((a["fields"] as? [String: String])?["phone"] == String(phone.prefix(3)) + String(repeating: "*", count: phone.count - 7) + String(phone.suffix(4)))
                #expect((b["fields"] as? [String: String])?["phone"] == phone)
                #expect((a["fields"] as? [String: String])?["name"] == name)
                let id = try #require(a["id"] as? Int64)
                let c = try object(try await http.execute(uri: "/v1/residents/\(id)", method: .get, headers: bearer(named)))
                #expect((c["fields"] as? [String: String])?["name"] == String(name.prefix(1)) + String(repeating: "*", count: name.count - 1))
                let refused = try await http.execute(uri: "/v1/residents/lookup", method: .post, headers: bearer(named), body: body)
                #expect(refused.status == .forbidden)
            }
        }
    }

    @Test("errors are JSON with the right status and never a trace or SQL; the rate limit answers 429 with Retry-After")
    func errors() async throws {
        try await withDistrict { hub, _ in
            let (_, token) = try await add(hub, "reader", AccessGrant(fields: ["name", "national_id"]))
            let (_, slow) = try await add(hub, "slow", AccessGrant(fields: ["name"]), rate: 2)
            try await app(hub).test(.router) { http in
                let cases: [(String, HTTPRequest.Method, HTTPFields, String?, HTTPResponse.Status, String)] = [
                    ("/v1/residents/1", .get, [:], nil, .unauthorized, "unauthorized"),
                    ("/v1/residents/1", .get, bearer("yb_110105_" + String(repeating: "0", count: 40)), nil, .unauthorized, "unauthorized"),
                    ("/v1/residents/abc", .get, bearer(token), nil, .badRequest, "bad_resident_id"),
                    ("/v1/residents/lookup", .post, bearer(token), "not json", .badRequest, "bad_body"),
                    ("/v1/residents/lookup", .post, bearer(token), #"{"national_id": "110105198503020119"}"#, .unprocessableContent, "invalid_national_id"),
                    ("/v1/changes?limit=0", .get, bearer(token), nil, .badRequest, "bad_parameter"),
                    ("/v1/changes?after=99999999", .get, bearer(token), nil, .conflict, "cursor_ahead"),
                    ("/v1/extract?format=xml", .get, bearer(token), nil, .badRequest, "bad_format"),
                    ("/v1/nothing", .get, bearer(token), nil, .notFound, "no_such_route"),
                    ("/v1/residents/lookup", .put, bearer(token), nil, .methodNotAllowed, "method_not_allowed"),
                    ("/v1/extract?since=99999999", .get, bearer(token), nil, .conflict, "cursor_ahead"),
                ]
                for (uri, method, headers, body, status, code) in cases {
                    let response = try await http.execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
                    #expect(response.status == status, "\(method) \(uri)")
                    let error = try #require(try object(response)["error"] as? [String: String], "\(uri)")
                    #expect(error["code"] == code, "\(uri)")
                    let text = String(buffer: response.body)
                    #expect(!text.contains("SELECT") && !text.contains("PSQL") && !text.contains(".swift"))
                }
                let wrongMethod = try await http.execute(uri: "/v1/residents/lookup", method: .delete, headers: bearer(token))
                #expect(wrongMethod.headers[.allow] == "POST", "the most literal route's methods, not /v1/residents/{id}'s")
                let chinese = try await http.execute(uri: "/v1/residents/1", method: .get, headers: [.acceptLanguage: "zh-CN"])
                #expect((try object(chinese)["error"] as? [String: String])?["message"]?.contains("令牌") == true)
                for _ in 0..<2 { #expect(try await http.execute(uri: "/v1/me", method: .get, headers: bearer(slow)).status == .ok) }
                let limited = try await http.execute(uri: "/v1/me", method: .get, headers: bearer(slow))
                #expect(limited.status == .tooManyRequests)
                #expect(Int(limited.headers[.retryAfter] ?? "") ?? 0 >= 1)
            }
        }
    }

    @Test("a disabled consumer's token stops at once; a rotated token replaces the old one")
    func tokens() async throws {
        try await withDistrict { hub, _ in
            let (_, first) = try await add(hub, "rotating", AccessGrant(fields: ["name"]))
            try await app(hub).test(.router) { http in
                #expect(try await http.execute(uri: "/v1/me", method: .get, headers: bearer(first)).status == .ok)
                let second = try await hub.rotateConsumerToken(district: district, id: "rotating", actor: "test")
                #expect(try await http.execute(uri: "/v1/me", method: .get, headers: bearer(first)).status == .unauthorized)
                #expect(try await http.execute(uri: "/v1/me", method: .get, headers: bearer(second)).status == .ok)
                try await hub.disableConsumer(district: district, id: "rotating", actor: "test")
                #expect(try await http.execute(uri: "/v1/me", method: .get, headers: bearer(second)).status == .unauthorized)
            }
            let stored = try await hub.consumer(district: district, id: "rotating")
            #expect(!stored.active && stored.disabledAt != nil)
            #expect(!stored.tokenHint.isEmpty && !first.hasPrefix(stored.tokenHint + "x"))
        }
    }

    @Test("every read is in the audit log, written in batches; reading the log is audited; tampering is detected")
    func audit() async throws {
        try await withDistrict { hub, client in
            let (_, token) = try await add(hub, "audited", AccessGrant(fields: ["name"]))
            let recorder = AuditRecorder(hub: hub)
            let app = Application(router: YibiaoServer.makeRouter(hub: hub, audit: recorder, server: ServerConfiguration()))
            let before = try await scalar(client, "SELECT count(*)::int FROM audit_log WHERE district = \(district)")
            try await app.test(.router) { http in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for id in 1...60 {
                        group.addTask {
                            _ = try await http.execute(uri: "/v1/residents/\(id % 9 + 1)", method: .get, headers: bearer(token))
                        }
                    }
                    try await group.waitForAll()
                }
            }
            let reads = try await scalar(
                client, "SELECT count(*)::int FROM audit_log WHERE district = \(district) AND actor = 'consumer:audited' AND action = 'read_resident'")
            #expect(reads == 60)
            #expect(await recorder.entries == 60)
            #expect(await recorder.batches < 60, "group commit writes several entries a transaction")
            let listed = try await hub.auditEntries(district: district, actor: "consumer:audited", action: nil, limit: 5, reader: "test:auditor")
            #expect(listed.count == 5 && listed.allSatisfy { $0.entry.purpose == "test audited" })
            #expect(try await scalar(client, "SELECT count(*)::int FROM audit_log WHERE district = \(district) AND action = 'audit_list'") == 1)
            let (checked, intact) = try await hub.verifyAudit(district: district, reader: "test")
            #expect(intact == nil && checked == before + 61)

            try await client.query("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
            var original = ""
            for try await actor in try await client.query("SELECT actor FROM audit_log WHERE district = \(district) AND seq = 5").decode(String.self) {
                original = actor
            }
            try await client.query("UPDATE audit_log SET actor = 'someone else' WHERE district = \(district) AND seq = 5")
            #expect(try await hub.verifyAudit(district: district, reader: "test").firstBreak?.seq == 5)
            try await client.query("UPDATE audit_log SET actor = \(original) WHERE district = \(district) AND seq = 5")
            #expect(try await hub.verifyAudit(district: district, reader: "test").firstBreak == nil)
            // A removed last entry shows too: the head remembers how many were written.
            let last = try await scalar(client, "SELECT max(seq)::int FROM audit_log WHERE district = \(district)")
            try await client.query("DELETE FROM audit_log WHERE district = \(district) AND seq = \(last)")
            #expect(try await hub.verifyAudit(district: district, reader: "test").firstBreak?.seq == Int64(last))
        }
    }

    @Test("an operator's reads and every write are in the audit log too: ingests, entries, resolutions")
    func writesAudited() async throws {
        try await withDistrict { hub, client in
            #expect(try await scalar(client, "SELECT count(*)::int FROM audit_log WHERE district = \(district) AND action = 'ingest' AND actor = 'test'") == 4)
            _ = try await hub.history(district: district, resident: "1", reader: "cli:operator")
            _ = try await hub.enter(district: district, resident: "1", values: ["phone": "13900003333"], worker: "worker:x")
            #expect(
                try await scalar(
                    client, "SELECT count(*)::int FROM audit_log WHERE district = \(district) AND actor = 'cli:operator' AND action = 'read_resident'") == 1)
            #expect(
                try await scalar(
                    client,
                    "SELECT count(*)::int FROM audit_log WHERE district = \(district) AND actor = 'worker:x' AND action = 'entry' AND detail->'fields' ? 'phone'"
                ) == 1)
            #expect(try await hub.verifyAudit(district: district, reader: "test").firstBreak == nil)
        }
    }

    // A time limit names the test should it ever hang (it did once in a full parallel run, 2026-12-03).
    @Test("the change feed long-polls: a request waiting for news returns with the next change", .timeLimit(.minutes(10)))
    func longPoll() async throws {
        try await withDistrict { hub, _ in
            let (consumer, _) = try await add(hub, "waiting", AccessGrant(fields: ["phone"]))
            let head = try await hub.changes(as: consumer, after: 0, limit: 1, audit: hub.immediateAudit).head
            // A wait far longer than the test: returning with the change means it was woken by it
            // (a timed-out page would be empty), however slow a loaded machine is.
            let started = ContinuousClock.now
            async let page = hub.changes(as: consumer, after: head, limit: 10, wait: .seconds(300), audit: hub.immediateAudit)
            try await Task.sleep(for: .milliseconds(600))
            _ = try await hub.enter(district: district, resident: "1", values: ["phone": "13900002222"], worker: "worker:test")
            let woken = try await page
            #expect(woken.changes.contains { $0.changes["phone"]?.new == "139****2222" })
            #expect(ContinuousClock.now - started < .seconds(300))
        }
    }

    @Test("worker entries: in scope only, sent twice changes once, a value changed meanwhile is a conflict showing both, bad values 422")
    func workerEntries() async throws {
        try await withDistrict { hub, client in
            let (_, token) = try await hub.addWorker(district: district, id: "li.na", name: "李娜", communities: ["110105001001"], actor: "test")
            let (_, consumerToken) = try await add(hub, "reader", AccessGrant(fields: ["name"]))
            var golden: (id: Int64, phone: String)?
            for try await row in try await client.query(
                "SELECT resident_id, named_fields(district, golden) ->> 'phone' FROM resident WHERE district = \(district) AND named_fields(district, golden) ->> 'national_id' = '110105198503020118'"
            ).decode((Int64, String).self) { golden = row }
            let (resident, phone) = try #require(golden)
            @Sendable func body(_ id: String, _ resident: String, _ values: [String: String], seen: [String: String?] = [:]) throws -> ByteBuffer {
                ByteBuffer(
                    bytes: try JSONSerialization.data(withJSONObject: [
                        "entry_id": id, "resident": resident, "values": values, "seen": seen.mapValues { $0 as Any? ?? NSNull() },
                    ]))
            }
            @Sendable func entries() async throws -> Int {
                try await scalar(client, "SELECT count(*)::int FROM change_log WHERE district = \(district) AND cause = 'entry'")
            }
            try await app(hub).test(.router) { http in
                let first = UUID().uuidString
                let sent = try await http.execute(
                    uri: "/v1/entries", method: .post, headers: bearer(token),
                    body: try body(first, "110105198503020118", ["phone": "139 0000 1111"], seen: ["phone": phone]))
                #expect(sent.status == .ok, "\(String(buffer: sent.body))")
                let accepted = try object(sent)
                #expect(accepted["status"] as? String == "accepted" && accepted["resident"] as? Int64 == resident)
                let reaches = try #require(accepted["reaches"] as? [[String: Any]])
                #expect(reaches.contains { $0["system"] as? String == "civil_affairs" && ($0["fields"] as? [String]) == ["phone"] })
                let logged = try await entries()
                #expect(logged == 1)
                // The same entry again (a lost answer, a retry): received before, nothing changes.
                let again = try object(
                    try await http.execute(
                        uri: "/v1/entries", method: .post, headers: bearer(token),
                        body: try body(first, "110105198503020118", ["phone": "139 0000 1111"], seen: ["phone": phone])))
                #expect(again["status"] as? String == "already_received")
                #expect(try await entries() == logged)
                // Another worker saw the old phone and types a third one: both shown, nothing overwritten.
                let stale = try await http.execute(
                    uri: "/v1/entries", method: .post, headers: bearer(token),
                    body: try body(UUID().uuidString, String(resident), ["phone": "13700002222"], seen: ["phone": phone]))
                #expect(stale.status == .conflict)
                let conflict = try #require((try object(stale)["conflicts"] as? [String: [String: String]])?["phone"])
                #expect(conflict["seen"] == phone && conflict["current"] == "13900001111")
                #expect(try await entries() == logged)
                // Outside the worker's communities: the same as no resident.
                let outsider = try await scalar(
                    client,
                    "SELECT min(resident_id)::int FROM resident WHERE district = \(district) AND coalesce(named_fields(district, golden) ->> 'community_code', '') <> '110105001001'")
                let outside = try await http.execute(
                    uri: "/v1/entries", method: .post, headers: bearer(token), body: try body(UUID().uuidString, String(outsider), ["phone": "13700003333"]))
                #expect(outside.status == .notFound)
                let invalid = try await http.execute(
                    uri: "/v1/entries", method: .post, headers: bearer(token), body: try body(UUID().uuidString, String(resident), ["phone": "12"]))
                #expect(invalid.status == .unprocessableContent)
                #expect(!String(buffer: invalid.body).contains("\"12\""), "the value is not echoed")
                let asConsumer = try await http.execute(
                    uri: "/v1/entries", method: .post, headers: bearer(consumerToken), body: try body(UUID().uuidString, String(resident), ["phone": "13700004444"]))
                #expect(asConsumer.status == .unauthorized)
            }
            #expect(try await scalar(client, "SELECT count(*)::int FROM audit_log WHERE district = \(district) AND actor = 'worker:li.na' AND action = 'entry'") == 1)
            #expect(try await scalar(client, "SELECT count(*)::int FROM worker_entry WHERE district = \(district)") == 1)
        }
    }

    @Test("schemas/openapi.yaml and the server's routes describe the same API")
    func specMatchesRoutes() async throws {
        try await withDistrict { hub, _ in
            let router = YibiaoServer.makeRouter(hub: hub, audit: hub.immediateAudit, server: ServerConfiguration())
            let served = Set(router.routes.map { "\($0.method.rawValue) /" + $0.path.description.split(separator: "/").joined(separator: "/") })
            let text = try String(contentsOf: repository.appendingPathComponent("schemas/openapi.yaml"), encoding: .utf8)
            let spec = try #require(try Yams.load(yaml: text) as? [String: Any])
            #expect(spec["openapi"] as? String == "3.1.0")
            let paths = try #require(spec["paths"] as? [String: [String: Any]])
            var described: Set<String> = []
            for (path, operations) in paths {
                for method in operations.keys where ["get", "post", "put", "delete", "patch"].contains(method) {
                    described.insert("\(method.uppercased()) \(path)")
                }
            }
            #expect(served == described)
        }
    }
}
