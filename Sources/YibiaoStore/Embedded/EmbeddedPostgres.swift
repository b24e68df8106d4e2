public import Foundation
import YibiaoCore
#if canImport(Glibc)
    import Glibc
#endif

/// A private PostgreSQL cluster under `<home>/pg`, managed with the system's initdb and pg_ctl:
/// Unix socket in a 0700 directory, TCP off, local trust authentication (only the owner can
/// reach the socket). As root it runs the server as the `postgres` system user, because
/// PostgreSQL refuses to run as root.
public struct EmbeddedPostgres: Sendable {
    public struct Configuration: Sendable {
        /// `.yibiao` by default (YIBIAO_HOME or --data-dir override it).
        public var home: URL
        public var database: String = "yibiao"
        public var user: String = "yibiao"
        public var port: Int = 5432
        /// Trade durability for speed (tests only): fsync and synchronous commit off.
        public var fastUnsafe: Bool = false
        /// Where the binaries are (YIBIAO_PG_BINDIR); when set, no other place is searched.
        public var binDirectory: String?
        /// TCP addresses to listen on besides the socket (`127.0.0.1`); empty: none. Host
        /// connections are refused until pg_hba.conf allows them (see `writeServerFile`).
        public var listenAddresses: String = ""
        /// More server settings, given at start (`shared_preload_libraries`, for tests that
        /// record statements).
        public var settings: [String: String] = [:]

        public init(home: URL) {
            self.home = home.standardizedFileURL
        }
    }

    public enum Status: Sendable, Equatable {
        case notInitialised
        case stopped
        /// A pid file is left from a server that is gone (crash, kill -9, reboot).
        case stalePidFile(pid: Int32)
        case running(pid: Int32)
    }

    public enum StartOutcome: Sendable, Equatable {
        case started(initialised: Bool, removedStalePidFile: Bool)
        case alreadyRunning(pid: Int32)
    }

    public enum StopOutcome: Sendable, Equatable {
        case stopped
        case notRunning
    }

    public let configuration: Configuration

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    public var clusterDirectory: URL { configuration.home.appendingPathComponent("pg") }
    public var dataDirectory: URL { clusterDirectory.appendingPathComponent("data") }
    public var logFile: URL { clusterDirectory.appendingPathComponent("server.log") }

    /// `<home>/pg/run`, unless the socket path would pass the 107-byte limit of Unix sockets;
    /// then a 0700 directory in /tmp named after a hash of the data directory.
    public var socketDirectory: URL {
        let preferred = clusterDirectory.appendingPathComponent("run")
        if preferred.path.utf8.count + "/.s.PGSQL.\(configuration.port)".utf8.count < 100 { return preferred }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in dataDirectory.path.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return URL(fileURLWithPath: "/tmp/yibiao-\(String(hash, radix: 16))")
    }

    public var socketPath: String { socketDirectory.path + "/.s.PGSQL.\(configuration.port)" }

    /// A libpq-compatible URL (`psql "$(yibiao db url)"` works).
    public var url: String {
        let host = socketDirectory.path.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(.init(charactersIn: "-._~"))) ?? socketDirectory.path
        return "postgresql://\(configuration.user)@/\(configuration.database)?host=\(host)&port=\(configuration.port)"
    }

    var isRoot: Bool { geteuid() == 0 }

    private var runner: ProcessRunner { ProcessRunner(runAsUser: isRoot ? "postgres" : nil) }

    /// The server logs in English whatever the user's locale, so that its messages can be
    /// recognised; yibiao translates what it shows.
    private func runServerTool(_ tool: String, _ arguments: [String]) throws -> ProcessRunner.Output {
        try runner.run(tool, arguments, environment: ["LC_ALL": "C.UTF-8", "LC_MESSAGES": "C"])
    }

    // MARK: Binaries

    /// Finds initdb, pg_ctl and postgres: the configured directory, `pg_config --bindir`,
    /// then the newest `/usr/lib/postgresql/*/bin`.
    public func binDirectory() throws -> String {
        var candidates: [String] = []
        if let configured = configuration.binDirectory {
            candidates.append(configured)
        } else {
            candidates += searchedBinDirectories()
        }
        for directory in candidates
        where ["initdb", "pg_ctl", "postgres"].allSatisfy({
            FileManager.default.isExecutableFile(atPath: "\(directory)/\($0)")
        }) {
            return directory
        }
        throw StoreError(
            .postgresMissing,
            message: LocalizedText(
                en: "PostgreSQL server programs (initdb, pg_ctl, postgres) were not found in \(candidates.joined(separator: ", "))",
                zh: "在 \(candidates.joined(separator: "、")) 中未找到 PostgreSQL 服务器程序（initdb、pg_ctl、postgres）"),
            remedy: LocalizedText(
                en: "install them with `sudo apt-get install postgresql` (Debian/Ubuntu), or set YIBIAO_DATABASE_URL to use an existing server",
                zh: "请执行 `sudo apt-get install postgresql`（Debian/Ubuntu）安装，或设置 YIBIAO_DATABASE_URL 使用已有的数据库服务器"),
            exitCode: ExitStatus.unavailable)
    }

    private func searchedBinDirectories() -> [String] {
        var candidates: [String] = []
        for pgConfig in ["/usr/bin/pg_config", "/usr/local/bin/pg_config"] where FileManager.default.isExecutableFile(atPath: pgConfig) {
            if let output = try? ProcessRunner().run(pgConfig, ["--bindir"]), output.succeeded {
                candidates.append(output.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
            }
        }
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        for version in versions.sorted(by: { (Int($0) ?? 0) > (Int($1) ?? 0) }) {
            candidates.append("/usr/lib/postgresql/\(version)/bin")
        }
        return candidates
    }

    // MARK: Status

    public func status() throws -> Status {
        let versionFile = dataDirectory.appendingPathComponent("PG_VERSION")
        guard FileManager.default.fileExists(atPath: versionFile.path) else { return .notInitialised }
        guard let pid = readPid() else { return .stopped }
        return Self.isPostgresProcess(pid) ? .running(pid: pid) : .stalePidFile(pid: pid)
    }

    private func readPid() -> Int32? {
        let pidFile = dataDirectory.appendingPathComponent("postmaster.pid")
        guard let text = try? String(contentsOf: pidFile, encoding: .utf8),
            let first = text.split(separator: "\n").first
        else { return nil }
        return Int32(first.trimmingCharacters(in: .whitespaces))
    }

    /// True when the pid is alive and is a PostgreSQL server (a reused pid is not).
    static func isPostgresProcess(_ pid: Int32) -> Bool {
        guard pid > 0 else { return false }
        if kill(pid, 0) != 0 && errno == ESRCH { return false }
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        let command = String(decoding: data, as: UTF8.self)
        if command.isEmpty { return false } // a zombie
        return command.contains("postgres") || command.contains("postmaster")
    }

    // MARK: Start and stop

    /// Initialises the cluster when needed, starts it and waits until it accepts connections.
    /// A running cluster is left alone; a stale pid file is removed first.
    @discardableResult
    public func start() throws -> StartOutcome {
        let bin = try binDirectory()
        var initialised = false
        var removedStale = false
        switch try status() {
        case .running(let pid):
            return .alreadyRunning(pid: pid)
        case .notInitialised:
            try initialise(bin: bin)
            initialised = true
        case .stalePidFile:
            try? FileManager.default.removeItem(at: dataDirectory.appendingPathComponent("postmaster.pid"))
            removedStale = true
        case .stopped:
            break
        }
        try prepareSocketDirectory()
        let options =
            (["-k \(socketDirectory.path) -p \(configuration.port) -c listen_addresses=\(configuration.listenAddresses)"]
            + configuration.settings.sorted { $0.key < $1.key }.map { "-c \($0.key)=\($0.value)" }).joined(separator: " ")
        var lastOutput: ProcessRunner.Output?
        // Right after a kill -9 the old server's children may still hold its shared memory for
        // a moment; PostgreSQL then refuses to start, so try a few times.
        for attempt in 0..<5 {
            let output = try runServerTool(
                "\(bin)/pg_ctl",
                [
                    "start", "-D", dataDirectory.path, "-l", logFile.path, "-w", "-t", "60", "-s", "-o", options,
                ])
            if output.succeeded {
                return .started(initialised: initialised, removedStalePidFile: removedStale)
            }
            lastOutput = output
            if case .running(let pid) = try status() { return .alreadyRunning(pid: pid) }
            Thread.sleep(forTimeInterval: 0.5 * Double(attempt + 1))
        }
        throw StoreError(
            .startFailed,
            message: LocalizedText(en: "the embedded PostgreSQL did not start", zh: "内置 PostgreSQL 未能启动"),
            remedy: LocalizedText(en: "see the server log at \(logFile.path)", zh: "请查看服务器日志 \(logFile.path)"),
            exitCode: ExitStatus.unavailable,
            detail: (lastOutput?.stderr ?? "") + tailOfLog())
    }

    /// Stops the server (fast shutdown: open transactions are rolled back, data is safe).
    @discardableResult
    public func stop() throws -> StopOutcome {
        switch try status() {
        case .notInitialised, .stopped:
            return .notRunning
        case .stalePidFile:
            try? FileManager.default.removeItem(at: dataDirectory.appendingPathComponent("postmaster.pid"))
            return .notRunning
        case .running:
            break
        }
        let bin = try binDirectory()
        let output = try runServerTool("\(bin)/pg_ctl", ["stop", "-D", dataDirectory.path, "-m", "fast", "-w", "-t", "60", "-s"])
        if !output.succeeded, case .running = try status() {
            throw StoreError(
                .stopFailed,
                message: LocalizedText(en: "the embedded PostgreSQL did not stop", zh: "内置 PostgreSQL 未能停止"),
                remedy: LocalizedText(en: "see the server log at \(logFile.path)", zh: "请查看服务器日志 \(logFile.path)"),
                detail: output.stderr)
        }
        return .stopped
    }

    /// Stops the server and deletes the whole cluster directory.
    public func destroy() throws {
        try stop()
        try? FileManager.default.removeItem(at: clusterDirectory)
        if socketDirectory.path.hasPrefix("/tmp/yibiao-") { try? FileManager.default.removeItem(at: socketDirectory) }
    }

    // MARK: Setup

    private func initialise(bin: String) throws {
        let fm = FileManager.default
        // The home holds other state too; as root the postgres user must be able to pass through it.
        try fm.createDirectory(
            at: configuration.home, withIntermediateDirectories: true,
            attributes: [.posixPermissions: isRoot ? 0o711 : 0o700])
        try fm.createDirectory(at: clusterDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try checkReachableByServerUser(clusterDirectory)
        try? fm.removeItem(at: dataDirectory)
        try fm.createDirectory(at: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try giveToServerUser(clusterDirectory)
        try giveToServerUser(dataDirectory)
        let output = try runServerTool(
            "\(bin)/initdb",
            [
                // Collation C: UTF-8 bytes sort as code points, the order C.UTF-8 gives, but every
                // text comparison (keys, joins, the lookup-key index) is a memcmp, not strcoll.
                "-D", dataDirectory.path, "-U", configuration.user, "-E", "UTF8", "--locale=C.UTF-8", "--lc-collate=C",
                "--auth-local=trust", "--auth-host=reject", "--no-instructions",
            ])
        guard output.succeeded else {
            throw StoreError(
                .initdbFailed,
                message: LocalizedText(en: "initdb could not create the database cluster", zh: "initdb 未能创建数据库集群"),
                remedy: LocalizedText(
                    en: "check that \(clusterDirectory.path) is writable and has free space",
                    zh: "请检查 \(clusterDirectory.path) 是否可写且有剩余空间"),
                detail: output.stdout + output.stderr)
        }
        var settings = """

            # Added by yibiao: Unix socket only, in a private directory.
            listen_addresses = ''
            unix_socket_permissions = 0700
            max_connections = \(configuration.fastUnsafe ? 300 : 100)
            shared_buffers = 128MB
            logging_collector = off
            # Compiling a plan costs tens of milliseconds: more than a worker's entry may take,
            # and little gained on the bulk statements.
            jit = off

            """
        if configuration.fastUnsafe {
            settings += "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
        }
        let conf = dataDirectory.appendingPathComponent("postgresql.conf")
        let handle = try FileHandle(forWritingTo: conf)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(settings.utf8))
        try handle.close()
    }

    /// Writes a file of the server's (pg_hba.conf, server.crt, server.key) into the data
    /// directory, owned by the server's user and readable by it alone; `reload()` applies it.
    public func writeServerFile(_ name: String, contents: String) throws {
        let url = dataDirectory.appendingPathComponent(name)
        try Data(contents.utf8).write(to: url)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: url.path)
        try giveToServerUser(url)
    }

    /// Makes the running server reread its configuration files.
    public func reload() throws {
        let output = try runServerTool("\(try binDirectory())/pg_ctl", ["reload", "-D", dataDirectory.path, "-s"])
        guard output.succeeded else {
            throw StoreError(
                .startFailed,
                message: LocalizedText(en: "the embedded PostgreSQL did not reload its settings", zh: "内置 PostgreSQL 未能重新加载配置"),
                remedy: LocalizedText(en: "see the server log at \(logFile.path)", zh: "请查看服务器日志 \(logFile.path)"),
                detail: output.stderr + tailOfLog())
        }
    }

    private func prepareSocketDirectory() throws {
        let fm = FileManager.default
        try fm.createDirectory(at: socketDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try fm.setAttributes([.posixPermissions: 0o700], ofItemAtPath: socketDirectory.path)
        try giveToServerUser(socketDirectory)
        if !fm.fileExists(atPath: logFile.path) { _ = fm.createFile(atPath: logFile.path, contents: nil) }
        try giveToServerUser(logFile)
    }

    private func giveToServerUser(_ url: URL) throws {
        guard isRoot else { return }
        guard let entry = getpwnam("postgres") else {
            throw StoreError(
                .noPostgresUser,
                message: LocalizedText(
                    en: "running as root, but there is no `postgres` system user to run the server as",
                    zh: "以 root 身份运行，但系统中没有可用于运行服务器的 `postgres` 用户"),
                remedy: LocalizedText(
                    en: "install the `postgresql` package (it creates the user) or run yibiao as an ordinary user",
                    zh: "请安装 `postgresql` 软件包（会创建该用户），或以普通用户身份运行 yibiao"),
                exitCode: ExitStatus.unavailable)
        }
        if chown(url.path, entry.pointee.pw_uid, entry.pointee.pw_gid) != 0 {
            throw StoreError(
                .databaseOwnership,
                message: LocalizedText(
                    en: "could not hand \(url.path) to the postgres user",
                    zh: "无法将 \(url.path) 的所有者改为 postgres 用户"))
        }
    }

    /// As root the server runs as `postgres`, which must be able to enter every parent directory.
    private func checkReachableByServerUser(_ url: URL) throws {
        guard isRoot else { return }
        var path = url.deletingLastPathComponent()
        while path.path != "/" {
            let permissions = (try? FileManager.default.attributesOfItem(atPath: path.path))?[.posixPermissions] as? Int
            if let permissions, permissions & 0o001 == 0 {
                throw StoreError(
                    .databaseDirectoryUnreachable,
                    message: LocalizedText(
                        en: "the postgres user cannot enter \(path.path), so it cannot run the database in \(url.path)",
                        zh: "postgres 用户无法进入 \(path.path)，因此无法在 \(url.path) 中运行数据库"),
                    remedy: LocalizedText(
                        en: "choose another place with --data-dir or YIBIAO_HOME (e.g. /var/lib/yibiao), or run yibiao as an ordinary user",
                        zh: "请用 --data-dir 或 YIBIAO_HOME 选择其他位置（如 /var/lib/yibiao），或以普通用户身份运行 yibiao"),
                    exitCode: ExitStatus.config)
            }
            path = path.deletingLastPathComponent()
        }
    }

    private func tailOfLog() -> String {
        guard let text = try? String(contentsOf: logFile, encoding: .utf8) else { return "" }
        return "\n" + text.split(separator: "\n").suffix(20).joined(separator: "\n")
    }
}
