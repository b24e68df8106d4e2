import Crypto
import Foundation
import Hummingbird
import Metrics
import YibiaoApplication
import YibiaoCore
import YibiaoStore

/// The handlers: authenticate, check the rate, ask the application layer, shape the answer.
struct API: Sendable {
    let hub: Hub
    let audit: any AuditSink
    let limiter: RateLimiter
    let longestWait: Duration

    static let changesStreamed = Counter(label: "yibiao_changes_streamed_total")
    static let extractRows = Counter(label: "yibiao_extract_rows_total")

    /// The token of `Authorization: Bearer …`.
    static func bearerToken(_ request: Request) throws -> String {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else { throw APIError.unauthorized }
        return String(header.dropFirst("Bearer ".count)).trimmingCharacters(in: .whitespaces)
    }

    /// The consumer a request's bearer token names, within its rate.
    func consumer(_ request: Request) async throws -> Consumers.Consumer {
        guard let consumer = try await hub.authenticate(token: try Self.bearerToken(request)) else { throw APIError.unauthorized }
        if let wait = await limiter.take("\(consumer.district)/\(consumer.id)", perMinute: consumer.ratePerMinute) {
            throw APIError(
                .tooManyRequests, "rate_limited", en: "more than \(consumer.ratePerMinute) requests a minute; wait \(wait) s",
                zh: "每分钟请求超过 \(consumer.ratePerMinute) 次；请等待 \(wait) 秒", retryAfter: wait)
        }
        return consumer
    }

    func me(_ request: Request) async throws -> Response {
        let consumer = try await consumer(request)
        let grant = consumer.grant
        return try json([
            "consumer": consumer.id, "district": consumer.district, "name": consumer.name, "purpose": consumer.purpose,
            "fields": grant.allowedFields.map { ["field": $0, "masked": grant.mask(for: $0) != .none] as [String: Any] },
            "communities": grant.communities.sorted(), "systems": grant.systems.sorted(), "rate_per_minute": consumer.ratePerMinute,
        ])
    }

    func resident(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let consumer = try await consumer(request)
        guard let text = context.parameters.get("id"), let id = Int64(text), id > 0 else {
            throw APIError(.badRequest, "bad_resident_id", en: "a resident id is a positive whole number", zh: "居民编号应为正整数")
        }
        guard let row = try await hub.readResident(as: consumer, id: id, audit: audit) else { throw APIError.notFound }
        return json(Self.canonical(row))
    }

    struct LookupBody: Decodable {
        let national_id: String
    }

    /// By POST, so that the ID number is in no URL, proxy log or browser history.
    func lookup(_ request: Request) async throws -> Response {
        let consumer = try await consumer(request)
        let body = try await request.body.collect(upTo: 4096)
        guard let lookup = try? JSONDecoder().decode(LookupBody.self, from: Data(body.readableBytesView)) else {
            throw APIError(.badRequest, "bad_body", en: "send {\"national_id\": \"…\"} as JSON", zh: "请以 JSON 发送 {\"national_id\": \"…\"}")
        }
        guard consumer.grant.allows("national_id") else {
            throw APIError(.forbidden, "not_granted", en: "this consumer is not granted national_id, so it cannot look up by it", zh: "本使用方未获授权 national_id，不能按其查询")
        }
        guard case .success = CitizenID.parse(lookup.national_id, today: .todayInChina()) else {
            throw APIError(
                .unprocessableContent, "invalid_national_id", en: "not a valid citizen ID number (length, date or check character)",
                zh: "不是有效的公民身份号码（位数、日期或校验码有误）")
        }
        guard let row = try await hub.lookup(as: consumer, nationalID: lookup.national_id, audit: audit) else { throw APIError.notFound }
        return json(Self.canonical(row))
    }

    func crossReference(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let consumer = try await consumer(request)
        let system = context.parameters.get("system") ?? "", key = (context.parameters.get("key") ?? "").removingPercentEncoding ?? ""
        guard consumer.grant.systems.contains(system) else {
            throw APIError(.forbidden, "not_granted", en: "this consumer may not use \(system)'s keys", zh: "本使用方无权使用 \(system) 的编号")
        }
        guard let found = try await hub.crossReference(as: consumer, system: system, key: key, audit: audit) else { throw APIError.notFound }
        return try json(["resident": found.resident, "keys": found.keys.map { ["system": $0.system, "key": $0.key] }])
    }

    func changes(_ request: Request) async throws -> Response {
        let consumer = try await consumer(request)
        let query = request.uri.queryParameters
        let after = try Self.integer(query["after"], name: "after", default: 0, range: 0...Int64.max)
        let limit = try Self.integer(query["limit"], name: "limit", default: 100, range: 1...1000)
        let wait = try Self.integer(query["wait"], name: "wait", default: 0, range: 0...Int64(longestWait.components.seconds))
        let page = try await hub.changes(as: consumer, after: after, limit: Int(limit), wait: .seconds(wait), audit: audit)
        Self.changesStreamed.increment(by: page.changes.count)
        // Written by CanonicalJSON: JSONSerialization spent most of a page's time sorting keys
        // through ICU collation and casting `Any`s.
        let changes: [CanonicalJSON] = page.changes.map { change in
            .object([
                "seq": .integer(change.seq), "resident": .integer(change.resident), "cause": .string(change.cause), "at": .string(change.at),
                "fields": .object(change.changes.mapValues { .object(["old": .optional($0.old), "new": .optional($0.new)]) }),
            ])
        }
        return json(.object(["changes": .array(changes), "next_after": .integer(page.through), "head": .integer(page.head)]))
    }

    /// JSON Lines, streamed: one resident a line, then a last line `{"manifest": {rows, cursor,
    /// sha256}}` whose hash covers every line before it, so a receiver can tell a cut stream.
    func extract(_ request: Request) async throws -> Response {
        let consumer = try await consumer(request)
        let query = request.uri.queryParameters
        let since: Int64? = try query["since"].map { try Self.integer($0, name: "since", default: 0, range: 0...Int64.max) }
        if let format = query["format"], format != "jsonl" {
            throw APIError(.badRequest, "bad_format", en: "the API streams jsonl; csv and xlsx come from `yibiao extract`", zh: "接口仅以 jsonl 流式输出；csv 和 xlsx 请用 `yibiao extract`")
        }
        // Checked before the first byte: once streaming has begun, an error can only cut the stream.
        if let since, since > (try await hub.changeLogHead(district: consumer.district)) {
            throw APIError(.conflict, "cursor_ahead", en: "since \(since) is past the district's last change", zh: "since \(since) 超过了本区县最后一条变更")
        }
        let (hub, audit) = (self.hub, self.audit)
        let body = ResponseBody { writer in
            var hasher = SHA256Stream()
            var buffer = ByteBuffer()
            let (rows, cursor) = try await hub.extractRows(as: consumer, since: since, format: "jsonl", audit: audit) { row in
                let line = Data((Self.canonical(row).text + "\n").utf8)
                hasher.update(line)
                buffer.writeBytes(line)
                if buffer.readableBytes >= 1 << 16 {
                    try await writer.write(buffer)
                    buffer.clear()
                }
            }
            Self.extractRows.increment(by: rows)
            let manifest: [String: Any] = ["manifest": ["rows": rows, "cursor": cursor, "sha256": hasher.finish(), "since": since as Any? ?? NSNull()]]
            buffer.writeBytes(try JSONSerialization.data(withJSONObject: manifest, options: [.sortedKeys]) + Data("\n".utf8))
            try await writer.write(buffer)
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "application/x-ndjson; charset=utf-8"], body: body)
    }

    struct EntryBody: Decodable {
        let entry_id: String
        let resident: String
        let values: [String: String]
        let seen: [String: String?]?
    }

    /// The worker a request's bearer token names, within its rate.
    func worker(_ request: Request) async throws -> Workers.Worker {
        guard let worker = try await hub.authenticateWorker(token: try Self.bearerToken(request)) else { throw APIError.unauthorized }
        if let wait = await limiter.take("\(worker.district)/worker/\(worker.id)", perMinute: 600) {
            throw APIError(.tooManyRequests, "rate_limited", en: "too many requests a minute; wait \(wait) s", zh: "请求过于频繁；请等待 \(wait) 秒", retryAfter: wait)
        }
        return worker
    }

    /// Who the worker is, where it works and which fields it may change: the sync client's login
    /// check and the shape of its form.
    func workerMe(_ request: Request) async throws -> Response {
        let worker = try await worker(request)
        return try json([
            "worker": worker.id, "name": worker.name, "district": worker.district, "communities": worker.communities.sorted(),
            "facets": worker.facets.map(\.rawValue).sorted(), "editable": worker.fields.editable, "readable": worker.fields.readable,
        ])
    }

    struct WorkerLookupBody: Decodable {
        var national_ids: [String]?
        /// Resident ids (a returned form's rows); answered with `resident`, and `national_id`
        /// only where the worker may read it.
        var residents: [Int64]?
        var count: Int { (national_ids?.count ?? 0) + (residents?.count ?? 0) }
    }

    /// Residents of the worker's communities by citizen ID number (in the body, never the URL),
    /// with the values the worker may read: what the form shows before asking for changes.
    func workerLookup(_ request: Request) async throws -> Response {
        let worker = try await worker(request)
        let body = try await request.body.collect(upTo: 256 << 10)
        guard let lookup = try? JSONDecoder().decode(WorkerLookupBody.self, from: Data(body.readableBytesView)), (1...1000).contains(lookup.count)
        else {
            throw APIError(
                .badRequest, "bad_body", en: "send {\"national_ids\": [\"…\"]} or {\"residents\": [id, …]} (1 to 1,000) as JSON",
                zh: "请以 JSON 发送 {\"national_ids\": [\"…\"]} 或 {\"residents\": [编号, …]}（1 到 1000 个）")
        }
        let found = try await hub.lookupForWorker(worker, nationalIDs: lookup.national_ids ?? [], residents: lookup.residents ?? [], audit: audit)
        let asked = Set(lookup.national_ids ?? [])
        let mayReadIDs = worker.fields.readable.contains("national_id")
        let residents: [CanonicalJSON] = found.map { resident in
            // A number the worker typed is theirs already; one found by resident id only when readable.
            let shown = asked.contains(resident.nationalID) || mayReadIDs ? resident.nationalID : ""
            return .object([
                "national_id": .string(shown), "resident": .integer(resident.resident), "fields": .strings(resident.fields),
                "changed_at": .strings(resident.changedAt),
            ])
        }
        return json(.object(["residents": .array(residents)]))
    }

    /// A worker's entry (the sync client's): accepted with the systems it will reach, already
    /// received (the same entry id again), or a conflict showing both values.
    func entry(_ request: Request) async throws -> Response {
        let worker = try await worker(request)
        let body = try await request.body.collect(upTo: 64 << 10)
        guard let entry = try? JSONDecoder().decode(EntryBody.self, from: Data(body.readableBytesView)), !entry.values.isEmpty else {
            throw APIError(
                .badRequest, "bad_body", en: "send {\"entry_id\", \"resident\", \"values\": {field: value}, \"seen\": {field: value}} as JSON",
                zh: "请以 JSON 发送 {\"entry_id\", \"resident\", \"values\": {字段: 值}, \"seen\": {字段: 原值}}")
        }
        guard entry.entry_id.range(of: "^[A-Za-z0-9_-]{8,64}$", options: .regularExpression) != nil else {
            throw APIError(.badRequest, "bad_entry_id", en: "entry_id: 8 to 64 letters, digits, _ or - (a UUID)", zh: "entry_id 应为 8 到 64 位字母、数字、_ 或 -（如 UUID）")
        }
        do {
            let outcome = try await hub.submitEntry(
                as: worker, EntryRequest(resident: entry.resident, values: entry.values, entryID: entry.entry_id, seen: entry.seen ?? [:]), audit: audit)
            switch outcome {
            case .accepted(let resident, let changes, let reaches):
                return try json([
                    "status": "accepted", "resident": resident, "changes": changes,
                    "reaches": reaches.filter { !$0.value.fields.isEmpty }.keys.sorted().map { system in
                        ["system": system, "fields": reaches[system]!.fields.sorted(), "held": reaches[system]!.held] as [String: Any]
                    },
                ])
            case .alreadyReceived(let resident, let seq):
                return try json(["status": "already_received", "resident": resident, "change_seq": seq as Any? ?? NSNull()])
            }
        } catch let conflict as WorkerEntries.Conflict {
            let chinese = (request.headers[.acceptLanguage] ?? "").lowercased().hasPrefix("zh")
            let message =
                chinese ? "您看到的值已在平台上被修改：请选择保留哪个值后重新发送" : "the hub's value changed since you saw it: choose one, then send again"
            return try json(
                [
                    "error": ["code": "entry_conflict", "message": message],
                    "conflicts": conflict.fields.mapValues { ["seen": $0.seen as Any? ?? NSNull(), "current": $0.current as Any? ?? NSNull()] },
                ], status: .conflict)
        } catch let error as StoreError where error.errorCode == .residentNotFound {
            throw APIError.notFound
        } catch let error as StoreError where error.errorCode == .fieldNotEditable {
            throw APIError(.forbidden, error.code, en: error.message.en, zh: error.message.zh)
        } catch let error as StoreError where error.errorCode == .entryInvalid || error.errorCode == .residentRetired {
            throw APIError(.unprocessableContent, error.code, en: error.message.en, zh: error.message.zh)
        } catch let error as StoreError where error.errorCode == .entryUnreadable {
            // The hub's fault, said in words: the client keeps the entry and may send it again.
            throw APIError(.internalServerError, error.code, en: error.message.en, zh: error.message.zh)
        }
    }

    static func canonical(_ row: ConsumerReads.ResidentRow) -> CanonicalJSON {
        var members: [String: CanonicalJSON] = ["id": .integer(row.id), "status": .string(row.status)]
        if let merged = row.mergedInto { members["merged_into"] = .integer(merged) } else { members["fields"] = .strings(row.fields) }
        return .object(members)
    }

    static func integer(_ text: Substring?, name: String, default value: Int64, range: ClosedRange<Int64>) throws -> Int64 {
        guard let text else { return value }
        guard let number = Int64(text), range.contains(number) else {
            throw APIError(
                .badRequest, "bad_parameter", en: "\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound)",
                zh: "\(name) 应为 \(range.lowerBound) 到 \(range.upperBound) 之间的整数")
        }
        return number
    }
}

/// SHA-256 over a stream of lines.
struct SHA256Stream {
    private var hasher = SHA256()
    mutating func update(_ data: Data) { hasher.update(data: data) }
    func finish() -> String { hasher.finalize().hexString }
}
