import Foundation

/// Pure work over `0..<count` cut into consecutive slices, run side by side in child tasks
/// (structured concurrency): the one way matching, golden records and the change log use both cores.
public enum ParallelSlices {
    /// The slice size that gives one slice per core, but no slice smaller than `minimum`.
    public static func perCore(_ count: Int, minimum: Int) -> Int {
        let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)
        return max(minimum, (count + cores - 1) / cores, 1)
    }

    /// `body` of every slice, results in slice order. One slice runs in the caller's task.
    public static func map<Value: Sendable>(_ count: Int, size: Int, _ body: @escaping @Sendable (Range<Int>) -> Value) async -> [Value] {
        let ranges = slices(count, size: size)
        if ranges.count <= 1 { return ranges.map(body) }
        return await withTaskGroup(of: (Int, Value).self) { group in
            for (index, range) in ranges.enumerated() { group.addTask { (index, body(range)) } }
            var results = [Value?](repeating: nil, count: ranges.count)
            for await (index, value) in group { results[index] = value }
            return results.map { $0! }
        }
    }

    /// `body` of every slice, each result handed to `consume` in slice order, in the caller's
    /// task, while later slices run. At most `inFlight` slices (default: one per core, plus one)
    /// are running or waiting to be consumed, so the results of all slices are never in memory at once.
    public static func forEach<Value: Sendable>(
        _ count: Int, size: Int, inFlight: Int? = nil,
        _ body: @escaping @Sendable (Range<Int>) -> Value, consume: (Value) async throws -> Void
    ) async throws {
        let ranges = slices(count, size: size)
        let inFlight = inFlight ?? ProcessInfo.processInfo.activeProcessorCount + 1
        try await withThrowingTaskGroup(of: (Int, Value).self) { group in
            var next = 0
            func start() {
                guard next < ranges.count else { return }
                let (index, range) = (next, ranges[next])
                next += 1
                group.addTask { (index, body(range)) }
            }
            for _ in 0..<max(1, inFlight) { start() }
            var waiting: [Int: Value] = [:]
            var consumed = 0
            while let (index, value) = try await group.next() {
                waiting[index] = value
                while let ready = waiting.removeValue(forKey: consumed) {
                    try await consume(ready)
                    consumed += 1
                    start()
                }
            }
        }
    }

    static func slices(_ count: Int, size: Int) -> [Range<Int>] {
        stride(from: 0, to: count, by: max(size, 1)).map { $0..<min($0 + max(size, 1), count) }
    }
}
