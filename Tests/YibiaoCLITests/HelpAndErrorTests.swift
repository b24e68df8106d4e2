import Foundation
import Testing
import YibiaoStore
import YibiaoTestSupport

@Suite struct HelpAndErrorTests {
    @Test("help in English by default, in Chinese by LANG or --lang")
    func help() throws {
        let english = try CLIProcess().run("--help")
        #expect(english.status == 0)
        #expect(english.stdout.contains("OVERVIEW: Yibiao (一表通): one resident record for every district system."))
        #expect(english.stdout.contains("Exit status: 0 success"))
        let chinese = try CLIProcess(environment: ["LANG": "zh_CN.UTF-8"]).run("db", "--help")
        #expect(chinese.stdout.contains("管理数据库"))
        #expect(chinese.stdout.contains("启动内置 PostgreSQL"))
        let flag = try CLIProcess().run("--lang", "zh", "--help")
        #expect(flag.stdout.contains("一表通：为区里的每个业务系统维护同一份居民信息。"))
        let override = try CLIProcess(environment: ["LANG": "zh_CN.UTF-8"]).run("--lang=en", "--help")
        #expect(override.stdout.contains("OVERVIEW: Yibiao"))
    }

    @Test("a wrong command line exits 64 and says what is wrong")
    func usageErrors() throws {
        let unknown = try CLIProcess().run("db", "launch")
        #expect(unknown.status == 64)
        #expect(unknown.stderr.contains("launch"))
        let badLanguage = try CLIProcess().run("normalize", "--lang", "fr", "id", "1")
        #expect(badLanguage.status == 64)
        #expect(badLanguage.stderr.contains("--lang must be zh or en, not fr."))
        let badLanguageZh = try CLIProcess(environment: ["LANG": "zh_CN.UTF-8"]).run("normalize", "--lang", "fr", "id", "1")
        #expect(badLanguageZh.stderr.contains("--lang 只能是 zh 或 en"))
    }

    @Test("normalize prints results and reasons; exit 1 when a value is invalid")
    func normalize() throws {
        let ok = try CLIProcess().run("normalize", "id", "110105491231002")
        #expect(ok.status == 0)
        #expect(ok.stdout == "\"110105491231002\" → 11010519491231002X (upgraded from 15 digits) · 1949-12-31 · female · 北京市朝阳区\n")
        let bad = try CLIProcess(environment: ["LANG": "zh_CN.UTF-8"]).run("normalize", "date", "1985-02-30")
        #expect(bad.status == 1)
        #expect(bad.stdout == "\"1985-02-30\" ✗ 1985年2月没有30日 [impossible_date]\n")
        let division = try CLIProcess().run("normalize", "division", "110103")
        #expect(division.stdout.contains("110103 北京市崇文区 (retired 2010; now 110101 北京市东城区)"))
        // Dates at their precision; a number is a serial only when asked, as an adapter would.
        let partial = try CLIProcess().run("normalize", "date", "1977年10月", "1972.11")
        #expect(partial.status == 0)
        #expect(partial.stdout == "\"1977年10月\" → 1977-10 (known to the month)\n\"1972.11\" → 1972-11 (known to the month)\n")
        let number = try CLIProcess().run("normalize", "date", "31108")
        #expect(number.status == 1)
        #expect(number.stdout.contains("excel_serial: true"))
        let serial = try CLIProcess().run("normalize", "date", "--excel-serial", "31108")
        #expect(serial.stdout == "\"31108\" → 1985-03-02\n")
    }

    @Test("an invalid YIBIAO_DATABASE_URL exits 78 with a hint")
    func invalidURL() throws {
        let result = try CLIProcess(environment: ["YIBIAO_DATABASE_URL": "mysql://nope"]).run("db", "status")
        #expect(result.status == 78)
        #expect(result.stderr.contains("error: the database URL is not valid: it must start with postgresql://"))
        #expect(result.stderr.contains("hint: use the form postgresql://user:password@host:5432/database"))
    }

    @Test("an unreachable database exits 69 and suggests db start")
    func unreachable() throws {
        let home = try TestDatabase.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: home) }
        let result = try CLIProcess(environment: ["YIBIAO_HOME": home.path]).run("db", "migrate")
        #expect(result.status == 69)
        #expect(result.stderr.contains("hint: start the embedded database with `yibiao db start`"))
        let chinese = try CLIProcess(environment: ["YIBIAO_HOME": home.path, "LANG": "zh_CN.UTF-8"]).run("db", "migrate")
        #expect(chinese.stderr.contains("错误：无法连接数据库"))
    }
}
