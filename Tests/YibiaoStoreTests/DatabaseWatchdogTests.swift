import Foundation
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

    @Test("a server that is not there when the work starts: the work's own error, not 'stopped answering'")
    func noServerAtStart() async throws {
        let url = try DatabaseURL(parsing: "postgresql://yibiao@127.0.0.1:1/none")
        await #expect(throws: Refused()) {
            try await DatabaseWatchdog.run(url, logger: .silent, timeout: .seconds(1)) { () async throws -> Int in throw Refused() }
        }
    }
}
