public import Foundation
import YibiaoCore

/// JSON Lines (one object per line) and JSON arrays of objects, streamed: an array is cut into
/// its elements by a small byte scanner and only one element at a time is parsed.
/// Nested objects become dotted columns (`address.city`); arrays stay as JSON text.
public struct JSONReader: UnparsedFeedReader {
    public enum Layout: Sendable, Hashable {
        case lines
        /// The array at this key path (`["data", "items"]`); empty for a top-level array.
        case array(path: [String])
    }

    public let url: URL
    public let layout: Layout

    public init(url: URL, layout: Layout) {
        self.url = url
        self.layout = layout
    }

    public func readUnparsed(_ body: (UnparsedRow) throws -> Void) throws {
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw FeedIssue.cannotOpen(url, CocoaError(.fileReadNoSuchFile))
        }
        defer { try? handle.close() }
        var sawByte = false
        let recent = RecentColumnNames()
        let parse: @Sendable (Data, Int) -> FeedEvent = { data, row in Self.parseObject(data, row: row, recent: recent) }
        switch layout {
        case .lines:
            var line = 0
            var pending: [UInt8] = []
            func emitLine(_ bytes: [UInt8]) throws {
                line += 1
                var trimmed = bytes[...]
                if line == 1, trimmed.starts(with: [0xEF, 0xBB, 0xBF]) { trimmed = trimmed.dropFirst(3) }
                if trimmed.last == 0x0D { trimmed = trimmed.dropLast() }
                if trimmed.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return }
                try body(UnparsedRow(number: line, bytes: Data(trimmed), parse: parse))
            }
            while let chunk = try Self.chunk(handle, url) {
                sawByte = true
                var start = 0
                for (index, byte) in chunk.enumerated() where byte == 0x0A {
                    pending.append(contentsOf: chunk[start..<index])
                    try emitLine(pending)
                    pending.removeAll(keepingCapacity: true)
                    start = index + 1
                }
                pending.append(contentsOf: chunk[start...])
            }
            if !pending.isEmpty { try emitLine(pending) }
            if !sawByte { throw FeedIssue.emptyFile(url) }
        case .array(let path):
            var scanner = JSONArrayScanner(target: path)
            while let chunk = try Self.chunk(handle, url) {
                sawByte = true
                try scanner.feed(chunk) { element, line in try body(UnparsedRow(number: line, bytes: Data(element), parse: parse)) }
            }
            if !sawByte { throw FeedIssue.emptyFile(url) }
            try scanner.finish(fileName: url.lastPathComponent)
        }
    }

    private static func chunk(_ handle: FileHandle, _ url: URL) throws -> [UInt8]? {
        do {
            guard let data = try handle.read(upToCount: 1 << 20), !data.isEmpty else { return nil }
            return [UInt8](data)
        } catch {
            throw FeedIssue.cannotOpen(url, error)
        }
    }

    /// `recent`: the reader's last column names, shared by records naming the same keys.
    static func parseObject(_ data: Data, row: Int, recent: RecentColumnNames? = nil) -> FeedEvent {
        if let (names, values) = FlatJSONObject.cells(data), let columns = recent?.columns(for: names) ?? ColumnNames(distinct: names) {
            return .row(RawRow(number: row, columns: columns, values: values))
        }
        return parseWithFoundation(data, row: row)
    }

    /// Any record, through `JSONSerialization`: what `parseObject` gives when the record is not
    /// of the common shape `FlatJSONObject` reads.
    static func parseWithFoundation(_ data: Data, row: Int) -> FeedEvent {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            return .unreadable(
                FeedIssue(
                    code: "invalid_json",
                    message: LocalizedText(
                        en: "not valid JSON", zh: "不是有效的 JSON"), row: row,
                    value: String(decoding: data.prefix(500), as: UTF8.self)))
        }
        guard let dictionary = object as? [String: Any] else {
            return .unreadable(
                FeedIssue(
                    code: "not_an_object",
                    message: LocalizedText(
                        en: "a record must be a JSON object ({…})", zh: "每条记录必须是 JSON 对象（{…}）"), row: row,
                    value: String(decoding: data.prefix(500), as: UTF8.self)))
        }
        var cells: [String: String] = [:]
        var repeated: Set<String> = []
        flatten(dictionary, prefix: "", into: &cells, repeated: &repeated)
        // `a.b` beside `a: {b}` names one column twice: which value it holds would depend on
        // the order the object is walked in. Quarantined, not guessed.
        if let name = repeated.min() {
            return .unreadable(
                FeedIssue(
                    code: "duplicate_column",
                    message: LocalizedText(
                        en: "the record names the column \(name) twice (a key, and the same path through nested objects)",
                        zh: "该记录两次给出列 \(name)（一个键，以及嵌套对象中的同一路径）"),
                    row: row, column: name))
        }
        return .row(RawRow(number: row, cells: cells))
    }

    /// `repeated`: names given twice (a dotted key and the same path of nested keys).
    static func flatten(_ object: [String: Any], prefix: String, into cells: inout [String: String], repeated: inout Set<String>) {
        for (key, value) in object {
            let name = prefix.isEmpty ? key : prefix + "." + key
            let text: String?
            // Text first: nearly every value is, and a failed cast to a dictionary is not free.
            switch value {
            case let string as String: text = string
            case let nested as [String: Any]:
                flatten(nested, prefix: name, into: &cells, repeated: &repeated)
                continue
            case is NSNull: continue
            case let number as NSNumber where String(describing: type(of: number)).contains("Boolean"):
                // Foundation on Linux gives JSON booleans as __NSCFBoolean, a subclass of NSNumber.
                text = number.boolValue ? "true" : "false"
            case let number as NSNumber:
                // Integers beyond 2^53 (ID numbers written as numbers) keep every digit.
                text = number.stringValue
            default:
                text = (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) }
            }
            guard let text else { continue }
            if cells.updateValue(text, forKey: name) != nil { repeated.insert(name) }
        }
    }
}

/// Finds the elements of the array at a key path in a stream of JSON bytes.
struct JSONArrayScanner {
    private enum Container { case object, array }
    private let target: [String]
    private var stack: [(Container, String?)] = [] // container, key it sits under
    private var inString = false
    private var escaped = false
    private var stringBytes: [UInt8] = []
    private var lastString: String?
    private var expectingKey = false
    private var pendingKey: String?
    private var targetDepth: Int? // stack depth of the target array
    private var capture: [UInt8]?
    private var captureLine = 0
    private var line = 1
    private var foundTarget = false
    private var started = false

    init(target: [String]) {
        self.target = target
    }

    mutating func feed(_ bytes: [UInt8], _ emit: ([UInt8], Int) throws -> Void) throws {
        for byte in bytes {
            if byte == 0x0A { line += 1 }
            if !started {
                if byte == 0xEF || byte == 0xBB || byte == 0xBF { continue } // BOM
                if byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { continue }
                started = true
            }
            if capture != nil { capture!.append(byte) }
            if inString {
                if escaped {
                    escaped = false
                    if capture == nil { stringBytes.append(byte) }
                    continue
                }
                if byte == 0x5C {
                    escaped = true
                    if capture == nil { stringBytes.append(byte) }
                    continue
                }
                if byte == 0x22 {
                    inString = false
                    if capture == nil { lastString = String(decoding: stringBytes, as: UTF8.self) }
                    continue
                }
                if capture == nil { stringBytes.append(byte) }
                continue
            }
            switch byte {
            case 0x22:
                inString = true
                stringBytes.removeAll(keepingCapacity: true)
            case 0x3A: // :
                if expectingKey {
                    pendingKey = lastString
                    expectingKey = false
                }
            case 0x2C: // ,
                if stack.last?.0 == .object { expectingKey = true }
            case 0x7B, 0x5B: // { [
                let kind: Container = byte == 0x7B ? .object : .array
                let key = stack.last?.0 == .object ? pendingKey : nil
                if let depth = targetDepth, stack.count == depth + 1, capture == nil {
                    // An element of the target array starts.
                    capture = [byte]
                    captureLine = line
                }
                stack.append((kind, key))
                if kind == .array, targetDepth == nil, !foundTarget, isTargetPath() {
                    targetDepth = stack.count - 1
                    foundTarget = true
                }
                expectingKey = kind == .object
                pendingKey = nil
            case 0x7D, 0x5D: // } ]
                // A bracket that closes nothing, or closes the other kind, breaks the whole file.
                guard let open = stack.last, (open.0 == .object) == (byte == 0x7D) else {
                    throw FeedIssue(
                        code: "invalid_json",
                        message: LocalizedText(
                            en: "line \(line): `\(byte == 0x7D ? "}" : "]")` closes nothing that is open here: the file is not valid JSON; rows before it were read",
                            zh: "第 \(line) 行：`\(byte == 0x7D ? "}" : "]")` 没有对应的开括号：文件不是有效的 JSON；此前的行已读取"),
                        row: line)
                }
                stack.removeLast()
                if let depth = targetDepth {
                    if stack.count == depth + 1, let element = capture {
                        try emit(element, captureLine)
                        capture = nil
                    } else if stack.count == depth {
                        targetDepth = nil // the target array closed
                    }
                }
                expectingKey = false
            default:
                if let depth = targetDepth, stack.count == depth + 1, capture == nil,
                    byte != 0x20, byte != 0x0A, byte != 0x0D, byte != 0x09
                {
                    // A scalar element (number, string handled above as object only): capture it
                    // so that it is reported as "not an object".
                    capture = [byte]
                    captureLine = line
                }
            }
        }
    }

    /// The array just opened sits at the target path: each container above it is an object
    /// and the keys from the root down spell the path.
    private func isTargetPath() -> Bool {
        guard stack.count == target.count + 1, stack.dropLast().allSatisfy({ $0.0 == .object }) else { return false }
        return stack.dropFirst().map(\.1) == target.map { Optional($0) }
    }

    func finish(fileName: String) throws {
        if inString || !stack.isEmpty {
            throw FeedIssue(
                code: "truncated_json",
                message: LocalizedText(
                    en: "\(fileName) ends in the middle of a JSON value (truncated file?)",
                    zh: "\(fileName) 在 JSON 值中途结束（文件被截断？）"), row: line)
        }
        if !foundTarget {
            let path = target.isEmpty ? "the top level" : target.joined(separator: ".")
            throw FeedIssue(
                code: "json_path_not_found",
                message: LocalizedText(
                    en: "\(fileName) has no array at \(path): check `json_path`",
                    zh: "\(fileName) 中 \(path) 处没有数组：请检查 `json_path`"))
        }
    }
}
