import Foundation
public import Logging

/// Times the phases of a long run for the log (`YIBIAO_LOG_LEVEL=info`): where a slow ingest
/// or match spends its time, in phase names, counts and seconds — never a value of a record.
public struct PhaseTimer: Sendable {
    let logger: Logger
    let run: String
    private var last = ContinuousClock.now

    public init(_ run: String, logger: Logger) {
        self.run = run
        self.logger = logger
    }

    /// Logs the time since the previous lap (or the start) under `phase`.
    public mutating func lap(_ phase: String, rows: Int? = nil) {
        let now = ContinuousClock.now
        let took = now - last
        last = now
        var metadata: Logger.Metadata = ["run": "\(run)", "phase": "\(phase)", "seconds": "\(Double(took.components.attoseconds) / 1e18 + Double(took.components.seconds))"]
        if let rows { metadata["rows"] = "\(rows)" }
        if logger.logLevel <= .info, let resident = Self.residentMegabytes() { metadata["rss_mb"] = "\(resident)" }
        logger.info("phase finished", metadata: metadata)
    }

    /// The process's resident set now and at its peak (Linux's /proc; nil elsewhere), in MB.
    static func residentMegabytes() -> String? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        func field(_ name: String) -> Int? {
            status.split(separator: "\n").first { $0.hasPrefix(name) }.flatMap { line in
                line.split(separator: " ").compactMap { Int($0) }.first.map { $0 / 1024 }
            }
        }
        guard let now = field("VmRSS:"), let peak = field("VmHWM:") else { return nil }
        return "\(now) (peak \(peak))"
    }
}
