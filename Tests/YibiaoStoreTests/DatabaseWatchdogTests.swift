import Foundation
import PostgresNIO
import Testing
import YibiaoCore
import YibiaoTestSupport
@testable import YibiaoStore

/// The watchdog reports a lost server as lost, and leaves every other failure as it was.
@Suite struct DatabaseWatchdogTests {
    struct Refused: Error, Equatable {}

    @Test("work that fails while the server is up keeps its own error; work that succeeds keeps its result")
    func otherErrorsPassThrough() async throws {
        let url = try TestDatabase.serverURL()
        await #expect(throws: Refused()) {
            try await DatabaseWatchdog.run(url, logger: .silent) { () async throws -> Int in throw Refused() }
        }
        let answer = try await DatabaseWatchdog.run(url, logger: .silent) { 42 }
        #expect(answer == 42)
    }

    @Test("a server whose connection slots are all taken is asked again for a few seconds, not reported unreachable at once")
    func busyServerAskedAgain() async throws {
        try await TestDatabase.withFreshDatabase { url, client in
            // A role allowed no connection is refused as a full server refuses (53300).
            let role = "busy_\(UInt32.random(in: 0...UInt32.max))"
            try await client.query(PostgresQuery(unsafeSQL: "CREATE ROLE \(role) LOGIN CONNECTION LIMIT 0"))
            var busy = url
            busy.user = role
            busy.password = nil
            let opened = Task {
                try await Task.sleep(for: .milliseconds(700))
                try await client.query(PostgresQuery(unsafeSQL: "ALTER ROLE \(role) CONNECTION LIMIT -1"))
            }
            let started = ContinuousClock.now
            let answer = try await Database.probe(busy, logger: .silent)
            try await opened.value
            #expect(!answer.isEmpty)
            #expect(ContinuousClock.now - started >= .milliseconds(600))
            // Still full after every retry: then it is reported, with the server's reason.
            try await client.query(PostgresQuery(unsafeSQL: "ALTER ROLE \(role) CONNECTION LIMIT 0"))
            do {
                _ = try await Database.probe(busy, logger: .silent)
                Issue.record("a full server was reported reachable")
            } catch let error as StoreError {
                #expect(error.code == StoreError.Code.databaseUnreachable.rawValue)
            }
            try await client.query(PostgresQuery(unsafeSQL: "DROP ROLE \(role)"))
        }
    }

    @Test("a server that is not there when the work starts: the work's own error, not 'stopped answering'")
    func noServerAtStart() async throws {
        let url = try DatabaseURL(parsing: "postgresql://yibiao@127.0.0.1:1/none")
        await #expect(throws: Refused()) {
            try await DatabaseWatchdog.run(url, logger: .silent, timeout: .seconds(1)) { () async throws -> Int in throw Refused() }
        }
    }
}
