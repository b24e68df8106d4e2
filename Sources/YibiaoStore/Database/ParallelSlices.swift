import Foundation

/// `count` items cut into one slice per core (one slice when there are fewer than `minimum`
/// per core), `body` run on each slice side by side; the results in slice order.
func inParallelSlices<Value: Sendable>(
    _ count: Int, minimum: Int, _ body: @escaping @Sendable (Range<Int>) -> Value
) async -> [Value] {
    let slices = max(1, min(ProcessInfo.processInfo.activeProcessorCount, count / max(minimum, 1)))
    let size = (count + slices - 1) / slices
    if slices == 1 { return [body(0..<count)] }
    return await withTaskGroup(of: (Int, Value).self) { group in
        for slice in 0..<slices {
            let range = (slice * size)..<min(count, (slice + 1) * size)
            group.addTask { (slice, body(range)) }
        }
        var results: [(Int, Value)] = []
        for await result in group { results.append(result) }
        return results.sorted { $0.0 < $1.0 }.map(\.1)
    }
}
