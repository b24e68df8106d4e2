public import Foundation
public import YibiaoStore

/// Runs the built `yibiao` executable, as a person would from a shell.
public struct CLIProcess: Sendable {
    public var environment: [String: String]

    /// A clean environment: PATH, the given variables, and English unless told otherwise.
    public init(environment: [String: String] = [:]) {
        var base = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "LANG": "C.UTF-8"]
        // No sync-client login of the machine's user leaks in: without one, `enter` writes to the database.
        base["YIBIAO_CLIENT_HOME"] = NSTemporaryDirectory() + "yibiao-no-client-\(UUID().uuidString)"
        for (key, value) in environment { base[key] = value }
        self.environment = base
    }

    /// `.build/debug/yibiao`, found beside the test bundle.
    public static var executable: String {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            Bundle.main.bundleURL.deletingLastPathComponent(),
            Bundle.main.bundleURL,
        ]
        for directory in candidates {
            let path = directory.appendingPathComponent("yibiao").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/debug/yibiao").path
    }

    public func run(_ arguments: String...) throws -> ProcessRunner.Output {
        try run(arguments)
    }

    public func run(_ arguments: [String], input: String? = nil) throws -> ProcessRunner.Output {
        guard let input else {
            return try ProcessRunner().run(Self.executable, arguments, environment: environment, inheritEnvironment: false)
        }
        let file = NSTemporaryDirectory() + "yibiao-stdin-\(UUID().uuidString)"
        try input.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        return try ProcessRunner().run(Self.executable, arguments, environment: environment, inheritEnvironment: false, input: file)
    }

    /// Starts `yibiao serve --port 0` in this environment: the process, the address its first
    /// line names, and its standard output for the rest of what it says.
    public func serve() throws -> (server: Process, base: String, output: Pipe) {
        let server = Process()
        server.executableURL = URL(fileURLWithPath: Self.executable)
        server.arguments = ["serve", "--port", "0"]
        server.environment = environment
        let output = Pipe()
        server.standardOutput = output
        server.standardError = FileHandle.nullDevice
        try server.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let base = text.firstMatch(of: #/http://127\.0\.0\.1:[0-9]+/#).map({ String($0.output) }) else {
            server.terminate()
            throw ProcessRunnerError.serverDidNotStart(text)
        }
        return (server, base, output)
    }
}

public enum ProcessRunnerError: Error {
    case serverDidNotStart(String)
}
