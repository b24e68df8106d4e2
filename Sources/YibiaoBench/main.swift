import Foundation
import YibiaoAdapters
import YibiaoCore
import YibiaoMatching
import YibiaoSynth
#if canImport(Glibc)
    import Glibc
#endif

// `make bench`: throughput figures (values or rows per second) and peak memory.
//   YibiaoBench                 everything
//   YibiaoBench normalisers     the pure normalisers
//   YibiaoBench readers [N]     each reader on a generated N-row feed (default 1,000,000)
//   YibiaoBench golden [N]      merge, golden records in PostgreSQL and change-log appends (default 200,000)
//   YibiaoBench district [N]    the whole pipeline on an N-resident district beside a raw COPY (default 200,000)
//   YibiaoBench district N SEED feed-by-feed|all-at-once   only the floor and that first load (its own peak memory)
//   YibiaoBench workers [N] [S]  2,500 workers sending entries on loopback for S seconds (default 300) on an N-resident district (default 20,000)
//   YibiaoBench quality [DATA…] [--why] [--json]   matching quality on febrl3, febrl4, synthetic[:N] (pure engine)
//   YibiaoBench quality --export DATA FILE          a data set's normalised rows as CSV (for a peer)
//   YibiaoBench read KIND FILE  (internal) read one file in this process, print rows and peak memory

let arguments = Array(CommandLine.arguments.dropFirst())

/// What the figures were measured with: only a release build's are kept in docs/benchmarks.md.
#if DEBUG
    let buildKind = "debug build"
#else
    let buildKind = "release build"
#endif

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// VmHWM, the peak resident set of this process image. (getrusage's ru_maxrss survives exec
/// on Linux, so a child would report its parent's peak.)
func peakMemoryMB() -> Double {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kilobytes = line.split(separator: " ").compactMap { Double($0) }.first ?? 0
        return kilobytes / 1024
    }
    return 0
}

/// CPU time so far: this process's (every thread), and the whole machine's busy and total
/// time across its cores (Linux `/proc/stat`). Two readings apart tell where a load's time went:
/// this process's work, the rest of the machine's (on a quiet machine, the database server's),
/// and the cores' idle time.
struct CPUReading {
    var process = 0.0, machineBusy = 0.0, machineTotal = 0.0

    static func now() -> CPUReading {
        var reading = CPUReading()
        var usage = rusage()
        if getrusage(RUSAGE_SELF.rawValue, &usage) == 0 {
            func value(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
            reading.process = value(usage.ru_utime) + value(usage.ru_stime)
        }
        // "cpu  user nice system idle iowait irq softirq steal …", in clock ticks.
        let stat = (try? String(contentsOfFile: "/proc/stat", encoding: .utf8)) ?? ""
        if let line = stat.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) {
            let ticks = line.split(separator: " ").dropFirst().compactMap { Double($0) }
            if ticks.count >= 8 {
                let hertz = Double(sysconf(Int32(_SC_CLK_TCK)))
                let idle = ticks[3] + ticks[4]
                reading.machineBusy = (ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] + ticks[7]) / hertz
                reading.machineTotal = reading.machineBusy + idle / hertz
            }
        }
        return reading
    }

    /// "cpu: this process 18.4 core-s, the rest of the machine 9.7 core-s; 2 cores busy 78 %".
    func since(_ start: CPUReading) -> String {
        let process = self.process - start.process
        let rest = max(0, machineBusy - start.machineBusy - process)
        let busy = machineTotal > start.machineTotal ? 100 * (machineBusy - start.machineBusy) / (machineTotal - start.machineTotal) : 0
        return String(
            format: "cpu: this process %.1f core-s, the rest of the machine (the database server) %.1f core-s; %d cores busy %.0f %% of the time",
            process, rest, ProcessInfo.processInfo.activeProcessorCount, busy)
    }
}

/// Starts a new peak: `peakMemoryMB()` then reports the highest resident set since this call
/// (Linux: writing 5 to clear_refs resets VmHWM to the current resident set).
func resetPeakMemory() {
    try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
}

switch arguments.first {
case "read":
    readOne(kind: arguments[1], path: arguments[2])
case "normalisers":
    benchNormalisers()
case "readers":
    benchReaders(rows: arguments.count > 1 ? Int(arguments[1]) ?? 1_000_000 : 1_000_000)
case "synth":
    benchSynth(residents: arguments.count > 1 ? Int(arguments[1]) ?? 200_000 : 200_000)
case "golden":
    try await benchGolden(residents: arguments.count > 1 ? Int(arguments[1]) ?? 200_000 : 200_000, seed: 1)
case "district":
    // A misspelt part would otherwise run everything (half an hour at 200,000 residents).
    guard let part = arguments.count > 3 ? DistrictBenchPart(rawValue: arguments[3]) : .all else {
        FileHandle.standardError.write(Data("usage: YibiaoBench district [N] [SEED] [feed-by-feed|all-at-once]\n".utf8))
        exit(64)
    }
    try await benchDistrict(
        residents: arguments.count > 1 ? Int(arguments[1]) ?? 200_000 : 200_000, seed: arguments.count > 2 ? UInt64(arguments[2]) ?? 1 : 1,
        part: part)
case "workers":
    try await benchWorkers(
        residents: arguments.count > 1 ? Int(arguments[1]) ?? 20_000 : 20_000, seconds: arguments.count > 2 ? Int(arguments[2]) ?? 300 : 300)
case "quality":
    try await benchQuality(Array(arguments.dropFirst()))
case "match":
    await benchMatching(residents: arguments.count > 1 ? Int(arguments[1]) ?? 200_000 : 200_000, seed: arguments.count > 2 ? UInt64(arguments[2]) ?? 1 : 1)
default:
    benchNormalisers()
    benchSynth(residents: 200_000)
    await benchMatching(residents: 200_000, seed: 1)
    try await benchGolden(residents: 200_000, seed: 1)
    benchReaders(rows: 1_000_000)
    try await benchWorkers(residents: 20_000, seconds: 300)
}

// MARK: Matching

/// Matching quality against the synthetic ground truth, and speed (the pure engine, no database).
func benchMatching(residents: Int, seed: UInt64) async {
    let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("yibiao-bench-match-\(getpid())")
    defer { try? FileManager.default.removeItem(at: directory) }
    _ = try! DistrictSynthesizer(configuration: .init(residents: residents, seed: seed), output: directory).run()
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    var truthByKey: [String: Int] = [:]
    for line in try! String(contentsOf: directory.appendingPathComponent("truth.csv"), encoding: .utf8).split(separator: "\n").dropFirst() {
        let fields = line.split(separator: ",", omittingEmptySubsequences: false)
        truthByKey[fields[0] + "/" + fields[1]] = Int(fields[2])!
    }
    var records: [MatchRecord] = []
    var truth: [Int64: Int] = [:]
    let today = CalendarDate(year: 2026, month: 1, day: 1)!
    for (feed, file) in [("civil_affairs", "civil_affairs.csv"), ("family_planning", "family_planning.xlsx"), ("party", "party.xml"), ("social_security", "social_security.jsonl")] {
        let adapter = try! FeedAdapterRegistry.load(root.appendingPathComponent("adapters/\(feed).yaml").path)
        try! adapter.read(directory.appendingPathComponent(file), today: today) { outcome in
            guard case .record(let record) = outcome else { return }
            let id = Int64(records.count + 1)
            records.append(MatchRecord(id: id, fields: record.fields))
            truth[id] = truthByKey[feed + "/" + record.sourceKey]
        }
    }
    let start = ContinuousClock.now
    let (engine, report) = await MatchEngine().trained(on: records, seed: seed)
    let trainedAt = ContinuousClock.now
    let result = await engine.match(records)
    let end = ContinuousClock.now
    let withoutID = Set(records.filter { $0.nationalID == nil }.map(\.id))
    let overall = PairwiseQuality(predicted: result.clusters, truth: truth)
    let noID = PairwiseQuality(predicted: result.clusters, truth: truth, focus: withoutID)
    print("\nmatching (\(residents) residents, \(records.count) records, \(withoutID.count) without a valid ID)")
    print("  candidate pairs \(result.candidatePairs): " + MatchEngine.blockingKeys.map { "\($0) \(result.pairsByBlockingKey[$0] ?? 0)" }.joined(separator: ", "))
    print(String(format: "  overall:         precision %.4f  recall %.4f  F1 %.4f", overall.precision, overall.recall, overall.f1))
    print(String(format: "  without an ID:   precision %.4f  recall %.4f  F1 %.4f", noID.precision, noID.recall, noID.f1))
    if CommandLine.arguments.contains("--why") {
        var byVector: [String: Int] = [:]
        for pair in result.review {
            let sameTruth = truth[pair.a] == truth[pair.b]
            byVector["\(pair.vector.levels) same=\(sameTruth) p=\(String(format: "%.2f", pair.probability))", default: 0] += 1
        }
        for (key, count) in byVector.sorted(by: { $0.value > $1.value }).prefix(15) { print("    \(count)  \(key)") }
        var wrong: [String: Int] = [:]
        for pair in result.links where truth[pair.a] != truth[pair.b] {
            wrong["\(pair.vector.levels) \(pair.method) p=\(String(format: "%.3f", pair.probability))", default: 0] += 1
        }
        print("  wrong links:")
        for (key, count) in wrong.sorted(by: { $0.value > $1.value }).prefix(15) { print("    \(count)  \(key)") }
        print("    m: \(engine.parameters.m.map { $0.map { String(format: "%.3f", $0) } })")
        print("    u: \(engine.parameters.u.map { $0.map { String(format: "%.5f", $0) } })  prior \(engine.parameters.prior)")
    }
    print(String(format: "  review queue %d pairs (%.2f%% of records); %d links", result.review.count, 100 * Double(result.review.count) / Double(records.count), result.links.count))
    let (other, _) = await MatchEngine().trained(on: records, seed: seed + 1000)
    let otherF1 = PairwiseQuality(predicted: await other.match(records).clusters, truth: truth).f1
    print(String(format: "  stability: F1 with another training sample %.5f (change %.5f; target < 0.001)", otherF1, abs(otherF1 - overall.f1)))
    print(
        String(
            format: "  training %.1f s (%d EM iterations); matching %.1f s: %.0f records/s (one core)",
            seconds(trainedAt - start), report.iterations, seconds(end - trainedAt), Double(records.count) / seconds(end - trainedAt)))
}

// MARK: Synthetic district

func benchSynth(residents: Int) {
    let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("yibiao-bench-synth-\(getpid())")
    defer { try? FileManager.default.removeItem(at: directory) }
    let start = ContinuousClock.now
    let summary = try! DistrictSynthesizer(configuration: .init(residents: residents, seed: 1), output: directory).run()
    let elapsed = seconds(ContinuousClock.now - start)
    let records = summary.records.values.reduce(0, +)
    print("\nsynthetic district (\(residents) residents, \(records) feed records)")
    print(
        String(
            format: "  %.1f s: %.0f residents/s, %.0f feed records/s; 1,000,000 residents ≈ %.0f s; peak %.0f MB",
            elapsed, Double(residents) / elapsed, Double(records) / elapsed, 1_000_000 / (Double(residents) / elapsed), peakMemoryMB()))
}

// MARK: Normalisers

func benchNormalisers() {
    struct Figure {
        let name: String
        let values: Int
        let seconds: Double
    }
    func measure(_ name: String, inputs: [String], rounds: Int = 5, _ body: (String) -> Bool) -> Figure {
        for input in inputs.prefix(100) { _ = body(input) } // builds lazy tables outside the timing
        var accepted = 0
        let start = ContinuousClock.now
        for _ in 0..<rounds {
            for input in inputs where body(input) { accepted += 1 }
        }
        precondition(accepted > 0, "\(name): nothing accepted, the inputs are wrong")
        return Figure(name: name, values: inputs.count * rounds, seconds: seconds(ContinuousClock.now - start))
    }
    func digits(_ count: Int) -> String { String((0..<count).map { _ in Character(String(Int.random(in: 0...9))) }) }
    let count = 200_000
    let ids: [String] = (0..<count).map { i in
        let body = "110105" + String(1940 + i % 70) + String(format: "%02d%02d", 1 + i % 12, 1 + i % 28) + digits(3)
        let check = CitizenID.checkCharacter(forFirst17: body.map { $0.wholeNumberValue! })
        return i % 10 == 0 ? String(body.prefix(6)) + String(body.dropFirst(8)) : body + String(check)
    }
    let surnames = ["王", "李", "張", "劉", "陈", "欧阳", "司马", "买买提·", "於"]
    let given = ["伟", "芳", "娜", "敏", "靜", "麗", "强", "艾力", "軍"]
    let names: [String] = (0..<count).map { i in surnames[i % surnames.count] + given[(i / 7) % given.count] + (i % 3 == 0 ? given[i % given.count] : "") }
    let dates: [String] = (0..<count).map { i in
        let y = 1930 + i % 90, m = 1 + i % 12, d = 1 + i % 28
        switch i % 6 {
        case 0: return String(format: "%04d-%02d-%02d", y, m, d)
        case 1: return "\(y)/\(m)/\(d)"
        case 2: return String(format: "%04d%02d%02d", y, m, d)
        case 3: return "\(y)年\(m)月\(d)日"
        case 4: return String(30000 + i % 10000)
        default: return String(format: "%04d-%02d-%02dT00:00:00+08:00", y, m, d)
        }
    }
    let phones: [String] = (0..<count).map { i in i % 4 == 0 ? "010-6" + digits(7) : (i % 4 == 1 ? "+86 139 " + digits(4) + " " + digits(4) : "13" + digits(9)) }
    let parser = DateParser(referenceYear: 2026)
    let today = CalendarDate(year: 2026, month: 11, day: 21)!
    let figures = [
        measure("citizen ID", inputs: ids) {
            if case .success = CitizenID.parse($0, today: today) { return true }
            return false
        },
        measure("name", inputs: names) {
            if case .success = NameNormalizer.normalize($0) { return true }
            return false
        },
        measure("date", inputs: dates) {
            if case .success = parser.parse($0) { return true }
            return false
        },
        measure("phone", inputs: phones) {
            if case .success = PhoneNumber.parse($0) { return true }
            return false
        },
        measure("sex code", inputs: (0..<count).map { ["1", "2", "男", "女", "M", "F"][$0 % 6] }) {
            if case .success = Sex.parse($0) { return true }
            return false
        },
    ]
    print("normalisers (one core, \(count) distinct values × 5 rounds)")
    print("  kind          values/s")
    for figure in figures {
        print("  " + figure.name.padding(toLength: 12, withPad: " ", startingAt: 0) + String(format: "%12.0f", Double(figure.values) / figure.seconds))
    }
}

// MARK: Readers

/// One process per reader, so that each peak-memory figure is that reader's own.
func benchReaders(rows: Int) {
    let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("yibiao-bench-\(getpid())")
    try! FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    print("\nreaders (\(rows) generated rows each; peak memory of a process that only reads)")
    let start = ContinuousClock.now
    let files = generateFeeds(rows: rows, in: directory)
    print(String(format: "  generated in %.1f s", seconds(ContinuousClock.now - start)))
    print("  reader          file MB     rows/s   peak MB")
    for (kind, url) in files {
        let size = Double((try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0) / 1_048_576
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        process.arguments = ["read", kind, url.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try! process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let parts = output.split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        guard parts.count == 3 else {
            print("  \(kind): failed: \(output)")
            continue
        }
        let verdict = parts[2] < 200 ? "" : "  ← over the 200 MB target"
        print(
            "  " + kind.padding(toLength: 14, withPad: " ", startingAt: 0)
                + String(format: "%9.1f %10.0f %9.1f", size, parts[0] / parts[1], parts[2]) + verdict)
        if Int(parts[0]) != rows { print("    (read \(Int(parts[0])) rows, expected \(rows))") }
    }
}

func readOne(kind: String, path: String) {
    let url = URL(fileURLWithPath: path)
    let reader: any FeedReader =
        switch kind {
        case "csv-gb18030":
            {
                var options = CSVReader.Options()
                options.encoding = .gb18030
                return CSVReader(url: url, options: options)
            }()
        case "csv-utf8": CSVReader(url: url)
        case "xlsx": XLSXReader(url: url)
        case "xml": XMLReader(url: url, recordElement: "person")
        case "jsonl": JSONReader(url: url, layout: .lines)
        default: JSONReader(url: url, layout: .array(path: ["data"]))
        }
    var rows = 0
    let start = ContinuousClock.now
    try! reader.read { event in if case .row = event { rows += 1 } }
    print("\(rows) \(seconds(ContinuousClock.now - start)) \(peakMemoryMB())")
}

func generateFeeds(rows: Int, in directory: URL) -> [(String, URL)] {
    let surnames = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "欧阳", "吴"]
    let given = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "艳", "勇", "杰", "娟"]
    func person(_ i: Int) -> [String] {
        let name = surnames[i % surnames.count] + given[(i / 10) % given.count] + (i % 3 == 0 ? given[(i / 7) % given.count] : "")
        let body = "110105" + String(1930 + i % 90) + String(format: "%02d%02d", 1 + i % 12, 1 + i % 28) + String(format: "%03d", i % 1000)
        let id = body + String(CitizenID.checkCharacter(forFirst17: body.map { $0.wholeNumberValue! }))
        return [
            String(format: "P%08d", i), name, String(1 + i % 2), id, String(id.dropFirst(6).prefix(8)),
            "1" + String(format: "%010d", (i * 7919) % 10_000_000_000), "北京市朝阳区幸福路\(i % 500)号院\(i % 20)号楼\(i % 6)单元\(i % 30)01",
        ]
    }
    let header = ["编号", "姓名", "性别", "身份证号", "出生日期", "电话", "地址"]
    func writeLines(_ url: URL, _ body: (_ write: (String) -> Void) -> Void) {
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        let handle = try! FileHandle(forWritingTo: url)
        var buffer = ""
        body { line in
            buffer += line
            if buffer.utf8.count > 1 << 20 {
                handle.write(Data(buffer.utf8))
                buffer = ""
            }
        }
        handle.write(Data(buffer.utf8))
        try! handle.close()
    }
    let utf8CSV = directory.appendingPathComponent("feed.csv")
    writeLines(utf8CSV) { write in
        write(header.joined(separator: ",") + "\r\n")
        for i in 0..<rows { write(person(i).map { $0.contains(",") ? "\"\($0)\"" : $0 }.joined(separator: ",") + "\r\n") }
    }
    let gbCSV = directory.appendingPathComponent("feed-gb18030.csv")
    let iconv = Process()
    iconv.executableURL = URL(fileURLWithPath: "/bin/sh")
    iconv.arguments = ["-c", "iconv -f UTF-8 -t GB18030 '\(utf8CSV.path)' > '\(gbCSV.path)'"]
    try! iconv.run()
    iconv.waitUntilExit()
    let jsonl = directory.appendingPathComponent("feed.jsonl")
    writeLines(jsonl) { write in
        for i in 0..<rows {
            let values = person(i)
            let object = zip(header, values).map { "\"\($0)\": \"\($1)\"" }.joined(separator: ", ")
            write("{" + object + "}\n")
        }
    }
    let json = directory.appendingPathComponent("feed.json")
    writeLines(json) { write in
        write("{\"count\": \(rows), \"data\": [\n")
        for i in 0..<rows {
            let object = zip(header, person(i)).map { "\"\($0)\": \"\($1)\"" }.joined(separator: ", ")
            write("{" + object + "}" + (i + 1 < rows ? ",\n" : "\n"))
        }
        write("]}\n")
    }
    let xml = directory.appendingPathComponent("feed.xml")
    writeLines(xml) { write in
        write("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<people>\n")
        for i in 0..<rows {
            let values = person(i)
            write("<person id=\"\(values[0])\">" + zip(header.dropFirst(), values.dropFirst()).map { "<\($0)>\($1)</\($0)>" }.joined() + "</person>\n")
        }
        write("</people>\n")
    }
    let xlsx = directory.appendingPathComponent("feed.xlsx")
    let writer = try! XLSXWriter(url: xlsx)
    try! writer.append(header)
    for i in 0..<rows { try! writer.append(person(i)) }
    try! writer.finish()
    return [("csv-utf8", utf8CSV), ("csv-gb18030", gbCSV), ("jsonl", jsonl), ("json-array", json), ("xml", xml), ("xlsx", xlsx)]
}
