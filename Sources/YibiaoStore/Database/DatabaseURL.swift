import Foundation
import YibiaoCore

/// A PostgreSQL connection URL in libpq's form:
/// `postgresql://user:password@host:port/database?sslmode=require` or, for a Unix socket,
/// `postgresql://user@/database?host=/path/to/socket/dir&port=5432`.
public struct DatabaseURL: Sendable, Hashable, CustomStringConvertible {
    public enum Endpoint: Sendable, Hashable {
        case tcp(host: String, port: Int)
        /// The full socket path (`<dir>/.s.PGSQL.<port>`).
        case unixSocket(path: String)
    }

    /// libpq's `sslmode`: `prefer` and `require` encrypt without checking who answers (as libpq
    /// does); `verify-ca` checks the certificate's issuer, `verify-full` its host name too.
    public enum TLSMode: String, Sendable, Hashable, CaseIterable {
        case disable
        /// Plain first; TLS only when the server refuses a plain connection.
        case allow
        /// TLS when the server offers it, plain otherwise (libpq's default).
        case prefer
        case require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"

        /// The modes that fail rather than fall back to a plain connection.
        public var demandsTLS: Bool { self == .require || self == .verifyCA || self == .verifyFull }
        public var verifiesCertificate: Bool { self == .verifyCA || self == .verifyFull }
    }

    public var endpoint: Endpoint
    public var user: String
    public var password: String?
    public var database: String
    public var tls: TLSMode
    /// `sslrootcert`: the certificate authorities trusted by `verify-ca` / `verify-full` (a PEM
    /// file); nil means `~/.postgresql/root.crt` when it exists, else the system's store.
    public var rootCertificatePath: String?

    public init(
        endpoint: Endpoint, user: String, password: String? = nil, database: String, tls: TLSMode = .disable,
        rootCertificatePath: String? = nil
    ) {
        self.endpoint = endpoint
        self.user = user
        self.password = password
        self.database = database
        self.tls = tls
        self.rootCertificatePath = rootCertificatePath
    }

    public init(parsing text: String) throws {
        guard let components = URLComponents(string: text),
            let scheme = components.scheme, scheme == "postgres" || scheme == "postgresql"
        else {
            throw Self.invalid(text, LocalizedText(en: "it must start with postgresql://", zh: "应以 postgresql:// 开头"))
        }
        var query: [String: String] = [:]
        for item in components.queryItems ?? [] { query[item.name] = item.value ?? "" }
        let port: Int
        if let text = query["port"] {
            guard let value = Int(text) else {
                throw Self.invalid(text, LocalizedText(en: "the port is not a number", zh: "端口不是数字"))
            }
            port = value
        } else {
            port = components.port ?? 5432
        }
        let host = query["host"] ?? components.percentEncodedHost.flatMap { $0.removingPercentEncoding } ?? ""
        if host.hasPrefix("/") {
            endpoint = .unixSocket(path: host + "/.s.PGSQL.\(port)")
        } else if host.isEmpty {
            endpoint = .unixSocket(path: "/var/run/postgresql/.s.PGSQL.\(port)")
        } else {
            endpoint = .tcp(host: host, port: port)
        }
        user = query["user"] ?? components.user ?? "postgres"
        password = query["password"] ?? components.password
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        database = query["dbname"] ?? (path.isEmpty ? user : path)
        let isSocket = host.hasPrefix("/") || host.isEmpty
        let mode = query["sslmode"] ?? (isSocket ? "disable" : "prefer")
        guard let parsed = TLSMode(rawValue: mode) else {
            let known = TLSMode.allCases.map(\.rawValue)
            throw Self.invalid(
                text,
                LocalizedText(
                    en: "sslmode \(mode) is not one of \(known.joined(separator: ", "))",
                    zh: "sslmode \(mode) 不是 \(known.joined(separator: "、")) 之一"))
        }
        // As libpq: no TLS over a Unix socket, whatever the mode says.
        tls = isSocket ? .disable : parsed
        rootCertificatePath = query["sslrootcert"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// `host:port`, or the socket path: where a connection goes, for messages.
    public var endpointText: String {
        switch endpoint {
        case .tcp(let host, let port): "\(host):\(port)"
        case .unixSocket(let path): path
        }
    }

    /// The URL without the password, safe to print.
    public var description: String {
        switch endpoint {
        case .tcp(let host, let port): "postgresql://\(user)@\(host):\(port)/\(database)"
        case .unixSocket(let path):
            "postgresql://\(user)@/\(database)?host=\((path as NSString).deletingLastPathComponent)"
                + (path.hasSuffix(".s.PGSQL.5432") ? "" : "&port=\(path.split(separator: ".").last ?? "")")
        }
    }

    /// The same server, another database.
    public func with(database: String) -> DatabaseURL {
        var copy = self
        copy.database = database
        return copy
    }

    private static func invalid(_ text: String, _ reason: LocalizedText) -> StoreError {
        StoreError(
            .databaseURLInvalid,
            message: LocalizedText(
                en: "the database URL is not valid: \(reason.en)",
                zh: "数据库 URL 无效：\(reason.zh)"),
            remedy: LocalizedText(
                en: "use the form postgresql://user:password@host:5432/database",
                zh: "请使用 postgresql://用户:密码@主机:5432/数据库 的形式"),
            exitCode: ExitStatus.config)
    }
}
