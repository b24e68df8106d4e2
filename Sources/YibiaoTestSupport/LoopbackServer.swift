import Hummingbird
import Logging
public import YibiaoApplication
import YibiaoServer

/// The HTTP API over `hub` on a free loopback port for the length of `body`, which gets its
/// address (`http://127.0.0.1:PORT`). For tests and benchmarks: quiet, stopped afterwards.
public func serveOnLoopback<Result: Sendable>(_ hub: Hub, _ body: @escaping @Sendable (String) async throws -> Result) async throws -> Result {
    var quiet = Logger(label: "loopback-server")
    quiet.logLevel = .critical
    let (ports, port) = AsyncStream<Int>.makeStream()
    let app = Application(
        router: YibiaoServer.makeRouter(hub: hub, audit: AuditRecorder(hub: hub), server: ServerConfiguration()),
        configuration: .init(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { channel in port.yield(channel.localAddress?.port ?? 0) }, logger: quiet)
    return try await withThrowingTaskGroup(of: Result?.self) { group in
        group.addTask {
            try await app.run()
            return nil
        }
        var iterator = ports.makeAsyncIterator()
        guard let listening = await iterator.next() else { throw LoopbackServerError.didNotStart }
        defer { group.cancelAll() }
        return try await body("http://127.0.0.1:\(listening)")
    }
}

public enum LoopbackServerError: Error {
    case didNotStart
}
