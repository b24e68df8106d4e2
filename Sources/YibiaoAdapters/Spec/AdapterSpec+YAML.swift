public import Foundation
import YibiaoCore
import Yams
import Crypto
import YibiaoYAML

extension AdapterSpec {
    /// Reads and checks an adapter file. Every mistake names the line and key and says what to do.
    public static func load(_ url: URL) throws -> AdapterSpec {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw SpecFileError(
                .adapter, fileName: url.lastPathComponent,
                problem: LocalizedText(en: "cannot read the file: \(error.localizedDescription)", zh: "无法读取文件：\(error.localizedDescription)"))
        }
        return try parse(text, fileName: url.lastPathComponent)
    }

    public static func parse(_ text: String, fileName: String) throws -> AdapterSpec {
        let yaml = YAMLWalker(fileName: fileName, kind: .adapter)
        let root = try yaml.root(
            of: text,
            emptyFix: LocalizedText(
                en: "start from one of the shipped adapters in adapters/",
                zh: "请参照 adapters/ 中自带的适配器编写"))
        var spec = try SpecParser(yaml: yaml).spec(root)
        spec.sourceSHA256 = SHA256.hash(data: Data(text.utf8)).hexString
        spec.sourceText = text
        return spec
    }
}

/// Walks the YAML tree with positions; unknown keys are errors with a suggestion.
private struct SpecParser {
    let yaml: YAMLWalker

    var fileName: String { yaml.fileName }

    func spec(_ root: Node) throws -> AdapterSpec {
        var system: String?
        var name: LocalizedText?
        var format: AdapterSpec.Format?
        var sourceKey: AdapterSpec.Source?
        var mappings: [AdapterSpec.FieldMapping] = []
        var outbound: AdapterSpec.Outbound?
        for (key, keyNode, value) in try yaml.entries(root, path: "", allowed: ["system", "name", "format", "source_key", "fields", "facets", "outbound"]) {
            switch key {
            case "system":
                let id = try yaml.string(value, key: key)
                guard id.range(of: "^[a-z][a-z0-9_]{1,62}$", options: .regularExpression) != nil else {
                    throw yaml.fail(
                        value, key: key, en: "a system id is lower-case letters, digits and _ (e.g. civil_affairs)",
                        zh: "系统标识只能由小写字母、数字和下划线组成（如 civil_affairs）")
                }
                system = id
            case "name":
                let names = try yaml.stringMap(value, key: key)
                guard let zh = names["zh"], let en = names["en"] else {
                    throw yaml.fail(value, key: key, en: "give the name in both languages: {zh: …, en: …}", zh: "请同时给出中英文名称：{zh: …, en: …}")
                }
                name = LocalizedText(en: en, zh: zh)
            case "format":
                format = try self.format(value)
            case "source_key":
                sourceKey = try source(value, key: key)
            case "fields":
                for (fieldName, fieldKey, mapping) in try yaml.entries(value, path: key, allowed: []) {
                    mappings.append(try fieldMapping(fieldName, domain: .core, keyNode: fieldKey, value: mapping))
                }
            case "facets":
                let domains = CanonicalField.Domain.allCases.filter { $0 != .core }.map(\.rawValue)
                for (domainName, _, fields) in try yaml.entries(value, path: key, allowed: domains) {
                    let domain = CanonicalField.Domain(rawValue: domainName)!
                    for (fieldName, fieldKey, mapping) in try yaml.entries(fields, path: "facets.\(domainName)", allowed: []) {
                        mappings.append(try fieldMapping(fieldName, domain: domain, keyNode: fieldKey, value: mapping))
                    }
                }
            case "outbound":
                outbound = try self.outbound(value)
            default:
                _ = keyNode
            }
        }
        func missing(_ key: String, _ example: String) -> AdapterSpecError {
            yaml.fail(
                root, key: key, en: "the required key `\(key)` is missing", zh: "缺少必需的键 `\(key)`",
                fixEN: "add e.g. `\(example)`", fixZH: "请添加，例如 `\(example)`")
        }
        guard let system else { throw missing("system", "system: civil_affairs") }
        guard let format else { throw missing("format", "format: {type: csv, encoding: gb18030}") }
        guard let sourceKey else { throw missing("source_key", "source_key: 个人编号") }
        if mappings.isEmpty { throw missing("fields", "fields: {name: {column: 姓名}}") }
        var seen: Set<String> = []
        for mapping in mappings where !seen.insert(mapping.field.qualifiedName).inserted {
            throw SpecFileError(
                .adapter, fileName: fileName, line: mapping.line, key: mapping.field.qualifiedName,
                problem: LocalizedText(en: "the field is mapped twice", zh: "该字段被映射了两次"))
        }
        // A system only ever receives fields it already holds (DESIGN.md, write-back).
        for column in outbound?.columns ?? [] where !seen.contains(column.field.qualifiedName) {
            throw yaml.fail(
                root, key: "outbound.columns.\(column.column)",
                en: "`\(column.field.qualifiedName)` would be sent to \(system), which does not hold it (it is not mapped under fields or facets)",
                zh: "`\(column.field.qualifiedName)` 将被写回 \(system)，但该系统并不持有此字段（fields 或 facets 中没有映射）",
                fixEN: "remove the column, or map the field inbound first", fixZH: "请删除该列，或先在入站映射中加入该字段")
        }
        return AdapterSpec(
            fileName: fileName, system: system, name: name ?? LocalizedText(en: system, zh: system),
            format: format, sourceKey: sourceKey, mappings: mappings, outbound: outbound)
    }

    func format(_ node: Node) throws -> AdapterSpec.Format {
        let allowed = ["type", "encoding", "delimiter", "quote", "header_row", "allow_short_rows", "sheet", "record_element", "json_path"]
        let items = try yaml.entries(node, path: "format", allowed: allowed)
        var values: [String: (Node, String)] = [:]
        for (key, _, value) in items { values[key] = (value, try yaml.string(value, key: "format.\(key)")) }
        guard let (typeNode, type) = values["type"] else {
            throw yaml.fail(node, key: "format.type", en: "say which format: csv, xlsx, xml, jsonl or json", zh: "请指明格式：csv、xlsx、xml、jsonl 或 json")
        }
        let headerRow = try values["header_row"].map { try yaml.int($0.0, key: "format.header_row") } ?? 1
        if headerRow < 1 { throw yaml.fail(values["header_row"]?.0, key: "format.header_row", en: "the header row is 1 or more", zh: "表头行号应不小于 1") }
        switch type {
        case "csv":
            var options = CSVReader.Options()
            options.headerRow = headerRow
            if let (encodingNode, encoding) = values["encoding"] {
                guard let value = TextEncoding(name: encoding) else {
                    throw yaml.fail(
                        encodingNode, key: "format.encoding", en: "unknown encoding \(encoding)", zh: "未知的编码 \(encoding)",
                        fixEN: "use utf-8, gb18030 or gbk", fixZH: "请使用 utf-8、gb18030 或 gbk")
                }
                options.encoding = value
            }
            for (key, defaultValue) in [("delimiter", options.delimiter), ("quote", options.quote)] {
                guard let (valueNode, text) = values[key] else { continue }
                let resolved = text == "\\t" ? "\t" : text
                guard resolved.utf8.count == 1, let byte = resolved.utf8.first, byte < 0x80 else {
                    throw yaml.fail(valueNode, key: "format.\(key)", en: "the \(key) is one ASCII character", zh: "\(key) 应为一个 ASCII 字符")
                }
                if options.encoding.canBeTrailByte(byte) {
                    throw yaml.fail(
                        valueNode, key: "format.\(key)", en: "`\(resolved)` can be part of a \(options.encoding.rawValue) character, so it cannot separate cells",
                        zh: "`\(resolved)` 可能是 \(options.encoding.rawValue) 字符的一部分，不能用作分隔符",
                        fixEN: "use , ; or a tab, or convert the file to UTF-8", fixZH: "请使用 , ; 或制表符，或将文件转为 UTF-8")
                }
                if key == "delimiter" { options.delimiter = byte } else { options.quote = byte }
                _ = defaultValue
            }
            if let (flagNode, _) = values["allow_short_rows"] { options.allowShortRows = try yaml.bool(flagNode, key: "format.allow_short_rows") }
            return .csv(options)
        case "xlsx":
            return .xlsx(sheet: values["sheet"]?.1, headerRow: headerRow)
        case "xml":
            guard let element = values["record_element"]?.1 else {
                throw yaml.fail(
                    node, key: "format.record_element", en: "an XML feed needs `record_element`: the element of one record",
                    zh: "XML 数据需要 `record_element`：表示一条记录的元素名")
            }
            return .xml(recordElement: element)
        case "jsonl":
            return .jsonLines
        case "json":
            let path = values["json_path"]?.1 ?? ""
            return .json(path: path.isEmpty || path == "$" ? [] : path.split(separator: ".").map(String.init))
        default:
            let hint = Suggestion.nearest(to: type, in: ["csv", "xlsx", "xml", "jsonl", "json"])
            throw yaml.fail(
                typeNode, key: "format.type", en: "unknown format \(type)", zh: "未知的格式 \(type)",
                fixEN: hint.map { "did you mean \($0)?" } ?? "use csv, xlsx, xml, jsonl or json",
                fixZH: hint.map { "是否应为 \($0)？" } ?? "请使用 csv、xlsx、xml、jsonl 或 json")
        }
    }

    /// `列名`, `{column: 列名}`, `{concat: [a, b], separator: " "}`, `{split: 列名, separator: "/", index: 0}`, `{constant: x}`.
    /// A column's name: never empty (an empty `source_key:` would key every row on nothing).
    func column(_ node: Node, key: String) throws -> String {
        let name = try yaml.string(node, key: key)
        guard !name.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw yaml.fail(
                node, key: key, en: "the column name is empty", zh: "列名为空",
                fixEN: "write the column's name as it stands in the feed's header, e.g. `\(key): 人员编号`",
                fixZH: "请写出数据文件表头中的列名，例如 `\(key): 人员编号`")
        }
        return name
    }

    func source(_ node: Node, key: String) throws -> AdapterSpec.Source {
        if case .scalar = node { return .column(try column(node, key: key)) }
        let items = try yaml.entries(node, path: key, allowed: ["column", "concat", "separator", "split", "index", "constant"])
        var values: [String: Node] = [:]
        for (name, _, value) in items { values[name] = value }
        return try source(values, node: node, key: key)
    }

    func source(_ values: [String: Node], node: Node, key: String) throws -> AdapterSpec.Source {
        if let node = values["column"] { return .column(try column(node, key: "\(key).column")) }
        if let concat = values["concat"] {
            guard let parts = concat.sequence?.map({ $0.string ?? "" }), !parts.isEmpty else {
                throw yaml.fail(concat, key: "\(key).concat", en: "concat takes a list of columns: [省, 市, 区]", zh: "concat 的值应为列名列表：[省, 市, 区]")
            }
            return .concat(parts, separator: try values["separator"].map { try yaml.string($0, key: "\(key).separator") } ?? "")
        }
        if let split = values["split"] {
            guard let separator = try values["separator"].map({ try yaml.string($0, key: "\(key).separator") }), !separator.isEmpty else {
                throw yaml.fail(split, key: "\(key).separator", en: "split needs a separator", zh: "split 需要 separator")
            }
            return .split(
                try yaml.string(split, key: "\(key).split"), separator: separator,
                index: try values["index"].map { try yaml.int($0, key: "\(key).index") } ?? 0)
        }
        if let constant = values["constant"] { return .constant(try yaml.string(constant, key: "\(key).constant")) }
        throw yaml.fail(
            node, key: key, en: "say where the value comes from: column, concat, split or constant",
            zh: "请指明取值来源：column、concat、split 或 constant")
    }

    func fieldMapping(_ name: String, domain: CanonicalField.Domain, keyNode: Node, value: Node) throws -> AdapterSpec.FieldMapping {
        let qualified = domain == .core ? name : "\(domain.rawValue).\(name)"
        guard let field = CanonicalField.named(qualified) else {
            let candidates = CanonicalField.fields(in: domain).map(\.name)
            let hint = Suggestion.nearest(to: name, in: candidates)
            let place = domain == .core ? "fields" : "facets.\(domain.rawValue)"
            throw yaml.fail(
                keyNode, key: "\(place).\(name)", en: "`\(name)` is not a canonical field of \(domain.rawValue)",
                zh: "`\(name)` 不是 \(domain.rawValue) 的规范字段",
                fixEN: hint.map { "did you mean `\($0)`?" } ?? "known fields: \(candidates.joined(separator: ", "))",
                fixZH: hint.map { "是否应为 `\($0)`？" } ?? "可用字段：\(candidates.joined(separator: "、"))")
        }
        let key = domain == .core ? "fields.\(name)" : "facets.\(domain.rawValue).\(name)"
        if case .scalar = value {
            return .init(
                field: field, source: .column(try column(value, key: key)), valueMap: [:], defaultValue: nil,
                required: false, line: keyNode.mark?.line ?? 0)
        }
        let items = try yaml.entries(
            value, path: key, allowed: ["column", "concat", "separator", "split", "index", "constant", "map", "default", "required", "excel_serial"])
        var values: [String: Node] = [:]
        for (itemKey, _, itemValue) in items { values[itemKey] = itemValue }
        let valueMap = try values["map"].map { try yaml.stringMap($0, key: "\(key).map") } ?? [:]
        if case .code(let table) = field.kind, let shipped = CodeTable.shipped[table] {
            for (raw, target) in valueMap where shipped.lookup(target) == nil {
                throw yaml.fail(
                    values["map"], key: "\(key).map.\(raw)", en: "\(target) is not a code of \(table)", zh: "\(target) 不是代码表 \(table) 中的代码",
                    fixEN: "codes: \(shipped.entries.map(\.code).joined(separator: ", "))",
                    fixZH: "可用代码：\(shipped.entries.map(\.code).joined(separator: "、"))")
            }
        }
        let excelSerials = try values["excel_serial"].map { try yaml.bool($0, key: "\(key).excel_serial") } ?? false
        if excelSerials, field.kind != .date {
            throw yaml.fail(
                values["excel_serial"], key: "\(key).excel_serial", en: "`excel_serial` applies to date fields only",
                zh: "`excel_serial` 仅适用于日期字段", fixEN: "remove it from \(name)", fixZH: "请从 \(name) 中删除")
        }
        return .init(
            field: field, source: try source(values, node: value, key: key), valueMap: valueMap,
            defaultValue: try values["default"].map { try yaml.string($0, key: "\(key).default") },
            required: try values["required"].map { try yaml.bool($0, key: "\(key).required") } ?? false,
            excelSerials: excelSerials, line: keyNode.mark?.line ?? 0)
    }

    func outbound(_ node: Node) throws -> AdapterSpec.Outbound {
        var format: AdapterSpec.Format?
        var columns: [AdapterSpec.OutboundColumn] = []
        var send = AdapterSpec.SendMode.all
        var endpoint: URL?
        var maxAttempts = 8
        var newResidents = false
        for (key, _, value) in try yaml.entries(node, path: "outbound", allowed: ["format", "columns", "send", "http", "max_attempts", "new_residents"]) {
            switch key {
            case "format": format = try self.format(value)
            case "send":
                let text = try yaml.string(value, key: "outbound.send")
                guard let mode = AdapterSpec.SendMode(rawValue: text) else {
                    throw yaml.fail(value, key: "outbound.send", en: "send is `all` or `entries_only`", zh: "send 只能是 `all` 或 `entries_only`")
                }
                send = mode
            case "http":
                var url: String?
                for (httpKey, _, httpValue) in try yaml.entries(value, path: "outbound.http", allowed: ["url"]) where httpKey == "url" {
                    url = try yaml.string(httpValue, key: "outbound.http.url")
                }
                guard let url, let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
                    throw yaml.fail(
                        value, key: "outbound.http.url", en: "http needs a url such as https://host/path", zh: "http 需要 url，例如 https://host/path")
                }
                endpoint = parsed
            case "max_attempts":
                guard let number = Int(try yaml.string(value, key: "outbound.max_attempts")), (1...100).contains(number) else {
                    throw yaml.fail(value, key: "outbound.max_attempts", en: "max_attempts is a number from 1 to 100", zh: "max_attempts 应为 1 到 100 之间的数")
                }
                maxAttempts = number
            case "new_residents":
                newResidents = try yaml.bool(value, key: "outbound.new_residents")
            default:
                guard let list = value.sequence else {
                    throw yaml.fail(value, key: "outbound.columns", en: "columns is a list: - {column: 姓名, field: name}", zh: "columns 应为列表：- {column: 姓名, field: name}")
                }
                for item in list {
                    var values: [String: Node] = [:]
                    for (itemKey, _, itemValue) in try yaml.entries(item, path: "outbound.columns", allowed: ["column", "field", "map", "date_format"]) {
                        values[itemKey] = itemValue
                    }
                    guard let columnNode = values["column"], let fieldNode = values["field"] else {
                        throw yaml.fail(item, key: "outbound.columns", en: "each column needs `column` and `field`", zh: "每一列都需要 `column` 和 `field`")
                    }
                    let fieldName = try yaml.string(fieldNode, key: "outbound.columns.field")
                    guard let field = CanonicalField.named(fieldName) else {
                        let hint = Suggestion.nearest(to: fieldName, in: CanonicalField.all.map(\.qualifiedName))
                        throw yaml.fail(
                            fieldNode, key: "outbound.columns.field", en: "`\(fieldName)` is not a canonical field", zh: "`\(fieldName)` 不是规范字段",
                            fixEN: hint.map { "did you mean `\($0)`?" }, fixZH: hint.map { "是否应为 `\($0)`？" })
                    }
                    if let formatNode = values["date_format"] {
                        let pattern = try yaml.string(formatNode, key: "outbound.columns.date_format")
                        let stripped = ["yyyy", "MM", "dd", "M", "d"].reduce(pattern) { $0.replacingOccurrences(of: $1, with: "") }
                        guard pattern.contains("yyyy"), !stripped.contains(where: { $0.isLetter && $0.isASCII }) else {
                            throw yaml.fail(
                                formatNode, key: "outbound.columns.date_format", en: "a date format uses yyyy, MM, M, dd and d (e.g. yyyy/M/d)",
                                zh: "日期格式只能使用 yyyy、MM、M、dd、d（如 yyyy/M/d）")
                        }
                    }
                    columns.append(
                        .init(
                            column: try yaml.string(columnNode, key: "outbound.columns.column"), field: field,
                            valueMap: try values["map"].map { try yaml.stringMap($0, key: "outbound.columns.map") } ?? [:],
                            dateFormat: try values["date_format"].map { try yaml.string($0, key: "outbound.columns.date_format") }))
                }
            }
        }
        guard let format else {
            throw yaml.fail(node, key: "outbound.format", en: "outbound needs a format", zh: "outbound 需要 format")
        }
        return .init(format: format, columns: columns, send: send, endpoint: endpoint, maxAttempts: maxAttempts, newResidents: newResidents)
    }
}
