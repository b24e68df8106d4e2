public import Foundation
public import PostgresNIO
public import YibiaoApplication
import YibiaoCore
import YibiaoStore
import YibiaoSync

/// Many community workers at once against a hub on loopback, each through the sync client's own
/// code (`SyncClient`, `HubConnection`): a worker picks one of its residents, enters a new phone
/// number having seen the current one, waits, and again. A share of entries is sent a second time
/// under the same id, as after a dropped line. Used by the load test and `make bench district`.
public struct WorkerLoad: Sendable {
    public struct Worker: Sendable {
        public let token: String
        /// Citizen ID number → the phone the worker last saw.
        public var residents: [(nationalID: String, phone: String?)]
    }

    public struct Configuration: Sendable {
        public var duration: Duration
        /// Each worker waits a random time in this range between entries (and before its first).
        public var thinkSeconds: ClosedRange<Double>
        /// Share of entries sent again under the same id.
        public var resendShare: Double
        public var seed: UInt64

        public init(duration: Duration, thinkSeconds: ClosedRange<Double>, resendShare: Double = 0.02, seed: UInt64 = 7) {
            self.duration = duration
            self.thinkSeconds = thinkSeconds
            self.resendShare = resendShare
            self.seed = seed
        }
    }

    public struct Result: Sendable {
        public var accepted: [String] = []
        public var alreadyReceived = 0
        public var resent = 0
        public var conflicts = 0
        public var rejected = 0
        /// Sends with no answer (timeouts, busy): still in the worker's queue, sent again at the end.
        public var unanswered = 0
        /// Seconds from sending to the hub's answer (its outbox row is committed before it answers).
        public var latencies: [Double] = []
        public var seconds = 0.0

        public var entriesPerSecond: Double { Double(accepted.count) / max(seconds, 0.001) }

        public func percentile(_ p: Double) -> Double {
            let sorted = latencies.sorted()
            guard !sorted.isEmpty else { return 0 }
            return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
        }

        mutating func merge(_ other: Result) {
            accepted += other.accepted
            alreadyReceived += other.alreadyReceived
            resent += other.resent
            conflicts += other.conflicts
            rejected += other.rejected
            unanswered += other.unanswered
            latencies += other.latencies
        }
    }

    /// Adds `count` workers, each bound to the communities of the residents it is given (a disjoint
    /// share of the district's residents with an ID number and a community), and returns them.
    public static func makeWorkers(_ count: Int, hub: Hub, client: PostgresClient, district: String) async throws -> [Worker] {
        var residents: [(id: String, community: String, phone: String?)] = []
        let numbers = try await FieldNumbers.load(district: district, client, logger: Logger(label: "worker-load"))
        let nationalID = numbers.valueSQL("golden", "national_id"), phone = numbers.valueSQL("golden", "phone")
        for try await (id, community, phone) in try await client.query(
            """
            SELECT \(unescaped: nationalID), community_code, \(unescaped: phone)
            FROM resident WHERE district = \(district) AND status = 'active'
              AND \(unescaped: nationalID) IS NOT NULL AND community_code IS NOT NULL
            ORDER BY resident_id
            """
        ).decode((String, String, String?).self) { residents.append((id, community, phone)) }
        guard !residents.isEmpty else { throw LoadSetupError(residents: 0, workers: count) }
        // Disjoint shares when there are residents enough; else neighbours share residents, and
        // one worker's entry can overtake what another saw (a conflict, resolved as a worker would).
        let shares = (0..<count).map { worker in
            stride(from: worker, to: max(residents.count, count), by: count).map { residents[$0 % residents.count] }
        }
        return try await withThrowingTaskGroup(of: Worker.self) { group in
            var workers: [Worker] = []
            var next = 0
            func addNext() {
                let index = next, share = shares[index]
                next += 1
                group.addTask {
                    let (_, token) = try await hub.addWorker(
                        district: district, id: "load\(index)", name: "load \(index)", communities: Set(share.map(\.community)), actor: "load-test")
                    return Worker(token: token, residents: share.map { ($0.id, $0.phone) })
                }
            }
            for _ in 0..<min(8, count) { addNext() }
            for try await worker in group {
                workers.append(worker)
                if next < count { addNext() }
            }
            return workers
        }
    }

    public let base: String
    public let workers: [Worker]
    public let configuration: Configuration

    public init(base: String, workers: [Worker], configuration: Configuration) {
        self.base = base
        self.workers = workers
        self.configuration = configuration
    }

    /// Runs every worker until the time is up, then sends what is still unanswered once more
    /// (as `yibiao sync push` would), and returns what they saw.
    public func run(queueRoot: URL) async throws -> Result {
        let shared = try HubConnection(hub: base, token: "", language: .en, timeout: .seconds(60), connections: 512)
        let start = ContinuousClock.now
        let deadline = start + configuration.duration
        let configuration = self.configuration
        var total = Result()
        try await withThrowingTaskGroup(of: Result.self) { group in
            for (index, worker) in workers.enumerated() {
                group.addTask {
                    var random = SplitMix(seed: configuration.seed &+ UInt64(index))
                    let hub = shared.with(token: worker.token)
                    let client = SyncClient(
                        home: ClientHome(directory: queueRoot.appendingPathComponent("w\(index)")), today: .todayInChina())
                    var residents = worker.residents
                    var result = Result()
                    var sequence = 0
                    // The first entry comes at a random moment of the first think time.
                    var wake = ContinuousClock.now + .seconds(random.uniform(0...configuration.thinkSeconds.upperBound))
                    while wake < deadline {
                        try await Task.sleep(until: wake)
                        let pick = random.below(residents.count)
                        sequence += 1
                        let phone = "139" + String(format: "%04d%04d", index % 10_000, sequence % 10_000)
                        let entry = QueuedEntry(
                            nationalID: residents[pick].nationalID, values: ["phone": phone], seen: ["phone": residents[pick].phone], origin: "load")
                        let sent = ContinuousClock.now
                        do {
                            var answered = try await client.submit(entry, to: hub)
                            result.latencies.append(Self.seconds(ContinuousClock.now - sent))
                            if answered.state == .conflict {
                                // Someone changed the phone since this worker saw it: the worker keeps theirs.
                                result.conflicts += 1
                                _ = try client.resolve(entry.id, keep: .mine)
                                answered = try await client.send(try client.queue.find(entry.id), to: hub)
                            }
                            switch answered.state {
                            case .accepted:
                                result.accepted.append(entry.id)
                                residents[pick].phone = phone
                            default: result.rejected += 1
                            }
                            if answered.state == .accepted, random.uniform(0...1) < configuration.resendShare {
                                result.resent += 1
                                if try await client.send(entry, to: hub).alreadyReceived { result.alreadyReceived += 1 }
                            }
                        } catch is SyncError {
                            result.unanswered += 1
                        }
                        wake = ContinuousClock.now + .seconds(random.uniform(configuration.thinkSeconds))
                    }
                    // What never got an answer goes again under its own id.
                    let report = try await client.push(to: hub)
                    for entry in report.sent where entry.state == .accepted {
                        if entry.alreadyReceived { result.alreadyReceived += 1 } else { result.accepted.append(entry.id) }
                    }
                    return result
                }
            }
            for try await result in group { total.merge(result) }
        }
        total.seconds = Self.seconds(configuration.duration)
        await shared.close()
        return total
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// What the hub holds of the load: entries stored (all of them, and those the workers know as
    /// accepted), change-log entries the load workers made, and stored entries whose change has
    /// no outbox row. Nothing lost or doubled: all four agree.
    public struct Stored: Sendable, Hashable {
        public var entries = 0
        public var ofAccepted = 0
        public var changes = 0
        public var withoutOutbox = 0
    }

    public static func check(_ result: Result, client: PostgresClient, district: String) async throws -> Stored {
        var stored = Stored()
        for try await (entries, accepted, missing) in try await client.query(
            """
            SELECT count(*)::int, (count(*) FILTER (WHERE entry_id = ANY(\(result.accepted))))::int,
                   (count(*) FILTER (WHERE change_seq IS NOT NULL AND NOT EXISTS (
                       SELECT 1 FROM outbox o WHERE o.district = e.district AND o.change_seq = e.change_seq)))::int
            FROM worker_entry e WHERE district = \(district) AND worker_id LIKE 'load%'
            """
        ).decode((Int, Int, Int).self) { (stored.entries, stored.ofAccepted, stored.withoutOutbox) = (entries, accepted, missing) }
        for try await changes in try await client.query(
            "SELECT count(*)::int FROM change_log WHERE district = \(district) AND actor LIKE 'worker:load%'"
        ).decode(Int.self) { stored.changes = changes }
        return stored
    }
}

public struct LoadSetupError: Error, CustomStringConvertible {
    public let residents: Int
    public let workers: Int
    public var description: String { "only \(residents) residents with an ID number and a community for \(workers) workers" }
}

/// A small seeded generator: every run of the load sends the same pattern.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform(_ range: ClosedRange<Double>) -> Double {
        range.lowerBound + (range.upperBound - range.lowerBound) * Double(next() >> 11) / Double(1 << 53)
    }
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}
