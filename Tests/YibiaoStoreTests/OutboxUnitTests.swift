import Foundation
import Testing
@testable import YibiaoStore

@Suite struct OutboxUnitTests {
    @Test("backoff doubles from 30 s and stops at 6 hours")
    func backoff() {
        #expect((1...6).map { OutboxDelivery.backoff(afterAttempt: $0) } == [30, 60, 120, 240, 480, 960])
        #expect(OutboxDelivery.backoff(afterAttempt: 30) == 6 * 3600)
        #expect(OutboxDelivery.backoff(afterAttempt: 0) == 30)
    }

    @Test("an idempotency key is the same for the same update and differs for any other")
    func idempotencyKeys() {
        let key = OutboxWriter.idempotencyKey(district: "110105", system: "party", seq: 42, sourceKey: "DY0001")
        #expect(key == OutboxWriter.idempotencyKey(district: "110105", system: "party", seq: 42, sourceKey: "DY0001"))
        #expect(key.hasPrefix("party-110105-42-"))
        // The person's key is not readable in it.
        #expect(!key.contains("DY0001"))
        let others = [
            OutboxWriter.idempotencyKey(district: "110106", system: "party", seq: 42, sourceKey: "DY0001"),
            OutboxWriter.idempotencyKey(district: "110105", system: "civil_affairs", seq: 42, sourceKey: "DY0001"),
            OutboxWriter.idempotencyKey(district: "110105", system: "party", seq: 43, sourceKey: "DY0001"),
            OutboxWriter.idempotencyKey(district: "110105", system: "party", seq: 42, sourceKey: "DY0002"),
        ]
        #expect(Set(others + [key]).count == 5)
    }

    @Test("an operator sees codes as they are and masked phones, IDs and names")
    func masking() {
        #expect(OutboxQueries.mask("13912345678", field: "phone") == "139****5678")
        #expect(OutboxQueries.mask("010-65012345", field: "phone") == "010*****2345")
        #expect(OutboxQueries.mask("110105198503020118", field: "national_id") == "110105********0118")
        #expect(OutboxQueries.mask("张伟", field: "name") == "张*")
        #expect(OutboxQueries.mask("21", field: "marital_status") == "21")
        #expect(OutboxQueries.mask(nil, field: "phone") == nil)
    }

    @Test("text arrays for COPY quote and escape every element")
    func textArrays() {
        #expect(OutboxWriter.textArray(["phone", "address"]) == #"{"phone","address"}"#)
        #expect(OutboxWriter.textArray([#"a"b\c"#]) == #"{"a\"b\\c"}"#)
        #expect(OutboxWriter.textArray([]) == "{}")
    }
}
