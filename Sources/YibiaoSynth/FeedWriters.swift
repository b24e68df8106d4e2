import Foundation
import YibiaoAdapters

/// Buffered text output.
final class LineWriter {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private let encoder: TextEncoder?

    init(url: URL, encoding: TextEncoding = .utf8) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: url.path])
        }
        handle = try FileHandle(forWritingTo: url)
        encoder = encoding == .utf8 ? nil : TextEncoder(encoding)
        buffer.reserveCapacity(1 << 20)
    }

    func write(_ text: String) throws {
        if let encoder {
            buffer.append(contentsOf: encoder.encode(text) ?? Array(text.utf8))
        } else {
            buffer.append(contentsOf: text.utf8)
        }
        if buffer.count >= 1 << 20 { try flush() }
    }

    private func flush() throws {
        try handle.write(contentsOf: buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    func finish() throws {
        try flush()
        try handle.close()
    }
}

/// 民政: CSV in GB18030, CRLF, the columns of adapters/civil_affairs.yaml.
final class CivilAffairsWriter {
    static let header = ["人员编号", "姓名", "性别", "身份证号码", "出生日期", "婚姻状况", "联系电话", "户籍地址",
                         "是否低保", "低保证号", "低保金额", "残疾证号", "残疾类别", "残疾等级", "高龄津贴"]
    private let lines: LineWriter

    init(url: URL) throws {
        lines = try LineWriter(url: url, encoding: .gb18030)
        try append(Self.header)
    }

    func append(_ cells: [String]) throws {
        try lines.write(cells.map { cell in
            cell.utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A })
                ? "\"" + cell.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : cell
        }.joined(separator: ",") + "\r\n")
    }

    func finish() throws { try lines.finish() }
}

/// 计生: XLSX, dates as Excel serial numbers.
final class FamilyPlanningWriter {
    static let header = ["档案编号", "姓名", "性别", "身份证号", "出生日期", "婚姻状况", "户口簿号", "与户主关系",
                         "现有子女数", "男孩数", "女孩数", "独生子女证号", "发证日期", "联系电话"]
    private let writer: XLSXWriter

    init(url: URL) throws {
        writer = try XLSXWriter(url: url, sheetName: "育龄妇女及家庭")
        try writer.append(Self.header)
    }

    func append(_ cells: [XLSXCell]) throws { try writer.append(mixed: cells) }
    func finish() throws { try writer.finish() }
}

/// 党员: XML, one <党员 编号="…"> per member.
final class PartyWriter {
    private let lines: LineWriter

    init(url: URL) throws {
        lines = try LineWriter(url: url)
        try lines.write("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<党员信息 导出单位=\"党工委\">\n")
    }

    func append(key: String, fields: [(String, String)]) throws {
        var text = "  <党员 编号=\"\(XMLText.escape(key))\">"
        for (tag, value) in fields { text += "<\(tag)>\(XMLText.escape(value))</\(tag)>" }
        try lines.write(text + "</党员>\n")
    }

    func finish() throws {
        try lines.write("</党员信息>\n")
        try lines.finish()
    }
}

/// 社保: JSON Lines with the 金保工程 field codes.
final class SocialSecurityWriter {
    private let lines: LineWriter

    init(url: URL) throws {
        lines = try LineWriter(url: url)
    }

    func append(_ fields: [(String, String)]) throws {
        let body = fields.map { "\"\($0.0)\": \"\(JSONEscape.escape($0.1))\"" }.joined(separator: ", ")
        try lines.write("{" + body + "}\n")
    }

    func finish() throws { try lines.finish() }
}

enum JSONEscape {
    static func escape(_ text: String) -> String {
        if !text.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) { return text }
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                if scalar.value < 0x20 { result += String(format: "\\u%04x", scalar.value) } else { result.unicodeScalars.append(scalar) }
            }
        }
        return result
    }
}
