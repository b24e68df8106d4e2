import Foundation
import Synchronization
public import Hummingbird
import Logging
import Metrics
import PostgresNIO
import Prometheus
import ServiceLifecycle
import UnixSignals
public import YibiaoApplication
import YibiaoCore
import YibiaoStore

/// How `yibiao serve` listens.
public struct ServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// The longest a change-feed request may wait for the next change.
    public var longestWait: Duration

    public init(host: String = "127.0.0.1", port: Int = 8080, longestWait: Duration = .seconds(60)) {
        self.host = host
        self.port = port
        self.longestWait = longestWait
    }
}

/// The HTTP API (docs/api.md, schemas/openapi.yaml): a thin front end over the application layer.
/// Every answer about residents goes through the consumer's grant, and into the audit log before
/// it is sent.
public enum YibiaoServer {
    /// One Prometheus registry per process: swift-metrics can be bootstrapped only once.
    static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()

    /// Runs the server with its own database pool in one ServiceGroup, until SIGTERM or SIGINT:
    /// then it stops accepting, finishes the requests in flight (their audit entries included)
    /// and closes the pool. `onRunning` gets the port it listens on.
    public static func run(
        hub configuration: HubConfiguration, server: ServerConfiguration, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws {
        // A server that is not there, or refuses this sslmode, fails here with its reason.
        let url = try await Database.resolve(try configuration.database.url(), logger: configuration.logger)
        let client = PostgresClient(
            configuration: try Database.clientConfiguration(for: url, maximumConnections: configuration.database.maximumConnections),
            backgroundLogger: configuration.logger)
        let hub = Hub(configuration: configuration, client: client)
        let audit = AuditRecorder(hub: hub)
        let router = makeRouter(hub: hub, audit: audit, server: server)
        let app = Application(
            router: router, configuration: .init(address: .hostname(server.host, port: server.port), serverName: "yibiao"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? server.port) }, logger: configuration.logger)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: client), .init(service: app)], gracefulShutdownSignals: [.sigterm, .sigint], logger: configuration.logger))
        try await group.run()
    }

    public static func makeRouter(hub: Hub, audit: any AuditSink, server: ServerConfiguration) -> Router<BasicRequestContext> {
        _ = registry
        let api = API(hub: hub, audit: audit, limiter: RateLimiter(), longestWait: server.longestWait)
        let router = Router()
        let errors = ErrorMiddleware()
        router.add(middleware: errors)
        router.add(middleware: MetricsMiddleware())
        router.get("health") { _, _ in try json(["status": "ok"]) }
        router.get("ready") { _, _ in
            do {
                try await hub.ping()
                return try json(["status": "ready"])
            } catch {
                throw APIError(.serviceUnavailable, "not_ready", en: "the database does not answer", zh: "数据库无响应")
            }
        }
        router.get("metrics") { _, _ in
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }
        let v1 = router.group("v1")
        v1.get("me") { request, _ in try await api.me(request) }
        v1.get("residents/:id") { request, context in try await api.resident(request, context) }
        v1.post("residents/lookup") { request, _ in try await api.lookup(request) }
        v1.get("xref/:system/:key") { request, context in try await api.crossReference(request, context) }
        v1.get("changes") { request, _ in try await api.changes(request) }
        v1.get("extract") { request, _ in try await api.extract(request) }
        v1.post("entries") { request, _ in try await api.entry(request) }
        v1.get("worker/me") { request, _ in try await api.workerMe(request) }
        v1.post("worker/lookup") { request, _ in try await api.workerLookup(request) }
        errors.routes.set(router.routes.map { (method: $0.method, path: $0.path.description) })
        return router
    }
}

/// A JSON error the consumer can act on; never a stack trace, SQL or a value.
struct APIError: Error, HTTPResponseError {
    let status: HTTPResponse.Status
    let code: String
    let message: LocalizedText
    var retryAfter: Int?

    init(_ status: HTTPResponse.Status, _ code: String, en: String, zh: String, retryAfter: Int? = nil) {
        self.status = status
        self.code = code
        self.message = LocalizedText(en: en, zh: zh)
        self.retryAfter = retryAfter
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let chinese = (request.headers[.acceptLanguage] ?? "").lowercased().hasPrefix("zh")
        var response = try json(["error": ["code": code, "message": chinese ? message.zh : message.en]], status: status)
        if let retryAfter { response.headers[.retryAfter] = String(retryAfter) }
        return response
    }

    static let unauthorized = APIError(
        .unauthorized, "unauthorized", en: "a valid bearer token is needed (Authorization: Bearer yb_…)", zh: "需要有效的令牌（Authorization: Bearer yb_…）")
    static let notFound = APIError(.notFound, "not_found", en: "no such resident, or not one this consumer may see", zh: "没有该居民，或该居民不在本使用方的范围内")
}

/// Turns every error into JSON: the API's own as they are, the router's (no such route, wrong
/// method) with their status, anything else as a bare 500 whose detail goes to the log only.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext

    /// The routes, set once the router is built: a known path asked with another method is a 405.
    let routes = RouteTable()

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return try error.response(from: request, context: context)
        } catch let error as any HTTPResponseError {
            if error.status == .notFound, case let allowed = routes.methods(for: request.uri.path), !allowed.isEmpty {
                var response = try APIError(.methodNotAllowed, "method_not_allowed", en: "this route does not take \(request.method.rawValue)", zh: "此接口不支持 \(request.method.rawValue) 方法")
                    .response(from: request, context: context)
                response.headers[.allow] = allowed.map(\.rawValue).sorted().joined(separator: ", ")
                return response
            }
            let status = error.status
            let code = status == .notFound ? "no_such_route" : status == .methodNotAllowed ? "method_not_allowed" : "bad_request"
            return try APIError(status, code, en: status.reasonPhrase.lowercased(), zh: Self.chinese(status)).response(from: request, context: context)
        } catch let error as StoreError where error.errorCode == .cursorAhead {
            return try APIError(.conflict, "cursor_ahead", en: error.message.en, zh: error.message.zh).response(from: request, context: context)
        } catch {
            // The route's template, not the path: a path can carry a system's key for a person.
            context.logger.error("request failed", metadata: ["route": "\(context.endpointPath ?? "unknown")", "error": "\(type(of: error))"])
            return try APIError(.internalServerError, "internal", en: "the request failed on the server; try again", zh: "服务器处理请求失败，请重试")
                .response(from: request, context: context)
        }
    }

    static func chinese(_ status: HTTPResponse.Status) -> String {
        switch status.code {
        case 404: "没有此接口"
        case 405: "此接口不支持该方法"
        case 413: "请求内容过大"
        default: "请求有误"
        }
    }
}

/// The router's routes as path templates (`/v1/residents/{id}`), for telling 404 from 405.
final class RouteTable: Sendable {
    private let storage = Mutex<[(method: HTTPRequest.Method, segments: [Substring])]>([])

    func set(_ routes: [(method: HTTPRequest.Method, path: String)]) {
        storage.withLock { $0 = routes.map { ($0.method, $0.path.split(separator: "/")) } }
    }

    func methods(for path: String) -> [HTTPRequest.Method] {
        let segments = path.split(separator: "/")
        // The most literal template wins, as in the router: /v1/residents/lookup is not /v1/residents/{id}.
        let matches: [(method: HTTPRequest.Method, literals: Int)] = storage.withLock { routes in
            routes.compactMap { route in
                guard route.segments.count == segments.count,
                    zip(route.segments, segments).allSatisfy({ template, segment in template.hasPrefix("{") || template == segment })
                else { return nil }
                return (route.method, route.segments.filter { !$0.hasPrefix("{") }.count)
            }
        }
        let best = matches.map(\.literals).max()
        return matches.filter { $0.literals == best }.map(\.method)
    }
}

func json(_ value: CanonicalJSON, status: HTTPResponse.Status = .ok) -> Response {
    Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: value.text)))
}

func json(_ value: Any, status: HTTPResponse.Status = .ok) throws -> Response {
    let data = try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes])
    return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

/// Requests per consumer and minute (a token bucket refilled continuously).
actor RateLimiter {
    private var buckets: [String: (tokens: Double, at: ContinuousClock.Instant)] = [:]

    /// Nil when allowed; else the seconds to wait.
    func take(_ key: String, perMinute: Int) -> Int? {
        let now = ContinuousClock.now
        let capacity = Double(perMinute)
        var bucket = buckets[key] ?? (capacity, now)
        let elapsed = Double((now - bucket.at).components.seconds) + Double((now - bucket.at).components.attoseconds) / 1e18
        bucket.tokens = min(capacity, bucket.tokens + elapsed * capacity / 60)
        bucket.at = now
        guard bucket.tokens >= 1 else {
            buckets[key] = bucket
            return max(1, Int(((1 - bucket.tokens) * 60 / capacity).rounded(.up)))
        }
        bucket.tokens -= 1
        buckets[key] = bucket
        return nil
    }
}
