/// One row of the GB/T 2260 history: a code, its name and the years it was in force.
public struct DivisionCode: Sendable, Hashable {
    public enum Level: String, Sendable, Hashable { case province, prefecture, county }
    public enum Status: String, Sendable, Hashable { case inUse, changed, retired }

    public let code: String
    public let name: String
    public let province: String
    public let prefecture: String
    public let level: Level
    public let status: Status
    public let startYear: Int
    public let endYear: Int?
    /// Codes that took over (for changed or retired codes), without the `[year]` notes.
    public let successors: [String]

    public func wasInForce(in year: Int) -> Bool {
        year >= startYear && (endYear.map { year < $0 } ?? true)
    }
}

/// Why a division code is not acceptable.
public struct DivisionCodeError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        case malformed
        case unknown = "unknown_division"
    }

    public let code: Code
    public let message: LocalizedText
    public var description: String { "\(code.rawValue): \(message.en)" }
}

/// GB/T 2260 administrative division codes 1980–2024, including retired and reused codes,
/// from `schemas/codes/division-codes.csv` (CC0).
public struct DivisionCodeTable: Sendable {
    private let rows: [String: [DivisionCode]]

    /// The shipped table.
    public static let standard = DivisionCodeTable(csv: EmbeddedCodeTables.divisionCodes)

    public init(csv: String) {
        var rows: [String: [DivisionCode]] = [:]
        for line in csv.split(whereSeparator: \.isNewline).dropFirst() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 9, f[0].count == 6 else { continue }
            let level: DivisionCode.Level =
                switch f[4] {
                case "省级": .province
                case "地级": .prefecture
                default: .county
                }
            let status: DivisionCode.Status =
                switch f[5] {
                case "在用": .inUse
                case "变更": .changed
                default: .retired
                }
            let successors = f[8].split(separator: ";").map { String($0.prefix(6)) }
            let row = DivisionCode(
                code: f[0], name: f[3], province: f[1], prefecture: f[2], level: level,
                status: status, startYear: Int(f[6]) ?? 1980, endYear: Int(f[7]),
                successors: successors)
            rows[f[0], default: []].append(row)
        }
        self.rows = rows
    }

    public var count: Int { rows.values.reduce(0) { $0 + $1.count } }

    /// Every row ever recorded for the code (reused codes have several).
    public func records(for code: String) -> [DivisionCode] { rows[code] ?? [] }

    /// The most recent row for the code.
    public func latest(_ code: String) -> DivisionCode? {
        records(for: code).max { ($0.endYear ?? .max, $0.startYear) < ($1.endYear ?? .max, $1.startYear) }
    }

    /// True when the code existed at any time since 1980. `xxxx01` "市辖区" codes, found in old
    /// ID numbers but absent from the published lists, count when their prefecture existed.
    public func existed(_ code: String) -> Bool {
        if rows[code] != nil { return true }
        if code.hasSuffix("01"), code.count == 6 {
            return rows[String(code.prefix(4)) + "00"] != nil
        }
        return false
    }

    /// Checks a six-digit code against the whole history.
    public func validate(_ raw: String) -> Result<String, DivisionCodeError> {
        let code = TextNormalization.removing(TextNormalization.nfkc(raw), where: TextNormalization.isSpace)
        guard code.count == 6, code.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            return .failure(
                DivisionCodeError(
                    code: .malformed,
                    message: LocalizedText(
                        en: "a division code has six digits", zh: "行政区划代码应为 6 位数字")))
        }
        guard existed(code) else {
            return .failure(
                DivisionCodeError(
                    code: .unknown,
                    message: LocalizedText(
                        en: "\(code) is not a GB/T 2260 division code of any year since 1980",
                        zh: "\(code) 不是 1980 年以来任何年份的 GB/T 2260 行政区划代码")))
        }
        return .success(code)
    }

    /// A community's (居委会/村委会) 12-digit statistical division code: the county's GB/T 2260 code,
    /// then three digits for the street or town and three for the community. Only the county part
    /// can be checked against a published table; the rest must be digits and not all zeros.
    public func validateCommunity(_ raw: String) -> Result<String, DivisionCodeError> {
        let code = TextNormalization.removing(TextNormalization.nfkc(raw), where: TextNormalization.isSpace)
        guard code.count == 12, code.allSatisfy({ $0.isASCII && $0.isNumber }), !code.hasSuffix("000000") else {
            return .failure(
                DivisionCodeError(
                    code: .malformed,
                    message: LocalizedText(
                        en: "a community code has twelve digits: the county's six, then street and community",
                        zh: "社区代码应为 12 位数字：前 6 位为区县代码，后接街道（乡镇）和社区（村）代码")))
        }
        guard existed(String(code.prefix(6))) else {
            return .failure(
                DivisionCodeError(
                    code: .unknown,
                    message: LocalizedText(
                        en: "\(code.prefix(6)) (its first six digits) is not a GB/T 2260 county code of any year since 1980",
                        zh: "其前 6 位 \(code.prefix(6)) 不是 1980 年以来任何年份的 GB/T 2260 区县代码")))
        }
        return .success(code)
    }

    /// The codes in use today that a (possibly retired) code became, following every successor.
    public func currentCodes(for code: String) -> [String] {
        var result: [String] = []
        var seen: Set<String> = []
        var queue = [code]
        while let next = queue.popLast() {
            guard seen.insert(next).inserted else { continue }
            guard let row = latest(next) else { continue }
            if row.status == .inUse || row.successors.isEmpty {
                if row.status == .inUse { result.append(next) }
            } else {
                queue.append(contentsOf: row.successors.filter { $0 != next })
                if row.successors.contains(next), row.status != .retired { result.append(next) }
            }
        }
        return Array(Set(result)).sorted()
    }

    /// "北京市东城区", or the best name the table has for the code.
    public func fullName(_ code: String) -> String? {
        guard let row = latest(code) else { return nil }
        switch row.level {
        case .province: return row.name
        case .prefecture: return row.province == row.name ? row.name : row.province + row.name
        case .county:
            let prefecture = (row.prefecture == "直辖" || row.prefecture == row.province) ? "" : row.prefecture
            return row.province + prefecture + row.name
        }
    }

    /// County-level divisions in use whose full name contains every part of `text` (split on
    /// spaces; "朝阳" finds 北京市朝阳区 and 辽宁省朝阳市朝阳县 …), shortest names first, so a
    /// worker picks a division by its name instead of typing its code.
    public func search(_ text: String, limit: Int = 8) -> [(code: String, name: String)] {
        let parts = text.split(whereSeparator: \.isWhitespace).map(String.init).filter { !$0.isEmpty }
        guard !parts.isEmpty else { return [] }
        var found: [(code: String, name: String)] = []
        for code in rows.keys {
            guard let row = latest(code), row.level == .county, row.status == .inUse, let name = fullName(code) else { continue }
            if parts.allSatisfy({ name.contains($0) }) { found.append((code, name)) }
        }
        return Array(found.sorted { ($0.name.count, $0.code) < ($1.name.count, $1.code) }.prefix(limit))
    }
}
