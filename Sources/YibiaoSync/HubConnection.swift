import AsyncHTTPClient
public import Foundation
import NIOCore
import NIOHTTP1
public import YibiaoCore

/// The sync client's side of the hub's worker API (docs/api.md): who am I, look residents up,
/// send an entry. Every failure to reach the hub — refused, timed out, or cut mid-answer — is
/// `SyncError.unreachable`, which the caller treats as "keep it in the queue".
public final class HubConnection: Sendable {
    public let base: String
    let token: String
    let language: Language
    let http: HTTPClient
    let timeout: TimeAmount
    /// Connections made by `with(token:)` share the first one's client and leave closing it to it.
    let ownsClient: Bool

    /// `connectTimeout` is short by default so a worker offline learns it quickly; a busy machine
    /// (tests beside a load test) passes a longer one.
    public init(
        hub: String, token: String, language: Language, timeout: Duration = .seconds(20), connectTimeout: Duration = .seconds(5),
        connections: Int = 8
    ) throws {
        self.base = try Self.normalised(hub)
        self.token = token
        self.language = language
        self.timeout = Self.timeAmount(timeout)
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: Self.timeAmount(min(connectTimeout, timeout)), read: self.timeout)
        configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: connections)
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        ownsClient = true
    }

    private static func timeAmount(_ duration: Duration) -> TimeAmount {
        .nanoseconds(Int64(duration.components.seconds) * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }

    private init(base: String, token: String, language: Language, http: HTTPClient, timeout: TimeAmount) {
        self.base = base
        self.token = token
        self.language = language
        self.http = http
        self.timeout = timeout
        self.ownsClient = false
    }

    /// The same hub and connections for another worker's token (many simulated workers, one pool).
    public func with(token: String) -> HubConnection {
        HubConnection(base: base, token: token, language: language, http: http, timeout: timeout)
    }

    public convenience init(login: Login, language: Language) throws {
        try self.init(hub: login.hub, token: login.token, language: language, timeouts: Self.configuredTimeouts())
    }

    convenience init(hub: String, token: String, language: Language, timeouts: (read: Duration, connect: Duration)) throws {
        try self.init(hub: hub, token: token, language: language, timeout: timeouts.read, connectTimeout: timeouts.connect)
    }

    /// `YIBIAO_HUB_TIMEOUT` (seconds) for a slow line: how long to wait for the hub to connect
    /// and to answer. By default 5 s to connect and 20 s to answer, so that a worker offline
    /// learns it quickly.
    public static func configuredTimeouts(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> (read: Duration, connect: Duration) {
        guard let text = environment["YIBIAO_HUB_TIMEOUT"], let seconds = Int(text), seconds > 0 else { return (.seconds(20), .seconds(5)) }
        return (.seconds(seconds), .seconds(seconds))
    }

    public func close() async {
        if ownsClient { try? await http.shutdown() }
    }

    /// `http://host:port` with no trailing slash; anything else is refused before a request.
    public static func normalised(_ hub: String) throws -> String {
        var text = hub.trimmingCharacters(in: .whitespaces)
        while text.hasSuffix("/") { text.removeLast() }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", url.host != nil else {
            throw SyncError(
                .badInput, LocalizedText(en: "\(hub) is not a hub address", zh: "\(hub) 不是平台地址"),
                remedy: LocalizedText(en: "write it as https://host or http://host:port", zh: "请写作 https://主机 或 http://主机:端口"))
        }
        return text
    }

    // MARK: The calls

    public struct Me: Decodable, Sendable {
        public let worker: String
        public let name: String
        public let district: String
        public let communities: [String]
        public let editable: [String]
        public let readable: [String]
    }

    public func me() async throws -> Me {
        let (status, body) = try await call(.GET, "/v1/worker/me")
        guard status == 200, let me = try? JSONDecoder().decode(Me.self, from: body) else { throw unexpected(status, body) }
        return me
    }

    /// A resident of the worker's communities: id and the values the worker may read.
    public struct Resident: Sendable, Hashable {
        public let id: Int64
        public let fields: [String: String]
        /// field → when the hub last changed it.
        public let changedAt: [String: Date]
    }

    /// By citizen ID number (cleaned, valid); absent: no such person in the worker's communities.
    public func lookup(_ nationalIDs: [String]) async throws -> [String: Resident] {
        var found: [String: Resident] = [:]
        for (key, resident) in try await lookup(nationalIDs.map(Key.nationalID)) {
            if case .nationalID(let id) = key { found[id] = resident }
        }
        return found
    }

    /// By resident id (a returned form's rows); absent: not an active resident of the worker's communities.
    public func lookup(residents: [Int64]) async throws -> [Int64: Resident] {
        var found: [Int64: Resident] = [:]
        for (key, resident) in try await lookup(residents.map(Key.resident)) {
            if case .resident(let id) = key { found[id] = resident }
        }
        return found
    }

    enum Key: Hashable {
        case nationalID(String)
        case resident(Int64)
    }

    private func lookup(_ keys: [Key]) async throws -> [Key: Resident] {
        var found: [Key: Resident] = [:]
        for start in stride(from: 0, to: keys.count, by: 1000) {
            let slice = keys[start..<min(start + 1000, keys.count)]
            var body: [String: Any] = [:]
            let ids = slice.compactMap { if case .nationalID(let id) = $0 { id } else { nil } }
            let residents = slice.compactMap { if case .resident(let id) = $0 { id } else { nil } }
            if !ids.isEmpty { body["national_ids"] = ids }
            if !residents.isEmpty { body["residents"] = residents }
            let (status, answerBody) = try await call(.POST, "/v1/worker/lookup", json: body)
            struct Answer: Decodable {
                struct Row: Decodable {
                    let national_id: String
                    let resident: Int64
                    let fields: [String: String]
                    let changed_at: [String: String]?
                }
                let residents: [Row]
            }
            guard status == 200, let answer = try? JSONDecoder().decode(Answer.self, from: answerBody) else { throw unexpected(status, answerBody) }
            let times = ISO8601DateFormatter()
            times.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            let askedIDs = Set(ids), askedResidents = Set(residents)
            for row in answer.residents {
                let resident = Resident(
                    id: row.resident, fields: row.fields, changedAt: (row.changed_at ?? [:]).compactMapValues { times.date(from: $0) })
                if askedIDs.contains(row.national_id) { found[.nationalID(row.national_id)] = resident }
                if askedResidents.contains(row.resident) { found[.resident(row.resident)] = resident }
            }
        }
        return found
    }

    public enum Outcome: Sendable, Hashable {
        case accepted(resident: Int64, changes: Int, reaches: [QueuedEntry.Reach])
        case alreadyReceived(resident: Int64)
        /// field → (seen, current)
        case conflict([String: Pair])
        case rejected(code: String, message: String)
    }

    public struct Pair: Sendable, Hashable {
        public let seen: String?
        public let current: String?
    }

    /// Why the hub could not find an entry's resident, in the worker's language.
    func notFound(_ entry: QueuedEntry) -> String {
        if entry.residentID != nil {
            return language == .zh ? "您负责的社区中没有该居民（可能已合并或迁出）" : "no such resident in your communities (merged or moved away?)"
        }
        return language == .zh ? "您负责的社区中没有此公民身份号码的居民" : "no resident with this citizen ID number in your communities"
    }

    public func send(_ entry: QueuedEntry) async throws -> Outcome {
        var body: [String: Any] = ["entry_id": entry.id, "resident": entry.nationalID, "values": entry.values]
        if let seen = entry.seen {
            body["seen"] = seen.filter { entry.values[$0.key] != nil }.mapValues { $0 as Any? ?? NSNull() }
        }
        let (status, data) = try await call(.POST, "/v1/entries", json: body)
        let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        switch status {
        case 200:
            let resident = (object["resident"] as? NSNumber)?.int64Value ?? 0
            if object["status"] as? String == "already_received" { return .alreadyReceived(resident: resident) }
            let reaches = (object["reaches"] as? [[String: Any]] ?? []).map { reach in
                QueuedEntry.Reach(system: reach["system"] as? String ?? "", fields: reach["fields"] as? [String] ?? [], held: reach["held"] as? Bool ?? false)
            }
            return .accepted(resident: resident, changes: (object["changes"] as? NSNumber)?.intValue ?? 0, reaches: reaches)
        case 409:
            let fields = (object["conflicts"] as? [String: [String: Any]] ?? [:]).mapValues { both in
                Pair(seen: both["seen"] as? String, current: both["current"] as? String)
            }
            return .conflict(fields)
        case 404:
            return .rejected(
                code: "not_found",
                message: notFound(entry))
        case 403, 422, 400:
            let error = object["error"] as? [String: Any]
            return .rejected(code: error?["code"] as? String ?? "rejected", message: error?["message"] as? String ?? "")
        default:
            throw unexpected(status, data)
        }
    }

    // MARK: HTTP

    func call(_ method: HTTPMethod, _ path: String, json: [String: Any]? = nil) async throws -> (Int, Data) {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Accept-Language", value: language == .zh ? "zh-CN" : "en")
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])))
        }
        do {
            let response = try await http.execute(request, timeout: timeout)
            let body = try await response.body.collect(upTo: 16 << 20)
            let status = Int(response.status.code)
            if status == 401 {
                throw SyncError(
                    .unauthorized, LocalizedText(en: "the hub refused this computer's token", zh: "平台拒绝了本机的令牌"),
                    remedy: LocalizedText(
                        en: "ask the district for a new token, then `yibiao login --hub \(base)`", zh: "请向区里申请新令牌，然后运行 `yibiao login --hub \(base)`"))
            }
            if status == 429 {
                throw SyncError(
                    .unreachable, LocalizedText(en: "the hub is busy (too many requests)", zh: "平台繁忙（请求过多）"),
                    remedy: LocalizedText(en: "entries wait on this computer; try again in a minute", zh: "录入已保存在本机；请一分钟后再试"))
            }
            if status >= 500 {
                throw SyncError(
                    .unreachable, LocalizedText(en: "the hub answered with an error (\(status))", zh: "平台出错（\(status)）"),
                    remedy: LocalizedText(en: "entries wait on this computer; try again later", zh: "录入已保存在本机；请稍后再试"))
            }
            return (status, Data(body.readableBytesView))
        } catch let error as SyncError {
            throw error
        } catch {
            throw SyncError(
                .unreachable, LocalizedText(en: "cannot reach the hub at \(base)", zh: "无法连接平台 \(base)"),
                remedy: LocalizedText(
                    en: "entries wait on this computer; `yibiao sync push` sends them once the line is back",
                    zh: "录入已保存在本机；网络恢复后运行 `yibiao sync push` 发送"))
        }
    }

    func unexpected(_ status: Int, _ body: Data) -> SyncError {
        let error = ((try? JSONSerialization.jsonObject(with: body)) as? [String: Any])?["error"] as? [String: Any]
        let message = error?["message"] as? String ?? "HTTP \(status)"
        return SyncError(.hubError, LocalizedText(en: "the hub answered: \(message)", zh: "平台答复：\(message)"))
    }
}
