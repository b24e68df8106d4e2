import Foundation
import YibiaoCore
import YibiaoAdapters

/// The catalogue as Markdown, CSV (UTF-8 with a byte-order mark, for spreadsheet programs) or
/// one self-contained HTML page; column headers in both languages.
public enum DataCatalogPage {
    public enum Format: String, CaseIterable, Sendable {
        case md, csv, html
    }

    static let headers = [
        "字段 field", "名称", "name", "领域 domain", "代码表 code table", "敏感性 sensitivity", "来源系统 held by (records)",
        "回写系统 sent to", "权威来源 owner", "使用方 consumers", "表格 forms", "覆盖率 coverage",
    ]

    static func cells(_ entry: DataCatalog.Entry) -> [String] {
        [
            entry.field, entry.label.zh, entry.label.en, entry.domain, entry.codeTable ?? "", "\(entry.sensitivity.label.zh) · \(entry.sensitivity.label.en)",
            entry.inbound.keys.sorted().map { "\($0) (\(entry.inbound[$0] ?? 0))" }.joined(separator: ", "),
            entry.outbound.joined(separator: ", "), entry.owner, entry.consumers.joined(separator: ", "), entry.forms.joined(separator: ", "),
            String(format: "%.1f %% (%d)", entry.coverage * 100, entry.residentsWithValue),
        ]
    }

    public static func render(_ catalog: DataCatalog, as format: Format) -> String {
        switch format {
        case .md: markdown(catalog)
        case .csv: csv(catalog)
        case .html: html(catalog)
        }
    }

    static func stamp(_ catalog: DataCatalog) -> String {
        let time = ISO8601DateFormatter.string(
            from: catalog.asOf, timeZone: TimeZone(identifier: "Asia/Shanghai")!, formatOptions: [.withInternetDateTime])
        return "区县 district \(catalog.district) · 截至 as of \(time) · 在册居民 active residents \(catalog.activeResidents)"
    }

    static func markdown(_ catalog: DataCatalog) -> String {
        func cell(_ text: String) -> String { text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ") }
        var lines = ["# 数据目录 Data catalogue", "", stamp(catalog), ""]
        lines.append("| " + headers.joined(separator: " | ") + " |")
        lines.append("|" + String(repeating: "---|", count: headers.count))
        for entry in catalog.entries { lines.append("| " + cells(entry).map(cell).joined(separator: " | ") + " |") }
        return lines.joined(separator: "\n") + "\n"
    }

    static func csv(_ catalog: DataCatalog) -> String {
        func field(_ text: String) -> String { CSVWriter.field(text) }
        var rows = [headers.map(field).joined(separator: ",")]
        for entry in catalog.entries { rows.append(cells(entry).map(field).joined(separator: ",")) }
        return "\u{FEFF}" + rows.joined(separator: "\r\n") + "\r\n"
    }

    static func html(_ catalog: DataCatalog) -> String {
        let escape = QualityReportPage.escape
        var table = "<table><thead><tr>" + headers.map { "<th>\(escape($0))</th>" }.joined() + "</tr></thead><tbody>"
        for entry in catalog.entries {
            let row = cells(entry)
            table += "<tr class=\"\(entry.sensitivity.rawValue)\">" + row.map { "<td>\(escape($0))</td>" }.joined() + "</tr>"
        }
        table += "</tbody></table>"
        return """
            <!DOCTYPE html>
            <html lang="zh-CN">
            <head>
            <meta charset="utf-8">
            <title>数据目录 · Data catalogue · \(escape(catalog.district))</title>
            <style>
            body { font-family: "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; margin: 2em; color: #222; }
            table { border-collapse: collapse; font-size: 0.85em; }
            th, td { border: 1px solid #ddd; padding: 0.3em 0.5em; text-align: left; vertical-align: top; }
            th { background: #f4f4f4; }
            tr.sensitive td:nth-child(6) { color: #b8423f; font-weight: bold; }
            </style>
            </head>
            <body>
            <h1>数据目录 <i>Data catalogue</i></h1>
            <p>\(escape(stamp(catalog)))</p>
            \(table)
            </body>
            </html>

            """
    }
}
