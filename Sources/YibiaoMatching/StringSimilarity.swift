/// Jaro–Winkler similarity on Unicode scalars (works for pinyin, Latin names and Han keys).
public enum StringSimilarity {
    public static func jaroWinkler(_ a: String, _ b: String) -> Double {
        jaroWinkler(Array(a.unicodeScalars), Array(b.unicodeScalars))
    }

    public static func jaroWinkler(_ s1: [Unicode.Scalar], _ s2: [Unicode.Scalar]) -> Double {
        if s1.isEmpty && s2.isEmpty { return 1 }
        if s1.isEmpty || s2.isEmpty { return 0 }
        if s1 == s2 { return 1 }
        let window = max(max(s1.count, s2.count) / 2 - 1, 0)
        var matched1 = [Bool](repeating: false, count: s1.count)
        var matched2 = [Bool](repeating: false, count: s2.count)
        var matches = 0
        for i in 0..<s1.count {
            let low = max(0, i - window)
            let high = min(i + window + 1, s2.count)
            guard low < high else { continue }
            for j in low..<high where !matched2[j] && s1[i] == s2[j] {
                matched1[i] = true
                matched2[j] = true
                matches += 1
                break
            }
        }
        if matches == 0 { return 0 }
        var transpositions = 0
        var k = 0
        for i in 0..<s1.count where matched1[i] {
            while !matched2[k] { k += 1 }
            if s1[i] != s2[k] { transpositions += 1 }
            k += 1
        }
        let m = Double(matches)
        let jaro = (m / Double(s1.count) + m / Double(s2.count) + (m - Double(transpositions / 2)) / m) / 3
        var prefix = 0
        while prefix < min(4, s1.count, s2.count), s1[prefix] == s2[prefix] { prefix += 1 }
        return jaro + Double(prefix) * 0.1 * (1 - jaro)
    }

    /// Token-set overlap (Jaccard) of two addresses split into runs of letters/digits.
    public static func characterBigramJaccard(_ a: String, _ b: String) -> Double {
        let x = bigrams(a), y = bigrams(b)
        if x.isEmpty || y.isEmpty { return 0 }
        return Double(x.intersection(y).count) / Double(x.union(y).count)
    }

    static func bigrams(_ text: String) -> Set<String> {
        let scalars = Array(text.unicodeScalars)
        guard scalars.count > 1 else { return Set(scalars.map { String($0) }) }
        var result: Set<String> = []
        for i in 0..<(scalars.count - 1) {
            var pair = String.UnicodeScalarView()
            pair.append(scalars[i])
            pair.append(scalars[i + 1])
            result.insert(String(pair))
        }
        return result
    }
}
