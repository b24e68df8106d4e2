public import Foundation
public import YibiaoCore
public import YibiaoYAML

/// A feed adapter, declared in YAML (see adapters/README.md): how to read a system's export
/// and map it to canonical fields, and how to write canonical values back in its format.
public struct AdapterSpec: Sendable {
    public enum Format: Sendable, Hashable {
        case csv(CSVReader.Options)
        case xlsx(sheet: String?, headerRow: Int)
        case xml(recordElement: String)
        case jsonLines
        case json(path: [String])

        public var typeName: String {
            switch self {
            case .csv: "csv"
            case .xlsx: "xlsx"
            case .xml: "xml"
            case .jsonLines: "jsonl"
            case .json: "json"
            }
        }

        /// Tabular formats have a header: a mapped column missing from it is an error.
        public var isTabular: Bool {
            switch self {
            case .csv, .xlsx: true
            default: false
            }
        }
    }

    /// Where a value comes from in a row.
    public enum Source: Sendable, Hashable {
        case column(String)
        /// Non-empty cells joined with a separator.
        case concat([String], separator: String)
        /// The `index`-th (0-based) part of a cell split by a separator.
        case split(String, separator: String, index: Int)
        case constant(String)

        public var columns: [String] {
            switch self {
            case .column(let name): [name]
            case .concat(let names, _): names
            case .split(let name, _, _): [name]
            case .constant: []
            }
        }
    }

    public struct FieldMapping: Sendable, Hashable {
        public let field: CanonicalField
        public let source: Source
        /// Raw value → value, applied before the field's normaliser (system codes → standard codes).
        public let valueMap: [String: String]
        public let defaultValue: String?
        public let required: Bool
        /// A date column whose numbers are Excel serial dates (`excel_serial: true`).
        public var excelSerials: Bool = false
        /// The YAML line, for messages.
        public let line: Int
    }

    public struct OutboundColumn: Sendable, Hashable {
        public let column: String
        public let field: CanonicalField
        /// Canonical value → the system's value.
        public let valueMap: [String: String]
        /// For dates: `yyyy-MM-dd`, `yyyy/M/d`, `yyyyMMdd`, `yyyy年M月d日`…
        public let dateFormat: String?
    }

    /// Which golden changes a system is sent (`outbound.send`).
    public enum SendMode: String, Sendable, Hashable {
        /// Every correction, whichever feed, entry or resolution it came from.
        case all
        /// Only what a person decided: workers' entries and conflict resolutions.
        case entriesOnly = "entries_only"
    }

    public struct Outbound: Sendable, Hashable {
        public let format: Format
        public let columns: [OutboundColumn]
        public var send: SendMode = .all
        /// Updates are POSTed here, one request per update, instead of written as files.
        public var endpoint: URL?
        /// Attempts before an update is a dead letter.
        public var maxAttempts = 8
        /// The system takes residents it has no record of (`new_residents: true`): they are sent
        /// with an empty key cell, for the system to give them its own.
        public var newResidents = false

        public init(
            format: Format, columns: [OutboundColumn], send: SendMode = .all, endpoint: URL? = nil, maxAttempts: Int = 8,
            newResidents: Bool = false
        ) {
            self.format = format
            self.columns = columns
            self.send = send
            self.endpoint = endpoint
            self.maxAttempts = maxAttempts
            self.newResidents = newResidents
        }
    }

    /// The adapter's file name (`civil_affairs.yaml`).
    public let fileName: String
    public let system: String
    public let name: LocalizedText
    public let format: Format
    public let sourceKey: Source
    public let mappings: [FieldMapping]
    public let outbound: Outbound?
    /// SHA-256 of the file it was read from: a changed adapter reads an unchanged feed anew.
    public internal(set) var sourceSHA256 = ""
    /// The YAML it was read from: the hub keeps it with the system, so write-back needs no files.
    public internal(set) var sourceText = ""

    /// The fields this system holds: write-back only ever sends these.
    public var heldFields: Set<String> { Set(mappings.map(\.field.qualifiedName)) }

    public func reader(for url: URL) -> any FeedReader { Self.readerFor(format, url: url) }
}

/// A mistake in an adapter file: where (line, key) and what to do.
public typealias AdapterSpecError = SpecFileError
