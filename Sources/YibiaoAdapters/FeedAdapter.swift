public import Foundation
public import YibiaoCore
import YibiaoYAML

/// A feed adapter: reads one system's export and yields mapped records or quarantined rows.
///
/// Most feeds need no Swift: a YAML spec (`YAMLFeedAdapter`) covers CSV, XLSX, XML and JSON.
/// Implement this protocol for a feed the YAML cannot express — a fixed-width mainframe
/// export, a format with records spread over several lines — and register it in
/// `FeedAdapterRegistry` so that `yibiao ingest swift:NAME FILE` finds it
/// (`FixedWidthHukouAdapter` is the worked example).
public protocol FeedAdapter: Sendable {
    /// The source system id (`civil_affairs`).
    var system: String { get }
    var name: LocalizedText { get }
    /// A label stored with every batch (the YAML file name, or `swift:NAME`).
    var adapterName: String { get }
    /// The domain the system owns, for survivorship (`core` when it owns none).
    var domain: CanonicalField.Domain { get }
    /// Canonical fields the system holds: write-back only ever sends these.
    var heldFields: Set<String> { get }
    /// Changes whenever the adapter would map the same file differently (the YAML file's hash;
    /// a Swift adapter's name and revision): an unchanged file under an unchanged adapter is not
    /// read again.
    var fingerprint: String { get }

    /// Streams the file: every row becomes exactly one outcome, in file order. Throws a
    /// `FeedIssue` for problems that stop the whole file.
    func read(_ url: URL, today: CalendarDate, _ body: (MappingOutcome) throws -> Void) throws

    /// The same rows, in the same order, but possibly not mapped yet: a caller can then map a
    /// chunk of them on several cores (`UnmappedRow.mapped()`). By default rows come mapped.
    func readUnmapped(_ url: URL, today: CalendarDate, _ body: (UnmappedRow) throws -> Void) throws
}

/// A row as `readUnmapped` hands it over: mapped already, or with the mapping still to do.
public enum UnmappedRow: Sendable {
    case ready(MappingOutcome)
    case raw(RawRow, RecordMapper)
    /// Not even parsed yet (`UnparsedRow`): `parsed()` turns it into one of the two above.
    case unparsed(UnparsedRow, RecordMapper)

    /// The row parsed, when it was not: the case to ask `heldUnchanged` and `mapped` of, so that
    /// a row asked both is parsed once.
    public func parsed() -> UnmappedRow {
        guard case .unparsed(let row, let mapper) = self else { return self }
        switch row.parsed() {
        case .row(let raw): return .raw(raw, mapper)
        case .unreadable(let issue): return .ready(.quarantined(issue))
        case .header:
            // No reader of unparsed rows has a header row; were one to, the row is not a record.
            return .ready(
                .quarantined(
                    FeedIssue(
                        code: "unexpected_header", message: LocalizedText(en: "a header where a record was expected", zh: "此处应为记录，却是表头"),
                        row: row.number)))
        }
    }

    /// The row's outcome; pure, safe to call from any thread.
    public func mapped() -> MappingOutcome {
        mapped(memo: nil)
    }

    /// The row's number and source key when it is a row held already, unchanged, without
    /// mapping it: `held` gives the content digest held under a source key (nil: none that
    /// counts). The cells are hashed only for a key held, so a new row's digest is still
    /// computed once, by mapping. nil for a row read mapped already, one only mapping can
    /// judge (`RecordMapper.sourceKey`), or one that changed.
    public func heldUnchanged(memo: MappingMemo? = nil, _ held: (String) -> String?) -> (row: Int, sourceKey: String)? {
        guard case .raw(let row, let mapper) = parsed(), let key = mapper.sourceKey(row, memo: memo), let digest = held(key),
            RecordMapper.hash(row) == digest
        else { return nil }
        return (row.number, key)
    }

    /// The same outcome, remembering normalised values in the calling thread's memo.
    public func mapped(memo: MappingMemo?) -> MappingOutcome {
        switch self {
        case .ready(let outcome): outcome
        case .raw(let row, let mapper): mapper.map(row, memo: memo)
        case .unparsed: parsed().mapped(memo: memo)
        }
    }
}

extension FeedAdapter {
    public func readUnmapped(_ url: URL, today: CalendarDate, _ body: (UnmappedRow) throws -> Void) throws {
        try read(url, today: today) { try body(.ready($0)) }
    }
}

/// The YAML-declared adapter: a reader for the format, then `RecordMapper`.
public struct YAMLFeedAdapter: FeedAdapter {
    public let spec: AdapterSpec

    public init(spec: AdapterSpec) {
        self.spec = spec
    }

    public var system: String { spec.system }
    public var name: LocalizedText { spec.name }
    public var adapterName: String { spec.fileName }
    public var heldFields: Set<String> { spec.heldFields }
    public var fingerprint: String { spec.sourceSHA256 }

    public var domain: CanonicalField.Domain {
        let domains = Set(spec.mappings.map(\.field.domain)).subtracting([.core])
        return domains.count == 1 ? domains.first! : .core
    }

    public func read(_ url: URL, today: CalendarDate, _ body: (MappingOutcome) throws -> Void) throws {
        try readUnmapped(url, today: today) { try body($0.mapped()) }
    }

    public func readUnmapped(_ url: URL, today: CalendarDate, _ body: (UnmappedRow) throws -> Void) throws {
        try FeedFile.check(url)
        let mapper = RecordMapper(spec: spec, today: today)
        let reader = spec.reader(for: url)
        // Rows that parse apart from the reading are parsed by whoever maps them.
        if let unparsed = reader as? any UnparsedFeedReader {
            try unparsed.readUnparsed { try body(.unparsed($0, mapper)) }
            return
        }
        try reader.read { event in
            switch event {
            case .header(let columns):
                // Checked on the header itself, so that a file with no rows is checked too.
                let missing = mapper.missingColumns(in: columns)
                if !missing.isEmpty {
                    throw FeedIssue(
                        code: "column_missing",
                        message: LocalizedText(
                            en: "the feed has no column \(missing.joined(separator: ", ")); it has: \(columns.sorted().joined(separator: ", "))",
                            zh: "数据文件中没有列 \(missing.joined(separator: "、"))；现有列：\(columns.sorted().joined(separator: "、"))"))
                }
            case .unreadable(let issue):
                try body(.ready(.quarantined(issue)))
            case .row(let row):
                try body(.raw(row, mapper))
            }
        }
    }
}

/// Adapters written in Swift, by the name used on the command line (`swift:NAME`).
public enum FeedAdapterRegistry {
    public static let custom: [String: any FeedAdapter] = [
        FixedWidthHukouAdapter.registeredName: FixedWidthHukouAdapter()
    ]

    /// `swift:NAME` → the registered adapter; a path → the YAML adapter in that file.
    public static func load(_ reference: String) throws -> any FeedAdapter {
        if reference.hasPrefix("swift:") {
            let name = String(reference.dropFirst("swift:".count))
            guard let adapter = custom[name] else {
                let known = custom.keys.sorted().joined(separator: ", ")
                throw AdapterSpecError(
                    .adapter, fileName: reference,
                    problem: LocalizedText(en: "no Swift adapter is registered as \(name)", zh: "没有注册名为 \(name) 的 Swift 适配器"),
                    fix: LocalizedText(en: "registered: \(known)", zh: "已注册：\(known)"))
            }
            return adapter
        }
        return YAMLFeedAdapter(spec: try AdapterSpec.load(URL(fileURLWithPath: reference)))
    }
}
