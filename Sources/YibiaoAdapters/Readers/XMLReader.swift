public import Foundation
#if canImport(FoundationXML)
    import FoundationXML
#endif
import YibiaoCore

/// XML feeds: every `recordElement` is a row; its attributes become `@name` columns and its
/// child elements become columns by name (`parent/child` for deeper ones). Streamed through
/// libxml2's push parser (Foundation's `XMLParser(stream:)`).
public struct XMLReader: FeedReader {
    public let url: URL
    public let recordElement: String

    public init(url: URL, recordElement: String) {
        self.url = url
        self.recordElement = recordElement
    }

    public func read(_ body: (FeedEvent) throws -> Void) throws {
        let attributes = try? FileManager.default.attributesOfItem(atPath: url.path)
        guard let size = attributes?[.size] as? Int else {
            throw FeedIssue.cannotOpen(url, CocoaError(.fileReadNoSuchFile))
        }
        if size == 0 { throw FeedIssue.emptyFile(url) }
        guard let stream = SanitizedUTF8Stream(file: url) else { throw FeedIssue.cannotOpen(url, CocoaError(.fileReadUnknown)) }
        try withoutActuallyEscaping(body) { body in
            let delegate = RecordCollector(recordElement: recordElement, body: body)
            let parser = XMLParser(stream: stream)
            parser.delegate = delegate
            parser.shouldResolveExternalEntities = false
            let ok = parser.parse()
            if let stop = delegate.thrown { throw stop }
            if stream.declaresEntities {
                throw FeedIssue(
                    code: "xml_entities_declared",
                    message: LocalizedText(
                        en: "\(url.lastPathComponent) declares its own XML entities (<!ENTITY …>), which are not expanded: their text would be lost",
                        zh: "\(url.lastPathComponent) 自行声明了 XML 实体（<!ENTITY …>），这些实体不会被展开，其文字会丢失"))
            }
            if !ok {
                // The record being read when the XML broke may be garbled: it is reported, not used.
                if let held = delegate.held {
                    try body(
                        .unreadable(
                            FeedIssue(
                                code: "malformed_xml",
                                message: LocalizedText(en: "the record is not well-formed XML", zh: "该记录不是格式正确的 XML"),
                                row: held.row)))
                }
                let line = parser.lineNumber
                let column = parser.columnNumber
                let reason = parser.parserError.map { "\($0.localizedDescription)" } ?? "malformed XML"
                throw FeedIssue(
                    code: "malformed_xml",
                    message: LocalizedText(
                        en: "\(url.lastPathComponent) is not well-formed XML at line \(line), column \(column) (\(reason)); rows before it were read",
                        zh: "\(url.lastPathComponent) 在第 \(line) 行第 \(column) 列不是格式正确的 XML（\(reason)）；此前的行已读取"), row: line)
            }
            if let held = delegate.held { try body(held.event) }
            if delegate.openElements > 0 {
                // The file ends inside an element: cut off. The record it ends in is set aside.
                if let cut = delegate.openRecordLine {
                    try body(
                        .unreadable(
                            FeedIssue(
                                code: "record_cut_off",
                                message: LocalizedText(en: "the file ends inside this record", zh: "文件在该记录中途结束"), row: cut)))
                }
                throw FeedIssue(
                    code: "file_truncated",
                    message: LocalizedText(
                        en: "\(url.lastPathComponent) ends before its XML is complete (\(delegate.openElements) elements still open): the file is cut off; rows before it were read",
                        zh: "\(url.lastPathComponent) 的 XML 尚未结束文件就已终止（仍有 \(delegate.openElements) 个元素未闭合）：文件不完整；此前的行已读取"))
            }
            if !delegate.sawRecordElement, delegate.sawRoot {
                // Not an error: an export with no records. But a wrong element name is likelier.
                if delegate.elementNames.isEmpty == false, !delegate.elementNames.contains(recordElement) {
                    throw FeedIssue(
                        code: "record_element_not_found",
                        message: LocalizedText(
                            en: "\(url.lastPathComponent) has no <\(recordElement)> elements; it has: \(delegate.elementNames.sorted().prefix(8).joined(separator: ", "))",
                            zh: "\(url.lastPathComponent) 中没有 <\(recordElement)> 元素；现有元素：\(delegate.elementNames.sorted().prefix(8).joined(separator: "、"))"))
                }
            }
        }
    }
}

/// Limits on one XML record; beyond them the record is quarantined (adapters/README.md).
public enum XMLLimits {
    /// Elements nested inside one record.
    public static let depth = 32
    /// Columns (elements and attributes) of one record.
    public static let cells = 1_000
}

/// One record's outcome, held until the next record starts or the file ends well.
private struct HeldRecord {
    let row: Int
    let event: FeedEvent
}

private final class RecordCollector: NSObject, XMLParserDelegate {
    let recordElement: String
    let body: (FeedEvent) throws -> Void
    var thrown: (any Error)?
    var sawRoot = false
    var sawRecordElement = false
    /// Elements opened and not yet closed, in the whole document: not 0 at the end means cut off.
    var openElements = 0
    /// The last complete record, emitted only once the next one starts or the file ends well:
    /// libxml2 may close a broken record early and hand us half of it.
    var held: HeldRecord?
    var elementNames: Set<String> = []
    private var cells: [String: String]?
    private var path: [String] = []
    /// Elements below the depth limit are counted, not kept.
    private var ignoredDepth = 0
    private var text = ""
    private var recordLine = 0
    /// Why the record being read cannot be used, with the column.
    private var problem: (code: String, message: LocalizedText, column: String?)?

    var openRecordLine: Int? { cells == nil ? nil : recordLine }

    init(recordElement: String, body: @escaping (FeedEvent) throws -> Void) {
        self.recordElement = recordElement
        self.body = body
    }

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
        qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]
    ) {
        sawRoot = true
        openElements += 1
        if elementNames.count < 64 { elementNames.insert(elementName) }
        if cells == nil {
            if elementName == recordElement {
                sawRecordElement = true
                cells = [:]
                problem = nil
                for (key, value) in attributeDict { cells?["@" + key] = value }
                recordLine = parser.lineNumber
                path = []
            }
            return
        }
        if ignoredDepth > 0 || path.count >= XMLLimits.depth {
            ignoredDepth += 1
            if problem == nil {
                problem = (
                    "xml_too_deep",
                    LocalizedText(
                        en: "the record nests elements more than \(XMLLimits.depth) deep",
                        zh: "该记录的元素嵌套超过 \(XMLLimits.depth) 层"), nil
                )
            }
            return
        }
        path.append(elementName)
        text = ""
        for (key, value) in attributeDict { cells?[path.joined(separator: "/") + "@" + key] = value }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if cells != nil, !path.isEmpty, ignoredDepth == 0 { text += string }
    }

    func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
        if cells != nil, !path.isEmpty, ignoredDepth == 0 { text += String(decoding: CDATABlock, as: UTF8.self) }
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
        openElements -= 1
        guard cells != nil else { return }
        if ignoredDepth > 0 {
            ignoredDepth -= 1
            return
        }
        if path.isEmpty {
            // The record closes.
            let record = HeldRecord(row: recordLine, event: outcome())
            cells = nil
            do {
                if let previous = held { try body(previous.event) }
                held = record
            } catch {
                thrown = error
                parser.abortParsing()
            }
            return
        }
        let name = path.joined(separator: "/")
        if cells?[name] == nil || !text.isEmpty { cells?[name] = text }
        if (cells?.count ?? 0) > XMLLimits.cells, problem == nil {
            problem = (
                "too_many_columns",
                LocalizedText(en: "the record has more than \(XMLLimits.cells) columns", zh: "该记录超过 \(XMLLimits.cells) 列"), nil
            )
        }
        path.removeLast()
        text = ""
    }

    /// The closed record as a row, or as the reason it cannot be one.
    private func outcome() -> FeedEvent {
        let cells = cells ?? [:]
        if problem == nil, let bad = cells.first(where: { $0.key.unicodeScalars.contains("\u{FFFD}") || $0.value.unicodeScalars.contains("\u{FFFD}") }) {
            problem = (
                "invalid_utf8",
                LocalizedText(en: "the record contains bytes that are not valid UTF-8", zh: "该记录含有不是有效 UTF-8 的字节"),
                bad.key.unicodeScalars.contains("\u{FFFD}") ? nil : bad.key
            )
        }
        if let problem {
            return .unreadable(FeedIssue(code: problem.code, message: problem.message, row: recordLine, column: problem.column))
        }
        return .row(RawRow(number: recordLine, cells: cells))
    }
}
