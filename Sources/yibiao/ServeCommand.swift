import ArgumentParser
import Foundation
import YibiaoApplication
import YibiaoCore
import YibiaoServer
import YibiaoStore

struct Serve: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            abstract: tr(
                "Run the HTTP API for consumers (docs/api.md) until SIGTERM or SIGINT.",
                "运行供数据使用方调用的 HTTP 接口（见 docs/api.md），直到收到 SIGTERM 或 SIGINT。"),
            discussion: tr(
                """
                Listens on 127.0.0.1:8080 unless told otherwise (--host/--port or YIBIAO_HOST/YIBIAO_PORT). \
                Put a reverse proxy in front for TLS (deploy/). On SIGTERM it stops accepting, finishes the \
                requests in flight and their audit entries, and exits 0.
                """,
                """
                默认监听 127.0.0.1:8080（可用 --host/--port 或 YIBIAO_HOST/YIBIAO_PORT 修改）。\
                TLS 请由前置的反向代理负责（见 deploy/）。收到 SIGTERM 后停止接收新请求，处理完进行中的请求\
                及其审计记录后以 0 退出。
                """))
    }

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions

    @Option(name: .long, help: ArgumentHelp(tr("Address to listen on (default $YIBIAO_HOST, else 127.0.0.1).", "监听地址（默认 $YIBIAO_HOST，否则 127.0.0.1）。"), valueName: "host"))
    var host: String?

    @Option(name: .long, help: ArgumentHelp(tr("Port (default $YIBIAO_PORT, else 8080; 0 picks a free one).", "端口（默认 $YIBIAO_PORT，否则 8080；0 表示任选空闲端口）。"), valueName: "port"))
    var port: Int?

    @Option(
        name: .long,
        help: ArgumentHelp(tr("Database connections in the pool (default $YIBIAO_DB_CONNECTIONS, else 16).", "数据库连接池大小（默认 $YIBIAO_DB_CONNECTIONS，否则 16）。"), valueName: "n"))
    var dbConnections: Int?

    func run() async throws {
        let environment = CLI.environment
        let host = host ?? environment["YIBIAO_HOST"] ?? "127.0.0.1"
        let port = port ?? environment["YIBIAO_PORT"].map({ Int($0) ?? -1 }) ?? 8080
        guard (0...65535).contains(port) else {
            throw ValidationError(tr("The port must be a number from 0 to 65535.", "端口应为 0 到 65535 之间的数字。"))
        }
        var configuration = try database.configuration()
        configuration.database.maximumConnections = max(2, dbConnections ?? environment["YIBIAO_DB_CONNECTIONS"].flatMap { Int($0) } ?? 16)
        // Refuse to serve a schema this binary does not match.
        let status = try await Hub.withHub(configuration) { hub in try await hub.schemaStatus() }
        guard status.pending.isEmpty else {
            throw ValidationError(
                tr(
                    "The database needs \(status.pending.count) migrations first: run `yibiao db migrate`.",
                    "数据库还有 \(status.pending.count) 个迁移未执行：请先运行 `yibiao db migrate`。"))
        }
        try await YibiaoServer.run(hub: configuration, server: ServerConfiguration(host: host, port: port)) { port in
            // Standard output, so that scripts and tests can wait for it.
            FileHandle.standardOutput.write(Data((tr("Listening on http://\(host):\(port)", "正在监听 http://\(host):\(port)") + "\n").utf8))
        }
        print(tr("Stopped.", "已停止。"))
    }
}
