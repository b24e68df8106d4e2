import Foundation

/// `count` items cut into one slice per core (one slice when there are fewer than `minimum`
/// per core), for code on a thread of its own (the ingest's reader), which cannot await:
/// Dispatch runs the slices — `ParallelSlices` in Core is the same for async code; `body`
/// also gets the slice's number (a per-slice memo).
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
