public import Foundation
import YibiaoAdapters
public import YibiaoCore

/// The spreadsheets workers already keep, as entries: a header row naming fields (the template's
/// Chinese labels, the English ones, field names, or the usual column names of such sheets), one
/// resident a row, an empty cell meaning "no change". Every row is checked before anything is
/// sent; a bad row is set aside with its reason and never blocks the others.
public struct EntrySheet: Sendable {
    /// A row that will become an entry.
    public struct Row: Sendable, Hashable {
        public let number: Int
        public let nationalID: String
        public let values: [String: String]
    }

    /// A row that cannot be used, with why (naming the column, never the value) and its cells
    /// as they were, for the set-aside file.
    public struct SetAside: Sendable, Hashable {
        public let number: Int
        public let reasons: [LocalizedText]
        public let cells: [String: String]

        public init(number: Int, reasons: [LocalizedText], cells: [String: String]) {
            self.number = number
            self.reasons = reasons
            self.cells = cells
        }
    }

    public let file: URL
    public let header: [String]
    /// Column → field, for the columns that name one.
    public let columns: [String: String]
    /// Columns no field goes by: read for nothing, listed for the worker.
    public let ignored: [String]
    public let rows: [Row]
    public let setAside: [SetAside]
    /// Rows with no value beside the ID (nothing to change), counted so totals reconcile.
    public let empty: Int
    /// The cells of the rows that became entries, by row number, for a row set aside later.
    let cells: [Int: [String: String]]

    /// The same sheet with more rows set aside (those the hub does not know), in row order.
    public func settingAside(_ more: [SetAside]) -> EntrySheet {
        let numbers = Set(more.map(\.number))
        let cellsByRow = Dictionary(uniqueKeysWithValues: cells.map { ($0.key, $0.value) })
        let added = more.map { SetAside(number: $0.number, reasons: $0.reasons, cells: $0.cells.isEmpty ? cellsByRow[$0.number] ?? [:] : $0.cells) }
        return EntrySheet(
            file: file, header: header, columns: columns, ignored: ignored, rows: rows.filter { !numbers.contains($0.number) },
            setAside: (setAside + added).sorted { $0.number < $1.number }, empty: empty, cells: cells)
    }

    /// Common names of the ID column and of a few fields in district spreadsheets, beside the
    /// fields' own labels.
    static let synonyms: [String: String] = [
        "身份证号": "national_id", "身份证号码": "national_id", "身份证": "national_id", "证件号码": "national_id", "id number": "national_id",
        "电话": "phone", "手机": "phone", "手机号": "phone", "手机号码": "phone", "联系方式": "phone", "电话号码": "phone",
        "地址": "address", "现住址": "address", "居住地址": "address", "家庭住址": "address", "现居住地址": "address",
        "婚姻状态": "marital_status", "婚否": "marital_status", "社区代码": "community_code", "行政区划": "division_code",
    ]

    /// The field a header cell names, if any.
    public static func field(forHeader header: String) -> String? {
        let text = TextNormalization.nfkc(header).trimmingCharacters(in: .whitespaces)
        let lowered = text.lowercased()
        if let field = CanonicalField.named(lowered) { return field.qualifiedName }
        if let field = synonyms[lowered] { return field }
        return CanonicalField.all.first { $0.label.zh == text || $0.label.en.lowercased() == lowered }?.qualifiedName
    }

    /// A worker's spreadsheet: XLSX, or CSV in UTF-8 or GB18030, short rows allowed.
    static func reader(_ file: URL, headerRow: Int) throws -> any FeedReader {
        switch file.pathExtension.lowercased() {
        case "xlsx": return XLSXReader(url: file, headerRow: headerRow)
        case "csv", "txt":
            var options = CSVReader.Options()
            options.encoding = TextEncoding.guessUTF8OrGB18030(file)
            options.allowShortRows = true
            options.headerRow = headerRow
            return CSVReader(url: file, options: options)
        default:
            throw SyncError(
                .badInput, LocalizedText(en: "\(file.lastPathComponent): give a .xlsx or .csv file", zh: "\(file.lastPathComponent)：请提供 .xlsx 或 .csv 文件"),
                remedy: LocalizedText(en: "`yibiao template` writes one to fill in", zh: "可用 `yibiao template` 生成模板"))
        }
    }

    /// Reads and checks the whole file. Throws only when the file itself cannot be used (not
    /// there, unreadable, no ID column).
    public static func read(_ file: URL, client: SyncClient, editable: [String]) throws -> EntrySheet {
        try FeedFile.check(file)
        let reader = try Self.reader(file, headerRow: 1)
        var header: [String] = []
        var columns: [String: String] = [:]
        var rows: [Row] = []
        var setAside: [SetAside] = []
        var empty = 0
        var goodCells: [Int: [String: String]] = [:]
        var idColumn: String?
        try reader.read { event in
            switch event {
            case .header(let names):
                header = names
                for name in names { if let field = field(forHeader: name), !columns.values.contains(field) { columns[name] = field } }
                idColumn = columns.first { $0.value == "national_id" }?.key
                guard idColumn != nil else {
                    throw SyncError(
                        .badInput,
                        LocalizedText(
                            en: "\(file.lastPathComponent) has no column for the citizen ID number (公民身份号码)",
                            zh: "\(file.lastPathComponent) 没有“公民身份号码”列"),
                        remedy: LocalizedText(en: "start from `yibiao template`", zh: "请以 `yibiao template` 生成的模板为准"))
                }
            case .row(let raw):
                let cells = raw.cells.filter { !$0.value.trimmingCharacters(in: .whitespaces).isEmpty }
                if cells.isEmpty { return } // a blank line
                let idText = idColumn.flatMap { cells[$0] } ?? ""
                var reasons: [LocalizedText] = []
                var nationalID = ""
                switch CitizenID.parse(idText, today: client.today) {
                case .success(let id): nationalID = id.value
                case .failure(let problem):
                    let column = idColumn ?? "公民身份号码"
                    reasons.append(LocalizedText(en: "\(column): \(problem.message.en)", zh: "\(column)：\(problem.message.zh)"))
                }
                var typed: [String: String] = [:]
                for (column, text) in cells { if let field = columns[column], field != "national_id" { typed[field] = text } }
                let (values, problems) = client.check(typed, editable: editable)
                for (field, problem) in problems.sorted(by: { $0.key < $1.key }) {
                    let column = columns.first { $0.value == field }?.key ?? field
                    reasons.append(LocalizedText(en: "\(column): \(problem.en)", zh: "\(column)：\(problem.zh)"))
                }
                if !reasons.isEmpty {
                    setAside.append(SetAside(number: raw.number, reasons: reasons, cells: raw.cells))
                } else if values.isEmpty {
                    empty += 1
                } else {
                    rows.append(Row(number: raw.number, nationalID: nationalID, values: values))
                    goodCells[raw.number] = raw.cells
                }
            case .unreadable(let issue):
                setAside.append(SetAside(number: issue.row ?? 0, reasons: [issue.message], cells: [:]))
            }
        }
        let ignored = header.filter { columns[$0] == nil && !$0.isEmpty }
        return EntrySheet(file: file, header: header, columns: columns, ignored: ignored, rows: rows, setAside: setAside, empty: empty, cells: goodCells)
    }

    /// Writes the rows set aside beside the file, as CSV (UTF-8 with BOM, so a spreadsheet opens
    /// it), with the reason in the last column: the worker corrects them there and sends that
    /// file. 0600: it holds residents' values.
    public func writeSetAside(language: Language) throws -> URL? {
        guard !setAside.isEmpty else { return nil }
        let out = file.deletingPathExtension().appendingPathExtension("set-aside.csv")
        let reasonColumn = language == .zh ? "原因" : "reason"
        func quoted(_ text: String) -> String { CSVWriter.field(text) }
        var text = "\u{FEFF}" + (header + [reasonColumn, language == .zh ? "原行号" : "row"]).map(quoted).joined(separator: ",") + "\r\n"
        for row in setAside {
            let reason = row.reasons.map { $0.text(in: language) }.joined(separator: language == .zh ? "；" : "; ")
            text += (header.map { row.cells[$0] ?? "" } + [reason, String(row.number)]).map(quoted).joined(separator: ",") + "\r\n"
        }
        try DurableFile.write(Data(text.utf8), to: out)
        return out
    }

    /// The template a worker fills in: the ID column, then the fields they may change, headed by
    /// their labels in the worker's language (either language reads back).
    public static func writeTemplate(to url: URL, editable: [String], language: Language) throws {
        let fields = ["national_id"] + editable
        let header = fields.compactMap { CanonicalField.named($0)?.label.text(in: language) }
        switch url.pathExtension.lowercased() {
        case "csv":
            try DurableFile.write(Data(("\u{FEFF}" + header.joined(separator: ",") + "\r\n").utf8), to: url)
        default:
            let writer = try XLSXWriter(url: url, sheetName: language == .zh ? "居民信息更新" : "Resident updates")
            try writer.append(header)
            try writer.finish()
        }
    }
}
