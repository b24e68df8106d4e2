import Foundation
import PostgresNIO
import Testing
import YibiaoCore
import YibiaoTestSupport

@testable import YibiaoStore

@Suite struct JSONBObjectTextTests {
    static let texts = [
        "", "张伟", "a\"b", "back\\slash", "line\nbreak\ttab\r", "\u{1}\u{1F}\u{7F}", "é e\u{301}", "👨‍👩‍👧 🇨🇳", "{\"not\": [an, object]}",
        "/slash/", "ＡＢＣ１２３", "  spaced  ", ",:{}[]",
    ]

    /// A random JSON value: mostly strings, as the stored documents hold, and every other kind.
    static func value(_ generator: inout SeededGenerator, depth: Int = 0) -> Any {
        switch generator.next() % 12 {
        case 0: return Int(generator.next() % 2_000_000) - 1_000_000
        case 1: return Double(Int(generator.next() % 100_000)) / 64 - 700
        case 2: return generator.next() % 2 == 0
        case 3: return NSNull()
        case 4 where depth < 2:
            return (0..<Int(generator.next() % 3)).map { _ in value(&generator, depth: depth + 1) }
        case 5 where depth < 2:
            var object: [String: Any] = [:]
            for _ in 0..<Int(generator.next() % 3) { object[key(&generator)] = value(&generator, depth: depth + 1) }
            return object
        default: return texts[Int(generator.next() % UInt64(texts.count))]
        }
    }

    static func key(_ generator: inout SeededGenerator) -> String {
        ["a", "38", "name", "姓名", "k\"q", "x\\y", "", "长长的键名", "t\u{2}"][Int(generator.next() % 9)] + String(generator.next() % 4)
    }

    @Test("a document's pairs as jsonb_each_text gives them, in the same order, read from jsonb's own text")
    func sameAsTheServer() async throws {
        try await TestDatabase.withFreshDatabase(migrated: false) { _, client in
            var generator = SeededGenerator(seed: 5)
            var documents: [String] = ["{}"]
            for _ in 0..<300 {
                var object: [String: Any] = [:]
                for _ in 0..<Int(generator.next() % 7) { object[Self.key(&generator)] = Self.value(&generator) }
                documents.append(String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self))
            }
            let rows = try await client.query(
                """
                SELECT d.ordinality, d.doc::jsonb::text,
                       coalesce((SELECT array_agg(key ORDER BY n) FROM jsonb_each_text(d.doc::jsonb) WITH ORDINALITY e(key, value, n)), '{}'),
                       coalesce((SELECT array_agg(coalesce(value, '<null>') ORDER BY n) FROM jsonb_each_text(d.doc::jsonb) WITH ORDINALITY e(key, value, n)), '{}')
                FROM unnest(\(documents)::text[]) WITH ORDINALITY d(doc, ordinality)
                """, logger: .silent)
            var checked = 0
            for try await row in rows {
                var cells = RowReader(row)
                let (_, text, keys, values) = (try cells.int64(), try cells.string(), try cells.strings(), try cells.strings())
                let pairs = JSONBObjectText.pairs(text)
                #expect(pairs?.map(\.key) == keys, "\(text)")
                #expect(pairs?.map { $0.value ?? "<null>" } == values, "\(text)")
                checked += 1
            }
            #expect(checked == documents.count)
        }
    }

    @Test("text that is not one JSON object gives nil, never pairs read wrongly")
    func notAnObject() {
        for text in [
            "", "[]", "\"a\"", "1", "null", "{", "}", "{\"a\"}", "{\"a\": }", "{\"a\" \"b\"}", "{\"a\": \"b\"", "{\"a\": \"b\"} x",
            "{\"a\": \"b\",}", "{\"a\": tru}", "{\"a\": \"\\q\"}", "{\"a\": \"\\u12\"}", "{\"a\": \"\\ud800\"}", "{\"a\": [1, 2}", "{\"a\": [1}, \"b\": 2]}",
            "{a: \"b\"}", "{\"a\": \"b\"}}",
        ] {
            #expect(JSONBObjectText.pairs(text) == nil, "\(text)")
        }
        #expect(JSONBObjectText.pairs("{\"k\": \"\\ud83d\\ude00 \\u00e9\"}")?.first?.value == "😀 é")
        #expect(JSONBObjectText.pairs(" { } ")?.isEmpty == true)
    }
}
