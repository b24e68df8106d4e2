import Foundation
#if canImport(Glibc)
    import Glibc
#endif

/// Runs a program to completion and captures what it printed. Used for the PostgreSQL
/// binaries (initdb, pg_ctl), optionally as another user when we are root.
///
/// Written on posix_spawn and waitpid rather than Foundation's `Process`, whose
/// `waitUntilExit` was seen to hang on Linux after `pg_ctl` forked a daemon. Output goes to
/// temporary files, not pipes, so a daemon that inherits a descriptor cannot block us.
public struct ProcessRunner: Sendable {
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        public var succeeded: Bool { status == 0 }
    }

    /// When set, commands run as this user through `runuser` (root only).
    public var runAsUser: String?

    public init(runAsUser: String? = nil) {
        self.runAsUser = runAsUser
    }

    /// `input`: a file to use as standard input (default: /dev/null).
    public func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:],
        inheritEnvironment: Bool = true, input: String? = nil
    ) throws -> Output {
        var argv: [String]
        if let user = runAsUser {
            let runuser =
                ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"].first {
                    FileManager.default.isExecutableFile(atPath: $0)
                } ?? "/usr/sbin/runuser"
            // `env -C /`: the server user may not be allowed into our working directory.
            argv = [runuser, "-u", user, "--", "/usr/bin/env", "-C", "/", executable] + arguments
        } else {
            argv = [executable] + arguments
        }
        var env = inheritEnvironment ? ProcessInfo.processInfo.environment : [:]
        for (key, value) in environment { env[key] = value }

        let outPath = NSTemporaryDirectory() + "yibiao-run-\(UUID().uuidString).out"
        let errPath = NSTemporaryDirectory() + "yibiao-run-\(UUID().uuidString).err"
        defer {
            unlink(outPath)
            unlink(errPath)
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, input ?? "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)

        let cArguments = argv.map { strdup($0) } + [nil]
        let cEnvironment = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArguments.forEach { free($0) }
            cEnvironment.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, argv[0], &actions, nil, cArguments, cEnvironment)
        guard spawned == 0 else {
            throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .ENOENT)
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 {
            if errno != EINTR { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .ECHILD) }
        }
        // WIFEXITED / WEXITSTATUS, which Swift does not import as functions.
        let exitStatus: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        let read = { (path: String) in
            FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) } ?? ""
        }
        return Output(status: exitStatus, stdout: read(outPath), stderr: read(errPath))
    }
}
