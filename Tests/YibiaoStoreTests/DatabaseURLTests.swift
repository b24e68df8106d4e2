import Testing
import YibiaoStore

@Suite struct DatabaseURLTests {
    @Test("TCP URLs")
    func tcp() throws {
        let url = try DatabaseURL(parsing: "postgresql://hub:s%40cret@db.example:6543/yibiao?sslmode=require")
        #expect(url.endpoint == .tcp(host: "db.example", port: 6543))
        #expect(url.user == "hub")
        #expect(url.password == "s@cret")
        #expect(url.database == "yibiao")
        #expect(url.tls == .require)
        #expect(url.description == "postgresql://hub@db.example:6543/yibiao")
        #expect(!url.description.contains("cret"))
        let defaults = try DatabaseURL(parsing: "postgres://me@localhost/")
        #expect(defaults.endpoint == .tcp(host: "localhost", port: 5432))
        #expect(defaults.database == "me")
        #expect(defaults.tls == .prefer)
        let verified = try DatabaseURL(parsing: "postgresql://hub@db.example/yibiao?sslmode=verify-full&sslrootcert=/etc/ca.pem")
        #expect(verified.tls == .verifyFull)
        #expect(verified.tls.demandsTLS && verified.tls.verifiesCertificate)
        #expect(verified.rootCertificatePath == "/etc/ca.pem")
        #expect(try DatabaseURL(parsing: "postgresql://hub@db.example/y?sslmode=verify-ca").tls == .verifyCA)
        #expect(try DatabaseURL(parsing: "postgresql://hub@db.example/y?sslmode=allow").tls == .allow)
        #expect(try DatabaseURL(parsing: "postgresql://hub@db.example/y?sslmode=require").tls.verifiesCertificate == false)
    }

    @Test("Unix socket URLs in libpq's form")
    func socket() throws {
        let url = try DatabaseURL(parsing: "postgresql://yibiao@/yibiao?host=%2Ftmp%2Fx%2Frun&port=5433")
        #expect(url.endpoint == .unixSocket(path: "/tmp/x/run/.s.PGSQL.5433"))
        #expect(url.tls == .disable)
        #expect(url.description == "postgresql://yibiao@/yibiao?host=/tmp/x/run&port=5433")
        #expect(try DatabaseURL(parsing: url.description) == url)
        #expect(try DatabaseURL(parsing: "postgresql://yibiao@/yibiao?host=/tmp/x").description == "postgresql://yibiao@/yibiao?host=/tmp/x")
        #expect(url.with(database: "other").database == "other")
        // As libpq: TLS is not used over a Unix socket, whatever sslmode says.
        #expect(try DatabaseURL(parsing: "postgresql://yibiao@/yibiao?host=/tmp/x&sslmode=require").tls == .disable)
    }

    @Test(
        "invalid URLs say what is wrong",
        arguments: [
            "mysql://x@y/z", "not a url", "postgresql://x@y/z?sslmode=bogus", "postgresql://x@/z?host=/tmp&port=abc",
        ])
    func invalid(text: String) {
        #expect(throws: StoreError.self) { try DatabaseURL(parsing: text) }
        do {
            _ = try DatabaseURL(parsing: text)
        } catch let error as StoreError {
            #expect(error.code == "db_url_invalid")
            #expect(error.exitCode == 78)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}
