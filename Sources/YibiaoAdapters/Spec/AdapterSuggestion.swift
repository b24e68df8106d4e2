public import Foundation
#if canImport(FoundationXML)
    import FoundationXML
#endif
public import YibiaoCore
import YibiaoYAML

/// `yibiao adapter suggest`: a draft adapter for an export nobody has described yet. The file's
/// shape is detected (format, encoding, delimiter, header row, XML record element, JSON layout),
/// a sample of rows is read, and every column is placed on a canonical field by its name (what
/// the district's adapters call it, the field's labels) or by its values (valid ID numbers,
/// phone numbers, codes of a code table; dates and sexes that agree with the row's ID number).
/// It proposes, a person decides: every placement says how sure it is and why; a column it
/// cannot place is listed, never guessed; values it cannot read are named for a `map`.
public struct AdapterSuggestion: Sendable {
    public struct Placement: Sendable, Hashable {
        public var field: String
        public var confidence: Double
        /// Why, in English, for the YAML comment.
        public var reason: String
    }

    public struct Column: Sendable, Hashable {
        public var name: String
        public var placement: Placement?
        /// Dates written as Excel serial numbers.
        public var excelSerials = false
        /// Raw value → canonical code, learned from the district's adapters.
        public var valueMap: [String: String] = [:]
        /// Values of a coded field that neither the code table nor a known map reads.
        public var unreadValues: [String] = []
        /// The shapes its dates are written in (`yyyy/M/d`), for the person checking.
        public var dateShapes: [String] = []
        /// What else a person should know (an unplaced column's likely kind, a rival).
        public var note: String?
    }

    public var format: AdapterSpec.Format
    /// How the format was told (`GB18030: not valid UTF-8`, `row 1 looks like a title`).
    public var formatNotes: [String]
    public var sourceKey: String?
    public var sourceKeyReason: String
    public var rowsRead: Int
    public var columns: [Column]

    public var placed: [Column] { columns.filter { $0.placement != nil } }
    /// Columns neither placed on a field nor taken as the source key.
    public var unplaced: [Column] { columns.filter { $0.placement == nil && $0.name != sourceKey } }

    /// Reads up to `sampleRows` rows of `feed` and drafts its adapter. `adapters`: the district's
    /// adapters, whose column names and value maps are known. `sheet`: the sheet of an .xlsx
    /// workbook to read (default: the first).
    public static func suggest(
        feed: URL, adapters: [AdapterSpec], today: CalendarDate, sampleRows: Int = 5_000, sheet: String? = nil
    ) throws -> AdapterSuggestion {
        try FeedFile.check(feed)
        let (format, notes) = try detectFormat(feed, sheet: sheet)
        let sample = try Sample.read(AdapterSpec.readerFor(format, url: feed), rows: sampleRows)
        guard sample.rows > 0 else {
            throw FeedIssue(
                code: "suggest_no_rows",
                message: LocalizedText(
                    en: "\(feed.lastPathComponent) has no data rows to learn from", zh: "\(feed.lastPathComponent) 中没有可供分析的数据行"))
        }
        var suggestion = AdapterSuggestion(
            format: format, formatNotes: notes, sourceKey: nil, sourceKeyReason: "", rowsRead: sample.rows, columns: [])
        suggestion.place(sample, matcher: HeaderMatcher(adapters: adapters), maps: learnedMaps(adapters), today: today)
        suggestion.chooseSourceKey(sample)
        return suggestion
    }

    // MARK: Format

    static func detectFormat(_ feed: URL, sheet: String? = nil) throws -> (AdapterSpec.Format, [String]) {
        let isWorkbook = feed.pathExtension.lowercased() == "xlsx"
        if let sheet, !isWorkbook {
            throw FeedIssue(
                code: "suggest_sheet",
                message: LocalizedText(
                    en: "\(feed.lastPathComponent) is not an .xlsx workbook: it has no sheet \(sheet) to choose",
                    zh: "\(feed.lastPathComponent) 不是 .xlsx 工作簿，没有可选的工作表 \(sheet)"))
        }
        switch feed.pathExtension.lowercased() {
        case "xlsx":
            let names = try XLSXReader(url: feed).sheetNames()
            // A workbook of several sheets: the draft names the one it read, so that the adapter
            // keeps reading it if the sheets are reordered.
            let chosen = sheet ?? (names.count > 1 ? names.first : nil)
            let row = try headerRow { XLSXReader(url: feed, sheet: chosen, headerRow: $0) }
            var notes = row.notes
            if names.count > 1 {
                notes.insert("sheet \(chosen ?? ""): the workbook's sheets are \(names.joined(separator: ", ")) (--sheet reads another)", at: 0)
            }
            return (.xlsx(sheet: chosen, headerRow: row.row), notes)
        case "xml":
            let element = try recordElement(feed)
            return (.xml(recordElement: element.name), ["record element <\(element.name)>: \(element.reason)"])
        case "jsonl", "ndjson":
            return (.jsonLines, [])
        case "json":
            return try jsonLayout(feed)
        case "csv", "txt", "tsv":
            var options = CSVReader.Options()
            options.encoding = TextEncoding.guessUTF8OrGB18030(feed)
            options.allowShortRows = true
            var notes = [options.encoding == .utf8 ? "UTF-8: the file is valid UTF-8" : "GB18030: the file is not valid UTF-8"]
            func reader(_ options: CSVReader.Options, headerRow: Int) -> CSVReader {
                var options = options
                options.headerRow = headerRow
                return CSVReader(url: feed, options: options)
            }
            // The delimiter that splits the header into the most cells, with the header row it found.
            var best: (delimiter: UInt8, row: (row: Int, cells: Int, notes: [String]))?
            for delimiter in [",", "\t", ";", "|"].map({ UInt8(ascii: Unicode.Scalar($0)!) }) {
                var trial = options
                trial.delimiter = delimiter
                guard let row = try? headerRow({ reader(trial, headerRow: $0) }), row.cells > (best?.row.cells ?? 0) else { continue }
                best = (delimiter, row)
            }
            // None named a column: read with commas again, for the error that says why.
            let (delimiter, row) = try best ?? (UInt8(ascii: ","), headerRow { reader(options, headerRow: $0) })
            options.delimiter = delimiter
            options.headerRow = row.row
            notes += row.notes
            return (.csv(options), notes)
        default:
            throw FeedIssue(
                code: "suggest_format",
                message: LocalizedText(
                    en: "\(feed.lastPathComponent): name a .csv, .txt, .xlsx, .xml, .json or .jsonl file",
                    zh: "\(feed.lastPathComponent)：请提供 .csv、.txt、.xlsx、.xml、.json 或 .jsonl 文件"))
        }
    }

    /// The header row among the first six: the one naming the most columns (a title or a note
    /// above the table names fewer); on a tie, the first.
    static func headerRow(_ reader: (Int) -> any FeedReader) throws -> (row: Int, cells: Int, notes: [String]) {
        var best: (row: Int, cells: Int) = (1, -1)
        var firstError: (any Error)?
        for row in 1...6 {
            var names: [String] = []
            do {
                try reader(row).read { event in
                    if case .header(let header) = event { names = header }
                    throw StopReading()
                }
            } catch is StopReading {
            } catch {
                if row == 1 { firstError = error }
                continue
            }
            let cells = Set(names.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }).count
            if cells > best.cells { best = (row, cells) }
        }
        if best.cells < 0, let firstError { throw firstError }
        return (best.row, best.cells, best.row > 1 ? ["header row \(best.row): the rows above it name fewer columns"] : [])
    }

    /// The XML element that repeats most among those holding fields (children or attributes).
    static func recordElement(_ feed: URL) throws -> (name: String, reason: String) {
        guard let stream = InputStream(url: feed) else { throw FeedIssue.cannotOpen(feed, CocoaError(.fileReadNoSuchFile)) }
        let counter = ElementCounter()
        let parser = XMLParser(stream: stream)
        parser.shouldResolveExternalEntities = false
        parser.delegate = counter
        _ = parser.parse()
        let candidates = counter.counts.filter { counter.holdsFields.contains($0.key) && $0.key != counter.root }
        guard let best = candidates.max(by: { ($0.value, -(counter.depth[$0.key] ?? 0)) < ($1.value, -(counter.depth[$1.key] ?? 0)) }) else {
            throw FeedIssue(
                code: "suggest_no_records",
                message: LocalizedText(
                    en: "\(feed.lastPathComponent): no repeated element holding fields was found", zh: "\(feed.lastPathComponent)：未找到重复出现且包含字段的元素"))
        }
        return (best.key, "it occurs \(best.value) times\(counter.stoppedEarly ? " in the part read" : "")")
    }

    private final class ElementCounter: NSObject, XMLParserDelegate {
        var counts: [String: Int] = [:]
        var depth: [String: Int] = [:]
        var holdsFields: Set<String> = []
        var root: String?
        var stack: [String] = []
        var elements = 0
        var stoppedEarly = false

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
            if root == nil { root = name }
            if let parent = stack.last { holdsFields.insert(parent) }
            if !attributes.isEmpty { holdsFields.insert(name) }
            counts[name, default: 0] += 1
            if depth[name] == nil { depth[name] = stack.count }
            stack.append(name)
            elements += 1
            // Enough to see the repetition; a large export need not be read through.
            if elements >= 200_000 {
                stoppedEarly = true
                parser.abortParsing()
            }
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            _ = stack.popLast()
        }
    }

    /// JSON Lines when the first line is a whole object; otherwise the first array of objects.
    static func jsonLayout(_ feed: URL) throws -> (AdapterSpec.Format, [String]) {
        guard let handle = FileHandle(forReadingAtPath: feed.path) else { throw FeedIssue.cannotOpen(feed, CocoaError(.fileReadNoSuchFile)) }
        let head = (try? handle.read(upToCount: 1 << 16)) ?? Data()
        try? handle.close()
        let lines = head.split(separator: UInt8(ascii: "\n"))
        if lines.count > 1, let first = lines.first, (try? JSONSerialization.jsonObject(with: Data(first))) is [String: Any] {
            return (.jsonLines, ["JSON Lines: every line is an object"])
        }
        // The array's place needs the whole document; a large one is read by the ingest, not here.
        let size = (try? FileManager.default.attributesOfItem(atPath: feed.path)[.size] as? Int) ?? 0
        guard size <= 256 << 20, let data = try? Data(contentsOf: feed), let document = try? JSONSerialization.jsonObject(with: data) else {
            throw FeedIssue(
                code: "suggest_json",
                message: LocalizedText(
                    en: "\(feed.lastPathComponent) is neither JSON Lines nor a JSON document of up to 256 MB",
                    zh: "\(feed.lastPathComponent) 既不是 JSON Lines，也不是不超过 256 MB 的 JSON 文档"))
        }
        var queue: [(path: [String], value: Any)] = [([], document)]
        while !queue.isEmpty {
            let (path, value) = queue.removeFirst()
            if let array = value as? [Any], array.first is [String: Any] {
                return (.json(path: path), [path.isEmpty ? "a JSON array of objects" : "the array of objects at \(path.joined(separator: "."))"])
            }
            if let object = value as? [String: Any] {
                for key in object.keys.sorted() { queue.append((path + [key], object[key]!)) }
            }
        }
        throw FeedIssue(
            code: "suggest_json",
            message: LocalizedText(en: "\(feed.lastPathComponent) holds no array of objects", zh: "\(feed.lastPathComponent) 中没有对象数组"))
    }

    // MARK: Sample

    struct Sample {
        var order: [String] = []
        /// Column → its non-empty values, one per row (nil where the row has none).
        var values: [String: [String?]] = [:]
        var rows = 0

        static func read(_ reader: any FeedReader, rows limit: Int) throws -> Sample {
            var sample = Sample()
            var known: Set<String> = []
            do {
                try reader.read { event in
                    switch event {
                    case .header(let names):
                        for name in names where !name.trimmingCharacters(in: .whitespaces).isEmpty && known.insert(name).inserted {
                            sample.order.append(name)
                        }
                    case .row(let row):
                        for name in row.cells.keys.sorted() where known.insert(name).inserted {
                            sample.order.append(name)
                            sample.values[name] = Array(repeating: nil, count: sample.rows)
                        }
                        for name in sample.order {
                            let text = row.cells[name]?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
                            sample.values[name, default: Array(repeating: nil, count: sample.rows)].append(text.isEmpty ? nil : text)
                        }
                        sample.rows += 1
                        if sample.rows >= limit { throw StopReading() }
                    case .unreadable:
                        break
                    }
                }
            } catch is StopReading {}
            return sample
        }
    }

    // MARK: Placing columns

    /// Field → (raw value → code) from the district's adapters; a value two adapters map
    /// differently is left out.
    static func learnedMaps(_ adapters: [AdapterSpec]) -> [String: [String: String]] {
        var maps: [String: [String: String]] = [:]
        var clashing: Set<String> = []
        for adapter in adapters {
            for mapping in adapter.mappings {
                for (raw, code) in mapping.valueMap {
                    let field = mapping.field.qualifiedName
                    if let existing = maps[field]?[raw], existing != code { clashing.insert(field + "\u{1F}" + raw) }
                    maps[field, default: [:]][raw] = code
                }
            }
        }
        for key in clashing {
            let parts = key.split(separator: "\u{1F}", maxSplits: 1).map(String.init)
            maps[parts[0]]?[parts[1]] = nil
        }
        return maps
    }

    /// How the values of one column read as one field.
    struct Reading {
        var share: Double
        var count: Int
        var excelSerials = false
        var valueMap: [String: String] = [:]
        var unread: [String] = []
        var normalised: [String?]
    }

    static func read(_ values: [String?], as field: CanonicalField, map: [String: String], normalizer: FieldNormalizer) -> Reading {
        func attempt(serials: Bool) -> Reading {
            var good = 0, count = 0
            var used: [String: String] = [:]
            var unread: [String: Int] = [:]
            var normalised: [String?] = []
            for value in values {
                guard let value else {
                    normalised.append(nil)
                    continue
                }
                count += 1
                var result = normalizer.normalise(value, as: field, excelSerials: serials)
                if case .failure = result, let mapped = map[value] {
                    result = normalizer.normalise(mapped, as: field, excelSerials: serials)
                    if case .success = result { used[value] = mapped }
                }
                switch result {
                case .success(let text):
                    good += 1
                    normalised.append(text)
                case .failure:
                    unread[value, default: 0] += 1
                    normalised.append(nil)
                }
            }
            return Reading(
                share: count == 0 ? 0 : Double(good) / Double(count), count: count, excelSerials: serials, valueMap: used,
                unread: unread.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map(\.key), normalised: normalised)
        }
        let plain = attempt(serials: false)
        guard case .date = field.kind, plain.share < 0.5 else { return plain }
        let serial = attempt(serials: true)
        return serial.share > plain.share ? serial : plain
    }

    /// A kind whose values alone can name the field (an ID number is one, a number is not).
    static func isTellingByValues(_ field: CanonicalField) -> Bool {
        switch field.kind {
        case .citizenID, .phone, .community, .division, .code, .name: true
        case .sex, .date: true // only when they agree with the row's ID number
        default: false
        }
    }

    mutating func place(_ sample: Sample, matcher: HeaderMatcher, maps: [String: [String: String]], today: CalendarDate) {
        let normalizer = FieldNormalizer(today: today)
        struct Candidate {
            var column: String
            var field: CanonicalField
            var confidence: Double
            var reason: String
            var reading: Reading
        }
        var candidates: [Candidate] = []
        var notes: [String: String] = [:]
        var dateShapes: [String: [String]] = [:]
        // Values first for the ID number: sex and birth date are checked against it.
        // A column named as the ID number; failing that, the one whose values read as ID numbers most.
        let idColumn =
            sample.order.first { matcher.place($0)?.field == "national_id" }
            ?? sample.order.compactMap { column -> (column: String, share: Double)? in
                let reading = Self.read(sample.values[column] ?? [], as: CanonicalField.named("national_id")!, map: [:], normalizer: normalizer)
                return reading.count > 0 && reading.share >= 0.8 ? (column, reading.share) : nil
            }.max { ($0.share, $1.column) < ($1.share, $0.column) }?.column
        let rowIDs: [CitizenID?] = (idColumn.flatMap { sample.values[$0] } ?? []).map { value in value.flatMap { try? CitizenID.parse($0, today: today).get() } }

        func agreement(_ normalised: [String?], with property: (CitizenID) -> String) -> Double? {
            var compared = 0, agreed = 0
            for (index, value) in normalised.enumerated() where index < rowIDs.count {
                guard let value, let id = rowIDs[index] else { continue }
                compared += 1
                if value == property(id) { agreed += 1 }
            }
            return compared == 0 ? nil : Double(agreed) / Double(compared)
        }

        for column in sample.order {
            let values = sample.values[column] ?? []
            guard values.contains(where: { $0 != nil }) else {
                notes[column] = "empty in every row read"
                continue
            }
            let shapes = Self.dateShapes(values)
            if let byName = matcher.place(column), let field = CanonicalField.named(byName.field) {
                let reading = Self.read(values, as: field, map: maps[byName.field] ?? [:], normalizer: normalizer)
                if reading.share >= 0.5 {
                    var reason = "“\(byName.matched)” (\(byName.source))"
                    if reading.share < 1 { reason += "; \(Self.percent(reading.share)) of its values read as \(field.qualifiedName)" }
                    candidates.append(Candidate(column: column, field: field, confidence: byName.confidence * max(reading.share, 0.75), reason: reason, reading: reading))
                    if case .date = field.kind { dateShapes[column] = shapes }
                    continue
                }
                notes[column] = "the name suggests \(field.qualifiedName), but only \(Self.percent(reading.share)) of its values read as one"
            }
            // By values: each telling field the values fit, checked against the ID where it can be.
            for field in CanonicalField.all where Self.isTellingByValues(field) {
                let reading = Self.read(values, as: field, map: maps[field.qualifiedName] ?? [:], normalizer: normalizer)
                let distinct = Set(values.compactMap { $0 }).count
                var confidence = reading.share
                var reason = "\(Self.percent(reading.share)) of its values read as \(field.qualifiedName)"
                switch field.kind {
                case .sex:
                    // A few values, repeating (a row counter's `1`, `2` may agree with two IDs by chance).
                    guard distinct <= 4, reading.count > distinct + 1,
                        let agreed = agreement(reading.normalised, with: { $0.sex.rawValue }), agreed >= 0.9
                    else { continue }
                    confidence = min(reading.share, agreed)
                    reason += ", \(Self.percent(agreed)) agree with the ID number"
                case .date:
                    guard field.name == "birth_date", let agreed = agreement(reading.normalised, with: { PartialDate($0.birthDate).iso }), agreed >= 0.8
                    else { continue }
                    confidence = min(reading.share, agreed)
                    reason += ", \(Self.percent(agreed)) agree with the ID number"
                    dateShapes[column] = shapes
                case .code:
                    // Labels (`已婚`) tell; bare numbers (`1`, `20`) read as codes of many tables.
                    let labelled = values.compactMap { $0 }.filter { !$0.allSatisfy(\.isNumber) }.count
                    guard distinct >= 2, Double(labelled) / Double(reading.count) >= 0.5 else { continue }
                case .community, .division:
                    guard distinct >= 2 else { continue }
                case .name:
                    guard Self.looksLikeNames(values) else { continue }
                case .citizenID, .phone:
                    break
                default:
                    continue
                }
                guard reading.share >= 0.9 || (field.kind == .citizenID && reading.share >= 0.8) else { continue }
                candidates.append(Candidate(column: column, field: field, confidence: confidence * 0.9, reason: "values: " + reason, reading: reading))
            }
            if notes[column] == nil, !shapes.isEmpty, !candidates.contains(where: { $0.column == column }) {
                notes[column] = "dates, written \(shapes.joined(separator: ", ")): which date is it?"
            }
        }

        // One field per column and one column per field: the surest placement first.
        var byColumn: [String: Column] = [:]
        var takenFields: [String: String] = [:]
        for candidate in candidates.sorted(by: { ($1.confidence, $0.column) < ($0.confidence, $1.column) }) {
            if byColumn[candidate.column]?.placement != nil { continue }
            if let holder = takenFields[candidate.field.qualifiedName] {
                if byColumn[candidate.column] == nil {
                    notes[candidate.column] = notes[candidate.column] ?? "also reads as \(candidate.field.qualifiedName), placed on column \(holder)"
                }
                continue
            }
            takenFields[candidate.field.qualifiedName] = candidate.column
            var column = Column(name: candidate.column)
            column.placement = Placement(
                field: candidate.field.qualifiedName, confidence: (candidate.confidence * 100).rounded() / 100, reason: candidate.reason)
            column.excelSerials = candidate.reading.excelSerials
            switch candidate.field.kind {
            case .code, .choice, .boolean, .sex:
                column.valueMap = candidate.reading.valueMap
                column.unreadValues = Array(candidate.reading.unread.prefix(20))
            default:
                break
            }
            column.dateShapes = dateShapes[candidate.column] ?? []
            byColumn[candidate.column] = column
        }
        columns = sample.order.map { name in
            var column = byColumn[name] ?? Column(name: name)
            if column.placement == nil { column.note = notes[name] }
            return column
        }
    }

    /// The way dates are written, digits standing for themselves (`1985/3/2` → `yyyy/M/d`),
    /// when most values look like dates; empty otherwise.
    static func dateShapes(_ values: [String?]) -> [String] {
        var shapes: [String: Int] = [:]
        var count = 0
        for case let value? in values.prefix(2_000) {
            count += 1
            guard let shape = dateShape(value) else { continue }
            shapes[shape, default: 0] += 1
        }
        guard count > 0, Double(shapes.values.reduce(0, +)) / Double(count) >= 0.8 else { return [] }
        return shapes.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.prefix(3).map(\.key)
    }

    static func dateShape(_ text: String) -> String? {
        let runs = text.split(whereSeparator: { !$0.isASCII || !$0.isNumber })
        let separators = text.split(whereSeparator: { $0.isASCII && $0.isNumber })
        guard text.first?.isNumber == true, separators.allSatisfy({ ["-", "/", ".", "年", "月", "日"].contains(String($0)) }) else { return nil }
        if runs.count == 1, runs[0].count == 8 { return "yyyyMMdd" }
        guard (2...3).contains(runs.count), runs[0].count == 4, runs.dropFirst().allSatisfy({ (1...2).contains($0.count) }) else { return nil }
        let names = runs.count == 3 ? ["yyyy", "M", "d"] : ["yyyy", "M"]
        var shape = ""
        var separatorIndex = 0
        for (index, run) in runs.enumerated() {
            // `03` is written padded (MM); `3` and `15` say only that it is not.
            shape += index == 0 ? names[0] : String(repeating: names[index], count: run.first == "0" ? 2 : 1)
            if separatorIndex < separators.count {
                shape += separators[separatorIndex]
                separatorIndex += 1
            }
        }
        return shape
    }

    /// Two to four Han characters (or a Latin name), mostly different from row to row.
    static func looksLikeNames(_ values: [String?]) -> Bool {
        let present = values.compactMap { $0 }
        guard present.count >= 2 else { return false }
        let nameLike = present.filter { value in
            let text = TextNormalization.nfkc(value)
            let han = text.unicodeScalars.filter { $0.properties.isIdeographic }.count
            // Up to six: transliterated minority names (买买提艾力) run longer than Han ones.
            if han == text.unicodeScalars.count || text.contains("·") { return (2...6).contains(han) || (han >= 2 && text.contains("·")) }
            return text.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || $0 == " " || $0 == "-" || $0 == "'" } && text.contains(" ")
        }.count
        return Double(nameLike) / Double(present.count) >= 0.9 && Double(Set(present).count) / Double(present.count) >= 0.5
    }

    static func percent(_ share: Double) -> String { "\(Int((share * 100).rounded(.down)))%" }

    // MARK: Source key

    /// The system's own key: a column filled in (nearly) every row read and different in each,
    /// preferably named like a number (`编号`, `id`), not a field about the person; the ID number
    /// only as a last resort. A sample may hold a bad row or two (one in ten empty, one in twenty
    /// repeated, at least one of each allowed); the comment says how many, and the ingest
    /// quarantines those rows.
    mutating func chooseSourceKey(_ sample: Sample) {
        let personal: Set<String> = ["name", "sex", "birth_date", "phone", "address", "national_id"]
        var fallback: (name: String, reason: String)?
        var candidates: [(name: String, reason: String)] = []
        for column in columns {
            let present = (sample.values[column.name] ?? []).compactMap { $0 }
            let distinct = Set(present).count
            // A row counter (1, 2, 3… in file order) numbers rows, not people: the next export renumbers.
            if present.count == sample.rows, present.enumerated().allSatisfy({ Int($0.element) == $0.offset + 1 }) { continue }
            let missing = sample.rows - present.count, repeated = present.count - distinct
            guard present.count >= 2, missing <= max(1, sample.rows / 10), repeated <= max(1, present.count / 20) else { continue }
            var reason = distinct == sample.rows ? "different in every row read" : "filled in \(present.count) of \(sample.rows) rows read, \(distinct) different"
            if let field = column.placement?.field, personal.contains(field) {
                reason = "no column of the system's own is different in every row: the ID number (\(reason)), which changes when a 15-digit number is replaced; prefer the system's key if it has one"
                if field == "national_id" { fallback = (column.name, reason) }
                continue
            }
            candidates.append((column.name, reason))
        }
        let keyWords = ["编号", "代码", "序号", "id", "key", "code", "no", "号"]
        let named = candidates.first { candidate in keyWords.contains { HeaderMatcher.normalised(candidate.name).contains($0) } }
        if let chosen = named ?? candidates.first ?? fallback {
            sourceKey = chosen.name
            sourceKeyReason = (named != nil ? "named like a key, " : "") + chosen.reason
        } else {
            sourceKey = nil
            sourceKeyReason = "no column is filled and different in (nearly) every row read"
        }
    }

    // MARK: YAML

    /// The draft adapter: a person completes the lines marked TODO, checks the placements, and
    /// runs `adapter check` and `adapter preview`.
    public func yaml(system: String, feedName: String) -> String {
        let quoted = YAMLText.quoted
        var lines = [
            "# Drafted by `yibiao adapter suggest` from \(feedName) (\(rowsRead) rows read). Check every placement,",
            "# fill in the lines marked TODO, then run `yibiao adapter check` and `yibiao adapter preview`.",
            "system: \(system)",
            "name: {zh: TODO, en: TODO}",
            "format:",
        ]
        switch format {
        case .csv(let options):
            lines.append("  type: csv")
            lines.append("  encoding: \(options.encoding == .utf8 ? "utf-8" : "gb18030")")
            let delimiter = options.delimiter == UInt8(ascii: "\t") ? "\\t" : String(UnicodeScalar(options.delimiter))
            lines.append("  delimiter: \"\(delimiter)\"")
            lines.append("  header_row: \(options.headerRow)")
        case .xlsx(let sheet, let headerRow):
            lines.append("  type: xlsx")
            if let sheet { lines.append("  sheet: \(quoted(sheet))") }
            lines.append("  header_row: \(headerRow)")
        case .xml(let element):
            lines.append("  type: xml")
            lines.append("  record_element: \(quoted(element))")
        case .jsonLines:
            lines.append("  type: jsonl")
        case .json(let path):
            lines.append("  type: json")
            if !path.isEmpty { lines.append("  json_path: \(quoted(path.joined(separator: ".")))") }
        }
        for note in formatNotes { lines.append("  # " + YAMLText.comment(note)) }
        if let sourceKey {
            lines.append("source_key: \(quoted(sourceKey))  # " + YAMLText.comment(sourceKeyReason))
        } else {
            lines.append("source_key: TODO  # \(sourceKeyReason)")
        }
        func entry(_ column: Column, field: CanonicalField, indent: String) -> [String] {
            var parts = ["column: \(quoted(column.name))"]
            if field.name == "name", field.domain == .core { parts.append("required: true") }
            if column.excelSerials { parts.append("excel_serial: true") }
            if !column.valueMap.isEmpty {
                parts.append("map: {" + column.valueMap.sorted { $0.key < $1.key }.map { "\(quoted($0.key)): \(quoted($0.value))" }.joined(separator: ", ") + "}")
            }
            let placement = column.placement!
            var comment = String(format: "%.2f", placement.confidence) + ": " + placement.reason
            if !column.dateShapes.isEmpty { comment += "; written \(column.dateShapes.joined(separator: ", "))" }
            var result = ["\(indent)\(field.name): {\(parts.joined(separator: ", "))}  # " + YAMLText.comment(comment)]
            if !column.unreadValues.isEmpty {
                result.append(
                    "\(indent)  # not a code of its table, give them a map: "
                        + column.unreadValues.map(quoted).joined(separator: ", "))
            }
            return result
        }
        let placedFields = placed.compactMap { column in CanonicalField.named(column.placement!.field).map { (column, $0) } }
        let core = placedFields.filter { $0.1.domain == .core }
        if !core.isEmpty {
            lines.append("fields:")
            for (column, field) in core { lines += entry(column, field: field, indent: "  ") }
        }
        let facets = Dictionary(grouping: placedFields.filter { $0.1.domain != .core }, by: \.1.domain)
        if !facets.isEmpty {
            lines.append("facets:")
            for domain in CanonicalField.Domain.allCases where facets[domain] != nil {
                lines.append("  \(domain.rawValue):")
                for (column, field) in facets[domain]! { lines += entry(column, field: field, indent: "    ") }
            }
        }
        if !unplaced.isEmpty {
            lines.append("# Not placed: give each a field above, or leave it out (a column no field needs is not read).")
            for column in unplaced { lines.append("#   " + YAMLText.comment(column.name + (column.note.map { ": \($0)" } ?? ""))) }
        }
        lines.append("# outbound: add one to receive corrections (adapters/README.md, \"Write-back\").")
        return lines.joined(separator: "\n") + "\n"
    }
}

extension AdapterSpec {
    static func readerFor(_ format: Format, url: URL) -> any FeedReader {
        switch format {
        case .csv(let options): CSVReader(url: url, options: options)
        case .xlsx(let sheet, let headerRow): XLSXReader(url: url, sheet: sheet, headerRow: headerRow)
        case .xml(let element): XMLReader(url: url, recordElement: element)
        case .jsonLines: JSONReader(url: url, layout: .lines)
        case .json(let path): JSONReader(url: url, layout: .array(path: path))
        }
    }
}
