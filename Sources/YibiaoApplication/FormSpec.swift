public import Foundation
public import YibiaoCore
import Yams
import YibiaoYAML

/// A department's form (一表通): its title, who asks and why, the consumer whose grant it is
/// issued under, and its columns in the department's own labels, each taking a canonical field
/// (in the department's codes) or left for the community office to fill. Kept as YAML beside
/// the adapters (`forms/`).
public struct FormSpec: Sendable, Hashable {
    public struct Column: Sendable, Hashable {
        public var header: String
        /// Nil: a column the hub knows nothing of, left blank to fill.
        public var field: String?
        /// Canonical code → the department's label (`"1": 男`); other values as they are.
        public var codes: [String: String]

        public init(header: String, field: String?, codes: [String: String] = [:]) {
            self.header = header
            self.field = field
            self.codes = codes
        }
    }

    /// Which residents of the community get a row: an age range in whole years on the day of
    /// filling (`select: {age_min: 60}`), bounds included. Nil: everyone.
    public struct Selection: Sendable, Hashable {
        public var ageMin: Int?
        public var ageMax: Int?

        public init(ageMin: Int? = nil, ageMax: Int? = nil) {
            self.ageMin = ageMin
            self.ageMax = ageMax
        }

        /// True, false, or nil when the birth date cannot say (missing, or only a year or month
        /// that straddles a bound).
        public func admits(birthDate: String?, on today: CalendarDate) -> Bool? {
            guard let birthDate, let born = PartialDate(iso: birthDate) else { return nil }
            let youngest = born.latest.years(until: today), oldest = born.earliest.years(until: today)
            if let low = ageMin, oldest < low { return false }
            if let high = ageMax, youngest > high { return false }
            let inside = { (age: Int) in (self.ageMin.map { age >= $0 } ?? true) && (self.ageMax.map { age <= $0 } ?? true) }
            return inside(youngest) && inside(oldest) ? true : nil
        }
    }

    public var id: String
    public var title: LocalizedText
    public var department: LocalizedText
    public var purpose: String
    /// The consumer whose grant decides which fields the form may carry, and how masked.
    public var consumer: String
    public var columns: [Column]
    public var selection: Selection?

    public init(
        id: String, title: LocalizedText, department: LocalizedText, purpose: String, consumer: String, columns: [Column], selection: Selection? = nil
    ) {
        self.id = id
        self.title = title
        self.department = department
        self.purpose = purpose
        self.consumer = consumer
        self.columns = columns
        self.selection = selection
    }

    public static func load(_ url: URL) throws -> FormSpec {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw SpecFileError(
                .form, fileName: url.lastPathComponent,
                problem: LocalizedText(en: "cannot read the file: \(error.localizedDescription)", zh: "无法读取文件：\(error.localizedDescription)"))
        }
        return try parse(text, fileName: url.lastPathComponent)
    }

    public static func parse(_ text: String, fileName: String) throws -> FormSpec {
        let yaml = YAMLWalker(fileName: fileName, kind: .form)
        let root = try yaml.root(of: text, emptyFix: LocalizedText(en: "start from forms/README.md", zh: "请参照 forms/README.md 编写"))
        var id: String?, title: LocalizedText?, department: LocalizedText?, purpose: String?, consumer: String?
        var columns: [Column] = []
        var selection: Selection?
        func bilingual(_ node: Node, key: String) throws -> LocalizedText {
            let names = try yaml.stringMap(node, key: key)
            guard let zh = names["zh"], let en = names["en"] else {
                throw yaml.fail(node, key: key, en: "give it in both languages: {zh: …, en: …}", zh: "请同时给出中英文：{zh: …, en: …}")
            }
            return LocalizedText(en: en, zh: zh)
        }
        for (key, _, value) in try yaml.entries(root, path: "", allowed: ["form", "title", "department", "purpose", "consumer", "columns", "select"]) {
            switch key {
            case "form": id = try yaml.string(value, key: key)
            case "title": title = try bilingual(value, key: key)
            case "department": department = try bilingual(value, key: key)
            case "purpose": purpose = try yaml.string(value, key: key)
            case "consumer": consumer = try yaml.string(value, key: key)
            case "select":
                var chosen = Selection()
                for (selectKey, _, bound) in try yaml.entries(value, path: "select", allowed: ["age_min", "age_max"]) {
                    let age = try yaml.int(bound, key: "select.\(selectKey)")
                    guard (0...150).contains(age) else {
                        throw yaml.fail(bound, key: "select.\(selectKey)", en: "an age is between 0 and 150", zh: "年龄应在 0 到 150 之间")
                    }
                    if selectKey == "age_min" { chosen.ageMin = age } else { chosen.ageMax = age }
                }
                if let low = chosen.ageMin, let high = chosen.ageMax, low > high {
                    throw yaml.fail(value, key: "select", en: "age_min is above age_max", zh: "age_min 大于 age_max")
                }
                selection = chosen
            default:
                guard let items = value.sequence, !items.isEmpty else {
                    throw yaml.fail(value, key: key, en: "list the form's columns: - {header: 姓名, field: name}", zh: "请列出表格的列：- {header: 姓名, field: name}")
                }
                for item in items {
                    var header: String?, field: String?, codes: [String: String] = [:]
                    for (itemKey, _, itemValue) in try yaml.entries(item, path: "columns", allowed: ["header", "field", "codes"]) {
                        switch itemKey {
                        case "header": header = try yaml.string(itemValue, key: "columns.header")
                        case "field":
                            let name = try yaml.string(itemValue, key: "columns.field")
                            guard CanonicalField.named(name) != nil else {
                                let hint = Suggestion.nearest(to: name, in: CanonicalField.all.map(\.qualifiedName))
                                throw yaml.fail(
                                    itemValue, key: "columns.field", en: "`\(name)` is not a canonical field", zh: "`\(name)` 不是规范字段",
                                    fixEN: hint.map { "did you mean `\($0)`?" } ?? "docs/schema.md lists them",
                                    fixZH: hint.map { "是否应为 `\($0)`？" } ?? "见 docs/schema.md")
                            }
                            field = name
                        default: codes = try yaml.stringMap(itemValue, key: "columns.codes")
                        }
                    }
                    guard let header, !header.isEmpty else {
                        throw yaml.fail(item, key: "columns", en: "every column needs its header", zh: "每一列都需要表头")
                    }
                    guard !columns.contains(where: { $0.header == header }) else {
                        throw yaml.fail(item, key: "columns.header", en: "the header `\(header)` appears twice", zh: "表头“\(header)”重复")
                    }
                    columns.append(Column(header: header, field: field, codes: codes))
                }
            }
        }
        func missing(_ key: String) -> SpecFileError {
            yaml.fail(root, key: key, en: "`\(key)` is missing", zh: "缺少 `\(key)`")
        }
        guard let id else { throw missing("form") }
        guard let title else { throw missing("title") }
        guard let department else { throw missing("department") }
        guard let purpose else { throw missing("purpose") }
        guard let consumer else { throw missing("consumer") }
        guard !columns.isEmpty else { throw missing("columns") }
        return FormSpec(id: id, title: title, department: department, purpose: purpose, consumer: consumer, columns: columns, selection: selection)
    }
}
