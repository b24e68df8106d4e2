import Foundation
import Testing
import YibiaoAdapters
import YibiaoCore
import YibiaoStore
import YibiaoTestSupport

private let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// `YibiaoFuzz`, built beside the tests.
private var fuzzer: String {
    URL(fileURLWithPath: CLIProcess.executable).deletingLastPathComponent().appendingPathComponent("YibiaoFuzz").path
}

@Suite struct FuzzTests {
    @Test("a seeded run: 1,000 mutated inputs per format, no crash, no hang, every row accounted for")
    func seededRun() throws {
        let scratch = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-fuzz")
        let run = try ProcessRunner().run(fuzzer, ["--root", repository.path, "--inputs", "1000", "--seed", "1", "--scratch", scratch.path])
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr.suffix(4000))")
        for format in ["csv", "xlsx", "xml", "jsonl", "json", "fixed"] {
            let line = run.stdout.split(separator: "\n").first { $0.hasPrefix("fuzz \(format): ") }
            #expect(line?.contains("fuzz \(format): 1000 inputs") == true, "\(run.stdout)")
            #expect(line?.contains("0 crashes, 0 hangs, 0 unreconciled") == true, "\(line ?? "")")
        }
    }
}
