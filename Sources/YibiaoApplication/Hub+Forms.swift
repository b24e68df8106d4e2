public import Foundation
public import YibiaoCore
import YibiaoAdapters
import YibiaoStore

/// Why a form cannot be filled.
public struct FormError: UserFacingError, Hashable {
    public let code: String
    public let message: LocalizedText
    public let remedy: LocalizedText?
    public var exitCode: Int32 { ExitStatus.config }
}

/// A filled form: where it is, how many residents, and the change-log cursor it stands at.
public struct FilledForm: Sendable, Hashable {
    public var file: URL
    public var rows: Int
    public var blankCells: Int
    public var cursor: Int64
    /// Residents left out because their date of birth cannot tell whether the form's age
    /// range takes them (missing, or only a year that straddles a bound): theirs to add by hand.
    public var undetermined: Int = 0
}

extension Hub {
    /// Writes `spec` filled from the golden records of `community`'s residents, as the form's
    /// consumer may see them (its grant's fields and masks, narrowed to the community): known
    /// values in the department's codes, unknown cells blank and named in a last column, an
    /// "as of" stamp and the change-log cursor above the headers. Audited like an extract.
    public func fillForm(
        _ spec: FormSpec, district: String, community: String, format: FormFormat, to file: URL, actor: String
    ) async throws -> FilledForm {
        let consumer = try await consumers(district).show(client, id: spec.consumer)
        guard consumer.active else {
            throw FormError(
                code: "form_consumer_disabled",
                message: LocalizedText(
                    en: "the form is issued under consumer \(consumer.id), which is disabled", zh: "该表格依据的使用方 \(consumer.id) 已停用"),
                remedy: nil)
        }
        let outside = spec.columns.compactMap { column in column.field.flatMap { consumer.grant.allows($0) ? nil : (column.header, $0) } }
        guard outside.isEmpty else {
            let list = outside.map { "\($0.0) (\($0.1))" }.joined(separator: ", ")
            throw FormError(
                code: "form_field_not_granted",
                message: LocalizedText(
                    en: "columns outside the grant of consumer \(consumer.id): \(list)", zh: "以下列超出使用方 \(consumer.id) 的授权：\(list)"),
                remedy: LocalizedText(
                    en: "leave those columns without `field` (blank, to fill), or extend the consumer's grant",
                    zh: "将这些列的 `field` 去掉（留空待填），或扩大该使用方的授权"))
        }
        guard consumer.grant.covers(community: community) else {
            throw FormError(
                code: "form_community_not_granted",
                message: LocalizedText(
                    en: "consumer \(consumer.id) may not read community \(community)", zh: "使用方 \(consumer.id) 无权读取社区 \(community)"),
                remedy: nil)
        }
        if spec.selection != nil, !consumer.grant.allows("birth_date") || consumer.grant.mask(for: "birth_date") != .none {
            throw FormError(
                code: "form_selection_not_granted",
                message: LocalizedText(
                    en: "the form selects residents by age, but consumer \(consumer.id) may not read birth_date in full",
                    zh: "该表格按年龄选取居民，但使用方 \(consumer.id) 无权读取完整的出生日期"),
                remedy: LocalizedText(en: "grant it birth_date unmasked, or drop `select`", zh: "请为其授权完整的出生日期，或去掉 `select`"))
        }
        var rows: [[String?]] = []
        var blank = 0, undetermined = 0
        let today = CalendarDate.todayInChina()
        // Taken before the snapshot: a change the form shows but made after this is, at worst, a
        // conflict the worker is asked about when the form comes back — never one overwritten unseen.
        let filledAt = Date()
        let reads = ConsumerReads(consumer: consumer.narrowed(toCommunity: community), logger: logger)
        let (_, cursor) = try await reads.extract(client, since: nil, snapshot: { _ in }) { row in
            if let selection = spec.selection {
                switch selection.admits(birthDate: row.fields["birth_date"], on: today) {
                case true?: break
                case false?: return
                case nil:
                    undetermined += 1
                    return
                }
            }
            var cells: [String?] = []
            var toFill: [String] = []
            var held: [(header: String, text: String)] = []
            for column in spec.columns {
                let value = column.field.flatMap { row.fields[$0] }.flatMap { $0.isEmpty ? nil : $0 }
                let text = value.map { column.codes[$0] ?? $0 }
                cells.append(text)
                if text == nil { toFill.append(column.header) }
                if column.field != nil { held.append((column.header, text ?? "")) }
            }
            blank += toFill.count
            rows.append(cells + [toFill.joined(separator: "、"), String(row.id), FormLayout.checkCell(resident: row.id, cells: held)])
        }
        let stamp = ISO8601DateFormatter.string(
            from: filledAt, timeZone: TimeZone(identifier: "Asia/Shanghai")!, formatOptions: [.withInternetDateTime, .withFractionalSeconds])
        let preamble: [[String?]] = [
            ["\(spec.title.zh) \(spec.title.en)"],
            ["填报部门 department: \(spec.department.zh) (\(spec.department.en))", "用途 purpose: \(spec.purpose)", "社区 community: \(community)"]
                + (spec.selection.map { ["年龄 ages: \($0.ageMin.map(String.init) ?? "")–\($0.ageMax.map(String.init) ?? "")"] } ?? []),
            [
                FormLayout.asOfLabel + stamp, FormLayout.cursorLabel + String(cursor), FormLayout.formLabel + spec.id,
                FormLayout.fieldsLabel + Self.compactJSON(Dictionary(uniqueKeysWithValues: spec.columns.compactMap { c in c.field.map { (c.header, $0) } })),
                FormLayout.codesLabel + Self.compactJSON(Dictionary(uniqueKeysWithValues: spec.columns.filter { !$0.codes.isEmpty }.map { ($0.header, $0.codes) })),
            ],
            spec.columns.map(\.header) + [FormLayout.toFillHeader, FormLayout.residentHeader, FormLayout.checkHeader],
        ]
        let temporary = file.deletingLastPathComponent().appendingPathComponent(".\(file.lastPathComponent).partial")
        try? FileManager.default.removeItem(at: temporary)
        do {
            switch format {
            case .xlsx:
                let writer = try XLSXWriter(url: temporary, sheetName: String(spec.title.zh.prefix(31)))
                for row in preamble + rows { try writer.append(row) }
                try writer.finish()
            case .csv:
                // A byte-order mark, for spreadsheet programs.
                let output = try TextOutput(url: temporary)
                try output.write("\u{FEFF}")
                let writer = try CSVWriter(output: output, columns: preamble[0].map { $0 ?? "" })
                for row in preamble.dropFirst() + rows { try writer.append(row) }
                try writer.finish()
            }
            // Personal data: readable by the owner and its group only.
            try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: temporary.path)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
        try await audit(
            district, actor: actor, "form_fill", subject: "form:\(spec.id)", purpose: spec.purpose,
            AuditLog.Detail(
                count: rows.count, fields: spec.columns.compactMap(\.field) + (spec.selection == nil ? [] : ["birth_date"]), through: cursor,
                format: format.rawValue))
        try? FileManager.default.removeItem(at: file)
        try FileManager.default.moveItem(at: temporary, to: file)
        return FilledForm(file: file, rows: rows.count, blankCells: blank, cursor: cursor, undetermined: undetermined)
    }
}

extension Hub {
    /// Sorted keys, no spaces, Chinese as it is: what a person reads in the form's third line.
    static func compactJSON(_ object: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(object)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

public enum FormFormat: String, Sendable, CaseIterable {
    case xlsx, csv
}
