public import YibiaoCore
public import Yams

/// A mistake in a YAML file a district IT team writes (an adapter, the survivorship rules, a
/// form): which file, line and key, and what to do. One shape for every such file.
public struct SpecFileError: UserFacingError, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        case adapter = "adapter_invalid"
        case rules = "survivorship_invalid"
        case form = "form_invalid"
    }

    public let kind: Kind
    public let fileName: String
    public let line: Int?
    public let key: String?
    public let problem: LocalizedText
    public let fix: LocalizedText?

    public init(_ kind: Kind, fileName: String, line: Int? = nil, key: String? = nil, problem: LocalizedText, fix: LocalizedText? = nil) {
        self.kind = kind
        self.fileName = fileName
        self.line = line
        self.key = key
        self.problem = problem
        self.fix = fix
    }

    public var code: String { kind.rawValue }
    public var exitCode: Int32 { ExitStatus.config }
    public var remedy: LocalizedText? { fix }

    public var message: LocalizedText {
        let place = line.map { ":\($0)" } ?? ""
        let keyEN = key.map { " (\($0))" } ?? ""
        let keyZH = key.map { "（\($0)）" } ?? ""
        return LocalizedText(en: "\(fileName)\(place)\(keyEN): \(problem.en)", zh: "\(fileName)\(place)\(keyZH)：\(problem.zh)")
    }

    public var description: String { message.en }
}

/// Walks a YAML tree with positions: every value is read through here, so every mistake names
/// its line and key, and an unknown key suggests the nearest known one.
public struct YAMLWalker: Sendable {
    public let fileName: String
    public let kind: SpecFileError.Kind

    public init(fileName: String, kind: SpecFileError.Kind) {
        self.fileName = fileName
        self.kind = kind
    }

    /// The document's root; an empty file or broken YAML is an error with its line.
    public func root(of text: String, emptyFix: LocalizedText? = nil) throws -> Node {
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw SpecFileError(kind, fileName: fileName, problem: LocalizedText(en: "the file is empty", zh: "文件为空"), fix: emptyFix)
            }
            return node
        } catch let error as YamlError {
            let (line, problem): (Int?, String) =
                switch error {
                case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
                    (mark.line, problem)
                default: (nil, "\(error)")
                }
            throw SpecFileError(
                kind, fileName: fileName, line: line, problem: LocalizedText(en: "not valid YAML: \(problem)", zh: "不是有效的 YAML：\(problem)"),
                fix: LocalizedText(en: "check indentation and quoting around that line", zh: "请检查该行附近的缩进和引号"))
        }
    }

    public func fail(_ node: Node?, key: String?, en: String, zh: String, fixEN: String? = nil, fixZH: String? = nil) -> SpecFileError {
        SpecFileError(
            kind, fileName: fileName, line: node?.mark?.line, key: key, problem: LocalizedText(en: en, zh: zh),
            fix: fixEN.map { LocalizedText(en: $0, zh: fixZH ?? $0) })
    }

    /// The mapping's entries (key, key node, value), checked against `allowed` unless it is empty.
    public func entries(_ node: Node, path: String, allowed: [String]) throws -> [(String, Node, Node)] {
        guard let mapping = node.mapping else {
            throw fail(node, key: path, en: "expected a mapping of keys to values", zh: "此处应为“键: 值”的映射")
        }
        return try mapping.map { keyNode, value in
            let key = keyNode.string ?? ""
            if !allowed.isEmpty, !allowed.contains(key) {
                let hint = Suggestion.nearest(to: key, in: allowed)
                throw fail(
                    keyNode, key: path.isEmpty ? key : "\(path).\(key)", en: "unknown key `\(key)`", zh: "未知的键 `\(key)`",
                    fixEN: hint.map { "did you mean `\($0)`?" } ?? "allowed keys: \(allowed.joined(separator: ", "))",
                    fixZH: hint.map { "是否应为 `\($0)`？" } ?? "可用的键：\(allowed.joined(separator: "、"))")
            }
            return (key, keyNode, value)
        }
    }

    public func string(_ node: Node, key: String) throws -> String {
        guard case .scalar = node, let value = node.string else {
            throw fail(node, key: key, en: "expected a single value", zh: "此处应为单个取值")
        }
        return value
    }

    public func int(_ node: Node, key: String) throws -> Int {
        guard let value = Int(try string(node, key: key)) else {
            throw fail(node, key: key, en: "expected a whole number", zh: "此处应为整数")
        }
        return value
    }

    public func bool(_ node: Node, key: String) throws -> Bool {
        switch try string(node, key: key).lowercased() {
        case "true", "yes": return true
        case "false", "no": return false
        default: throw fail(node, key: key, en: "expected true or false", zh: "此处应为 true 或 false")
        }
    }

    public func stringMap(_ node: Node, key: String) throws -> [String: String] {
        var map: [String: String] = [:]
        for (name, _, value) in try entries(node, path: key, allowed: []) {
            map[name] = try string(value, key: "\(key).\(name)")
        }
        return map
    }

    /// A list of single values; `example` shows the expected form in the message.
    public func strings(_ node: Node, key: String, example: String) throws -> [String] {
        guard let sequence = node.sequence else {
            throw fail(node, key: key, en: "expected a list, e.g. \(example)", zh: "此处应为列表，如 \(example)")
        }
        return try sequence.map { try string($0, key: key) }
    }

    /// One of an enumeration's raw values, with a suggestion for a near miss.
    public func choice<T: RawRepresentable & CaseIterable>(_ node: Node, key: String, as: T.Type) throws -> T where T.RawValue == String {
        let text = try string(node, key: key)
        if let value = T(rawValue: text) { return value }
        let options = T.allCases.map(\.rawValue)
        let hint = Suggestion.nearest(to: text, in: options)
        throw fail(
            node, key: key, en: "`\(text)` is not one of \(options.joined(separator: ", "))",
            zh: "`\(text)` 不是以下之一：\(options.joined(separator: "、"))",
            fixEN: hint.map { "did you mean `\($0)`?" }, fixZH: hint.map { "是否应为 `\($0)`？" })
    }
}

/// Text written into YAML drafts (`form suggest`, `adapter suggest`): header cells may hold
/// anything a spreadsheet allows, line breaks included.
public enum YAMLText {
    /// A double-quoted scalar: backslashes, quotes, line breaks and tabs escaped.
    public static func quoted(_ text: String) -> String {
        var escaped = ""
        for character in text {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            case "\r": escaped += "\\r"
            case "\r\n": escaped += "\\r\\n"
            case "\t": escaped += "\\t"
            default: escaped.append(character)
            }
        }
        return "\"" + escaped + "\""
    }

    /// Text for a `#` comment: one line.
    public static func comment(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}
