public import Foundation
import YibiaoCore

/// Writes records in one of the feed formats, column by column: the inverse of a reader. Used
/// for write-back files, cross-reference exports and synthetic feeds alike.
public protocol RecordWriter: AnyObject {
    /// One record; cells in the order of the writer's columns, nil for none.
    func append(_ cells: [String?]) throws
    func finish() throws
}

/// CSV with a header row; cells holding the delimiter, a quote or a line break are quoted.
public final class CSVWriter: RecordWriter {
    private let output: TextOutput
    private let delimiter: String
    private let lineEnding: String

    public init(output: TextOutput, columns: [String], delimiter: Character = ",", lineEnding: String = "\r\n") throws {
        self.output = output
        self.delimiter = String(delimiter)
        self.lineEnding = lineEnding
        try append(columns)
    }

    public convenience init(
        url: URL, columns: [String], encoding: TextEncoding = .utf8, delimiter: Character = ",",
        lineEnding: String = "\r\n"
    ) throws {
        try self.init(output: TextOutput(url: url, encoding: encoding), columns: columns, delimiter: delimiter, lineEnding: lineEnding)
    }

    public func append(_ cells: [String?]) throws {
        try output.write(cells.map { quote($0 ?? "") }.joined(separator: delimiter) + lineEnding)
    }

    func quote(_ cell: String) -> String { Self.field(cell, delimiter: delimiter) }

    /// A cell as CSV writes it: quoted (quotes doubled) when it holds the delimiter, a quote or a line break.
    public static func field(_ cell: String, delimiter: String = ",") -> String {
        let special = cell.contains(delimiter) || cell.contains("\"") || cell.contains("\n") || cell.contains("\r")
        return special ? "\"" + cell.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : cell
    }

    public func finish() throws { try output.finish() }
}

/// JSON Lines: one object per record, keys in column order, empty cells left out.
public final class JSONLinesWriter: RecordWriter {
    private let output: TextOutput
    private let columns: [String]

    public init(output: TextOutput, columns: [String]) {
        self.output = output
        self.columns = columns
    }

    public convenience init(url: URL, columns: [String]) throws {
        self.init(output: try TextOutput(url: url), columns: columns)
    }

    public func append(_ cells: [String?]) throws {
        let members = zip(columns, cells).compactMap { column, cell in
            cell.map { CanonicalJSON.string(column).text + ": " + CanonicalJSON.string($0).text }
        }
        try output.write("{" + members.joined(separator: ", ") + "}\n")
    }

    public func finish() throws { try output.finish() }
}

/// XML: one element per record inside a root element; a column named `@name` is an attribute
/// of the record element, any other column a child element.
public final class XMLRecordWriter: RecordWriter {
    private let output: TextOutput
    private let recordElement: String
    private let rootElement: String
    private let columns: [String]

    public init(output: TextOutput, rootElement: String, rootAttributes: [(String, String)] = [], recordElement: String, columns: [String]) throws {
        self.output = output
        self.rootElement = rootElement
        self.recordElement = recordElement
        self.columns = columns
        let attributes = rootAttributes.map { " \($0.0)=\"\(XMLText.escape($0.1))\"" }.joined()
        try output.write("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<\(rootElement)\(attributes)>\n")
    }

    public convenience init(url: URL, rootElement: String, recordElement: String, columns: [String]) throws {
        try self.init(output: TextOutput(url: url), rootElement: rootElement, recordElement: recordElement, columns: columns)
    }

    public func append(_ cells: [String?]) throws {
        var attributes = "", children = ""
        for (column, cell) in zip(columns, cells) {
            guard let cell else { continue }
            if column.hasPrefix("@") {
                attributes += " \(column.dropFirst())=\"\(XMLText.escape(cell))\""
            } else {
                children += "<\(column)>\(XMLText.escape(cell))</\(column)>"
            }
        }
        try output.write("  <\(recordElement)\(attributes)>\(children)</\(recordElement)>\n")
    }

    public func finish() throws {
        try output.write("</\(rootElement)>\n")
        try output.finish()
    }
}
