import Foundation
import Testing
@testable import YibiaoStore
import YibiaoMerge

@Suite struct OutboxUnitTests {
    @Test("backoff doubles from 30 s and stops at 6 hours")
    func backoff() {
        #expect((1...6).map { OutboxDelivery.backoff(afterAttempt: $0) } == [30, 60, 120, 240, 480, 960])
        #expect(OutboxDelivery.backoff(afterAttempt: 30) == 6 * 3600)
        #expect(OutboxDelivery.backoff(afterAttempt: 0) == 30)
    }

    @Test("the records that may be owed: another value or none for a field their system receives and the golden record has")
    func mayBeOwed() {
        func observed(_ id: Int64, _ system: String, _ values: [String: String]) -> Observation {
            Observation(recordID: id, system: system, receivedAt: 0, values: values)
        }
        func golden(_ values: [String: String?]) -> [String: FieldValue] {
            values.mapValues { FieldValue(value: $0, recordID: nil, system: nil, rule: "test") }
        }
        let outbound = ["civil_affairs": ["name", "phone"], "party": ["name"]]
        let observations = [
            observed(1, "civil_affairs", ["name": "张三", "phone": "13800000000", "address": "甲"]), // agrees on what it receives
            observed(2, "civil_affairs", ["name": "张三", "phone": "13900000000"]), // another phone
            observed(3, "civil_affairs", ["name": "张三"]), // no phone
            observed(4, "party", ["name": "张叁"]), // another name
            observed(5, "social_security", ["name": "李四"]), // receives nothing
        ]
        let chosen = golden(["name": "张三", "phone": "13800000000", "address": "乙"])
        #expect(OutboxWriter.mayBeOwed(observations, golden: chosen, outbound: outbound) == [2, 3, 4])
        // A field the golden record has no value for is owed to nobody.
        #expect(OutboxWriter.mayBeOwed(observations, golden: golden(["name": "张三", "phone": nil]), outbound: outbound) == [4])
        #expect(OutboxWriter.mayBeOwed(observations, golden: chosen, outbound: [:]).isEmpty)
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
