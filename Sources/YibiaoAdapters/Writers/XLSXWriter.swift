public import Foundation
import ZIPFoundation
import YibiaoCore

/// Writes a one-sheet XLSX workbook row by row: the sheet goes to a temporary file with inline
/// strings, then everything is zipped. Used for outbound files, samples and synthetic feeds.
public final class XLSXWriter {
    private let url: URL
    private let sheetName: String
    private let sheetFile: URL
    private let handle: FileHandle
    private var rowNumber = 0
    private var buffer = ""

    public init(url: URL, sheetName: String = "Sheet1") throws {
        self.url = url
        self.sheetName = sheetName
        sheetFile = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("yibiao-write-\(UUID().uuidString).xml")
        _ = FileManager.default.createFile(atPath: sheetFile.path, contents: nil)
        handle = try FileHandle(forWritingTo: sheetFile)
        buffer = #"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"# + #"<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#
    }

    /// Appends a row. A `nil` cell is left empty (no element), as Excel does.
    public func append(_ cells: [String?]) throws {
        try append(mixed: cells.map { cell in cell.map { $0.isEmpty ? .empty : .text($0) } ?? .empty })
    }

    /// Appends a numeric cell row: each cell either text or a number (written as `n`).
    public func append(mixed cells: [XLSXCell]) throws {
        rowNumber += 1
        buffer += "<row r=\"\(rowNumber)\">"
        for (index, cell) in cells.enumerated() {
            let reference = Self.columnName(index) + String(rowNumber)
            switch cell {
            case .empty: continue
            case .text(let text): buffer += "<c r=\"\(reference)\" t=\"inlineStr\"><is><t xml:space=\"preserve\">\(XMLText.escape(text))</t></is></c>"
            case .number(let text): buffer += "<c r=\"\(reference)\"><v>\(XMLText.escape(text))</v></c>"
            }
        }
        buffer += "</row>"
        if buffer.utf8.count > 1 << 20 { try flush() }
    }

    public func finish() throws {
        buffer += "</sheetData></worksheet>"
        try flush()
        try handle.close()
        defer { try? FileManager.default.removeItem(at: sheetFile) }
        try? FileManager.default.removeItem(at: url)
        let archive = try Archive(url: url, accessMode: .create)
        // A fixed timestamp: the same rows give a byte-identical file (synthetic feeds rely on it).
        let stamp = Date(timeIntervalSince1970: 1_704_067_200)
        func add(_ path: String, _ text: String) throws {
            let data = Data(text.utf8)
            try archive.addEntry(
                with: path, type: .file, uncompressedSize: Int64(data.count), modificationDate: stamp,
                compressionMethod: .deflate
            ) { position, size in
                data.subdata(in: Int(position)..<Int(position) + size)
            }
        }
        try add(
            "[Content_Types].xml",
            #"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#
        )
        try add(
            "_rels/.rels",
            #"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#
        )
        try add(
            "xl/workbook.xml",
            #"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name=""#
                + XMLText.escape(sheetName) + #"" sheetId="1" r:id="rId1"/></sheets></workbook>"#)
        try add(
            "xl/_rels/workbook.xml.rels",
            #"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#
        )
        let sheet = try FileHandle(forReadingFrom: sheetFile)
        defer { try? sheet.close() }
        let size = try sheet.seekToEnd()
        try archive.addEntry(
            with: "xl/worksheets/sheet1.xml", type: .file, uncompressedSize: Int64(size), modificationDate: stamp,
            compressionMethod: .deflate
        ) { position, chunk in
            try sheet.seek(toOffset: UInt64(position))
            return try sheet.read(upToCount: chunk) ?? Data()
        }
    }

    private func flush() throws {
        try handle.write(contentsOf: Data(buffer.utf8))
        buffer = ""
    }

    static func columnName(_ index: Int) -> String {
        var name = ""
        var remaining = index + 1
        while remaining > 0 {
            let digit = (remaining - 1) % 26
            name = String(UnicodeScalar(UInt8(65 + digit))) + name
            remaining = (remaining - 1) / 26
        }
        return name
    }
}

public enum XLSXCell: Sendable, Hashable {
    case empty
    case text(String)
    /// A number cell, as Excel stores dates (serials) and numbers.
    case number(String)
}

/// Escaping for XML text and attribute values, shared by every XML writer.
public enum XMLText {
    public static func escape(_ text: String) -> String {
        // Almost no value needs escaping: check the bytes before building anything.
        if !text.containsUTF8Byte(where: { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 }) { return text }
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            default: result.append(character)
            }
        }
        return result
    }
}

extension XLSXWriter: RecordWriter {}
