public import Foundation
public import YibiaoCore

/// The column names a file's rows share (a tabular file's header), with what each row would
/// otherwise work out again: every name's position, and the positions in the order of their
/// names. Rows keep their cells by position: a dictionary per row hashed every Chinese column
/// name (in Unicode-normalised form) for every row, and sorted them for every digest.
/// Names are distinct (readers reject a header naming a column twice).
public final class ColumnNames: Sendable {
    public let names: [String]
    let positions: [String: Int]
    /// Positions ordered by name (`<`), as `RecordMapper.hash` writes the cells.
    let sortedPositions: [Int]
    /// Each name's length in characters, as the digest counts it.
    let characterCounts: [Int]

    public convenience init(_ names: [String]) {
        self.init(names, sortedPositions: names.indices.sorted { names[$0] < names[$1] })
    }

    /// nil when a name comes twice.
    convenience init?(distinct names: [String]) {
        guard Set(names).count == names.count else { return nil }
        self.init(names)
    }

    /// Names already in `<` order (`sortedPositions` is then the identity).
    convenience init(sortedNames names: [String]) {
        self.init(names, sortedPositions: Array(names.indices))
    }

    private init(_ names: [String], sortedPositions: [Int]) {
        self.names = names
        self.positions = Dictionary(names.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        self.sortedPositions = sortedPositions
        self.characterCounts = names.map(RecordMapper.characterCount)
    }

    public func position(of name: String) -> Int? { positions[name] }
}

/// One data row of a feed, cells by column, with the position a person would look for.
public struct RawRow: Sendable, Hashable {
    /// Where the row starts: the line in a CSV, JSON Lines or XML file, the sheet row in XLSX.
    public let number: Int
    /// The names of `values`, shared by the rows of one file where it has a header.
    public let columns: ColumnNames
    /// Raw text by position in `columns`, exactly as read (already decoded from the file's
    /// encoding); nil where the row has no such cell.
    public let values: [String?]

    public init(number: Int, columns: ColumnNames, values: [String?]) {
        precondition(values.count == columns.names.count, "a row has one value slot per column")
        self.number = number
        self.columns = columns
        self.values = values
    }

    /// A row with names of its own (a JSON object, an XML record).
    public init(number: Int, cells: [String: String]) {
        let ordered = cells.sorted { $0.key < $1.key }
        self.number = number
        self.columns = ColumnNames(sortedNames: ordered.map(\.key))
        self.values = ordered.map(\.value)
    }

    /// Column name → raw text, for the cells the row has.
    public var cells: [String: String] {
        var cells: [String: String] = [:]
        cells.reserveCapacity(values.count)
        for (name, value) in zip(columns.names, values) { if let value { cells[name] = value } }
        return cells
    }

    /// The cell in the column called `name`; nil when the row has none.
    public subscript(column name: String) -> String? {
        columns.positions[name].flatMap { values[$0] }
    }

    /// The row's cells, each as (name's position, text), the names in `<` order.
    func forEachCellByName(_ body: (Int, String) -> Void) {
        for position in columns.sortedPositions { if let value = values[position] { body(position, value) } }
    }

    public static func == (left: RawRow, right: RawRow) -> Bool {
        left.number == right.number && (left.columns === right.columns ? left.values == right.values : left.cells == right.cells)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(number)
        hasher.combine(cells)
    }
}

/// A problem with one row or one file, precise enough to find and fix it.
public struct FeedIssue: UserFacingError, Hashable, CustomStringConvertible {
    public let code: String
    public let message: LocalizedText
    public let row: Int?
    public let column: String?
    /// The offending raw value (bytes that do not decode are shown escaped).
    public let value: String?
    public let exitCode: Int32

    public init(
        code: String, message: LocalizedText, row: Int? = nil, column: String? = nil, value: String? = nil,
        exitCode: Int32 = ExitStatus.dataError
    ) {
        self.code = code
        self.message = message
        self.row = row
        self.column = column
        self.value = value
        self.exitCode = exitCode
    }

    /// Where, without the value (values may be personal data).
    public var description: String {
        var parts = [code]
        if let row { parts.append("row \(row)") }
        if let column { parts.append("column \(column)") }
        return parts.joined(separator: " ") + ": " + message.en
    }
}

/// What a reader reports, row by row, in file order.
public enum FeedEvent: Sendable {
    /// A tabular file's column names, before its first row (also when it has no rows).
    case header([String])
    case row(RawRow)
    /// A row that could not be read; the reader goes on with the next one.
    case unreadable(FeedIssue)
}

/// A streaming reader: constant memory in the size of the file. `read` calls `body` for every
/// row in order and throws a `FeedIssue` for problems that stop the whole file (truncated
/// archive, broken XML, empty file). Throwing from `body` stops reading.
public protocol FeedReader: Sendable {
    func read(_ body: (FeedEvent) throws -> Void) throws
}

/// A row cut from the file but not yet parsed. Where rows parse apart from one another (a JSON
/// object per line or per array element), an ingest parses them on every core instead of on
/// the one thread that reads the file: for a JSON Lines feed that hardly changed, parsing was
/// half of the reading.
public struct UnparsedRow: Sendable {
    public let number: Int
    let bytes: Data
    let parse: @Sendable (Data, Int) -> FeedEvent

    init(number: Int, bytes: Data, parse: @escaping @Sendable (Data, Int) -> FeedEvent) {
        self.number = number
        self.bytes = bytes
        self.parse = parse
    }

    /// The event `read` gives for this row (`row` or `unreadable`); pure, safe on any thread.
    public func parsed() -> FeedEvent { parse(bytes, number) }
}

/// A reader whose rows can be parsed apart from the reading (`UnparsedRow`). Its `read` is
/// `readUnparsed` with every row parsed in turn.
public protocol UnparsedFeedReader: FeedReader {
    func readUnparsed(_ body: (UnparsedRow) throws -> Void) throws
}

extension UnparsedFeedReader {
    public func read(_ body: (FeedEvent) throws -> Void) throws {
        try readUnparsed { try body($0.parsed()) }
    }
}

/// Thrown from a `read` body to stop early (preview); readers let it through unchanged.
public struct StopReading: Error {
    public init() {}
}

extension FeedIssue {
    static func fileError(_ code: String, en: String, zh: String, row: Int? = nil) -> FeedIssue {
        FeedIssue(code: code, message: LocalizedText(en: en, zh: zh), row: row)
    }

    static func cannotOpen(_ url: URL, _ error: any Error) -> FeedIssue {
        fileError(
            "file_unreadable",
            en: "cannot read \(url.lastPathComponent): \(error.localizedDescription)",
            zh: "无法读取 \(url.lastPathComponent)：\(error.localizedDescription)")
    }

    static func emptyFile(_ url: URL) -> FeedIssue {
        fileError(
            "empty_file", en: "\(url.lastPathComponent) is empty: not even a header row",
            zh: "\(url.lastPathComponent) 是空文件：连表头行都没有")
    }

    /// Shows undecodable bytes as \xNN so that the quarantine keeps what was there.
    static func escapedBytes(_ bytes: some Collection<UInt8>) -> String {
        var text = ""
        var iterator = bytes.makeIterator()
        var pending: [UInt8] = []
        while let byte = iterator.next() { pending.append(byte) }
        var index = 0
        while index < pending.count {
            let byte = pending[index]
            if byte < 0x80, byte >= 0x20 {
                text.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                text += "\\x" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
            index += 1
        }
        return text
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// A feed path that is not a readable file says so, before anything is read or opened.
public enum FeedFile {
    public static func check(_ url: URL) throws {
        var isDirectory: ObjCBool = false
        let path = url.path
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FeedIssue(code: "file_missing", message: LocalizedText(en: "there is no file \(path)", zh: "文件 \(path) 不存在"))
        }
        if isDirectory.boolValue {
            throw FeedIssue(
                code: "file_is_directory",
                message: LocalizedText(
                    en: "\(path) is a directory, not a feed file",
                    zh: "\(path) 是目录，不是数据文件"))
        }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw FeedIssue(
                code: "file_unreadable",
                message: LocalizedText(
                    en: "cannot read \(path): permission denied",
                    zh: "无法读取 \(path)：没有权限"))
        }
    }
}
