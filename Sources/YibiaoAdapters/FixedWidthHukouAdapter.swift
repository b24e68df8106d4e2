public import Foundation
public import YibiaoCore

/// The worked example of a Swift adapter: a household-register (户籍) mainframe export in
/// fixed-width GBK lines, which no YAML format describes. Byte columns (GBK characters are two
/// bytes wide, so widths are in bytes, not characters):
///
/// | bytes | field |
/// |---|---|
/// | 1–18 | citizen ID number |
/// | 19–38 | name, space-padded |
/// | 39 | sex code (GB/T 2261.1) |
/// | 40–47 | birth date YYYYMMDD |
/// | 48–59 | household register number |
/// | 60–61 | relationship to the head (GB/T 4761) |
/// | 62– | address |
///
/// The source key is the household register number + ID number (the system has no own key).
public struct FixedWidthHukouAdapter: FeedAdapter {
    public static let registeredName = "hukou-fixed-width"

    public init() {}

    public var system: String { "household_register" }
    public var name: LocalizedText { LocalizedText(en: "Household register", zh: "户籍系统") }
    public var adapterName: String { "swift:\(Self.registeredName)" }
    /// Bump the revision when the mapping changes.
    public var fingerprint: String { adapterName + "@1" }
    public var domain: CanonicalField.Domain { .core }
    public var heldFields: Set<String> {
        ["national_id", "name", "sex", "birth_date", "household_book_no", "relationship_to_head", "address"]
    }

    static let columns: [(name: String, range: Range<Int>)] = [
        ("national_id", 0..<18), ("name", 18..<38), ("sex", 38..<39), ("birth_date", 39..<47),
        ("household_book_no", 47..<59), ("relationship_to_head", 59..<61), ("address", 61..<Int.max),
    ]

    public func read(_ url: URL, today: CalendarDate, _ body: (MappingOutcome) throws -> Void) throws {
        try FeedFile.check(url)
        let lines = LineReader(url: url)
        let decoder = TextDecoder(.gbk)
        let dates = DateParser(referenceYear: today.year)
        try lines.forEachLine { number, bytes in
            if bytes.allSatisfy({ $0 == 0x20 }) { return }
            guard bytes.count >= 61 else {
                try body(
                    .quarantined(
                        FeedIssue(
                            code: "short_line",
                            message: LocalizedText(
                                en: "the line has \(bytes.count) bytes; at least 61 are needed", zh: "该行只有 \(bytes.count) 个字节，至少需要 61 个"),
                            row: number, value: decoder.decode(bytes[...]) ?? FeedIssue.escapedBytes(bytes))))
                return
            }
            var raw: [String: String] = [:]
            for (name, range) in Self.columns {
                let slice = bytes[range.lowerBound..<min(range.upperBound, bytes.count)]
                guard let text = decoder.decode(slice) else {
                    try body(
                        .quarantined(
                            FeedIssue(
                                code: "invalid_encoding",
                                message: LocalizedText(
                                    en: "the bytes are not valid GBK (a character cut by the column width?)", zh: "字节不是有效的 GBK 编码（字符被列宽截断？）"),
                                row: number, column: name, value: FeedIssue.escapedBytes(slice))))
                    return
                }
                raw[name] = text.trimmingCharacters(in: .whitespaces)
            }
            try body(map(raw, row: number, today: today, dates: dates))
        }
    }

    func map(_ raw: [String: String], row: Int, today: CalendarDate, dates: DateParser) -> MappingOutcome {
        var fields: [String: String] = [:]
        var problems: [FieldProblem] = []
        func problem(_ field: String, _ code: String, _ message: LocalizedText) {
            problems.append(FieldProblem(field: field, column: field, code: code, messageEN: message.en, messageZH: message.zh))
        }
        switch NameNormalizer.normalize(raw["name"] ?? "") {
        case .success(let name): fields["name"] = name.display
        case .failure(let error):
            return .quarantined(FeedIssue(code: error.code, message: error.message, row: row, column: "name", value: raw["name"]))
        }
        switch CitizenID.parse(raw["national_id"] ?? "", today: today) {
        case .success(let id): fields["national_id"] = id.value
        case .failure(let error):
            fields["national_id_raw"] = raw["national_id"]
            problem("national_id", error.code, error.message)
        }
        if case .success(let sex) = Sex.parse(raw["sex"] ?? "") { fields["sex"] = sex.rawValue }
        switch dates.parse(raw["birth_date"] ?? "") {
        case .success(let date): fields["birth_date"] = date.iso
        case .failure(let error): problem("birth_date", "date_" + error.code.rawValue, error.message)
        }
        if let book = raw["household_book_no"], !book.isEmpty { fields["household_book_no"] = book }
        if let relation = raw["relationship_to_head"].flatMap({ CodeTable.familyRelationship.lookup($0) }) {
            fields["relationship_to_head"] = relation.code
        }
        if let address = raw["address"], !address.isEmpty { fields["address"] = address }
        let key = (raw["household_book_no"] ?? "") + "/" + (raw["national_id"] ?? "")
        guard key.count > 1 else {
            return .quarantined(
                FeedIssue(
                    code: "missing_source_key",
                    message: LocalizedText(
                        en: "the line has neither a household register number nor an ID number", zh: "该行既无户口簿号也无身份证号"), row: row))
        }
        return .record(
            MappedRecord(
                row: row, sourceKey: key, fields: fields, raw: raw, problems: problems,
                contentHash: RecordMapper.hash(raw)))
    }
}

/// Lines of a file as bytes, streamed.
struct LineReader {
    let url: URL

    func forEachLine(_ body: (Int, [UInt8]) throws -> Void) throws {
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw FeedIssue.cannotOpen(url, CocoaError(.fileReadNoSuchFile))
        }
        defer { try? handle.close() }
        var pending: [UInt8] = []
        var number = 0
        var sawByte = false
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            sawByte = true
            for byte in chunk {
                if byte == 0x0A {
                    number += 1
                    if pending.last == 0x0D { pending.removeLast() }
                    try body(number, pending)
                    pending.removeAll(keepingCapacity: true)
                } else {
                    pending.append(byte)
                }
            }
        }
        if !pending.isEmpty { try body(number + 1, pending) }
        if !sawByte { throw FeedIssue.emptyFile(url) }
    }
}
