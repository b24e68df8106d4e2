import Foundation

/// `count` items cut into one slice per core (one slice when there are fewer than `minimum`
/// per core), `body` run on each slice side by side; the results in slice order. For async
/// code (child tasks); `inThreadSlices` is the same for a plain thread such as the ingest's reader.
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

/// The same cut for code on a thread of its own (the ingest's reader), which cannot await:
/// Dispatch runs the slices; `body` also gets the slice's number (a per-slice memo).
func inThreadSlices<Value>(_ count: Int, minimum: Int, _ body: @Sendable (Int, Range<Int>) -> Value) -> [Value] {
    let slices = max(1, min(ProcessInfo.processInfo.activeProcessorCount, count / max(minimum, 1)))
    let size = (count + slices - 1) / slices
    var results = [Value?](repeating: nil, count: slices)
    results.withUnsafeMutableBufferPointer { buffer in
        let slots = DisjointSlots(base: buffer.baseAddress!)
        DispatchQueue.concurrentPerform(iterations: slices) { slice in
            slots.set(slice, body(slice, (slice * size)..<min(count, (slice + 1) * size)))
        }
    }
    return results.map { $0! }
}

/// Slots of one buffer that concurrent workers fill, each worker its own indices.
private struct DisjointSlots<Value>: @unchecked Sendable {
    let base: UnsafeMutablePointer<Value>
    func set(_ index: Int, _ value: Value) { base[index] = value }
}
