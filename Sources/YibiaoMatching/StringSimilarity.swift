/// Jaro–Winkler similarity on Unicode scalars (works for pinyin, Latin names and Han keys).
public enum StringSimilarity {
    // The texts' scalars, flags and bigrams live in temporary (stack) buffers: training and
    // scoring compare names and addresses of millions of pairs, and arrays for them were
    // allocations by the million.

    public static func jaroWinkler(_ a: String, _ b: String) -> Double {
        withScalars(a) { s1 in withScalars(b) { s2 in jaroWinkler(s1, s2) } }
    }

    public static func jaroWinkler(_ s1: [Unicode.Scalar], _ s2: [Unicode.Scalar]) -> Double {
        s1.withUnsafeBufferPointer { a in s2.withUnsafeBufferPointer { b in jaroWinkler(a, b) } }
    }

    static func jaroWinkler(_ s1: UnsafeBufferPointer<Unicode.Scalar>, _ s2: UnsafeBufferPointer<Unicode.Scalar>) -> Double {
        if s1.isEmpty && s2.isEmpty { return 1 }
        if s1.isEmpty || s2.isEmpty { return 0 }
        if s1.elementsEqual(s2) { return 1 }
        let window = max(max(s1.count, s2.count) / 2 - 1, 0)
        return withUnsafeTemporaryAllocation(of: Bool.self, capacity: s1.count + s2.count) { flags in
            flags.initialize(repeating: false)
            let matched1 = UnsafeMutableBufferPointer(rebasing: flags[..<s1.count])
            let matched2 = UnsafeMutableBufferPointer(rebasing: flags[s1.count...])
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
    }

    /// The text's Unicode scalars in a temporary buffer.
    static func withScalars<Result>(_ text: String, _ body: (UnsafeBufferPointer<Unicode.Scalar>) -> Result) -> Result {
        // A scalar takes at least one UTF-8 byte: the byte count is room enough.
        withUnsafeTemporaryAllocation(of: Unicode.Scalar.self, capacity: text.utf8.count) { buffer in
            var count = 0
            for scalar in text.unicodeScalars {
                buffer.initializeElement(at: count, to: scalar)
                count += 1
            }
            return body(UnsafeBufferPointer(rebasing: buffer[..<count]))
        }
    }

    /// Jaccard overlap of the two texts' sets of adjacent character pairs.
    public static func characterBigramJaccard(_ a: String, _ b: String) -> Double {
        withBigrams(a) { x in
            withBigrams(b) { y in
                if x.isEmpty || y.isEmpty { return 0 }
                // Both sorted and unique: one merge pass counts the pairs in common.
                var i = 0, j = 0, common = 0
                while i < x.count, j < y.count {
                    if x[i] == y[j] {
                        common += 1
                        i += 1
                        j += 1
                    } else if x[i] < y[j] {
                        i += 1
                    } else {
                        j += 1
                    }
                }
                return Double(common) / Double(x.count + y.count - common)
            }
        }
    }

    /// Each pair of neighbouring scalars as one number, sorted and unique (a single scalar for a
    /// one-character text). Numbers, not strings: addresses are compared millions of times.
    static func bigrams(_ text: String) -> [UInt64] {
        withBigrams(text) { Array($0) }
    }

    /// `bigrams` in a temporary buffer.
    static func withBigrams<Result>(_ text: String, _ body: (UnsafeBufferPointer<UInt64>) -> Result) -> Result {
        // At most one pair per UTF-8 byte (and one entry for a one-scalar text).
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: max(text.utf8.count, 1)) { buffer in
            var count = 0
            var previous: UInt32?
            for scalar in text.unicodeScalars {
                if let previous {
                    buffer.initializeElement(at: count, to: UInt64(previous) << 32 | UInt64(scalar.value))
                    count += 1
                }
                previous = scalar.value
            }
            if count == 0, let previous {
                buffer.initializeElement(at: 0, to: UInt64(previous))
                count = 1
            }
            var filled = UnsafeMutableBufferPointer(rebasing: buffer[..<count])
            filled.sort()
            var unique = 0
            for index in 0..<count where index == 0 || filled[index] != filled[unique - 1] {
                filled[unique] = filled[index]
                unique += 1
            }
            filled = UnsafeMutableBufferPointer(rebasing: filled[..<unique])
            return body(UnsafeBufferPointer(filled))
        }
    }

    /// The optimal-string-alignment distance (replacements, insertions, deletions and swaps of
    /// neighbours each cost one), or `limit + 1` as soon as it is known to exceed `limit`.
    public static func damerauLevenshtein(_ a: [UInt8], _ b: [UInt8], limit: Int) -> Int {
        if abs(a.count - b.count) > limit { return limit + 1 }
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        var before = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            var smallest = current[0]
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { value = min(value, before[j - 2] + 1) }
                current[j] = value
                smallest = min(smallest, value)
            }
            if smallest > limit { return limit + 1 }
            (before, previous, current) = (previous, current, before)
        }
        return min(previous[b.count], limit + 1)
    }

    /// True when `b` is `a` with two neighbouring characters swapped.
    public static func isAdjacentTransposition(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        let differing = a.indices.filter { a[$0] != b[$0] }
        return differing.count == 2 && differing[1] == differing[0] + 1 && a[differing[0]] == b[differing[1]]
            && a[differing[1]] == b[differing[0]]
    }
}
