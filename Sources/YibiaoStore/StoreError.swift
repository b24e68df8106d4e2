public import YibiaoCore

/// Errors of the storage layer, each with a message, a remedy and the CLI's exit status.
/// The message never quotes the database server: its text can contain personal data (a
/// duplicate key names the value), so it goes to `detail`, shown only in debug output.
public struct StoreError: UserFacingError, CustomStringConvertible, CustomDebugStringConvertible {
    /// What went wrong, as a front end decides on it (an HTTP status, an exit code); opaque so
    /// that new codes can be added without breaking a `switch`.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        public let rawValue: String

        private init(_ rawValue: String) { self.rawValue = rawValue }

        public var description: String { rawValue }

        public static let databaseUnreachable = Code("db_unreachable")
        public static let databaseLost = Code("db_connection_lost")
        /// The server does not speak TLS, and the URL's sslmode demands it.
        public static let databaseNoTLS = Code("db_no_tls")
        /// The server's certificate failed sslmode=verify-ca / verify-full.
        public static let databaseCertificate = Code("db_certificate_rejected")
        /// The server refused a connection without TLS (pg_hba.conf hostssl).
        public static let databaseRefusedPlain = Code("db_refused_plain")
        public static let databaseLoginRejected = Code("db_login_rejected")
        /// A Citus-only command on a server without the citus extension.
        public static let citusMissing = Code("db_citus_missing")
        public static let databaseURLInvalid = Code("db_url_invalid")
        public static let databaseOwnership = Code("db_chown_failed")
        public static let postgresMissing = Code("db_binaries_missing")
        public static let databaseDirectoryUnreachable = Code("db_dir_unreachable")
        public static let initdbFailed = Code("db_initdb_failed")
        public static let noPostgresUser = Code("db_no_postgres_user")
        public static let startFailed = Code("db_start_failed")
        public static let stopFailed = Code("db_stop_failed")
        public static let migrationChanged = Code("migration_changed")
        public static let migrationFailed = Code("migration_failed")
        public static let migrationUnknown = Code("migration_unknown")
        public static let batchNotCreated = Code("batch_not_created")
        public static let ingestWriteFailed = Code("ingest_write_failed")
        public static let matchWriteFailed = Code("match_write_failed")
        public static let writeFailed = Code("write_failed")
        public static let entryInvalid = Code("entry_invalid")
        public static let invalidValue = Code("invalid_value")
        public static let reasonRequired = Code("reason_required")
        public static let residentNotFound = Code("resident_not_found")
        public static let residentRetired = Code("resident_retired")
        public static let recordNotFound = Code("record_not_found")
        public static let conflictNotFound = Code("conflict_not_found")
        public static let conflictNotOpen = Code("conflict_not_open")
        public static let noSuchCandidate = Code("no_such_candidate")
        public static let quarantineNotFound = Code("quarantine_not_found")
        public static let rulesInvalid = Code("rules_invalid")
        public static let outboxSystemUnknown = Code("outbox_system_unknown")
        public static let deliveryNotFound = Code("delivery_not_found")
        public static let consumerExists = Code("consumer_exists")
        public static let consumerNotFound = Code("consumer_not_found")
        public static let consumerDisabled = Code("consumer_disabled")
        public static let grantInvalid = Code("grant_invalid")
        public static let cursorAhead = Code("cursor_ahead")
        public static let fieldNotEditable = Code("field_not_editable")
        /// Earlier entries' values for a resident could not be read back (not text values).
        public static let entryUnreadable = Code("entry_unreadable")
        /// A stored jsonb document whose text is not a JSON object (never written by the hub).
        public static let documentUnreadable = Code("document_unreadable")
    }

    public let errorCode: Code
    public let message: LocalizedText
    public let remedy: LocalizedText?
    public let exitCode: Int32
    /// Debug detail (server output, SQL state); may be long, never shown by default.
    public let detail: String?

    public var code: String { errorCode.rawValue }

    public init(
        _ code: Code, message: LocalizedText, remedy: LocalizedText? = nil,
        exitCode: Int32 = ExitStatus.failure, detail: String? = nil
    ) {
        self.errorCode = code
        self.message = message
        self.remedy = remedy
        self.exitCode = exitCode
        self.detail = detail
    }

    /// A stored document (`what`, of row `id`) whose text `JSONBObjectText` cannot read.
    static func documentUnreadable(_ what: String, id: Int64) -> StoreError {
        StoreError(
            .documentUnreadable,
            message: LocalizedText(
                en: "the stored \(what) of \(id) cannot be read as a JSON object; nothing was changed",
                zh: "已存储的 \(what)（\(id)）无法读取为 JSON 对象；未做任何更改"),
            remedy: LocalizedText(en: "tell the hub's developers: the hub never writes such a document", zh: "请告知平台开发人员：平台不会写入此类文档"))
    }

    public var description: String { "\(code): \(message.en)" }
    public var debugDescription: String { description + (detail.map { "\n\($0)" } ?? "") }
}
