public import Foundation
import YibiaoCore

/// RFC 4180 CSV, streamed in 1 MiB chunks: quoted fields with doubled quotes and line breaks,
/// any line ending, UTF-8 with or without BOM, GB18030 and GBK. Splitting happens on bytes
/// (the delimiter, quote and line breaks cannot be trail bytes of a GB character) and each
/// field is decoded on its own, so one bad byte costs one row, not the file.
public struct CSVReader: FeedReader {
    public struct Options: Sendable, Hashable {
        public var encoding: TextEncoding = .utf8
        public var delimiter: UInt8 = UInt8(ascii: ",")
        public var quote: UInt8 = UInt8(ascii: "\"")
        /// The record that holds the column names (1-based); earlier records are skipped.
        public var headerRow: Int = 1
        /// Pad rows with fewer cells than the header instead of quarantining them.
        public var allowShortRows: Bool = false

        public init() {}
    }

    public let url: URL
    public let options: Options

    public init(url: URL, options: Options = Options()) {
        self.url = url
        self.options = options
    }

    public func read(_ body: (FeedEvent) throws -> Void) throws {
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw FeedIssue.cannotOpen(url, CocoaError(.fileReadNoSuchFile))
        }
        defer { try? handle.close() }
        var parser = CSVByteParser(delimiter: options.delimiter, quote: options.quote)
        var assembler = RecordAssembler(url: url, options: options, decoder: TextDecoder(options.encoding))
        var first = true
        var sawAnyByte = false
        while true {
            let chunk: Data
            do {
                chunk = try handle.read(upToCount: 1 << 20) ?? Data()
            } catch {
                throw FeedIssue.cannotOpen(url, error)
            }
            if chunk.isEmpty { break }
            sawAnyByte = true
            var bytes = [UInt8](chunk)
            if first {
                first = false
                if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
                    guard options.encoding == .utf8 else {
                        throw FeedIssue.fileError(
                            "encoding_mismatch",
                            en: "\(url.lastPathComponent) starts with a UTF-8 byte order mark, but the adapter declares \(options.encoding.rawValue): set `encoding: utf-8`",
                            zh: "\(url.lastPathComponent) 以 UTF-8 BOM 开头，但适配器声明的编码是 \(options.encoding.rawValue)：请设置 `encoding: utf-8`")
                    }
                    bytes.removeFirst(3)
                }
            }
            try parser.feed(bytes) { try assembler.accept($0, body) }
        }
        guard sawAnyByte else { throw FeedIssue.emptyFile(url) }
        try parser.finish { try assembler.accept($0, body) }
        if parser.unterminatedQuoteLine != nil || !assembler.sawHeader {
            if let line = parser.unterminatedQuoteLine {
                try body(
                    .unreadable(
                        FeedIssue(
                            code: "unterminated_quote",
                            message: LocalizedText(
                                en: "a quoted field opened on line \(line) is never closed: the rest of the file was read as one cell",
                                zh: "第 \(line) 行开始的带引号字段没有结束引号：文件其余部分被当成了一个单元格"), row: line)))
            }
            if !assembler.sawHeader { throw FeedIssue.emptyFile(url) }
        }
    }
}

/// One CSV record as byte fields, with the line it starts on.
struct ByteRecord {
    var fields: [ArraySlice<UInt8>]
    var line: Int
}

/// The byte-level state machine.
struct CSVByteParser {
    let delimiter: UInt8
    let quote: UInt8
    private var fieldBuffer: [UInt8] = []
    private var record: [ArraySlice<UInt8>] = []
    private var inQuotes = false
    private var fieldWasQuoted = false
    private var quotePending = false // a quote inside a quoted field: closing, or the first of ""
    private var lastWasCR = false
    private var line = 1
    private var recordLine = 1
    private var atRecordStart = true
    private(set) var unterminatedQuoteLine: Int?

    init(delimiter: UInt8, quote: UInt8) {
        self.delimiter = delimiter
        self.quote = quote
    }

    mutating func feed(_ bytes: [UInt8], _ emit: (ByteRecord) throws -> Void) throws {
        for byte in bytes {
            if atRecordStart {
                atRecordStart = false
                recordLine = line
                if byte == 0x0A, lastWasCR { // the LF of a CRLF
                    lastWasCR = false
                    atRecordStart = true
                    continue
                }
            }
            if inQuotes {
                if quotePending {
                    quotePending = false
                    if byte == quote {
                        fieldBuffer.append(quote)
                        continue
                    }
                    inQuotes = false // the quote closed the field; fall through to handle the byte
                } else if byte == quote {
                    quotePending = true
                    continue
                } else {
                    if byte == 0x0A { line += 1 } else if byte == 0x0D { line += 1 }
                    fieldBuffer.append(byte)
                    continue
                }
            }
            lastWasCR = false
            switch byte {
            case delimiter:
                endField()
            case 0x0A, 0x0D:
                lastWasCR = byte == 0x0D
                line += 1
                endField()
                try emit(ByteRecord(fields: record, line: recordLine))
                record.removeAll(keepingCapacity: true)
                atRecordStart = true
            case quote where fieldBuffer.isEmpty && !fieldWasQuoted:
                inQuotes = true
                fieldWasQuoted = true
            default:
                fieldBuffer.append(byte)
            }
        }
    }

    mutating func finish(_ emit: (ByteRecord) throws -> Void) throws {
        if inQuotes && !quotePending {
            unterminatedQuoteLine = recordLine
            fieldBuffer.removeAll()
            record.removeAll()
            return
        }
        inQuotes = false
        quotePending = false
        if !atRecordStart {
            endField()
            try emit(ByteRecord(fields: record, line: recordLine))
        }
    }

    private mutating func endField() {
        record.append(ArraySlice(fieldBuffer))
        fieldBuffer.removeAll(keepingCapacity: true)
        fieldWasQuoted = false
    }
}

/// Turns byte records into rows: header, decoding, ragged-row checks.
struct RecordAssembler {
    let url: URL
    let options: CSVReader.Options
    let decoder: TextDecoder
    private var recordIndex = 0
    private var header: [String] = []
    private var columns = ColumnNames([])
    private(set) var sawHeader = false

    init(url: URL, options: CSVReader.Options, decoder: TextDecoder) {
        self.url = url
        self.options = options
        self.decoder = decoder
    }

    mutating func accept(_ record: ByteRecord, _ body: (FeedEvent) throws -> Void) throws {
        recordIndex += 1
        if recordIndex < options.headerRow { return }
        if recordIndex == options.headerRow {
            header = try record.fields.enumerated().map { index, bytes in
                guard let name = decoder.decode(bytes) else {
                    throw FeedIssue(
                        code: "invalid_encoding",
                        message: LocalizedText(
                            en: "the header cell \(index + 1) is not valid \(options.encoding.rawValue)",
                            zh: "表头第 \(index + 1) 列不是有效的 \(options.encoding.rawValue) 编码"), row: record.line)
                }
                return name.trimmingCharacters(in: .whitespaces)
            }
            var seen: Set<String> = []
            for name in header where !seen.insert(name).inserted {
                throw FeedIssue(
                    code: "duplicate_column",
                    message: LocalizedText(
                        en: "the header names the column \(name) twice", zh: "表头中列名 \(name) 出现了两次"), row: record.line, column: name)
            }
            sawHeader = true
            columns = ColumnNames(header)
            try body(.header(header))
            return
        }
        // A blank line is not a row.
        if record.fields.count == 1, record.fields[0].isEmpty { return }
        if record.fields.count != header.count, !(options.allowShortRows && record.fields.count < header.count) {
            try body(
                .unreadable(
                    FeedIssue(
                        code: "ragged_row",
                        message: LocalizedText(
                            en: "the row has \(record.fields.count) cells but the header has \(header.count)",
                            zh: "该行有 \(record.fields.count) 个单元格，而表头有 \(header.count) 列"),
                        row: record.line,
                        value: record.fields.map { decoder.decode($0) ?? FeedIssue.escapedBytes($0) }
                            .joined(separator: String(UnicodeScalar(options.delimiter))))))
            return
        }
        var values: [String?] = []
        values.reserveCapacity(header.count)
        for (index, name) in header.enumerated() {
            guard index < record.fields.count else {
                values.append("")
                continue
            }
            guard let text = decoder.decode(record.fields[index]) else {
                try body(
                    .unreadable(
                        FeedIssue(
                            code: "invalid_encoding",
                            message: LocalizedText(
                                en: "the cell is not valid \(options.encoding.rawValue) text",
                                zh: "该单元格不是有效的 \(options.encoding.rawValue) 文本"),
                            row: record.line, column: name, value: FeedIssue.escapedBytes(record.fields[index]))))
                return
            }
            values.append(text)
        }
        try body(.row(RawRow(number: record.line, columns: columns, values: values)))
    }
}
