public import Foundation
import YibiaoAdapters
import YibiaoCore

/// A filled form (`yibiao form fill`) that comes back from a community office: only the cells a
/// person changed become entries — told by each row's check code, so without the hub and
/// whatever the hub changed since. Cells in the department's codes are read back through the
/// form's own code list; columns without a field (the office's to fill) are the department's
/// and never sent; a cell emptied is not a value and is counted, not sent.
public struct ReturnedForm: Sendable {
    /// A resident whose cells changed, with the values to enter (checked, canonical).
    public struct Change: Sendable, Hashable {
        public let row: Int
        public let resident: Int64
        public let values: [String: String]
    }

    public let file: URL
    public let formID: String
    /// When the form was filled: a field the hub changed after it is a conflict for the worker.
    public let filledAt: Date
    public let cursor: Int64
    public let changes: [Change]
    public let setAside: [EntrySheet.SetAside]
    /// Rows in which nobody changed a cell of a field.
    public let unchanged: Int
    /// Pre-filled cells emptied: clearing a value is not an entry.
    public let cleared: Int
    public let header: [String]

    /// True when the file's third line carries a filled form's change-log cursor.
    public static func isFilledForm(_ file: URL) -> Bool {
        (try? preamble(file)).map { cells in cells.contains { $0.hasPrefix(FormLayout.cursorLabel) } } ?? false
    }

    /// The third line's cells (read as if it were a header).
    static func preamble(_ file: URL) throws -> [String] {
        var cells: [String] = []
        do {
            try EntrySheet.reader(file, headerRow: FormLayout.preambleRows).read { event in
                if case .header(let names) = event { cells = names }
                throw StopReading()
            }
        } catch is StopReading {}
        return cells
    }

    public static func read(_ file: URL, client: SyncClient, editable: [String]) throws -> ReturnedForm {
        try FeedFile.check(file)
        let line = try preamble(file)
        func value(_ label: String) -> String? { line.first { $0.hasPrefix(label) }.map { String($0.dropFirst(label.count)) } }
        let times = ISO8601DateFormatter()
        times.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let filledAt = value(FormLayout.asOfLabel).flatMap { times.date(from: $0) }
        let cursor = value(FormLayout.cursorLabel).flatMap { Int64($0) }
        let fieldsText = value(FormLayout.fieldsLabel), codesText = value(FormLayout.codesLabel) ?? "{}"
        let fields = fieldsText.flatMap { try? JSONDecoder().decode([String: String].self, from: Data($0.utf8)) }
        let codes = try? JSONDecoder().decode([String: [String: String]].self, from: Data(codesText.utf8))
        guard let filledAt, let cursor, let fields, let codes else {
            throw SyncError(
                .badInput,
                LocalizedText(
                    en: "\(file.lastPathComponent): the form's third line (time, cursor, fields) is missing or altered",
                    zh: "\(file.lastPathComponent)：表格第三行（时间、游标、字段）缺失或被改动"),
                remedy: LocalizedText(en: "send the form as `yibiao form fill` wrote it, with only cells changed", zh: "请发送 `yibiao form fill` 生成的表格，只改单元格内容"))
        }
        // Department label → canonical code, per column.
        let labels = codes.mapValues { map in Dictionary(map.map { ($0.value, $0.key) }) { first, _ in first } }
        var header: [String] = []
        // The columns holding a field, in the order of the row's check code.
        var fieldColumns: [String] = []
        var changes: [Change] = []
        var setAside: [EntrySheet.SetAside] = []
        var unchanged = 0, cleared = 0
        try EntrySheet.reader(file, headerRow: FormLayout.preambleRows + 1).read { event in
            switch event {
            case .header(let names):
                header = names
                fieldColumns = names.filter { fields[$0] != nil }
                for needed in [FormLayout.residentHeader, FormLayout.checkHeader] + fields.keys.sorted() where !names.contains(needed) {
                    throw SyncError(
                        .badInput,
                        LocalizedText(en: "\(file.lastPathComponent): the column “\(needed)” is missing", zh: "\(file.lastPathComponent)：缺少“\(needed)”列"),
                        remedy: LocalizedText(en: "keep the form's columns as they were written", zh: "请保留表格原有的各列"))
                }
            case .row(let raw):
                let cells = raw.cells.mapValues { $0.trimmingCharacters(in: .whitespaces) }
                if cells.values.allSatisfy(\.isEmpty) { return }
                func aside(_ en: String, _ zh: String) { setAside.append(EntrySheet.SetAside(number: raw.number, reasons: [LocalizedText(en: en, zh: zh)], cells: raw.cells)) }
                let codesInRow = FormLayout.fingerprints(inCheckCell: cells[FormLayout.checkHeader] ?? "") ?? []
                guard let resident = cells[FormLayout.residentHeader].flatMap({ Int64($0) }), resident > 0, codesInRow.count == fieldColumns.count else {
                    aside(
                        "the resident or check column is empty or altered: these cells cannot be compared with what was filled",
                        "居民编号或核对码为空或被改动：无法与预填内容比对")
                    return
                }
                var typed: [String: String] = [:]
                var reasons: [LocalizedText] = []
                for (index, column) in fieldColumns.enumerated() {
                    let text = cells[column] ?? ""
                    guard FormLayout.fingerprint(resident: resident, header: column, text: text) != codesInRow[index] else { continue }
                    if text.isEmpty {
                        cleared += 1
                        continue
                    }
                    if text.contains("*") {
                        reasons.append(
                            LocalizedText(
                                en: "\(column): a masked value; type the whole value, or leave the cell as it was filled",
                                zh: "\(column)：为脱敏显示的值；请填写完整的值，或保持原样"))
                        continue
                    }
                    typed[fields[column]!] = labels[column]?[text] ?? text
                }
                let (values, problems) = client.check(typed, editable: editable)
                for (field, problem) in problems.sorted(by: { $0.key < $1.key }) {
                    let column = fieldColumns.first { fields[$0] == field } ?? field
                    reasons.append(LocalizedText(en: "\(column): \(problem.en)", zh: "\(column)：\(problem.zh)"))
                }
                if !reasons.isEmpty {
                    setAside.append(EntrySheet.SetAside(number: raw.number, reasons: reasons, cells: raw.cells))
                } else if values.isEmpty {
                    unchanged += 1
                } else {
                    changes.append(Change(row: raw.number, resident: resident, values: values))
                }
            case .unreadable(let issue):
                setAside.append(EntrySheet.SetAside(number: issue.row ?? 0, reasons: [issue.message], cells: [:]))
            }
        }
        return ReturnedForm(
            file: file, formID: value(FormLayout.formLabel) ?? "", filledAt: filledAt, cursor: cursor, changes: changes, setAside: setAside,
            unchanged: unchanged, cleared: cleared, header: header)
    }
}
