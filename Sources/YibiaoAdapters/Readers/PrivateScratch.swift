import Foundation

/// A directory only this user can enter (0700), for the files a reader must extract (XLSX
/// sheets hold whole columns of ID numbers). Removed when the reader is done; directories left
/// by a process that died are removed by the next one.
struct PrivateScratch {
    static let prefix = "yibiao-scratch-"
    let url: URL

    init() throws {
        Self.removeOrphans()
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(Self.prefix)\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
    }

    func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    func remove() { try? FileManager.default.removeItem(at: url) }

    /// Scratch directories of processes that are gone, and the sheet files earlier versions left
    /// in the shared temporary directory.
    static func removeOrphans() {
        let temporary = FileManager.default.temporaryDirectory
        for name in (try? FileManager.default.contentsOfDirectory(atPath: temporary.path)) ?? [] {
            if name.hasPrefix(prefix) {
                let pid = name.dropFirst(prefix.count).split(separator: "-").first.flatMap { Int32($0) }
                if let pid, pid != getpid(), kill(pid, 0) != 0, errno == ESRCH {
                    try? FileManager.default.removeItem(at: temporary.appendingPathComponent(name))
                }
            } else if (name.hasPrefix("yibiao-sheet-") || name.hasPrefix("yibiao-strings-")) && name.hasSuffix(".xml") {
                try? FileManager.default.removeItem(at: temporary.appendingPathComponent(name))
            }
        }
    }
}
