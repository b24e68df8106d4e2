import Crypto
import Foundation

/// The layout of a filled form (一表通) that both its writer on the hub and its reader on a
/// worker's machine rely on. Three lines above the table say what it is: the title; the
/// department, purpose and community; the time, the change-log cursor, the form's id, and which
/// canonical field (and which of the department's codes) each column holds. After the form's own
/// columns come the cells still to fill, the resident's id on the hub, and a check code per row
/// — so a form that comes back (`yibiao sync --file`) says, without the hub, which cells a person
/// changed.
public enum FormLayout {
    public static let asOfLabel = "截至 as of: "
    public static let cursorLabel = "变更日志游标 change-log cursor: "
    public static let formLabel = "表格 form: "
    public static let fieldsLabel = "字段 fields: "
    public static let codesLabel = "代码 codes: "
    public static let toFillHeader = "待补充 to fill"
    public static let residentHeader = "居民编号 resident"
    public static let checkHeader = "核对码 check"
    /// Rows above the headers.
    public static let preambleRows = 3

    /// A short code for what a cell held when the form was filled: six hex digits of SHA-256 over
    /// the resident, the column and the text, so equal cells of two residents differ. A changed
    /// cell goes unnoticed once in 16.7 million.
    public static func fingerprint(resident: Int64, header: String, text: String) -> String {
        let digest = SHA256.hash(data: Data("\(resident)\u{1F}\(header)\u{1F}\(text)".utf8))
        return digest.prefix(3).map { String(format: "%02x", $0) }.joined()
    }

    /// The row's check cell: `v1:` and the fingerprints of its field columns, in order,
    /// dot-separated. The prefix keeps spreadsheet programs from reading `012345` or `1e5234` as
    /// a number and rewriting it.
    public static func checkCell(resident: Int64, cells: [(header: String, text: String)]) -> String {
        checkPrefix + cells.map { fingerprint(resident: resident, header: $0.header, text: $0.text) }.joined(separator: ".")
    }

    public static let checkPrefix = "v1:"

    /// The fingerprints of a check cell, or nil when it is not one.
    public static func fingerprints(inCheckCell text: String) -> [String]? {
        guard text.hasPrefix(checkPrefix) else { return nil }
        return text.dropFirst(checkPrefix.count).split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    }

}
