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
        guard let stream = InputStream(url: url) else { throw FeedIssue.cannotOpen(url, CocoaError(.fileReadUnknown)) }
        try withoutActuallyEscaping(body) { body in
            let delegate = RecordCollector(recordElement: recordElement, body: body)
            let parser = XMLParser(stream: stream)
            parser.delegate = delegate
            parser.shouldResolveExternalEntities = false
            let ok = parser.parse()
            if let stop = delegate.thrown { throw stop }
            if !ok {
                // The record being read when the XML broke may be garbled: it is reported, not used.
                if let held = delegate.held {
                    try body(
                        .unreadable(
                            FeedIssue(
                                code: "malformed_xml",
                                message: LocalizedText(
                                    en: "the record is not well-formed XML", zh: "该记录不是格式正确的 XML"), row: held.number)))
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
            if let held = delegate.held { try body(.row(held)) }
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

private final class RecordCollector: NSObject, XMLParserDelegate {
    let recordElement: String
    let body: (FeedEvent) throws -> Void
    var thrown: (any Error)?
    var sawRoot = false
    var sawRecordElement = false
    /// The last complete record, emitted only once the next one starts or the file ends well:
    /// libxml2 may close a broken record early and hand us half of it.
    var held: RawRow?
    var elementNames: Set<String> = []
    private var cells: [String: String]?
    private var path: [String] = []
    private var text = ""
    private var recordLine = 0

    init(recordElement: String, body: @escaping (FeedEvent) throws -> Void) {
        self.recordElement = recordElement
        self.body = body
    }

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
        qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]
    ) {
        sawRoot = true
        if elementNames.count < 64 { elementNames.insert(elementName) }
        if cells == nil {
            if elementName == recordElement {
                sawRecordElement = true
                cells = [:]
                for (key, value) in attributeDict { cells?["@" + key] = value }
                recordLine = parser.lineNumber
                path = []
            }
            return
        }
        path.append(elementName)
        text = ""
        for (key, value) in attributeDict { cells?[path.joined(separator: "/") + "@" + key] = value }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if cells != nil, !path.isEmpty { text += string }
    }

    func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
        if cells != nil, !path.isEmpty { text += String(decoding: CDATABlock, as: UTF8.self) }
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
        guard cells != nil else { return }
        if path.isEmpty {
            // The record closes.
            let row = RawRow(number: recordLine, cells: cells ?? [:])
            cells = nil
            do {
                if let previous = held { try body(.row(previous)) }
                held = row
            } catch {
                thrown = error
                parser.abortParsing()
            }
            return
        }
        let name = path.joined(separator: "/")
        if cells?[name] == nil || !text.isEmpty { cells?[name] = text }
        path.removeLast()
        text = ""
    }
}
