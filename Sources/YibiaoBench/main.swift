import Foundation
import YibiaoCore

// `make bench`: throughput figures for the pure normalisers (values per second).
// Later issues add readers, synthesis, matching and merge, each with its figures and ratios.

struct Figure {
    let name: String
    let values: Int
    let seconds: Double
    var perSecond: Double { Double(values) / seconds }
}

func measure(_ name: String, inputs: [String], rounds: Int = 5, _ body: (String) -> Bool) -> Figure {
    var accepted = 0
    // Warm-up: builds the lazily computed tables outside the timed part.
    for input in inputs.prefix(100) { _ = body(input) }
    let start = ContinuousClock.now
    for _ in 0..<rounds {
        for input in inputs where body(input) { accepted += 1 }
    }
    let elapsed = ContinuousClock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    precondition(accepted > 0, "\(name): nothing accepted, the inputs are wrong")
    return Figure(name: name, values: inputs.count * rounds, seconds: seconds)
}

var generator = SystemRandomNumberGenerator()
func digits(_ count: Int) -> String { String((0..<count).map { _ in Character(String(Int.random(in: 0...9))) }) }

let count = 200_000
let ids: [String] = (0..<count).map { i in
    let body = "110105" + String(1940 + i % 70) + String(format: "%02d%02d", 1 + i % 12, 1 + i % 28) + digits(3)
    let check = CitizenID.checkCharacter(forFirst17: body.map { $0.wholeNumberValue! })
    return i % 10 == 0 ? String(body.dropLast(8)) + String(body.suffix(7)) : body + String(check) // some 15-digit
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
    measure("citizen ID", inputs: ids) { if case .success = CitizenID.parse($0, today: today) { return true }; return false },
    measure("name", inputs: names) { if case .success = NameNormalizer.normalize($0) { return true }; return false },
    measure("date", inputs: dates) { if case .success = parser.parse($0) { return true }; return false },
    measure("phone", inputs: phones) { if case .success = PhoneNumber.parse($0) { return true }; return false },
    measure("sex code", inputs: (0..<count).map { ["1", "2", "男", "女", "M", "F"][$0 % 6] }) { if case .success = Sex.parse($0) { return true }; return false },
]

print("normalisers (single core, \(count) distinct values × 5 rounds)")
print("  kind          values/s")
for figure in figures {
    print("  " + figure.name.padding(toLength: 12, withPad: " ", startingAt: 0) + String(format: "%12.0f", figure.perSecond))
}
