import ArgumentParser
import Foundation
import YibiaoCore
import YibiaoSynth

struct Synth: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            abstract: tr(
                "Generate a synthetic district: households, four noisy feeds and the ground truth.",
                "生成一个合成区县：户籍家庭、四个带噪声的业务数据文件及真实对应关系。"),
            discussion: tr(
                """
                Writes civil_affairs.csv (GB18030), family_planning.xlsx, party.xml and social_security.jsonl in \
                the shipped adapters' formats, plus truth.csv (feed, source key → person), population.csv and \
                manifest.json. The same seed gives byte-identical files. No real personal data is used.
                """,
                """
                输出 civil_affairs.csv（GB18030）、family_planning.xlsx、party.xml、social_security.jsonl（与自带适配器格式一致），\
                以及 truth.csv（数据文件与主键 → 真实人员）、population.csv 和 manifest.json。相同种子生成的文件逐字节相同。不使用任何真实个人数据。
                """))
    }

    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: ArgumentHelp(tr("How many residents.", "居民人数。"))) var residents: Int
    @Option(name: .long, help: ArgumentHelp(tr("Random seed (same seed, same district).", "随机种子（相同种子生成相同区县）。"))) var seed: UInt64 = 1
    @Option(name: .long, help: ArgumentHelp(tr("Output directory.", "输出目录。"), valueName: "dir")) var out: String
    @Option(
        name: .long,
        help: ArgumentHelp(
            tr(
                "Noise level: 0 clean, 1 realistic (default), 2 twice as noisy.",
                "噪声水平：0 无噪声，1 接近真实（默认），2 加倍。"))) var noise: Double = 1
    @Option(name: .long, help: ArgumentHelp(tr("District code.", "区县代码。"))) var district = "110105"

    func validate() throws {
        guard residents > 0 else { throw ValidationError(tr("--residents must be at least 1.", "--residents 至少为 1。")) }
        guard residents <= 20_000_000 else { throw ValidationError(tr("--residents is at most 20,000,000.", "--residents 最多为 20,000,000。")) }
        guard noise >= 0, noise <= 10 else { throw ValidationError(tr("--noise is between 0 and 10.", "--noise 应在 0 到 10 之间。")) }
        if case .failure(let error) = DivisionCodeTable.standard.validate(district) {
            throw ValidationError("--district: " + tr(error.message))
        }
    }

    func run() throws {
        var configuration = DistrictSynthesizer.Configuration(residents: residents, seed: seed)
        configuration.noise = noise
        configuration.district = district
        let start = ContinuousClock.now
        let terminal = isatty(STDERR_FILENO) == 1
        let summary = try DistrictSynthesizer(configuration: configuration, output: URL(fileURLWithPath: out)).run { done in
            guard terminal else { return }
            let percent = min(100, done * 100 / max(residents, 1))
            FileHandle.standardError.write(Data(tr("\r\(done)/\(residents) residents (\(percent)%)", "\r\(done)/\(residents) 位居民（\(percent)%）").utf8))
        }
        if terminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print(
            tr(
                "\(summary.residents) residents in \(summary.households) households (\(summary.deceased) deceased) → \(out)",
                "\(summary.residents) 位居民，\(summary.households) 户（已故 \(summary.deceased) 人）→ \(out)"))
        for feed in DistrictSynthesizer.feeds {
            print("  \(feed): " + tr("\(summary.records[feed] ?? 0) records", "\(summary.records[feed] ?? 0) 条记录"))
        }
        let noiseText = summary.injected.keys.sorted().map { "\($0) \(summary.injected[$0]!)" }.joined(separator: ", ")
        print(tr("  injected: \(noiseText)", "  注入的噪声：\(noiseText)"))
        print(String(format: tr("  %.1f s (%.0f residents/s)", "  耗时 %.1f 秒（每秒 %.0f 位居民）"), seconds, Double(summary.residents) / max(seconds, 0.001)))
    }
}
