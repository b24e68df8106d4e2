// A seeded mutation fuzzer for the feed readers (`make fuzz`; a short run is part of `make test`).
// Each input is a committed seed (fuzz/corpus) mutated by a deterministic generator, read through
// the adapter that reads that format. It fails on a crash (the process dies: the input is left
// in fuzz/last-input-PID.* for a person to look at), on a hang (an input taking more than 20 s), and
// on counts that do not reconcile (every row the reader reports becomes exactly one record or
// one quarantined row). Written by hand: libFuzzer needs a second, instrumented build of the
// whole package, which would double CI's build time for the same verdicts on these readers.
import Foundation
import YibiaoAdapters
import YibiaoCore
import ZIPFoundation

/// Unbuffered, so that the lines before a crash are not lost with it.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

struct Target {
    let name: String
    let adapter: String
    let seed: String
    let fileExtension: String
}

let targets = [
    Target(name: "csv", adapter: "adapters/civil_affairs.yaml", seed: "fuzz/corpus/civil_affairs.csv", fileExtension: "csv"),
    Target(name: "xlsx", adapter: "adapters/family_planning.yaml", seed: "fuzz/corpus/family_planning.sheet.xml", fileExtension: "xlsx"),
    Target(name: "xml", adapter: "adapters/party.yaml", seed: "fuzz/corpus/party.xml", fileExtension: "xml"),
    Target(name: "jsonl", adapter: "adapters/social_security.yaml", seed: "fuzz/corpus/social_security.jsonl", fileExtension: "jsonl"),
    Target(name: "json", adapter: "fuzz/adapters/json_array.yaml", seed: "fuzz/corpus/json_array.json", fileExtension: "json"),
    Target(name: "fixed", adapter: "swift:hukou-fixed-width", seed: "fuzz/corpus/household_register.txt", fileExtension: "txt"),
]

/// Byte-level mutations that have found bugs in readers before: bit flips, bytes that are not
/// UTF-8, structure characters, cuts, repeats and deep nesting.
struct Mutator {
    var random: SeededGenerator
    static let tokens: [[UInt8]] = [
        "<", ">", "</", "\"", ",", "\n", "\r\n", "&", "&amp;", "&#0;", "&xxe;", "{", "}", "[", "]", ":", "\\",
        "<![CDATA[", "]]>", "<!ENTITY a \"b\">", "\u{FEFF}", "1.10105e+17", "9999-99-99",
    ].map { Array($0.utf8) }
    static let bytes: [UInt8] = [0x00, 0x80, 0xBF, 0xC0, 0xC1, 0xE0, 0xED, 0xF4, 0xF8, 0xFC, 0xFE, 0xFF, 0x81, 0x30, 0x22, 0x0A]

    mutating func mutate(_ input: [UInt8]) -> [UInt8] {
        var data = input
        for _ in 0..<random.int(1...6) {
            let position = data.isEmpty ? 0 : random.int(0...(data.count - 1))
            switch random.int(0...9) {
            case 0 where !data.isEmpty: data[position] ^= UInt8(1 << random.int(0...7))
            case 1 where !data.isEmpty: data[position] = random.pick(Self.bytes)
            case 2: data.insert(contentsOf: random.pick(Self.tokens), at: position)
            case 3 where !data.isEmpty: data.removeSubrange(position..<min(data.count, position + random.int(1...64)))
            case 4: data = Array(data.prefix(position))
            case 5 where !data.isEmpty:
                let end = min(data.count, position + random.int(1...256))
                data.insert(contentsOf: data[position..<end], at: position)
            case 6: data.insert(contentsOf: [UInt8](repeating: random.pick(Self.bytes), count: random.int(1...300)), at: position)
            case 7:
                let depth = random.int(10...3_000)
                let open = Array(String(repeating: random.chance(0.5) ? "<a>" : "[", count: depth).utf8)
                data.insert(contentsOf: open, at: position)
            case 8 where data.count > 2:
                let other = random.int(0...(data.count - 1))
                data.swapAt(position, other)
            default: data.insert(random.pick(Self.bytes), at: position)
            }
        }
        return data
    }
}

struct Report {
    var inputs = 0, rows = 0, records = 0, quarantined = 0, fileIssues = 0, hangs = 0, unreconciled = 0
}

/// Writes the input where the reader (and a person, after a crash) finds it.
func materialise(_ bytes: [UInt8], for target: Target, template: URL, at url: URL) throws {
    guard target.name == "xlsx" else {
        try Data(bytes).write(to: url)
        return
    }
    // The sheet is what is mutated; the workbook around it is the sample's.
    try? FileManager.default.removeItem(at: url)
    let source = try Archive(url: template, accessMode: .read)
    let archive = try Archive(url: url, accessMode: .create)
    for entry in source where entry.path != "xl/worksheets/sheet1.xml" {
        var data = Data()
        _ = try source.extract(entry) { data.append($0) }
        try archive.addEntry(with: entry.path, type: .file, uncompressedSize: Int64(data.count)) { position, size in
            data.subdata(in: Int(position)..<Int(position) + size)
        }
    }
    try archive.addEntry(with: "xl/worksheets/sheet1.xml", type: .file, uncompressedSize: Int64(bytes.count), compressionMethod: .deflate) { position, size in
        Data(bytes[Int(position)..<Int(position) + size])
    }
}

/// Reads one input on a thread of its own, so that a hang is seen instead of shared.
func run(_ adapter: any FeedAdapter, _ url: URL, report: inout Report) -> Bool {
    final class Box: @unchecked Sendable {
        var events = 0, records = 0, quarantined = 0, fileIssue = false, other: (any Error)?
    }
    let box = Box()
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        do {
            try adapter.read(url, today: CalendarDate(year: 2026, month: 12, day: 1)!) { outcome in
                box.events += 1
                switch outcome {
                case .record: box.records += 1
                case .quarantined: box.quarantined += 1
                }
            }
        } catch is FeedIssue {
            box.fileIssue = true
        } catch {
            box.other = error
        }
        done.signal()
    }
    thread.stackSize = 8 << 20
    thread.start()
    guard done.wait(timeout: .now() + 20) == .success else {
        report.hangs += 1
        return false
    }
    report.rows += box.events
    report.records += box.records
    report.quarantined += box.quarantined
    if box.fileIssue { report.fileIssues += 1 }
    // Only FeedIssues may stop a file; anything else is a reader bug.
    if box.other != nil || box.events != box.records + box.quarantined {
        report.unreconciled += 1
        FileHandle.standardError.write(Data("unexpected outcome: \(box.other.map { String(describing: type(of: $0)) } ?? "counts")\n".utf8))
        return false
    }
    return true
}

var root = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
var inputs = 1_000, seconds: Double?, seed: UInt64 = 1, only: String?, keep: URL?, scratchDirectory: URL?
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--root": root = URL(fileURLWithPath: arguments.next() ?? ".")
    case "--inputs": inputs = Int(arguments.next() ?? "") ?? inputs
    case "--seconds": seconds = Double(arguments.next() ?? "")
    case "--seed": seed = UInt64(arguments.next() ?? "") ?? seed
    case "--format": only = arguments.next()
    case "--keep": keep = URL(fileURLWithPath: arguments.next() ?? ".")
    case "--scratch": scratchDirectory = URL(fileURLWithPath: arguments.next() ?? ".")
    default:
        say("usage: YibiaoFuzz [--root DIR] [--inputs N | --seconds S] [--seed N] [--format csv|xlsx|xml|jsonl|json|fixed] [--keep DIR] [--scratch DIR]")
        exit(64)
    }
}

// Where the input being read is written (and left, after a crash): one file per process, so
// that runs side by side do not write over each other.
let scratch = scratchDirectory ?? root.appendingPathComponent("fuzz")
var failed = false
let chosen = targets.filter { only == nil || $0.name == only }
for target in chosen {
    let adapter: any FeedAdapter
    do {
        adapter = try FeedAdapterRegistry.load(target.adapter.hasPrefix("swift:") ? target.adapter : root.appendingPathComponent(target.adapter).path)
    } catch {
        say("fuzz \(target.name): cannot load \(target.adapter): \(error)")
        exit(78)
    }
    let seedBytes = [UInt8](try Data(contentsOf: root.appendingPathComponent(target.seed)))
    let template = root.appendingPathComponent("adapters/samples/family_planning.xlsx")
    let input = scratch.appendingPathComponent("last-input-\(getpid()).\(target.fileExtension)")
    var mutator = Mutator(random: SeededGenerator(seed: seed, stream: UInt64(target.name.utf8.reduce(0) { $0 &* 31 &+ UInt64($1) })))
    var report = Report()
    let started = Date()
    let deadline = seconds.map { started.addingTimeInterval($0 / Double(chosen.count)) }
    while deadline.map({ Date() < $0 }) ?? (report.inputs < inputs) {
        let bytes = report.inputs == 0 ? seedBytes : mutator.mutate(seedBytes)
        report.inputs += 1
        do { try materialise(bytes, for: target, template: template, at: input) } catch {
            say("fuzz \(target.name): cannot write the input: \(error)")
            exit(74)
        }
        if let keep {
            // Every input kept, for ingests against a database (the fuzz test does that).
            try? FileManager.default.createDirectory(at: keep, withIntermediateDirectories: true)
            try? FileManager.default.copyItem(at: input, to: keep.appendingPathComponent("\(target.name)-\(report.inputs).\(target.fileExtension)"))
        }
        if !run(adapter, input, report: &report) {
            failed = true
            say("fuzz \(target.name): input \(report.inputs) failed; it is kept in \(input.path)")
            break
        }
    }
    let elapsed = String(format: "%.1f", Date().timeIntervalSince(started))
    say(
        "fuzz \(target.name): \(report.inputs) inputs in \(elapsed) s · \(report.rows) rows = \(report.records) records + \(report.quarantined) quarantined · \(report.fileIssues) stopped with a file issue · 0 crashes, \(report.hangs) hangs, \(report.unreconciled) unreconciled"
    )
    if failed { break }
    try? FileManager.default.removeItem(at: input)
}
exit(failed ? 1 : 0)
