public import YibiaoCore

/// An error of the sync client, for the worker's screen: what happened and what to do, in both
/// languages, never a value.
public struct SyncError: UserFacingError, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case notLoggedIn = "not_logged_in"
        case unreachable = "hub_unreachable"
        case unauthorized = "token_refused"
        case hubError = "hub_error"
        case localStorage = "local_storage"
        case badInput = "bad_input"
        case notFound = "not_found"
        case cancelled = "cancelled"
    }

    public let kind: Kind
    public let message: LocalizedText
    public let remedy: LocalizedText?

    public init(_ kind: Kind, _ message: LocalizedText, remedy: LocalizedText? = nil) {
        self.kind = kind
        self.message = message
        self.remedy = remedy
    }

    public var code: String { kind.rawValue }
    public var exitCode: Int32 {
        switch kind {
        case .unreachable: ExitStatus.unavailable
        case .notLoggedIn, .unauthorized: ExitStatus.config
        case .badInput: ExitStatus.dataError
        default: ExitStatus.failure
        }
    }
    public var description: String { "\(code): \(message.en)" }
}
