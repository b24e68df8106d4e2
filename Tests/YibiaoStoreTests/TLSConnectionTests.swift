import Foundation
import PostgresNIO
import Testing
import YibiaoCore
import YibiaoStore
import YibiaoTestSupport
#if canImport(Glibc)
    import Glibc
#endif

/// `sslmode` as libpq means it, against a real server listening on loopback TCP: first without
/// TLS, then with a self-signed certificate, then with pg_hba.conf demanding TLS.
@Suite(.serialized) struct TLSConnectionTests {
    @Test("sslmode disable, allow, prefer, require, verify-ca and verify-full behave as libpq's, and each refusal says why")
    func sslModes() async throws {
        let home = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-tls")
        var configuration = EmbeddedPostgres.Configuration(home: home)
        configuration.port = try Self.freeLoopbackPort()
        configuration.listenAddresses = "127.0.0.1"
        configuration.fastUnsafe = true
        let server = EmbeddedPostgres(configuration: configuration)
        try server.start()
        defer { try? server.destroy() }
        let socketURL = try DatabaseURL(parsing: server.url)
        try await Database.createDatabaseIfMissing(socketURL)
        try await Database.withClient(socketURL) { client in
            try await client.query("ALTER ROLE yibiao PASSWORD 'tls-test-password'")
        }
        try server.writeServerFile("pg_hba.conf", contents: "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n")
        try server.reload()
        let port = configuration.port
        func url(_ mode: String, host: String = "127.0.0.1", extra: String = "", password: String = "tls-test-password") throws -> DatabaseURL {
            try DatabaseURL(parsing: "postgresql://yibiao:\(password)@\(host):\(port)/yibiao?sslmode=\(mode)\(extra)")
        }

        // A server without TLS: the modes that may fall back connect in plain text.
        for mode in ["disable", "allow", "prefer"] {
            #expect(try await Self.encrypted(try url(mode)) == false, "sslmode=\(mode)")
        }
        for mode in ["require", "verify-full"] {
            let error = try await Self.failure(try url(mode))
            #expect(error.errorCode == .databaseNoTLS, "sslmode=\(mode)")
            #expect(error.message.en.contains("127.0.0.1:\(port)") && error.message.en.contains("sslmode=\(mode)"))
            #expect(error.message.zh.contains("不提供 TLS"))
        }
        #expect(try await Self.failure(try url("prefer", password: "wrong")).errorCode == .databaseLoginRejected)

        // TLS on, with a self-signed certificate for "localhost".
        let certificates = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-tls-cert")
        let certificate = certificates.appendingPathComponent("server.crt").path
        let key = certificates.appendingPathComponent("server.key").path
        let openssl = try ProcessRunner().run(
            "/usr/bin/env",
            [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificate, "-days", "2",
                "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
            ])
        #expect(openssl.succeeded, "openssl: \(openssl.stderr)")
        try server.writeServerFile("server.crt", contents: try String(contentsOfFile: certificate, encoding: .utf8))
        try server.writeServerFile("server.key", contents: try String(contentsOfFile: key, encoding: .utf8))
        try await Database.withClient(socketURL) { client in
            try await client.query("ALTER SYSTEM SET ssl = on")
            try await client.query("SELECT pg_reload_conf()")
        }
        try await Task.sleep(for: .milliseconds(300))

        #expect(try await Self.encrypted(try url("prefer")) == true)
        #expect(try await Self.encrypted(try url("require")) == true)
        #expect(try await Self.encrypted(try url("disable")) == false)
        // Nobody vouches for a self-signed certificate unless sslrootcert names it.
        let unverified = try await Self.failure(try url("verify-full", host: "localhost"))
        #expect(unverified.errorCode == .databaseCertificate)
        #expect(unverified.remedy?.en.contains("sslrootcert") == true)
        let trusted = "&sslrootcert=\(certificate)"
        #expect(try await Self.encrypted(try url("verify-full", host: "localhost", extra: trusted)) == true)
        #expect(try await Self.encrypted(try url("verify-ca", extra: trusted)) == true)
        // verify-full also checks the name: the certificate is for localhost, not 127.0.0.1.
        #expect(try await Self.failure(try url("verify-full", extra: trusted)).errorCode == .databaseCertificate)
        let missing = try await Self.failure(try url("verify-full", host: "localhost", extra: "&sslrootcert=/nonexistent/ca.pem"))
        #expect(missing.errorCode == .databaseURLInvalid)

        // A server that accepts TLS connections only.
        try server.writeServerFile("pg_hba.conf", contents: "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n")
        try server.reload()
        try await Task.sleep(for: .milliseconds(300))
        let refused = try await Self.failure(try url("disable"))
        #expect(refused.errorCode == .databaseRefusedPlain)
        #expect(refused.remedy?.en.contains("sslmode=require") == true)
        #expect(try await Self.encrypted(try url("allow")) == true)
        #expect(try await Self.encrypted(try url("prefer")) == true)
    }

    /// Whether the pool's connection is encrypted, as the server sees it.
    private static func encrypted(_ url: DatabaseURL) async throws -> Bool {
        try await Database.withClient(url) { client in
            var ssl = false
            for try await value in try await client.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").decode(Bool.self) {
                ssl = value
            }
            return ssl
        }
    }

    private static func failure(_ url: DatabaseURL) async throws -> StoreError {
        do {
            try await Database.withClient(url) { _ in }
        } catch let error as StoreError {
            return error
        }
        Issue.record("connected to \(url) with sslmode=\(url.tls.rawValue), expected a refusal")
        return StoreError(.databaseUnreachable, message: .init(en: "", zh: ""))
    }

    /// A port nothing listens on right now (the kernel's pick for a socket bound to port 0).
    private static func freeLoopbackPort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                bind(descriptor, pointer, length) == 0 && getsockname(descriptor, pointer, &length) == 0
            }
        }
        guard bound else { throw POSIXError(.EADDRNOTAVAIL) }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
