/// SplitMix64: small, fast and fully determined by its seed — the same seed gives the same
/// district on every machine (Swift's own generator is seeded randomly per process).
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    /// An independent stream for one item (a household), so items can be generated in any order.
    public init(seed: UInt64, stream: UInt64) {
        var mixer = SeededGenerator(seed: seed ^ (stream &* 0x9E37_79B9_7F4A_7C15))
        state = mixer.next() ^ stream
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// True with probability `p`.
    public mutating func chance(_ p: Double) -> Bool {
        p > 0 && Double(next() >> 11) / Double(1 << 53) < p
    }

    public mutating func int(_ range: ClosedRange<Int>) -> Int {
        Int.random(in: range, using: &self)
    }

    public mutating func pick<T>(_ items: [T]) -> T {
        items[Int.random(in: 0..<items.count, using: &self)]
    }

    /// A number in [0, 1).
    public mutating func unit() -> Double {
        Double(next() >> 11) / Double(1 << 53)
    }

    /// Picks by weight (weights need not sum to 1). For a list used often, `WeightedChoice` is faster.
    public mutating func weighted<T>(_ items: [(T, Double)]) -> T {
        let total = items.reduce(0) { $0 + $1.1 }
        var roll = Double(next() >> 11) / Double(1 << 53) * total
        for (item, weight) in items {
            roll -= weight
            if roll < 0 { return item }
        }
        return items[items.count - 1].0
    }
}

/// A weighted list prepared once (cumulative weights), picked from by binary search.
public struct WeightedChoice<T: Sendable>: Sendable {
    public let items: [T]
    private let cumulative: [Double]

    public init(_ pairs: [(T, Double)]) {
        items = pairs.map(\.0)
        var running = 0.0
        cumulative = pairs.map {
            running += $0.1
            return running
        }
    }

    public func pick(using generator: inout SeededGenerator) -> T {
        let roll = generator.unit() * (cumulative.last ?? 0)
        var low = 0, high = cumulative.count - 1
        while low < high {
            let middle = (low + high) / 2
            if cumulative[middle] > roll { high = middle } else { low = middle + 1 }
        }
        return items[low]
    }
}
