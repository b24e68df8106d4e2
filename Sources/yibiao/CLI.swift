import ArgumentParser
import Foundation
import YibiaoCore
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
    @Option(name: .long, help: ArgumentHelp(tr("Language of messages: zh or en (default: from LANG).",
                                                "消息语言：zh 或 en（默认按 LANG 环境变量）。"),
                                             valueName: "zh|en"))
    var lang: String?

    func validate() throws {
        if let lang, Language(tag: lang) == nil {
            throw ValidationError(tr("--lang must be zh or en, not \(lang).", "--lang 只能是 zh 或 en，而不是 \(lang)。"))
        }
    }
}

/// Where the database is: YIBIAO_DATABASE_URL, else the embedded cluster under the home directory.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        tr("Directory of the embedded database and other local state (default: $YIBIAO_HOME, else ./.yibiao).",
           "内置数据库及本地状态的目录（默认：$YIBIAO_HOME，否则 ./.yibiao）。"),
        valueName: "dir"))
    var dataDir: String?

    var home: URL {
        if let dataDir { return URL(fileURLWithPath: dataDir) }
        if let env = CLI.environment["YIBIAO_HOME"], !env.isEmpty { return URL(fileURLWithPath: env) }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".yibiao")
    }

    var embedded: EmbeddedPostgres {
        var configuration = EmbeddedPostgres.Configuration(home: home)
        if let bin = CLI.environment["YIBIAO_PG_BINDIR"], !bin.isEmpty { configuration.binDirectory = bin }
        return EmbeddedPostgres(configuration: configuration)
    }

    /// The external server's URL, when YIBIAO_DATABASE_URL is set.
    func externalURL() throws -> DatabaseURL? {
        guard let text = CLI.environment["YIBIAO_DATABASE_URL"], !text.isEmpty else { return nil }
        return try DatabaseURL(parsing: text)
    }

    /// The URL every data command connects to.
    func url() throws -> DatabaseURL {
        if let external = try externalURL() { return external }
        return try DatabaseURL(parsing: embedded.url)
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
func todayInChina() -> CalendarDate {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(secondsFromGMT: 8 * 3600)!
    let parts = calendar.dateComponents([.year, .month, .day], from: Date())
    return CalendarDate(year: parts.year!, month: parts.month!, day: parts.day!)!
}

/// Who acts, as recorded on batches, links and decisions.
func cliActor() -> String {
    CLI.environment["USER"].map { "cli:\($0)" } ?? "cli"
}
