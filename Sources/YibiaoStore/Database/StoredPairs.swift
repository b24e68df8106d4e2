import YibiaoCore

/// A source record's `fields` and `facet` as stored (migration 0040): each pair after U+001E
/// (record separator), its key and value split by U+001F (unit separator), keys in byte order
/// (`␞38␟3100013830␞41␟1`); no pairs is the empty text. A jsonb object spends eight bytes a
/// pair on its table of entries, JSON text six on quotes and punctuation, more than most of
/// these values hold. A document whose key or value holds either separator is kept a JSON
/// object instead (`{` first), as documents written before 0040 that could not be turned are;
/// `pairs` reads both, and so do SQL's `field_pairs(doc)` and `field_value(doc, key)` — for
/// people; the hub's statements spell them out (`valueSQL`, `pairsSQL`), since on Citus a
/// statement runs on the district's node, where only built-in functions are sure to be.
public enum StoredPairs {
    static let pairSeparator: UInt8 = 0x1E
    static let keySeparator: UInt8 = 0x1F

    static func text(_ values: [String: String]) -> String {
        text(pairs: values.map { ($0.key, $0.value) })
    }

    /// The same for pairs given as such, whose keys must be distinct (a dictionary's are).
    static func text(pairs values: consuming [(key: String, value: String)]) -> String {
        guard !values.isEmpty else { return "" }
        if values.contains(where: { $0.key.containsUTF8Byte(where: isSeparator) || $0.value.containsUTF8Byte(where: isSeparator) }) {
            return CanonicalJSON.objectText(pairs: values)
        }
        values.sort { $0.key.utf8Precedes($1.key) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(values.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count + 2 })
        for (key, value) in values {
            bytes.append(pairSeparator)
            bytes.append(contentsOf: key.utf8)
            bytes.append(keySeparator)
            bytes.append(contentsOf: value.utf8)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The pairs of a stored document, in either form; nil when it is neither (`JSONBObjectText`
    /// reads the JSON form: a JSON null is nil).
    static func pairs(_ text: String) -> [(key: String, value: String?)]? {
        var text = text
        return text.withUTF8 { bytes -> [(key: String, value: String?)]? in
            guard let first = bytes.first else { return [] }
            guard first == pairSeparator else { return JSONBObjectText.pairs(String(decoding: bytes, as: UTF8.self)) }
            var pairs: [(key: String, value: String?)] = []
            var start = 1
            while start <= bytes.count {
                let end = bytes[start...].firstIndex(of: pairSeparator) ?? bytes.count
                guard let split = bytes[start..<end].firstIndex(of: keySeparator) else { return nil }
                pairs.append(
                    (String(decoding: bytes[start..<split], as: UTF8.self), String(decoding: bytes[(split + 1)..<end], as: UTF8.self)))
                start = end + 1
            }
            return pairs
        }
    }

    private static func isSeparator(_ byte: UInt8) -> Bool { byte == pairSeparator || byte == keySeparator }

    /// SQL for the value under `key` (an SQL expression of text) in `document` (one of the
    /// caller's, a stored `fields` or `facet`), null when there is none: `field_value` spelled out.
    public static func valueSQL(_ document: String, _ key: String) -> String {
        let marker = "chr(30) || \(key) || chr(31)"
        return """
            CASE WHEN left(\(document), 1) = '{' THEN \(document)::jsonb ->> \(key) \
            WHEN strpos(\(document), \(marker)) > 0 \
            THEN split_part(substr(\(document), strpos(\(document), \(marker)) + length(\(key)) + 2), chr(30), 1) END
            """
    }

    /// SQL for a subquery of `document`'s pairs as rows (`key`, `value`), for a `FROM` that may
    /// name the caller's columns: `field_pairs` spelled out. A pair without its unit separator
    /// (never written) has a null key, which no reader takes for a field.
    public static func pairsSQL(_ document: String) -> String {
        """
        (SELECT CASE WHEN strpos(p, chr(31)) > 0 THEN split_part(p, chr(31), 1) END AS key, substr(p, strpos(p, chr(31)) + 1) AS value
         FROM unnest(string_to_array(substr(\(document), 2), chr(30))) AS p
         WHERE left(\(document), 1) = chr(30)
         UNION ALL
         SELECT j.key, j.value FROM jsonb_each_text(CASE WHEN left(\(document), 1) = '{' THEN \(document)::jsonb END) AS j)
        """
    }
}
