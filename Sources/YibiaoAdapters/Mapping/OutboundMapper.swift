public import Foundation
public import YibiaoCore

/// One person's update for a system: its key for the person and the cells of its outbound
/// columns, in the system's codes and date formats.
public struct OutboundRow: Sendable, Hashable {
    public let sourceKey: String
    /// In `OutboundMapper.columns` order after the key; nil where there is no value to send.
    public let cells: [String?]
}

/// A canonical value the system's codes cannot express: reported, never sent as something else.
public struct OutboundIssue: UserFacingError, Hashable {
    public let system: String
    public let field: String
    public let column: String
    public let code: String
    public let message: LocalizedText
}

/// Canonical values → a system's row, from the adapter's `outbound:` section: the inverse of
/// `RecordMapper`, and the writer for the system's own file format.
public struct OutboundMapper: Sendable {
    public let spec: AdapterSpec
    public let outbound: AdapterSpec.Outbound
    /// The column that carries the system's key for the person.
    public let keyColumn: String

    /// Nil when the adapter has no `outbound:` section or its key is not one column (a
    /// system that cannot name the person in a file cannot receive updates).
    public init?(spec: AdapterSpec) {
        guard let outbound = spec.outbound, case .column(let key) = spec.sourceKey else { return nil }
        self.spec = spec
        self.outbound = outbound
        self.keyColumn = key
    }

    /// The file's columns: the key first, then the outbound columns.
    public var columns: [String] { [keyColumn] + outbound.columns.map(\.column) }

    /// The fields this system receives.
    public var fields: [String] { outbound.columns.map(\.field.qualifiedName) }

    /// The system's row for canonical `values` (qualified field → normalised value).
    public func row(sourceKey: String, values: [String: String]) throws -> OutboundRow {
        OutboundRow(
            sourceKey: sourceKey,
            cells: try outbound.columns.map { column in
                guard let value = values[column.field.qualifiedName], !value.isEmpty else { return nil }
                return try cell(value, column)
            })
    }

    /// An update for a person: the `owed` fields carry the golden value, every other column what
    /// the system holds already (`current`), so that importing the row changes exactly the owed
    /// fields. An owed value the system's codes cannot express is refused and left out, never
    /// sent as something else; a held value that does not map back is left blank.
    public func update(sourceKey: String, current: [String: String], owed: [String: String]) -> (row: OutboundRow, refused: [OutboundIssue]) {
        var refused: [OutboundIssue] = []
        let cells = outbound.columns.map { column -> String? in
            let field = column.field.qualifiedName
            if let value = owed[field], !value.isEmpty {
                do { return try cell(value, column) } catch let issue as OutboundIssue {
                    refused.append(issue)
                } catch {}
            }
            guard let held = current[field], !held.isEmpty else { return nil }
            return try? cell(held, column)
        }
        return (OutboundRow(sourceKey: sourceKey, cells: cells), refused)
    }

    func cell(_ value: String, _ column: AdapterSpec.OutboundColumn) throws -> String {
        let field = column.field.qualifiedName
        if !column.valueMap.isEmpty {
            guard let mapped = column.valueMap[value] else {
                throw OutboundIssue(
                    system: spec.system, field: field, column: column.column, code: "outbound_unmapped_code",
                    message: LocalizedText(
                        en: "\(spec.system) has no code for \(field) value \(value) (column \(column.column))",
                        zh: "\(spec.system) 没有与 \(field) 取值 \(value) 对应的代码（列 \(column.column)）"))
            }
            return mapped
        }
        if let pattern = column.dateFormat {
            // A date known only to the month is written to the month: never an invented day.
            guard let date = PartialDate(iso: value) else {
                throw OutboundIssue(
                    system: spec.system, field: field, column: column.column, code: "outbound_not_a_date",
                    message: LocalizedText(
                        en: "\(field) is not a date, so it cannot be written as \(pattern)",
                        zh: "\(field) 不是日期，无法按 \(pattern) 写出"))
            }
            return date.formatted(pattern)
        }
        return value
    }

    /// A writer for the system's format at `url`, with the header (or root element) written.
    public func writer(_ url: URL) throws -> any RecordWriter {
        switch outbound.format {
        case .csv(let options):
            return try CSVWriter(url: url, columns: columns, encoding: options.encoding, delimiter: Character(Unicode.Scalar(options.delimiter)))
        case .xlsx(let sheet, _):
            let writer = try XLSXWriter(url: url, sheetName: sheet ?? "Sheet1")
            try writer.append(columns)
            return writer
        case .xml(let element):
            return try XMLRecordWriter(url: url, rootElement: element + "列表", recordElement: element, columns: columns)
        case .jsonLines:
            return try JSONLinesWriter(url: url, columns: columns)
        case .json:
            throw OutboundIssue(
                system: spec.system, field: "", column: "", code: "outbound_format_unsupported",
                message: LocalizedText(en: "write-back as a JSON array is not supported; use jsonl", zh: "不支持以 JSON 数组写回；请使用 jsonl"))
        }
    }

    /// Writes rows as one file in the system's format.
    public func write(_ rows: [OutboundRow], to url: URL) throws {
        let writer = try writer(url)
        for row in rows { try writer.append([row.sourceKey] + row.cells) }
        try writer.finish()
    }

    /// The same adapter, reading only what write-back files carry (the key and the outbound
    /// fields), in the outbound format: a delivered file reads back through it.
    public var readBack: AdapterSpec {
        let sent = Set(fields)
        return AdapterSpec(
            fileName: spec.fileName, system: spec.system, name: spec.name, format: outbound.format, sourceKey: spec.sourceKey,
            mappings: spec.mappings.filter { sent.contains($0.field.qualifiedName) }, outbound: outbound)
    }
}
