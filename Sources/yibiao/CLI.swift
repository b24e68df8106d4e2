import ArgumentParser
import Foundation
import YibiaoCore
import Logging
import YibiaoApplication
import YibiaoStore

/// Process-wide facts every command needs: the language and where the database is.
enum CLI {
    /// Chosen before parsing, so that help text is already in the right language:
    /// `--lang` on the command line, else LC_ALL / LC_MESSAGES / LANG.
    static let language: Language = {
        let arguments = CommandLine.arguments
        var explicit: String?
        for (index, argument) in arguments.enumerated() {
            if argument == "--lang", index + 1 < arguments.count { explicit = arguments[index + 1] }
            if argument.hasPrefix("--lang=") { explicit = String(argument.dropFirst("--lang=".count)) }
        }
        return Language.detect(explicit: explicit, environment: ProcessInfo.processInfo.environment)
    }()

    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// Log lines go to standard error at YIBIAO_LOG_LEVEL (default: error). They never carry
    /// personal data; the database's own messages appear at debug level only.
    static let logger: Logger = {
        let level = environment["YIBIAO_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0.lowercased()) } ?? .error
        var logger = Logger(label: "yibiao", factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel = level
        return logger
    }()
}

/// The text in the user's language.
func tr(_ en: String, _ zh: String) -> String {
    CLI.language == .zh ? zh : en
}

func tr(_ text: LocalizedText) -> String {
    text.text(in: CLI.language)
}

/// Options every command accepts.
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            tr(
                "Language of messages: zh or en (default: from LANG).",
                "消息语言：zh 或 en（默认按 LANG 环境变量）。"),
            valueName: "zh|en"))
    var lang: String?

    func validate() throws {
        if let lang, Language(tag: lang) == nil {
            throw ValidationError(tr("--lang must be zh or en, not \(lang).", "--lang 只能是 zh 或 en，而不是 \(lang)。"))
        }
    }
}

/// Whether a long command draws its progress on the terminal (never when standard error is not one).
struct ProgressOption: ParsableArguments {
    @Flag(name: .long, help: ArgumentHelp(tr("Do not show a progress bar.", "不显示进度条。"))) var noProgress = false

    var showsProgress: Bool { !noProgress && isatty(STDERR_FILENO) == 1 }
}

/// Where the database is (YIBIAO_DATABASE_URL, else the embedded cluster under the home
/// directory) and which survivorship rules are in force.
struct DatabaseOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            tr(
                "Directory of the embedded database and other local state (default: $YIBIAO_HOME, else ./.yibiao).",
                "内置数据库及本地状态的目录（默认：$YIBIAO_HOME，否则 ./.yibiao）。"),
            valueName: "dir"))
    var dataDir: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            tr(
                "Survivorship rules file (default: $YIBIAO_RULES, else the rules built in; see `yibiao rules check`).",
                "主记录取值规则文件（默认：$YIBIAO_RULES，否则使用内置规则；见 `yibiao rules check`）。"),
            valueName: "file"))
    var rules: String?

    /// The hub's configuration: database, rules and the CLI's logger.
    func configuration() throws -> HubConfiguration {
        try HubConfiguration.fromEnvironment(CLI.environment, dataDirectory: dataDir, rulesFile: rules, logger: CLI.logger)
    }

    /// The database alone, for `db` commands: a broken rules file must not keep a person from
    /// starting, migrating or resetting the database.
    func schemaConfiguration() throws -> HubConfiguration {
        HubConfiguration(database: try database(), logger: CLI.logger)
    }

    /// Where the database is, without loading the rules (for `db` commands).
    func database() throws -> DatabaseConfiguration {
        try DatabaseConfiguration.fromEnvironment(CLI.environment, dataDirectory: dataDir)
    }

    /// Runs `body` with the hub open.
    func withHub<Result: Sendable>(_ body: @escaping @Sendable (Hub) async throws -> Result) async throws -> Result {
        try await Hub.withHub(try configuration(), body)
    }
}

/// Writes a user-facing error in the user's language and returns the exit status.
func report(_ error: any UserFacingError) -> Int32 {
    var text = tr("error: ", "错误：") + tr(error.message)
    if let remedy = error.remedy { text += "\n" + tr("hint: ", "提示：") + tr(remedy) }
    if CLI.environment["YIBIAO_DEBUG"] != nil { text += "\n" + String(reflecting: error) }
    FileHandle.standardError.write(Data((text + "\n").utf8))
    return error.exitCode
}

/// Today in China Standard Time: birth dates after it are impossible.
func todayInChina() -> CalendarDate { .todayInChina() }

/// Who acts, as recorded on batches, links and decisions.
func cliActor() -> String {
    CLI.environment["USER"].map { "cli:\($0)" } ?? "cli"
}
