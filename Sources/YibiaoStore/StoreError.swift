public import YibiaoCore

/// Errors of the storage layer, each with a message, a remedy and the CLI's exit status.
public struct StoreError: UserFacingError, CustomStringConvertible, CustomDebugStringConvertible {
    public let code: String
    public let message: LocalizedText
    public let remedy: LocalizedText?
    public let exitCode: Int32
    /// Debug detail (server output, SQL state); may be long, never shown by default.
    public let detail: String?

    public init(code: String, message: LocalizedText, remedy: LocalizedText? = nil,
                exitCode: Int32 = ExitStatus.failure, detail: String? = nil) {
        self.code = code
        self.message = message
        self.remedy = remedy
        self.exitCode = exitCode
        self.detail = detail
    }

    public var description: String { "\(code): \(message.en)" }
    public var debugDescription: String { description + (detail.map { "\n\($0)" } ?? "") }
}
