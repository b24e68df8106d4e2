/// An error a person reads: what went wrong and what to do, in both languages.
/// Its text never carries personal data (see STYLE.md): details for debugging stay apart.
public protocol UserFacingError: Error, Sendable {
    /// Stable, machine-readable code (`db_binaries_missing`, `migration_changed`, …).
    var code: String { get }
    var message: LocalizedText { get }
    /// What to do about it, when there is something to do.
    var remedy: LocalizedText? { get }
    /// The process exit status the CLI uses for it (see docs/cli.md).
    var exitCode: Int32 { get }
}

extension UserFacingError {
    public var remedy: LocalizedText? { nil }
    public var exitCode: Int32 { ExitStatus.failure }
}

/// Exit statuses of the `yibiao` CLI, documented in docs/cli.md.
public enum ExitStatus {
    public static let success: Int32 = 0
    /// The command ran and failed (bad data, a failed check).
    public static let failure: Int32 = 1
    /// The command line was wrong (unknown option, missing argument).
    public static let usage: Int32 = 64
    /// Input data could not be read.
    public static let dataError: Int32 = 65
    /// A needed service is unavailable: PostgreSQL not installed, not running or not reachable.
    public static let unavailable: Int32 = 69
    /// Configuration is wrong (bad database URL, changed migration).
    public static let config: Int32 = 78
}
