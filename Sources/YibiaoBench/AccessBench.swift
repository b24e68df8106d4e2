import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import PostgresNIO
import YibiaoApplication
import YibiaoCore
import YibiaoServer
import YibiaoStore

/// Downstream reads on the loaded district: an extract file, the change feed through the API,
/// and lookups by ID number from 100 concurrent clients on loopback.
func benchAccess(_ hub: Hub, client: PostgresClient, district: String) async throws {
    print("  downstream access (one consumer: every core field, the civil-affairs facet, IDs and phones masked):")
    let grant = AccessGrant(
        fields: Set(CanonicalField.fields(in: .core).map(\.qualifiedName)), facets: ["civil_affairs": ""], systems: ["civil_affairs"])
    let (consumer, token) = try await hub.addConsumer(
        district: district,
        Consumers.Definition(id: "bench", name: "bench", purpose: "benchmark", legalBasis: "benchmark", grant: grant, ratePerMinute: 100_000_000),
        actor: "bench")

    let folder = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("yibiao-bench-extract-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    for format in [ExtractFormat.csv, .xlsx] {
        let start = ContinuousClock.now
        let result = try await hub.extract(as: consumer, since: nil, format: format, to: folder.appendingPathComponent("bench.\(format.rawValue)"), actor: "bench")
        let time = seconds(ContinuousClock.now - start)
        print(String(format: "    extract (%@, masked): %d rows in %.2f s, %8.0f rows/s", format.rawValue as NSString, result.rows, time, Double(result.rows) / time))
    }

    var ids: [String] = []
    let nationalID = try await FieldNumbers.load(district: district, client, logger: Logger(label: "bench")).valueSQL("golden", "national_id")
    for try await id in try await client.query(
        """
        SELECT \(unescaped: nationalID) FROM resident WHERE district = \(district) AND status = 'active' AND \(unescaped: nationalID) IS NOT NULL
        ORDER BY resident_id LIMIT 20000
        """
    ).decode(String.self) { ids.append(id) }

    var quiet = Logger(label: "bench-server")
    quiet.logLevel = .critical
    let router = YibiaoServer.makeRouter(hub: hub, audit: AuditRecorder(hub: hub), server: ServerConfiguration())
    let (ports, port) = AsyncStream<Int>.makeStream()
    let app = Application(
        router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { channel in port.yield(channel.localAddress?.port ?? 0) }, logger: quiet)
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await app.run() }
        defer { group.cancelAll() }
        var iterator = ports.makeAsyncIterator()
        guard let listening = await iterator.next() else { return }
        let base = "http://127.0.0.1:\(listening)"
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 128)
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        defer { _ = http.shutdown() }

        // The change feed, read to its end in pages of 1,000.
        var after: Int64 = 0, streamed = 0
        let feedStart = ContinuousClock.now
        while true {
            var request = HTTPClientRequest(url: "\(base)/v1/changes?after=\(after)&limit=1000")
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            let response = try await http.execute(request, timeout: .seconds(60))
            let body = try await response.body.collect(upTo: 64 << 20)
            guard let page = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any],
                let next = page["next_after"] as? Int64, let head = page["head"] as? Int64
            else { break }
            streamed += (page["changes"] as? [Any])?.count ?? 0
            if next == head || next == after { break }
            after = next
        }
        let feedTime = seconds(ContinuousClock.now - feedStart)
        print(String(format: "    change feed over HTTP: %d changes in %.2f s, %8.0f changes/s", streamed, feedTime, Double(streamed) / feedTime))

        // Lookups by ID number: 100 clients, each sending its next request as soon as the last returns.
        let clients = 100, duration = Duration.seconds(10), lookupIDs = ids
        let deadline = ContinuousClock.now + duration
        let latencies = try await withThrowingTaskGroup(of: [Double].self) { workers in
            for worker in 0..<clients {
                workers.addTask {
                    var mine: [Double] = []
                    var index = worker
                    while ContinuousClock.now < deadline {
                        var request = HTTPClientRequest(url: "\(base)/v1/residents/lookup")
                        request.method = .POST
                        request.headers.add(name: "Authorization", value: "Bearer \(token)")
                        request.body = .bytes(ByteBuffer(string: "{\"national_id\": \"\(lookupIDs[index % lookupIDs.count])\"}"))
                        let start = ContinuousClock.now
                        let response = try await http.execute(request, timeout: .seconds(30))
                        _ = try await response.body.collect(upTo: 1 << 20)
                        if response.status == .ok { mine.append(seconds(ContinuousClock.now - start) * 1000) }
                        index += clients
                    }
                    return mine
                }
            }
            var all: [Double] = []
            for try await part in workers { all += part }
            return all.sorted()
        }
        guard !latencies.isEmpty else { return }
        let p99 = latencies[min(latencies.count - 1, Int(Double(latencies.count) * 0.99))]
        print(
            String(
                format: "    lookup by ID number, %d concurrent clients for %.0f s: %d answered, %.0f req/s, p50 %.1f ms, p99 %.1f ms", clients,
                seconds(duration), latencies.count, Double(latencies.count) / seconds(duration), latencies[latencies.count / 2], p99))
        var audited = 0
        for try await count in try await client.query(
            "SELECT count(*)::int FROM audit_log WHERE district = \(district) AND action = 'lookup_national_id'"
        ).decode(Int.self) { audited = count }
        print("    audit entries for those lookups: \(audited)")
    }
}
