import ArgumentParser
import Foundation
import YibiaoCore
import YibiaoApplication
import YibiaoStore
#if canImport(Glibc)
    import Glibc
#endif

/// `yibiao review`: uncertain pairs side by side, one keystroke per decision.
struct Review: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            abstract: tr(
                "Decide uncertain pairs: s = same person, d = different people, k = skip, q = quit. Decisions are kept and not asked again.",
                "审核不确定的记录对：s = 同一人，d = 不同人，k = 跳过，q = 退出。决定会被保存，不再重复询问。"))
    }

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var districtOption: DistrictOption
    @OptionGroup var ids: ShowIDsFlag
    @Option(name: .long, help: ArgumentHelp(tr("At most this many pairs in this session.", "本次最多审核的对数。"))) var limit = 50

    func run() async throws {
        let district = try districtOption.resolved()
        let limit = self.limit, showIDs = ids.showIDs
        let decided = try await database.withHub { hub -> Int in
            let items = try await hub.reviewItems(district: district, limit: limit)
            if items.isEmpty {
                print(tr("Nothing to review.", "没有待审核的记录对。"))
                return 0
            }
            let keys = KeyReader()
            defer { keys.restore() }
            var decided = 0
            for (index, item) in items.enumerated() {
                show(item, number: index + 1, of: items.count, showIDs: showIDs)
                print(tr("[s] same person  [d] different people  [k] skip  [q] quit > ", "[s] 同一人  [d] 不同人  [k] 跳过  [q] 退出 > "), terminator: "")
                fflush(nil)
                guard let decision = keys.next() else { break }
                print(decision)
                switch decision {
                case "s":
                    try await hub.decide(district: district, author: cliActor(), item, .same, reason: "review")
                    decided += 1
                case "d":
                    try await hub.decide(district: district, author: cliActor(), item, .different, reason: "review")
                    decided += 1
                case "k": try await hub.decide(district: district, author: cliActor(), item, .skip, reason: "review")
                default: return decided
                }
            }
            if decided > 0 {
                // Matching what was decided: on a terminal, the stage it is in.
                printMatchSummary(
                    try await ProgressBar.showingStages(enabled: isatty(STDERR_FILENO) == 1) { stages in
                        try await hub.match(district: district, actor: cliActor(), stages: stages)
                    })
            }
            return decided
        }
        print(tr("\(decided) decisions recorded.", "已记录 \(decided) 个决定。"))
    }

    private func show(_ item: ReviewQueue.Item, number: Int, of total: Int, showIDs: Bool) {
        let fields = ["name", "national_id", "national_id_raw", "sex", "birth_date", "phone", "address"]
        print(
            "\n"
                + tr(
                    "Pair \(number) of \(total) (probability \(String(format: "%.2f", item.probability)))",
                    "第 \(number)/\(total) 对（概率 \(String(format: "%.2f", item.probability))）"))
        let left = item.record
        guard let right = item.candidate.first else { return }
        print(
            "  " + "".padding(toLength: 16, withPad: " ", startingAt: 0) + "\(left.system) \(left.key)".padding(toLength: 34, withPad: " ", startingAt: 0)
                + tr("resident \(item.candidateResident): ", "居民 \(item.candidateResident)：") + "\(right.system) \(right.key)")
        let colour = isatty(STDOUT_FILENO) == 1
        for field in fields {
            let a = display(field, left.fields[field] ?? "", unmasked: showIDs), b = display(field, right.fields[field] ?? "", unmasked: showIDs)
            if a.isEmpty && b.isEmpty { continue }
            let differs = !a.isEmpty && !b.isEmpty && a != b
            let mark = differs ? (colour ? "\u{1B}[31m≠\u{1B}[0m" : "≠") : " "
            let label = CanonicalField.named(field).map { tr($0.label) } ?? field
            print("  " + label.padding(toLength: 16, withPad: " ", startingAt: 0) + a.padding(toLength: 32, withPad: " ", startingAt: 0) + " \(mark) " + b)
        }
    }
}

/// One keystroke at a time from a terminal (raw mode), or one line at a time otherwise.
final class KeyReader {
    private var original = termios()
    private let raw: Bool

    init() {
        raw = isatty(STDIN_FILENO) == 1
        if raw {
            tcgetattr(STDIN_FILENO, &original)
            var settings = original
            settings.c_lflag &= ~tcflag_t(ICANON | ECHO)
            tcsetattr(STDIN_FILENO, TCSANOW, &settings)
        }
    }

    func next() -> Character? {
        if raw {
            var byte: UInt8 = 0
            guard read(STDIN_FILENO, &byte, 1) == 1 else { return nil }
            return Character(Unicode.Scalar(byte))
        }
        guard let line = readLine() else { return nil }
        return line.trimmingCharacters(in: .whitespaces).lowercased().first ?? "k"
    }

    func restore() {
        if raw { tcsetattr(STDIN_FILENO, TCSANOW, &original) }
    }
}
