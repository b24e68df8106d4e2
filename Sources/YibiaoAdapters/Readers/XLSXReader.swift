public import Foundation
#if canImport(FoundationXML)
    import FoundationXML
#endif
import YibiaoCore
import ZIPFoundation

/// XLSX workbooks: one sheet, a header row, then rows. Shared strings are held compactly (one
/// byte buffer plus offsets) and the sheet is parsed as a stream, so memory stays small for
/// sheets of a million rows. Numbers are given as written (`31108` for a date cell): the
/// adapter's `date` transform reads Excel serials.
public struct XLSXReader: FeedReader {
    public let url: URL
    /// The sheet's name; nil for the first sheet.
    public let sheet: String?
    /// The sheet row that holds the column names (1-based).
    public let headerRow: Int

    public init(url: URL, sheet: String? = nil, headerRow: Int = 1) {
        self.url = url
        self.sheet = sheet
        self.headerRow = headerRow
    }

    /// The workbook's sheet names, in the workbook's order (the first is the one read when no
    /// sheet is named).
    public func sheetNames() throws -> [String] {
        try sheets(in: try openArchive()).compactMap { $0["name"] }
    }

    public func read(_ body: (FeedEvent) throws -> Void) throws {
        let archive = try openArchive()
        let sheetPath = try locateSheet(archive)
        let scratch = try PrivateScratch()
        defer { scratch.remove() }
        let strings = try SharedStrings.load(from: archive, scratch: scratch, corrupt: corrupt)
        guard let entry = archive[sheetPath] else {
            throw corrupt("the workbook names \(sheetPath) but the archive does not contain it", "工作簿引用了 \(sheetPath)，但压缩包中没有该文件")
        }
        let temporary = try Self.extract(entry, from: archive, to: scratch.file("sheet.xml"), corrupt: corrupt)
        guard let stream = SanitizedUTF8Stream(file: temporary) else { throw FeedIssue.cannotOpen(url, CocoaError(.fileReadUnknown)) }
        try withoutActuallyEscaping(body) { body in
            let delegate = SheetCollector(strings: strings, headerRow: headerRow, body: body)
            let parser = XMLParser(stream: stream)
            parser.delegate = delegate
            let ok = parser.parse()
            if let thrown = delegate.thrown { throw thrown }
            if !ok || delegate.openElements > 0 {
                // The row being read when the sheet broke off is set aside, not lost.
                if let row = delegate.openRow {
                    try body(
                        .unreadable(
                            FeedIssue(
                                code: "row_cut_off",
                                message: LocalizedText(
                                    en: "the sheet breaks off inside this row", zh: "工作表在该行中途中断"), row: row)))
                }
                throw !ok
                    ? corrupt(
                        "the sheet XML is malformed at line \(parser.lineNumber); rows before it were read",
                        "工作表 XML 在第 \(parser.lineNumber) 行格式错误；此前的行已读取")
                    : corrupt(
                        "the sheet ends before its XML is complete (cut off); rows before it were read",
                        "工作表 XML 尚未结束即已终止（文件不完整）；此前的行已读取")
            }
            if !delegate.sawHeader {
                throw FeedIssue(
                    code: "empty_sheet",
                    message: LocalizedText(
                        en: "\(url.lastPathComponent): the sheet has no header row (row \(headerRow) is empty or missing)",
                        zh: "\(url.lastPathComponent)：工作表没有表头行（第 \(headerRow) 行为空或不存在）"))
            }
        }
    }

    private func corrupt(_ en: String, _ zh: String) -> FeedIssue {
        FeedIssue(code: "corrupt_xlsx", message: LocalizedText(en: "\(url.lastPathComponent): \(en)", zh: "\(url.lastPathComponent)：\(zh)"))
    }

    /// The file as a ZIP archive of a sensible number of parts.
    private func openArchive() throws -> Archive {
        let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? nil
        guard let size else { throw FeedIssue.cannotOpen(url, CocoaError(.fileReadNoSuchFile)) }
        if size == 0 { throw FeedIssue.emptyFile(url) }
        let archive: Archive
        do {
            archive = try Archive(url: url, accessMode: .read)
        } catch {
            throw corrupt("it is not a readable ZIP archive (truncated or not an .xlsx file)", "它不是可读取的 ZIP 压缩包（文件被截断或不是 .xlsx 文件）")
        }
        var entries = 0
        for _ in archive {
            entries += 1
            if entries > XLSXLimits.entries {
                throw corrupt(
                    "the archive holds more than \(XLSXLimits.entries) files: not a workbook export",
                    "压缩包内文件超过 \(XLSXLimits.entries) 个：不是工作簿导出文件")
            }
        }
        return archive
    }

    /// The attributes of each `<sheet>` workbook.xml names.
    private func sheets(in archive: Archive) throws -> [[String: String]] {
        guard let workbook = try? Self.small(archive, "xl/workbook.xml") else {
            throw corrupt("xl/workbook.xml is missing: not an Excel workbook", "缺少 xl/workbook.xml：不是 Excel 工作簿")
        }
        let sheets = AttributeCollector.collect(workbook, element: "sheet")
        guard !sheets.isEmpty else { throw corrupt("the workbook has no sheets", "工作簿中没有工作表") }
        return sheets
    }

    /// workbook.xml names the sheets; its relationships file says where each one is.
    private func locateSheet(_ archive: Archive) throws -> String {
        let sheets = try sheets(in: archive)
        guard let relationships = try? Self.small(archive, "xl/_rels/workbook.xml.rels") else {
            throw corrupt("xl/_rels/workbook.xml.rels is missing: not an Excel workbook", "缺少 xl/_rels/workbook.xml.rels：不是 Excel 工作簿")
        }
        let targets = AttributeCollector.collect(relationships, element: "Relationship")
        let chosen: [String: String]
        if let sheet {
            guard let match = sheets.first(where: { $0["name"] == sheet }) else {
                let names = sheets.compactMap { $0["name"] }.joined(separator: ", ")
                throw FeedIssue(
                    code: "sheet_not_found",
                    message: LocalizedText(
                        en: "\(url.lastPathComponent) has no sheet named \(sheet); its sheets are: \(names)",
                        zh: "\(url.lastPathComponent) 中没有名为 \(sheet) 的工作表；现有工作表：\(names)"))
            }
            chosen = match
        } else {
            chosen = sheets[0]
        }
        let id = chosen["r:id"] ?? chosen["id"] ?? ""
        guard let target = targets.first(where: { $0["Id"] == id })?["Target"] else {
            throw corrupt("the sheet's relationship \(id) is missing", "缺少工作表的关联 \(id)")
        }
        if target.hasPrefix("/") { return String(target.dropFirst()) }
        return "xl/" + target
    }

    /// Extracts one entry into the private scratch directory, readable by this user only.
    static func extract(_ entry: Entry, from archive: Archive, to file: URL, corrupt: (String, String) -> FeedIssue) throws -> URL {
        guard entry.uncompressedSize <= XLSXLimits.partBytes else {
            throw corrupt("\(entry.path) unpacks to more than \(XLSXLimits.partBytes >> 30) GiB", "\(entry.path) 解压后超过 \(XLSXLimits.partBytes >> 30) GiB")
        }
        do {
            _ = try archive.extract(entry, to: file)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file.path)
        } catch {
            throw corrupt("\(entry.path) cannot be decompressed (damaged archive)", "\(entry.path) 无法解压（压缩包已损坏）")
        }
        return file
    }

    static func small(_ archive: Archive, _ path: String) throws -> Data {
        guard let entry = archive[path] else { throw CocoaError(.fileReadNoSuchFile) }
        var data = Data()
        _ = try archive.extract(entry) { data.append($0) }
        return data
    }
}

/// Limits on a workbook; beyond them the file or the row is refused with a reason (adapters/README.md).
public enum XLSXLimits {
    /// Files in the archive.
    public static let entries = 10_000
    /// Columns of a sheet, as Excel has them (A…XFD).
    public static let columns = 16_384
    /// Unpacked size of one part (a sheet, the shared strings).
    public static let partBytes: UInt64 = 4 << 30
}

/// Shared strings in one UTF-8 buffer with offsets: far smaller than an array of Strings.
final class SharedStrings: NSObject, XMLParserDelegate {
    private var bytes: [UInt8] = []
    private var offsets: [UInt32] = [0]
    private var current = ""
    private var inText = false
    private var inPhonetic = false

    var count: Int { offsets.count - 1 }
    /// Elements not closed at the end: the part is cut off.
    private(set) var open = 0

    subscript(index: Int) -> String? {
        guard index >= 0, index < count else { return nil }
        return String(decoding: bytes[Int(offsets[index])..<Int(offsets[index + 1])], as: UTF8.self)
    }

    static func load(from archive: Archive, scratch: PrivateScratch, corrupt: (String, String) -> FeedIssue) throws -> SharedStrings {
        let table = SharedStrings()
        guard let entry = archive["xl/sharedStrings.xml"] else { return table }
        let temporary = try XLSXReader.extract(entry, from: archive, to: scratch.file("sharedStrings.xml"), corrupt: corrupt)
        defer { try? FileManager.default.removeItem(at: temporary) }
        guard let stream = SanitizedUTF8Stream(file: temporary) else { return table }
        let parser = XMLParser(stream: stream)
        parser.delegate = table
        guard parser.parse(), table.open == 0 else {
            throw corrupt("xl/sharedStrings.xml is malformed", "xl/sharedStrings.xml 格式错误")
        }
        return table
    }

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
        qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]
    ) {
        open += 1
        switch elementName {
        case "si": current = ""
        case "t": inText = !inPhonetic
        case "rPh": inPhonetic = true // phonetic guides are not part of the text
        default: break
        }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if inText { current += string }
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
        open -= 1
        switch elementName {
        case "t": inText = false
        case "rPh": inPhonetic = false
        case "si":
            bytes.append(contentsOf: current.utf8)
            offsets.append(UInt32(bytes.count))
        default: break
        }
    }
}

private final class SheetCollector: NSObject, XMLParserDelegate {
    let strings: SharedStrings
    let headerRow: Int
    let body: (FeedEvent) throws -> Void
    var thrown: (any Error)?
    private(set) var sawHeader = false
    private var header: [Int: String] = [:]
    /// The header's sheet columns, left to right, and their names.
    private var headerColumns: [Int] = []
    private var columns = ColumnNames([])
    private var rowNumber = 0
    private var rowCells: [Int: String] = [:]
    private var cellColumn = 0
    private var cellType = ""
    private var value = ""
    private var inValue = false
    private var nextColumn = 0
    /// Why the row being read cannot be used.
    private var problem: FeedIssue?
    /// Elements opened and not closed: not 0 at the end means the sheet is cut off.
    private(set) var openElements = 0
    private var inRow = false
    /// The row the sheet broke off in.
    var openRow: Int? { inRow ? rowNumber : nil }

    init(strings: SharedStrings, headerRow: Int, body: @escaping (FeedEvent) throws -> Void) {
        self.strings = strings
        self.headerRow = headerRow
        self.body = body
    }

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
        qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]
    ) {
        openElements += 1
        switch elementName {
        case "row":
            rowNumber = attributeDict["r"].flatMap(Int.init) ?? rowNumber + 1
            rowCells = [:]
            nextColumn = 0
            problem = nil
            inRow = true
        case "c":
            if let reference = attributeDict["r"] {
                guard let column = Self.columnIndex(reference) else {
                    cellColumn = -1
                    cellType = "n"
                    value = ""
                    problem =
                        problem
                        ?? FeedIssue(
                            code: "invalid_cell_reference",
                            message: LocalizedText(
                                en: "a cell reference is not a column of a sheet (A to XFD)", zh: "单元格引用不是工作表中的列（A 至 XFD）"),
                            row: rowNumber, value: String(reference.prefix(16)))
                    break
                }
                cellColumn = column
            } else {
                cellColumn = nextColumn
            }
            nextColumn = cellColumn + 1
            cellType = attributeDict["t"] ?? "n"
            value = ""
        case "v", "t":
            inValue = true
        default:
            break
        }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if inValue { value += string }
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
        openElements -= 1
        switch elementName {
        case "v", "t":
            inValue = false
        case "c":
            let text: String
            switch cellType {
            case "s": text = Int(value).flatMap { strings[$0] } ?? ""
            case "b": text = value == "1" ? "TRUE" : "FALSE"
            default: text = value // n, str, inlineStr, e, d
            }
            if text.unicodeScalars.contains("\u{FFFD}"), problem == nil {
                problem = FeedIssue(
                    code: "invalid_utf8",
                    message: LocalizedText(
                        en: "the row contains bytes that are not valid UTF-8", zh: "该行含有不是有效 UTF-8 的字节"),
                    row: rowNumber, column: cellColumn >= 0 ? XLSXWriter.columnName(cellColumn) : nil)
            }
            if !text.isEmpty, cellColumn >= 0 { rowCells[cellColumn] = text }
        case "row":
            inRow = false
            finishRow(parser)
        default:
            break
        }
    }

    private func finishRow(_ parser: XMLParser) {
        if rowNumber < headerRow { return }
        if rowNumber == headerRow {
            header = rowCells.mapValues { $0.trimmingCharacters(in: .whitespaces) }
            sawHeader = !header.isEmpty
            headerColumns = header.keys.sorted()
            let names = headerColumns.map { header[$0]! }
            columns = ColumnNames(names)
            if sawHeader {
                do {
                    // As a CSV header: two columns of one name would leave a row's cell under it ambiguous.
                    var seen: Set<String> = []
                    if let repeated = names.first(where: { !seen.insert($0).inserted }) {
                        throw FeedIssue(
                            code: "duplicate_column",
                            message: LocalizedText(
                                en: "the header names the column \(repeated) twice", zh: "表头中列名 \(repeated) 出现了两次"),
                            row: rowNumber, column: repeated)
                    }
                    try body(.header(names))
                } catch {
                    thrown = error
                    parser.abortParsing()
                }
            }
            return
        }
        if let problem, rowNumber > headerRow {
            do { try body(.unreadable(problem)) } catch {
                thrown = error
                parser.abortParsing()
            }
            return
        }
        guard sawHeader, !rowCells.isEmpty else { return }
        let values: [String?] = headerColumns.map { rowCells[$0] ?? "" }
        let extra = rowCells.keys.filter { header[$0] == nil }
        do {
            if !extra.isEmpty {
                let columns = extra.sorted().map(XLSXWriter.columnName).joined(separator: ", ")
                try body(
                    .unreadable(
                        FeedIssue(
                            code: "ragged_row",
                            message: LocalizedText(
                                en: "the row has values in columns without a header: \(columns)",
                                zh: "该行在没有表头的列中有值：\(columns)"), row: rowNumber, column: columns)))
            } else {
                try body(.row(RawRow(number: rowNumber, columns: columns, values: values)))
            }
        } catch {
            thrown = error
            parser.abortParsing()
        }
    }

    /// "B12" → 1; nil for a reference beyond column XFD (the last one Excel has) or without letters.
    static func columnIndex(_ reference: String) -> Int? {
        var index = 0
        for scalar in reference.unicodeScalars {
            guard scalar.value >= 65, scalar.value <= 90 else { break }
            index = index * 26 + Int(scalar.value - 64)
            if index > XLSXLimits.columns { return nil }
        }
        return index > 0 ? index - 1 : nil
    }
}

/// Attributes of every element with a given name, from a small XML document.
private final class AttributeCollector: NSObject, XMLParserDelegate {
    let element: String
    var found: [[String: String]] = []

    init(element: String) {
        self.element = element
    }

    static func collect(_ data: Data, element: String) -> [[String: String]] {
        let collector = AttributeCollector(element: element)
        let parser = XMLParser(data: data)
        parser.delegate = collector
        _ = parser.parse()
        return collector.found
    }

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
        qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]
    ) {
        if elementName == element { found.append(attributeDict) }
    }
}
