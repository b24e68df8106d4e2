import YibiaoCore

/// The pairs of a JSON object as PostgreSQL's `jsonb` prints it, each value as `jsonb_each_text`
/// gives it: a string unescaped, a number, `true` or `false` as written, an object or array as
/// its JSON text, and `null` as nil.
///
/// Written by hand for the reads of many documents (a refresh's records, a slice's stored golden
/// values): taking each document apart on the server (`jsonb_each_text` into arrays) was the
/// largest statement of a first load (2.5–3.3 s of server time for 246,624 records, against
/// 0.7 s for the text), and Foundation's `JSONSerialization` builds an `NSDictionary` of `Any`
/// per document, costing as much here as it saved there. These documents are flat objects of
/// strings; the reader still accepts any JSON object and returns nil for text that is not
/// one, so nothing is ever read wrongly.
enum JSONBObjectText {
    static func pairs(_ text: String) -> [(key: String, value: String?)]? {
        var text = text
        return text.withUTF8 { bytes in
            var cursor = JSONByteCursor(bytes: bytes)
            cursor.skipSpace()
            guard cursor.take(UInt8(ascii: "{")) else { return nil }
            var pairs: [(key: String, value: String?)] = []
            cursor.skipSpace()
            if cursor.take(UInt8(ascii: "}")) { return cursor.atEnd() ? pairs : nil }
            while true {
                cursor.skipSpace()
                guard let key = cursor.string() else { return nil }
                cursor.skipSpace()
                guard cursor.take(UInt8(ascii: ":")) else { return nil }
                cursor.skipSpace()
                let value: String??
                switch cursor.current {
                case UInt8(ascii: "\""): value = cursor.string().map { .some($0) }
                case UInt8(ascii: "{"), UInt8(ascii: "["): value = cursor.composite().map { .some($0) }
                case nil: return nil
                default: value = cursor.scalar()
                }
                guard let value else { return nil }
                pairs.append((key, value))
                cursor.skipSpace()
                if cursor.take(UInt8(ascii: ",")) { continue }
                guard cursor.take(UInt8(ascii: "}")) else { return nil }
                return cursor.atEnd() ? pairs : nil
            }
        }
    }
}
