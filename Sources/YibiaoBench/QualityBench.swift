import Foundation
import YibiaoCore
import YibiaoMatching
import YibiaoSynth

/// Matching quality on labelled data: pairwise precision, recall and F1, the share of true pairs
/// blocking finds, and what the misses look like (`--why`).
struct QualityFigures: Codable {
    var data: String
    var records: Int
    var quarantined: Int
    var precision: Double
    var recall: Double
    var f1: Double
    var blockingRecall: Double
    var candidatePairs: Int
    var seconds: Double
}

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The named data sets: `febrl1` … `febrl4`, `synthetic` (3,000 residents) or `synthetic:N`.
func labelledData(_ name: String) throws -> (LabelledData, cleanup: () -> Void) {
    let febrl = repositoryRoot.appendingPathComponent(".build/febrl")
    let adapters = repositoryRoot.appendingPathComponent("bench/febrl")
    switch name {
    case "febrl1", "febrl2", "febrl3":
        return (LabelledData.febrl(dedupe: Int(String(name.last!))!, adapters: adapters, directory: febrl), {})
    case "febrl4": return (LabelledData.febrl4(adapters: adapters, directory: febrl), {})
    default:
        guard name.hasPrefix("synthetic") else {
            throw BenchError("unknown data set \(name): febrl1, febrl2, febrl3, febrl4, synthetic or synthetic:N")
        }
        let residents = Int(name.split(separator: ":").last.map(String.init) ?? "") ?? 3_000
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("yibiao-bench-quality-\(getpid())-\(residents)")
        _ = try DistrictSynthesizer(configuration: .init(residents: residents, seed: 1), output: directory).run()
        return (
            try LabelledData.synthetic(adapters: repositoryRoot.appendingPathComponent("adapters"), directory: directory),
            { try? FileManager.default.removeItem(at: directory) }
        )
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The pure engine on one data set, trained on it without labels as a district's first load is.
func measureQuality(_ name: String, why: Bool, trainOnFirstFeed: Bool = false) async throws -> QualityFigures {
    let (data, cleanup) = try labelledData(name)
    defer { cleanup() }
    let (rows, quarantined) = try data.rows()
    let (records, truth) = LabelledData.matchRecords(rows)
    let start = ContinuousClock.now
    // --first-feed: trained on the first feed alone, as a district's first ingest trains.
    let firstFeed = rows.prefix { $0.system == rows.first?.system }.count
    let (engine, _) = await MatchEngine().trained(on: trainOnFirstFeed ? Array(records.prefix(firstFeed)) : records)
    let result = await engine.match(records)
    let elapsed = seconds(ContinuousClock.now - start)
    let quality = PairwiseQuality(predicted: result.clusters, truth: truth)

    // Blocking recall: the true pairs that are candidate pairs at all.
    let (pairs, _) = engine.candidatePairs(records)
    var candidates = Set<UInt64>()
    for (i, j) in pairs { candidates.insert(UInt64(UInt32(i)) << 32 | UInt64(UInt32(j))) }
    var byPerson: [Int: [Int32]] = [:]
    for (index, record) in records.enumerated() { byPerson[truth[record.id]!, default: []].append(Int32(index)) }
    var truePairs = 0, found = 0
    for members in byPerson.values where members.count > 1 {
        for x in 0..<members.count {
            for y in (x + 1)..<members.count {
                truePairs += 1
                if candidates.contains(UInt64(UInt32(members[x])) << 32 | UInt64(UInt32(members[y]))) { found += 1 }
            }
        }
    }
    if why { explainMisses(records, truth: truth, result: result, engine: engine, candidates: candidates) }
    return QualityFigures(
        data: data.name, records: records.count, quarantined: quarantined, precision: quality.precision, recall: quality.recall,
        f1: quality.f1, blockingRecall: truePairs == 0 ? 1 : Double(found) / Double(truePairs), candidatePairs: pairs.count,
        seconds: elapsed)
}

/// The comparison vectors of wrong links and of missed true pairs, most common first.
private func explainMisses(_ records: [MatchRecord], truth: [Int64: Int], result: MatchResult, engine: MatchEngine, candidates: Set<UInt64>) {
    var cluster: [Int64: Int] = [:]
    for (index, members) in result.clusters.enumerated() { for id in members { cluster[id] = index } }
    let frequencies = TermFrequencies(records)
    var wrong: [String: Int] = [:]
    for link in result.links where truth[link.a] != truth[link.b] {
        wrong["\(link.vector.levels) \(link.method) p=\(String(format: "%.3f", link.probability))", default: 0] += 1
    }
    var missed: [String: Int] = [:]
    var byPerson: [Int: [Int]] = [:]
    for (index, record) in records.enumerated() { byPerson[truth[record.id]!, default: []].append(index) }
    var samples: [String] = []
    for members in byPerson.values where members.count > 1 {
        for x in 0..<members.count {
            for y in (x + 1)..<members.count {
                let a = records[members[x]], b = records[members[y]]
                guard cluster[a.id] != cluster[b.id] else { continue }
                let blocked = candidates.contains(UInt64(UInt32(members[x])) << 32 | UInt64(UInt32(members[y])))
                let score = engine.score(a, b, frequencies: frequencies)
                missed["\(score.vector.levels) blocked=\(blocked) p=\(String(format: "%.2f", score.probability))", default: 0] += 1
                if samples.count < 12 {
                    samples.append(
                        "    \(a.nameKey ?? "-") | \(b.nameKey ?? "-")  \(a.birth?.iso ?? "-") | \(b.birth?.iso ?? "-")  "
                            + "\(a.identifiers) | \(b.identifiers)  \(a.address ?? "-") | \(b.address ?? "-")  \(score.vector.levels)")
                }
            }
        }
    }
    print("  wrong links (vector, method, probability):")
    for (key, count) in wrong.sorted(by: { $0.value > $1.value }).prefix(12) { print("    \(count)  \(key)") }
    print("  missed pairs (vector, found by blocking, probability):")
    for (key, count) in missed.sorted(by: { $0.value > $1.value }).prefix(15) { print("    \(count)  \(key)") }
    print("  samples of missed pairs:")
    samples.forEach { print($0) }
    print("  m: \(engine.parameters.m.map { $0.map { String(format: "%.3f", $0) } })")
    print("  u: \(engine.parameters.u.map { $0.map { String(format: "%.5f", $0) } })  prior \(engine.parameters.prior)")
}

/// The normalised rows of a data set as CSV, for a peer that has no readers for its feeds.
func exportLabelled(_ name: String, to path: String) throws {
    let (data, cleanup) = try labelledData(name)
    defer { cleanup() }
    let columns = ["national_id", "name", "birth_date", "sex", "phone", "address", "division_code"]
    func cell(_ value: String?) -> String {
        guard let value else { return "" }
        return value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : value
    }
    var text = "unique_id,person," + columns.joined(separator: ",") + "\n"
    for row in try data.rows().rows {
        let id = row.fields["national_id"] ?? row.fields["national_id_raw"]
        let values = [id] + columns.dropFirst().map { row.fields[$0] }
        text += cell(row.system + "/" + row.sourceKey) + "," + String(row.person) + "," + values.map(cell).joined(separator: ",") + "\n"
    }
    try text.write(toFile: path, atomically: true, encoding: .utf8)
}

func benchQuality(_ arguments: [String]) async throws {
    if let index = arguments.firstIndex(of: "--export"), index + 2 < arguments.count {
        return try exportLabelled(arguments[index + 1], to: arguments[index + 2])
    }
    let why = arguments.contains("--why")
    let json = arguments.contains("--json")
    let names = arguments.filter { !$0.hasPrefix("--") }
    for name in names.isEmpty ? ["febrl3", "febrl4", "synthetic"] : names {
        let figures = try await measureQuality(name, why: why, trainOnFirstFeed: arguments.contains("--first-feed"))
        if why { print(name) }
        if json {
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            print(String(decoding: try encoder.encode(figures), as: UTF8.self))
        } else {
            print(
                String(
                    format: "%@: %d records (%d quarantined)  precision %.4f  recall %.4f  F1 %.4f  blocking recall %.4f  %d candidate pairs  %.2f s",
                    figures.data, figures.records, figures.quarantined, figures.precision, figures.recall, figures.f1,
                    figures.blockingRecall, figures.candidatePairs, figures.seconds))
        }
    }
}
