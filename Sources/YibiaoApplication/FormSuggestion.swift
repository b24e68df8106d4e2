public import Foundation
public import YibiaoAdapters
import YibiaoCore
import YibiaoYAML

/// `yibiao form suggest`: a draft form spec from a department's blank template — its header
/// cells placed on canonical fields by `HeaderMatcher`, each with how sure it is; the headers it
/// could not place stay columns to fill, and are listed.
public struct FormSuggestion: Sendable {
    public struct Column: Sendable, Hashable {
        public var header: String
        public var placement: HeaderMatcher.Placement?
    }

    public var columns: [Column]
    public var unplaced: [String] { columns.filter { $0.placement == nil }.map(\.header) }

    public init(headers: [String], matcher: HeaderMatcher) {
        var taken: Set<String> = []
        columns = headers.map { header in
            // One column per field: a second header naming a field already placed is left to a person.
            guard let placement = matcher.place(header), taken.insert(placement.field).inserted else { return Column(header: header, placement: nil) }
            return Column(header: header, placement: placement)
        }
    }

    /// The header cells of a template (.xlsx, or .csv in UTF-8 or GB18030): its first row.
    public static func headers(of template: URL) throws -> [String] {
        try FeedFile.check(template)
        let reader: any FeedReader
        switch template.pathExtension.lowercased() {
        case "xlsx": reader = XLSXReader(url: template)
        case "csv", "txt":
            var options = CSVReader.Options()
            options.encoding = TextEncoding.guessUTF8OrGB18030(template)
            options.allowShortRows = true
            reader = CSVReader(url: template, options: options)
        default:
            throw FormError(
                code: "form_template_format",
                message: LocalizedText(
                    en: "\(template.lastPathComponent): give the template as .xlsx or .csv", zh: "\(template.lastPathComponent)：模板请使用 .xlsx 或 .csv 文件"),
                remedy: nil)
        }
        var headers: [String] = []
        try reader.read { event in
            if case .header(let names) = event { headers = names }
        }
        return headers.filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
    }

    /// The draft spec, for a person to complete (`title`, `department`, `purpose`, `consumer`).
    public func yaml(id: String) -> String {
        let quoted = YAMLText.quoted
        var lines = [
            "# Drafted by `yibiao form suggest`: check each placement, then fill in the lines marked TODO.",
            "form: \(id)",
            "title: {zh: TODO, en: TODO}",
            "department: {zh: TODO, en: TODO}",
            "purpose: TODO",
            "consumer: TODO  # the consumer whose grant the form is issued under",
            "columns:",
        ]
        for column in columns {
            if let placement = column.placement {
                lines.append(
                    "  - {header: \(quoted(column.header)), field: \(placement.field)}  # \(String(format: "%.2f", placement.confidence)): "
                        + YAMLText.comment("“\(placement.matched)” (\(placement.source))"))
            } else {
                lines.append("  - {header: \(quoted(column.header))}  # not placed: to fill, or give it a field")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
