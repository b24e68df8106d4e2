public import Foundation
import YibiaoCore

#if canImport(Glibc)
    import Glibc
#endif

/// Where the sync client keeps its login and its queue on the worker's machine: one directory
/// per user (not per working directory, so `yibiao sync status` finds the queue wherever it is
/// run): `$YIBIAO_CLIENT_HOME`, else `$XDG_CONFIG_HOME/yibiao`, else `~/.config/yibiao`. 0700;
/// every file in it 0600 — it holds a token and residents' values.
public struct ClientHome: Sendable {
    public let directory: URL

    public init(directory: URL) { self.directory = directory }

    public static func fromEnvironment(_ environment: [String: String]) -> ClientHome {
        if let explicit = environment["YIBIAO_CLIENT_HOME"], !explicit.isEmpty { return ClientHome(directory: URL(fileURLWithPath: explicit)) }
        let config =
            environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: environment["HOME"] ?? NSHomeDirectory()).appendingPathComponent(".config")
        return ClientHome(directory: config.appendingPathComponent("yibiao"))
    }

    var loginFile: URL { directory.appendingPathComponent("login.json") }
    public var queueDirectory: URL { directory.appendingPathComponent("queue") }

    /// Creates the directory (0700) when missing and tightens it when it exists.
    func prepare(_ url: URL) throws {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: url.path)
        } catch {
            throw SyncError(
                .localStorage,
                LocalizedText(en: "cannot create \(url.path): \(error.localizedDescription)", zh: "无法创建目录 \(url.path)：\(error.localizedDescription)"),
                remedy: LocalizedText(en: "set YIBIAO_CLIENT_HOME to a directory you can write", zh: "请将 YIBIAO_CLIENT_HOME 设为可写的目录"))
        }
    }

    // MARK: Login

    public func saveLogin(_ login: Login) throws {
        try prepare(directory)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try DurableFile.write(try encoder.encode(login), to: loginFile)
    }

    /// The stored login, or nil when this machine has none.
    public func login() throws -> Login? {
        guard let data = FileManager.default.contents(atPath: loginFile.path) else { return nil }
        guard let login = try? JSONDecoder().decode(Login.self, from: data) else {
            throw SyncError(
                .localStorage,
                LocalizedText(en: "the login file \(loginFile.path) is damaged", zh: "登录文件 \(loginFile.path) 已损坏"),
                remedy: LocalizedText(en: "log in again: yibiao login --hub URL", zh: "请重新登录：yibiao login --hub 地址"))
        }
        return login
    }

    /// The login, or an error that says how to get one.
    public func requireLogin() throws -> Login {
        guard let login = try login() else {
            throw SyncError(
                .notLoggedIn, LocalizedText(en: "this computer is not logged in to a hub", zh: "本机尚未登录平台"),
                remedy: LocalizedText(
                    en: "run `yibiao login --hub URL` with the token the district gave you", zh: "请用区里发给您的令牌运行 `yibiao login --hub 平台地址`"))
        }
        return login
    }

    public func removeLogin() throws {
        if FileManager.default.fileExists(atPath: loginFile.path) { try FileManager.default.removeItem(at: loginFile) }
    }
}

/// What `yibiao login` stores: the hub, the token, and what the hub said about the worker.
public struct Login: Codable, Sendable, Hashable {
    public var hub: String
    public var token: String
    public var worker: String
    public var name: String
    public var district: String
    public var communities: [String]
    public var editable: [String]
    public var readable: [String]

    public init(hub: String, token: String, worker: String, name: String, district: String, communities: [String], editable: [String], readable: [String]) {
        self.hub = hub
        self.token = token
        self.worker = worker
        self.name = name
        self.district = district
        self.communities = communities
        self.editable = editable
        self.readable = readable
    }
}

/// Files written so that a crash or power loss leaves either the old content or the new one,
/// never a torn file: a temporary file in the same directory, fsync, rename, fsync of the
/// directory. Mode 0600.
public enum DurableFile {
    public static func write(_ data: Data, to url: URL) throws {
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else { throw failure(url) }
        let written = data.withUnsafeBytes { buffer -> Bool in
            var offset = 0
            while offset < buffer.count {
                let count = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if count <= 0 { return false }
                offset += count
            }
            return true
        }
        guard written, fsync(descriptor) == 0, close(descriptor) == 0 else {
            close(descriptor)
            unlink(temporary.path)
            throw failure(url)
        }
        guard rename(temporary.path, url.path) == 0 else {
            unlink(temporary.path)
            throw failure(url)
        }
        let directoryDescriptor = open(directory.path, O_RDONLY)
        if directoryDescriptor >= 0 {
            fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }

    static func failure(_ url: URL) -> SyncError {
        let reason = String(cString: strerror(errno))
        return SyncError(
            .localStorage,
            LocalizedText(en: "cannot write \(url.path): \(reason)", zh: "无法写入 \(url.path)：\(reason)"),
            remedy: LocalizedText(en: "check the disk has space and the directory is yours", zh: "请检查磁盘空间及目录权限"))
    }
}
