/// Which resident id each cluster gets, and the merges and splits that implies.
public struct ResidentPlan: Sendable, Hashable {
    public struct Merge: Sendable, Hashable {
        public let surviving: Int64
        public let retired: Int64
        public let moved: [Int64]
    }

    public struct Split: Sendable, Hashable {
        public let original: Int64
        public let cluster: Int
        public let moved: [Int64]
    }

    /// Cluster index → resident id (clusters in `newClusters` get theirs on write).
    public var assignments: [Int: Int64] = [:]
    public var newClusters: [Int] = []
    public var merges: [Merge] = []
    public var splits: [Split] = []

    /// `pinned`: record → the resident a person pinned it to. A cluster of pinned records only
    /// (a worker's entry has no blocking keys of its own and clusters alone) stays with that
    /// resident: it is no new person, no split, and does not decide where the resident's id goes.
    /// `identified`: records that carry a citizen ID number. Between parts of a resident holding
    /// as many of its records, the id stays with the part holding more of them: the resident
    /// looked up by that number stays the same one (a phone change that undid the evidence
    /// joining an ID-less record had moved the ID to a new resident instead).
    public init(clusters: [[Int64]], existing: [Int64: Int64], pinned: [Int64: Int64] = [:], identified: Set<Int64> = []) {
        var pinnedOnly: Set<Int> = []
        for (index, cluster) in clusters.enumerated() {
            let residents = Set(cluster.map { pinned[$0] })
            if residents.count == 1, let resident = residents.first ?? nil {
                assignments[index] = resident
                pinnedOnly.insert(index)
            }
        }
        // Which clusters hold records of each existing resident, and how many.
        var holders: [Int64: [(cluster: Int, count: Int, identified: Int)]] = [:]
        for (index, cluster) in clusters.enumerated() where !pinnedOnly.contains(index) {
            var counts: [Int64: (all: Int, identified: Int)] = [:]
            for record in cluster {
                guard let resident = existing[record] else { continue }
                counts[resident, default: (0, 0)].all += 1
                if identified.contains(record) { counts[resident, default: (0, 0)].identified += 1 }
            }
            for (resident, count) in counts { holders[resident, default: []].append((index, count.all, count.identified)) }
        }
        // A resident's id stays with the cluster holding most of its records (ties: more of
        // them identified, then the lowest index).
        var owner: [Int64: Int] = [:]
        for (resident, list) in holders {
            owner[resident] = list.max { ($0.count, $0.identified, -$0.cluster) < ($1.count, $1.identified, -$1.cluster) }!.cluster
        }
        for (index, cluster) in clusters.enumerated() where !pinnedOnly.contains(index) {
            let owned = Set(cluster.compactMap { existing[$0] }).filter { owner[$0] == index }.sorted()
            if let survivor = owned.first {
                assignments[index] = survivor
                for retired in owned.dropFirst() {
                    merges.append(Merge(surviving: survivor, retired: retired, moved: cluster.filter { existing[$0] == retired }))
                }
            } else {
                newClusters.append(index)
                // Records that had a resident which stays elsewhere: a split.
                let previous = Set(cluster.compactMap { existing[$0] })
                for original in previous.sorted() {
                    splits.append(Split(original: original, cluster: index, moved: cluster.filter { existing[$0] == original }))
                }
            }
        }
    }

    /// Records that get a resident other than the one they had (or their first).
    public func relinked(_ clusters: [[Int64]], existing: [Int64: Int64]) -> Int {
        var count = 0
        for (index, cluster) in clusters.enumerated() {
            let resident = assignments[index]
            count += cluster.filter { resident == nil || existing[$0] != resident }.count
        }
        return count
    }
}
