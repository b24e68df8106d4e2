import Foundation
import PostgresNIO
import Testing
import YibiaoCore
import YibiaoTestSupport

@testable import YibiaoStore

@Suite struct StoredPairsTests {
    /// A random document of string values, some holding a separator (kept as JSON then).
    static func document(_ generator: inout SeededGenerator) -> [String: String] {
        var document: [String: String] = [:]
        for _ in 0..<Int(generator.next() % 6) {
            let key = ["38", "name", "party.branch", "姓名", "k\"q", "", "a\u{1F}b"][Int(generator.next() % 7)]
            document[key] = JSONBObjectTextTests.texts[Int(generator.next() % UInt64(JSONBObjectTextTests.texts.count))]
        }
        return document
    }

    static func sorted(_ pairs: [(key: String, value: String?)]) -> [String] {
        pairs.map { "\($0.key)=\($0.value ?? "<nil>")" }.sorted()
    }

    @Test("a document reads back as written, here and on the server (field_pairs, field_value); JSON only where a separator forces it")
    func roundTrip() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            var generator = SeededGenerator(seed: 11)
            var documents: [[String: String]] = [[:], ["38": "3100013830", "41": "1"]]
            for _ in 0..<300 { documents.append(Self.document(&generator)) }
            var delimited = 0
            for document in documents {
                let text = StoredPairs.text(document)
                let expected = Self.sorted(document.map { ($0.key, $0.value) })
                let separated = document.contains { ($0.key + $0.value).utf8.contains { $0 == 0x1E || $0 == 0x1F } }
                #expect(text.hasPrefix("{") == separated, "\(text.debugDescription)")
                #expect(document.isEmpty == text.isEmpty)
                if !separated && !document.isEmpty { delimited += 1 }
                #expect(Self.sorted(try #require(StoredPairs.pairs(text))) == expected)
                var served: [(key: String, value: String?)] = []
                for try await pair in try await client.query("SELECT key, value FROM field_pairs(\(text))").decode((String, String?).self) {
                    served.append(pair)
                }
                #expect(Self.sorted(served) == expected, "\(text.debugDescription)")
                // The hub's statements spell the functions out (`pairsSQL`, `valueSQL`): the same rows.
                var binds = PostgresBindings()
                binds.append(text)
                var spelled: [(key: String, value: String?)] = []
                for try await pair in try await client.query(
                    PostgresQuery(unsafeSQL: "SELECT f.key, f.value FROM \(StoredPairs.pairsSQL("$1::text")) AS f", binds: binds)
                ).decode((String, String?).self) { spelled.append(pair) }
                #expect(Self.sorted(spelled) == expected, "\(text.debugDescription)")
                for (key, value) in document {
                    var keyed = PostgresBindings()
                    keyed.append(text)
                    keyed.append(key)
                    for try await (found, spelledOut) in try await client.query(
                        PostgresQuery(unsafeSQL: "SELECT field_value($1, $2), \(StoredPairs.valueSQL("$1::text", "$2::text"))", binds: keyed)
                    ).decode((String?, String?).self) {
                        #expect(found == value, "\(key.debugDescription) in \(text.debugDescription)")
                        #expect(spelledOut == value, "\(key.debugDescription) in \(text.debugDescription)")
                    }
                }
                for try await found in try await client.query("SELECT field_value(\(text), 'absent')").decode(String?.self) {
                    #expect(found == nil)
                }
            }
            #expect(delimited > 50, "most documents are delimited")
        }
        // Keys in byte order, each pair after U+001E.
        #expect(StoredPairs.text(["41": "1", "38": "3100013830"]) == "\u{1E}38\u{1F}3100013830\u{1E}41\u{1F}1")
        #expect(StoredPairs.pairs("\u{1E}no key separator") == nil)
        #expect(StoredPairs.pairs("not a document") == nil)
    }
}
