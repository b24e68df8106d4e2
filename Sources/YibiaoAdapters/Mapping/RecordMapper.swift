import Foundation
import Crypto
public import YibiaoCore

/// A row mapped to canonical fields: what staging stores.
public struct MappedRecord: Sendable, Hashable {
    public let row: Int
    public let sourceKey: String
    /// Canonical field (qualified name) → normalised value (ISO dates, standard codes).
    public let fields: [String: String]
    /// The row as read.
    public let rawRow: RawRow
    /// The raw cells, as read, by column name.
    public var raw: [String: String] { rawRow.cells }
    /// Problems that did not stop the row (an invalid ID number is kept for matching to judge).
    public let problems: [FieldProblem]
    /// SHA-256 (hex) of the raw cells: the same row sent again is recognised.
    public let contentHash: String
    /// The name with its matching keys, computed once here for staging, matching and display.
    public let name: PersonName?

    public init(
        row: Int, sourceKey: String, fields: [String: String], raw: [String: String],
        problems: [FieldProblem], contentHash: String
    ) {
        self.init(
            row: row, sourceKey: sourceKey, fields: fields, raw: RawRow(number: row, cells: raw), problems: problems,
            contentHash: contentHash, name: fields["name"].flatMap(PersonName.init(normalizing:)))
    }

    /// With the name's keys computed already (a mapping memo remembers them).
    init(
        row: Int, sourceKey: String, fields: [String: String], raw: RawRow,
        problems: [FieldProblem], contentHash: String, name: PersonName?
    ) {
        self.row = row
        self.sourceKey = sourceKey
        self.fields = fields
        self.rawRow = raw
        self.problems = problems
        self.contentHash = contentHash
        self.name = name
    }
}

/// A value that could not be normalised, kept with the record.
public struct FieldProblem: Sendable, Hashable, Codable {
    public let field: String
    public let column: String?
    public let code: String
    public let messageEN: String
    public let messageZH: String

    public var message: LocalizedText { LocalizedText(en: messageEN, zh: messageZH) }

    public init(field: String, column: String?, code: String, messageEN: String, messageZH: String) {
        self.field = field
        self.column = column
        self.code = code
        self.messageEN = messageEN
        self.messageZH = messageZH
    }
}

/// The outcome of mapping one row.
public enum MappingOutcome: Sendable {
    case record(MappedRecord)
    case quarantined(FeedIssue)
}

/// How large a value may be; beyond it the row is quarantined with `value_too_long` or
/// `row_too_large` (adapters/README.md). No real value comes near these; the limits keep one
/// broken cell from failing a whole ingest (an index entry holds at most about 2.7 KB).
public enum FieldLimits {
    public static let rowBytes = 65_536
    public static let sourceKeyCharacters = 128

    public static func characters(_ field: CanonicalField) -> Int {
        switch field.kind {
        case .name: 100
        case .text, .list: field.name == "address" ? 300 : 500
        case .citizenID, .date, .sex, .phone, .division, .community, .code, .integer, .decimal, .boolean, .choice: 64
        }
    }
}

/// Applies an adapter to rows. Pure apart from the clock-free `today` it is given.
public struct RecordMapper: Sendable {
    public let spec: AdapterSpec
    public let today: CalendarDate
    private let normalizer: FieldNormalizer

    public init(spec: AdapterSpec, today: CalendarDate) {
        self.spec = spec
        self.today = today
        self.normalizer = FieldNormalizer(today: today)
    }

    /// Columns the adapter reads that a tabular file's header lacks (checked on the first row).
    public func missingColumns(in header: [String]) -> [String] {
        guard spec.format.isTabular else { return [] }
        let present = Set(header)
        let wanted = ([spec.sourceKey] + spec.mappings.map(\.source)).flatMap(\.columns)
        var seen: Set<String> = []
        return wanted.filter { !present.contains($0) && seen.insert($0).inserted }
    }

    public func map(_ row: RawRow) -> MappingOutcome {
        map(row, memo: nil)
    }

    /// The row's source key, or why `map` quarantines the row before looking at its fields
    /// (too large, a NUL, no key, too long a key): what `map` and `sourceKey` both ask first.
    func sourceKeyOrIssue(_ row: RawRow, layout: MappingLayout) -> Result<String, FeedIssue> {
        var rowBytes = 0
        for (name, value) in zip(row.columns.names, row.values) { if let value { rowBytes += name.utf8.count + value.utf8.count } }
        if rowBytes > FieldLimits.rowBytes {
            let largest = row.values.indices.filter { row.values[$0] != nil }.max { row.values[$0]!.utf8.count < row.values[$1]!.utf8.count }
            return .failure(
                FeedIssue(
                    code: "row_too_large",
                    message: LocalizedText(
                        en: "the row holds \(rowBytes) bytes; a row may hold at most \(FieldLimits.rowBytes)",
                        zh: "该行有 \(rowBytes) 字节，超过每行 \(FieldLimits.rowBytes) 字节的上限"),
                    row: row.number, column: largest.map { row.columns.names[$0] }))
        }
        // PostgreSQL text cannot hold U+0000: kept, it would be dropped on the way in — a
        // different value, silently. The row is quarantined instead, naming the cell.
        if let position = row.values.firstIndex(where: { $0?.containsUTF8Byte(0) ?? false }), let value = row.values[position] {
            return .failure(
                FeedIssue(
                    code: "nul_character",
                    message: LocalizedText(
                        en: "the cell holds a NUL character (byte 0), which the database cannot store in text", zh: "该单元格含有空字符（字节 0），数据库无法将其存为文本"),
                    row: row.number, column: row.columns.names[position], value: value.replacingOccurrences(of: "\u{0}", with: "\\x00")))
        }
        let key = TextNormalization.collapseWhitespace(TextNormalization.nfkc(layout.sourceKey.value(in: row) ?? ""))
        if key.isEmpty {
            return .failure(
                FeedIssue(
                    code: "missing_source_key",
                    message: LocalizedText(
                        en: "the row has no source key (\(spec.sourceKey.columns.joined(separator: " + ")))",
                        zh: "该行缺少源系统主键（\(spec.sourceKey.columns.joined(separator: " + "))）"),
                    row: row.number, column: spec.sourceKey.columns.first, value: ""))
        }
        if Self.exceeds(key, characters: FieldLimits.sourceKeyCharacters) {
            return .failure(
                Self.tooLong(
                    "source key", limit: FieldLimits.sourceKeyCharacters, row: row.number,
                    column: spec.sourceKey.columns.first, value: key))
        }
        return .success(key)
    }

    /// Where the adapter's columns sit among `columns`.
    func layout(of columns: ColumnNames) -> MappingLayout {
        MappingLayout(
            columns: columns, spec: spec.sourceSHA256, sourceKey: ResolvedSource(spec.sourceKey, in: columns),
            mappings: spec.mappings.map { ResolvedSource($0.source, in: columns) })
    }

    /// The source key `map` would give the row, without normalising its fields: staging
    /// recognises a row it holds already by it and the cells' digest (`hash`). nil when `map`
    /// would quarantine the row before its fields: only mapping it says what becomes of it.
    public func sourceKey(_ row: RawRow, memo: MappingMemo? = nil) -> String? {
        guard case .success(let key) = sourceKeyOrIssue(row, layout: layout(of: row.columns, memo: memo)) else { return nil }
        return key
    }

    /// The memo's layout for these names (the last it saw, for a file's rows), or a fresh one.
    private func layout(of columns: ColumnNames, memo: MappingMemo?) -> MappingLayout {
        memo?.layout(of: columns, self) ?? layout(of: columns)
    }

    /// The same outcome as `map(_:)`; with a memo, values seen before are not normalised again.
    public func map(_ row: RawRow, memo: MappingMemo?) -> MappingOutcome {
        let layout = layout(of: row.columns, memo: memo)
        let key: String
        switch sourceKeyOrIssue(row, layout: layout) {
        case .success(let found): key = found
        case .failure(let issue): return .quarantined(issue)
        }
        var fields: [String: String] = [:]
        fields.reserveCapacity(spec.mappings.count)
        var problems: [FieldProblem] = []
        var name: PersonName?
        for (index, mapping) in spec.mappings.enumerated() {
            let column = mapping.source.columns.first
            var text = layout.mappings[index].value(in: row).map { TextNormalization.collapseWhitespace($0) } ?? ""
            let limit = FieldLimits.characters(mapping.field)
            if Self.exceeds(text, characters: limit) {
                return .quarantined(Self.tooLong(mapping.field.qualifiedName, limit: limit, row: row.number, column: column, value: text))
            }
            if let mapped = mapping.valueMap[text] { text = mapped }
            if text.isEmpty, let fallback = mapping.defaultValue { text = fallback }
            if text.isEmpty {
                if mapping.required {
                    return .quarantined(
                        FeedIssue(
                            code: "missing_required",
                            message: LocalizedText(
                                en: "the required field \(mapping.field.qualifiedName) is empty",
                                zh: "必填字段 \(mapping.field.label.zh)（\(mapping.field.qualifiedName)）为空"),
                            row: row.number, column: column, value: ""))
                }
                continue
            }
            let result: Result<String, FieldNormalizer.Problem>
            if mapping.field.kind == .name {
                // The name with its matching keys, normalised once: its keys are not made again
                // from its display form.
                let found = memo?.name(text) ?? FieldNormalizer.personName(text)
                if case .success(let normalised) = found { name = normalised }
                result = found.map(\.display)
            } else {
                result =
                    memo?.normalised(text, mapping: index, field: mapping.field, excelSerials: mapping.excelSerials, normalizer)
                    ?? normalizer.normalise(text, as: mapping.field, excelSerials: mapping.excelSerials)
            }
            switch result {
            case .success(let normalised):
                fields[mapping.field.qualifiedName] = normalised
            case .failure(let problem):
                if mapping.required, mapping.field.kind != .citizenID {
                    return .quarantined(
                        FeedIssue(
                            code: problem.code,
                            message: LocalizedText(
                                en: "the required field \(mapping.field.qualifiedName): \(problem.message.en)",
                                zh: "必填字段 \(mapping.field.label.zh)：\(problem.message.zh)"),
                            row: row.number, column: column, value: text))
                }
                problems.append(
                    FieldProblem(
                        field: mapping.field.qualifiedName, column: column, code: problem.code,
                        messageEN: problem.message.en, messageZH: problem.message.zh))
                // An unusable ID number still helps a person or the matcher: keep it raw.
                if mapping.field.kind == .citizenID { fields["national_id_raw"] = text }
            }
        }
        return .record(
            MappedRecord(
                row: row.number, sourceKey: key, fields: fields, raw: row,
                problems: problems, contentHash: Self.hash(row), name: name))
    }

    /// More than `limit` characters. A character takes at least one UTF-8 byte: a text of no
    /// more bytes than the limit is not counted (counting characters finds grapheme clusters,
    /// asked of every cell mapped).
    static func exceeds(_ text: String, characters limit: Int) -> Bool {
        text.utf8.count > limit && text.count > limit
    }

    static func tooLong(_ what: String, limit: Int, row: Int, column: String?, value: String) -> FeedIssue {
        FeedIssue(
            code: "value_too_long",
            message: LocalizedText(
                en: "the \(what) has \(value.count) characters; at most \(limit) are accepted",
                zh: "\(what) 有 \(value.count) 个字符，超过上限 \(limit)"),
            row: row, column: column, value: String(value.prefix(limit)))
    }

    /// Canonical JSON of the cells (sorted keys), hashed.
    public static func hash(_ cells: [String: String]) -> String {
        hash(RawRow(number: 0, cells: cells))
    }

    /// The same digest of a row's cells (the names' order and lengths are its columns').
    public static func hash(_ row: RawRow) -> String {
        var text: [UInt8] = []
        text.reserveCapacity(row.values.reduce(row.values.count * 24) { $0 + ($1?.utf8.count ?? 0) })
        let names = row.columns.names, nameCharacters = row.columns.characterCounts
        row.forEachCellByName { position, value in
            appendDecimal(nameCharacters[position], to: &text)
            text.append(UInt8(ascii: ":"))
            text += names[position].utf8
            text.append(UInt8(ascii: "="))
            appendDecimal(characterCount(value), to: &text)
            text.append(UInt8(ascii: ":"))
            text += value.utf8
            text.append(UInt8(ascii: "\n"))
        }
        return SHA256.hash(data: text).hexString
    }

    /// `text.count` (characters, as the digest has always counted them). Counting characters
    /// means finding grapheme clusters, most of the digest's time; a text of printable ASCII
    /// and CJK ideographs has one character per scalar (no rule of UAX #29 joins any two of
    /// them), so there it counts scalars.
    static func characterCount(_ text: String) -> Int {
        var scalars = 0
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x20...0x7E, 0x3400...0x4DBF, 0x4E00...0x9FFF: scalars += 1
            default: return text.count
            }
        }
        return scalars
    }

    /// `value` in decimal digits, as `value.description` writes it.
    static func appendDecimal(_ value: Int, to bytes: inout [UInt8]) {
        guard value > 0 else {
            bytes += value.description.utf8
            return
        }
        let start = bytes.count
        var rest = value
        while rest > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(rest % 10))
            rest /= 10
        }
        bytes[start...].reverse()
    }
}

/// Where an adapter's source columns sit in rows of one set of column names: looked up once
/// per file, not once per row.
struct MappingLayout {
    let columns: ColumnNames
    let spec: String
    let sourceKey: ResolvedSource
    let mappings: [ResolvedSource]
}

/// A source (`AdapterSpec.Source`) with its columns as positions (nil: no such column).
enum ResolvedSource {
    case column(Int?)
    case concat([Int?], separator: String)
    case split(Int?, separator: String, index: Int)
    case constant(String)

    init(_ source: AdapterSpec.Source, in columns: ColumnNames) {
        switch source {
        case .column(let name): self = .column(columns.position(of: name))
        case .concat(let names, let separator): self = .concat(names.map(columns.position(of:)), separator: separator)
        case .split(let name, let separator, let index): self = .split(columns.position(of: name), separator: separator, index: index)
        case .constant(let value): self = .constant(value)
        }
    }

    func value(in row: RawRow) -> String? {
        switch self {
        case .column(let position):
            return position.flatMap { row.values[$0] }
        case .concat(let positions, let separator):
            let parts = positions.compactMap { $0.flatMap { row.values[$0] }?.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            return parts.isEmpty ? nil : parts.joined(separator: separator)
        case .split(let position, let separator, let index):
            guard let cell = position.flatMap({ row.values[$0] }) else { return nil }
            let parts = cell.components(separatedBy: separator)
            return index < parts.count ? parts[index] : nil
        case .constant(let value):
            return value
        }
    }
}

/// Values one thread has normalised while mapping a file. Feed columns repeat — birth dates,
/// codes, names, addresses of one household — and normalising is most of the mapping work, so
/// a repeated value is looked up. Not shared between threads: each mapping thread has its own.
/// Every normaliser is pure (given `today`), so a remembered value is the value.
public final class MappingMemo {
    /// Beyond this many values of one column the memo starts again: memory stays bounded.
    static let limit = 50_000
    /// A column whose first this many values were mostly new (fewer than one in ten seen
    /// before: addresses, free text) is not remembered further: storing each value cost more
    /// than normalising it again.
    static let trial = 4_096
    /// Keyed by bytes (`UTF8Key`): most remembered values are Chinese text.
    private var values: [[UTF8Key: Result<String, FieldNormalizer.Problem>]] = []
    private var lookups: [Int] = []
    private var hits: [Int] = []
    private var names: [UTF8Key: Result<PersonName, FieldNormalizer.Problem>] = [:]
    /// The layout of the last column names seen: a file's rows share theirs.
    private var lastLayout: MappingLayout?

    public init() {}

    func layout(of columns: ColumnNames, _ mapper: RecordMapper) -> MappingLayout {
        if let lastLayout, lastLayout.columns === columns, lastLayout.spec == mapper.spec.sourceSHA256 { return lastLayout }
        let layout = mapper.layout(of: columns)
        lastLayout = layout
        return layout
    }

    func normalised(
        _ text: String, mapping index: Int, field: CanonicalField, excelSerials: Bool = false, _ normalizer: FieldNormalizer
    ) -> Result<String, FieldNormalizer.Problem> {
        // ID numbers and phone numbers are one per person: remembering them costs more than it saves.
        if field.kind == .citizenID || field.kind == .phone { return normalizer.normalise(text, as: field) }
        while values.count <= index {
            values.append([:])
            lookups.append(0)
            hits.append(0)
        }
        guard remembers(mapping: index) else { return normalizer.normalise(text, as: field, excelSerials: excelSerials) }
        lookups[index] += 1
        let key = UTF8Key(text)
        let known = values[index][key]
        if known != nil { hits[index] += 1 }
        // The trial's end: a column kept no further lets its values go.
        if !remembers(mapping: index) { values[index] = [:] }
        if let known { return known }
        let result = normalizer.normalise(text, as: field, excelSerials: excelSerials)
        guard remembers(mapping: index) else { return result }
        if values[index].count >= Self.limit { values[index].removeAll(keepingCapacity: true) }
        values[index][key] = result
        return result
    }

    /// How many values of the mapping at `index` are remembered now.
    func rememberedCount(mapping index: Int) -> Int { index < values.count ? values[index].count : 0 }

    /// Whether values of the mapping at `index` are still remembered.
    func remembers(mapping index: Int) -> Bool {
        index >= lookups.count || lookups[index] < Self.trial || hits[index] * 10 >= Self.trial
    }

    /// A name as a feed's cell gives it, normalised (`FieldNormalizer.personName`).
    func name(_ text: String) -> Result<PersonName, FieldNormalizer.Problem> {
        let key = UTF8Key(text)
        if let known = names[key] { return known }
        let name = FieldNormalizer.personName(text)
        if names.count >= Self.limit { names.removeAll(keepingCapacity: true) }
        names[key] = name
        return name
    }
}

/// Normalises one value for a canonical field: what a feed cell and a person's entry both go through.
public struct FieldNormalizer: Sendable {
    public struct Problem: Error, Sendable, Hashable {
        public let code: String
        public let message: LocalizedText
    }

    public let today: CalendarDate
    private let dates: DateParser
    private let serialDates: DateParser

    public init(today: CalendarDate) {
        self.today = today
        self.dates = DateParser(referenceYear: today.year)
        self.serialDates = DateParser(referenceYear: today.year, acceptsExcelSerials: true)
    }

    /// A name with its matching keys; a `name` field's value is its display form.
    public static func personName(_ text: String) -> Result<PersonName, Problem> {
        NameNormalizer.normalize(text).mapError { Problem(code: $0.code, message: $0.message) }
    }

    /// `excelSerials`: a date column whose numbers are Excel serial dates (the adapter says so).
    public func normalise(_ text: String, as field: CanonicalField, excelSerials: Bool = false) -> Result<String, Problem> {
        switch field.kind {
        case .text:
            return .success(TextNormalization.nfkc(text))
        case .citizenID:
            return CitizenID.parse(text, today: today).map(\.value).mapError { Problem(code: $0.code, message: $0.message) }
        case .name:
            return Self.personName(text).map(\.display)
        case .date:
            // Kept at the precision given: 1977年10月 is 1977-10, not an invented 1977-10-01.
            let parser = excelSerials ? serialDates : dates
            return parser.parsePartial(text).mapError { Problem(code: "date_" + $0.code.rawValue, message: $0.message) }.flatMap { date in
                date.earliest > today
                    ? .failure(Problem(code: "date_in_future", message: LocalizedText(en: "the date \(date) is in the future", zh: "日期 \(date) 晚于今天")))
                    : .success(date.iso)
            }
        case .sex:
            return Sex.parse(text).map(\.rawValue).mapError { Problem(code: $0.code, message: $0.message) }
        case .phone:
            return PhoneNumber.parse(text).map(\.value).mapError { Problem(code: $0.code, message: $0.message) }
        case .division:
            return DivisionCodeTable.standard.validate(text).mapError { Problem(code: $0.code.rawValue, message: $0.message) }
        case .community:
            return DivisionCodeTable.standard.validateCommunity(text).mapError { Problem(code: $0.code.rawValue, message: $0.message) }
        case .code(let table):
            guard let entry = CodeTable.shipped[table]?.lookup(text) else {
                let error = CodeLookupError(table: table, value: text)
                return .failure(Problem(code: error.code, message: error.message))
            }
            return .success(entry.code)
        case .integer:
            let digits = TextNormalization.nfkc(text)
            // "2.0" from spreadsheets is a whole number too.
            if let value = Int(digits) ?? Double(digits).flatMap({ $0 == $0.rounded() ? Int(exactly: $0) : nil }), value >= 0 {
                return .success(String(value))
            }
            return .failure(Problem(code: "not_an_integer", message: LocalizedText(en: "not a whole number", zh: "不是整数")))
        case .decimal:
            let cleaned = TextNormalization.nfkc(text).replacingOccurrences(of: ",", with: "").replacingOccurrences(of: "元", with: "")
            guard let value = Decimal(string: cleaned), value >= 0, cleaned.allSatisfy({ $0.isNumber || $0 == "." }) else {
                return .failure(Problem(code: "not_a_number", message: LocalizedText(en: "not a number", zh: "不是数字")))
            }
            return .success("\(value)")
        case .boolean:
            switch TextNormalization.nfkc(text).lowercased() {
            case "1", "true", "yes", "y", "是", "有", "√": return .success("true")
            case "0", "false", "no", "n", "否", "无", "×": return .success("false")
            default: return .failure(Problem(code: "not_a_boolean", message: LocalizedText(en: "not yes/no (是/否, 1/0, true/false)", zh: "不是“是/否”（是/否、1/0、true/false）")))
            }
        case .choice(let options):
            let folded = TextNormalization.nfkc(text).lowercased()
            guard options.contains(folded) else {
                return .failure(
                    Problem(
                        code: "not_a_choice",
                        message: LocalizedText(
                            en: "not one of \(options.joined(separator: ", ")) (map the system's values with `map`)",
                            zh: "不是 \(options.joined(separator: "、")) 之一（请用 `map` 映射该系统的取值）")))
            }
            return .success(folded)
        case .list:
            let parts = TextNormalization.nfkc(text).split(whereSeparator: { ";,，；、".contains($0) })
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            return .success(parts.joined(separator: ";"))
        }
    }
}

/// The same source key twice in one file: the first row counts, later ones are quarantined
/// (`duplicate_source_key`). Shared by ingest and preview, so both count alike.
public struct SourceKeyTracker: Sendable {
    private var seen: Set<String> = []

    public init() {}

    /// The outcome to use for `outcome`: a repeated key turns a record into a quarantined row.
    public mutating func check(_ outcome: MappingOutcome) -> MappingOutcome {
        guard case .record(let record) = outcome, let issue = check(sourceKey: record.sourceKey, row: record.row) else { return outcome }
        return .quarantined(issue)
    }

    /// The same for a row known by its key alone (one staging recognised without mapping it):
    /// the issue that quarantines it when the key came earlier in the file, else nil.
    public mutating func check(sourceKey: String, row: Int) -> FeedIssue? {
        guard !seen.insert(sourceKey).inserted else { return nil }
        return FeedIssue(
            code: "duplicate_source_key",
            message: LocalizedText(
                en: "the source key \(sourceKey) already appeared earlier in this file",
                zh: "源系统主键 \(sourceKey) 在本文件中已出现过"), row: row, value: sourceKey)
    }
}
