import ArgumentParser
import Foundation
import YibiaoCore

/// `yibiao normalize KIND VALUE…`: what the normalisers make of values, and why they reject some.
struct Normalize: ParsableCommand {
    enum Kind: String, ExpressibleByArgument, CaseIterable {
        case id, name, date, sex, phone, division, marital, political, relationship
    }

    static var configuration: CommandConfiguration {
        CommandConfiguration(
            abstract: tr(
                "Show how values are normalised, and why invalid ones are rejected.",
                "显示取值如何被规范化，以及无效取值被拒绝的原因。"),
            discussion: tr(
                """
                Kinds: id (citizen ID number), name, date, sex, phone, division (GB/T 2260 code), \
                marital, political, relationship (GB/T code tables). Exit status 1 when any value is invalid.
                """,
                """
                类型：id（公民身份号码）、name（姓名）、date（日期）、sex（性别）、phone（电话）、\
                division（行政区划代码）、marital、political、relationship（国标代码表）。有无效值时退出码为 1。
                """))
    }

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp(tr("What the values are.", "取值的类型。"), valueName: Kind.allCases.map(\.rawValue).joined(separator: "|")))
    var kind: Kind

    @Argument(help: ArgumentHelp(tr("The values to normalise.", "要规范化的取值。")))
    var values: [String]

    @Flag(
        name: .long,
        help: ArgumentHelp(
            tr(
                "Dates: read numbers as Excel serial dates, as in a column the adapter marks `excel_serial: true`.",
                "日期：把数字当作 Excel 日期序列号读取，与适配器中标注 `excel_serial: true` 的列相同。")))
    var excelSerial = false

    func validate() throws {
        if values.isEmpty {
            throw ValidationError(tr("Give at least one value.", "请至少提供一个取值。"))
        }
    }

    func run() throws {
        let today = todayInChina()
        var anyInvalid = false
        for value in values {
            let outcome = normalise(value, today: today)
            let shown = "\"\(value)\""
            switch outcome {
            case .success(let text):
                print("\(shown) → \(text)")
            case .failure(let reason):
                anyInvalid = true
                print("\(shown) ✗ \(reason.text)")
            }
        }
        if anyInvalid { throw ExitCode.failure }
    }

    private struct Rejection: Error { let text: String }

    private func normalise(_ value: String, today: CalendarDate) -> Result<String, Rejection> {
        func reject(_ code: String, _ message: LocalizedText) -> Result<String, Rejection> {
            .failure(Rejection(text: "\(tr(message)) [\(code)]"))
        }
        switch kind {
        case .id:
            switch CitizenID.parse(value, today: today) {
            case .success(let id):
                let sex = tr(id.sex.label)
                let place = DivisionCodeTable.standard.fullName(id.divisionCode) ?? id.divisionCode
                let note = id.upgradedFromFifteenDigits ? tr(" (upgraded from 15 digits)", "（由 15 位升级）") : ""
                return .success("\(id.value)\(note) · \(id.birthDate) · \(sex) · \(place)")
            case .failure(let error): return reject(error.code, error.message)
            }
        case .name:
            switch NameNormalizer.normalize(value) {
            case .success(let name):
                return .success("\(name.display) · " + tr("key", "匹配键") + " \(name.matchingKey) · " + tr("pinyin", "拼音") + " \(name.pinyinKey)")
            case .failure(let error): return reject(error.code, error.message)
            }
        case .date:
            // What ingest does: a date known only to the month or year is kept as such.
            switch DateParser(referenceYear: today.year, acceptsExcelSerials: excelSerial).parsePartial(value) {
            case .success(let date):
                let precision: String =
                    switch date.precision {
                    case .day: ""
                    case .month: tr(" (known to the month)", "（精确到月）")
                    case .year: tr(" (known to the year)", "（精确到年）")
                    }
                return .success(date.iso + precision)
            case .failure(let error): return reject(error.code.rawValue, error.message)
            }
        case .sex:
            switch Sex.parse(value) {
            case .success(let sex): return .success("\(sex.rawValue) \(tr(sex.label))")
            case .failure(let error): return reject(error.code, error.message)
            }
        case .phone:
            switch PhoneNumber.parse(value) {
            case .success(let phone): return .success("\(phone.value) (\(phone.kind == .mobile ? tr("mobile", "手机") : tr("landline", "固话")))")
            case .failure(let error): return reject(error.code, error.message)
            }
        case .division:
            let table = DivisionCodeTable.standard
            switch table.validate(value) {
            case .success(let code):
                let row = table.latest(code)
                let name = table.fullName(code) ?? code
                var text = "\(code) \(name)"
                if let row, row.status == .retired {
                    let successors = table.currentCodes(for: code).map { "\($0) \(table.fullName($0) ?? "")" }
                    text += tr(" (retired \(row.endYear ?? 0); now ", "（\(row.endYear ?? 0) 年撤销；现为 ") + successors.joined(separator: ", ") + tr(")", "）")
                }
                return .success(text)
            case .failure(let error): return reject(error.code.rawValue, error.message)
            }
        case .marital, .political, .relationship:
            let table: CodeTable = kind == .marital ? .maritalStatus : (kind == .political ? .politicalStatus : .familyRelationship)
            guard let entry = table.lookup(value) else {
                let error = CodeLookupError(table: table.name, value: value)
                return reject(error.code, error.message)
            }
            return .success("\(entry.code) \(CLI.language == .zh ? entry.label : entry.labelEN)")
        }
    }
}
