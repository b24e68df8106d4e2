import Foundation
import Synchronization
import Testing
@testable import YibiaoCore

@Suite struct ParallelSlicesTests {
    @Test("map: every index once, results in slice order, for any count and size", arguments: [0, 1, 7, 1_000, 10_001])
    func map(count: Int) async {
        for size in [1, 3, 1_000, 50_000] {
            let parts = await ParallelSlices.map(count, size: size) { range in Array(range) }
            #expect(parts.flatMap { $0 } == Array(0..<count))
            #expect(parts.count == (count + size - 1) / size)
        }
    }

    @Test("forEach: results consumed in slice order, never more than inFlight started but not consumed")
    func forEachInOrder() async throws {
        let started = Mutex(0)
        var consumed: [Int] = []
        var most = 0
        try await ParallelSlices.forEach(
            1_000, size: 10, inFlight: 3,
            { range in
                started.withLock { $0 += 1 }
                return range.lowerBound
            }
        ) { lower in
            most = max(most, started.withLock { $0 } - consumed.count)
            consumed.append(lower)
        }
        #expect(consumed == Array(stride(from: 0, to: 1_000, by: 10)))
        #expect(most <= 3)
        var none = 0
        try await ParallelSlices.forEach(0, size: 10, { _ in 1 }) { none += $0 }
        #expect(none == 0)
    }

    @Test("perCore: one slice per core, never below the minimum")
    func perCore() {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        #expect(ParallelSlices.perCore(10, minimum: 2_000) == 2_000)
        #expect(ParallelSlices.perCore(cores * 5_000, minimum: 2_000) == 5_000)
        #expect(ParallelSlices.perCore(0, minimum: 0) == 1)
    }
}
