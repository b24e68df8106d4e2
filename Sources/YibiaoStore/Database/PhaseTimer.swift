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
        logger.info("phase finished", metadata: metadata)
    }
}
