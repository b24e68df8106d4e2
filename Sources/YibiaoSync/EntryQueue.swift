public import Foundation
import YibiaoCore

#if canImport(Glibc)
    import Glibc
#endif

/// The worker's entries on their own machine: one file per entry under `queue/`, each written
/// durably (`DurableFile`) before anything is sent and after every answer, so a crash or a power
/// cut mid-write loses nothing and sends nothing twice.
public struct EntryQueue: Sendable {
    public let directory: URL

    public init(home: ClientHome) {
        self.directory = home.queueDirectory
    }

    func file(_ id: String) -> URL { directory.appendingPathComponent("\(id).json") }

    /// Saves an entry (new, or its new state).
    public func save(_ entry: QueuedEntry) throws {
        try ClientHome(directory: directory.deletingLastPathComponent()).prepare(directory)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Seconds with their fraction: entries made in the same second keep their order.
        encoder.dateEncodingStrategy = .secondsSince1970
        try DurableFile.write(try encoder.encode(entry), to: file(entry.id))
    }

    /// Adds an entry unless the same change for the same person is already waiting to be sent
    /// (a spreadsheet sent twice while offline); returns what is in the queue.
    public func add(_ entry: QueuedEntry) throws -> (entry: QueuedEntry, added: Bool) {
        if let same = try entries().first(where: { $0.state.isPending && $0.nationalID == entry.nationalID && $0.values == entry.values }) {
            return (same, false)
        }
        try save(entry)
        return (entry, true)
    }

    /// Every entry, oldest first. A file that cannot be read is left where it is and named in
    /// `damaged`, never deleted.
    public func load() -> (entries: [QueuedEntry], damaged: [String]) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return ([], []) }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        var entries: [QueuedEntry] = []
        var damaged: [String] = []
        for name in names where name.hasSuffix(".json") && !name.hasPrefix(".") {
            guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(name).path),
                let entry = try? decoder.decode(QueuedEntry.self, from: data)
            else {
                damaged.append(name)
                continue
            }
            entries.append(entry)
        }
        return (entries.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }, damaged.sorted())
    }

    public func entries() throws -> [QueuedEntry] { load().entries }

    /// The entry with this id, or the only one whose id starts with it (as `git` takes short ids).
    public func find(_ prefix: String) throws -> QueuedEntry {
        let matching = try entries().filter { $0.id.hasPrefix(prefix.lowercased()) }
        guard matching.count == 1 else {
            throw SyncError(
                .badInput,
                matching.isEmpty
                    ? LocalizedText(en: "no entry \(prefix) in this computer's queue", zh: "本机队列中没有录入 \(prefix)")
                    : LocalizedText(en: "\(prefix) names \(matching.count) entries; give more of the id", zh: "\(prefix) 对应 \(matching.count) 条录入；请多写几位"),
                remedy: LocalizedText(en: "`yibiao sync status` lists them", zh: "可用 `yibiao sync status` 查看"))
        }
        return matching[0]
    }

    /// Runs `body` holding the queue's lock, so two `yibiao` processes never send the same entry
    /// at once; nil when another process holds it and `wait` is false.
    public func exclusively<T>(wait: Bool, _ body: () async throws -> T) async throws -> T? {
        try ClientHome(directory: directory.deletingLastPathComponent()).prepare(directory)
        let descriptor = open(directory.appendingPathComponent(".lock").path, O_RDWR | O_CREAT, 0o600)
        guard descriptor >= 0 else { throw DurableFile.failure(directory.appendingPathComponent(".lock")) }
        defer { close(descriptor) }
        if flock(descriptor, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0 { return nil }
        defer { flock(descriptor, LOCK_UN) }
        return try await body()
    }
}
