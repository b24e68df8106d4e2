/// Values that stand in for a missing one: a community office's phone number typed in for every
/// resident without one, to get past a required column. Such a value is true of nobody, so it
/// never wins a golden record while a real value exists, and it is never written back.
///
/// Filler spellings (one digit repeated, `13800000000`) never get this far: the phone normaliser
/// rejects them. What remains is recognised by how it is used, counted by the store: one phone
/// number given for `sharedPhoneHolders` or more different people.
public struct Placeholders: Sendable, Hashable {
    /// More people than a household: a phone given for this many different names is not theirs.
    public static let sharedPhoneHolders = 8

    /// Qualified field → its placeholder values.
    public private(set) var values: [String: Set<String>]

    public init(_ values: [String: Set<String>] = [:]) {
        self.values = values.filter { !$0.value.isEmpty }
    }

    public init(phones: Set<String>) {
        self.init(["phone": phones])
    }

    public var isEmpty: Bool { values.isEmpty }

    public func contains(_ field: String, _ value: String) -> Bool {
        values[field]?.contains(value) ?? false
    }

    /// The observations with each placeholder left out wherever another observation gives the
    /// same field a real value. A placeholder that is the only value stays: it is what the
    /// systems hold, and dropping it would lose it without a trace.
    public func filter(_ observations: [Observation]) -> [Observation] {
        guard !values.isEmpty else { return observations }
        var replaced: Set<String> = []
        for (field, placeholders) in values {
            let given = observations.compactMap { $0.values[field] }.filter { !$0.isEmpty }
            if given.contains(where: placeholders.contains), given.contains(where: { !placeholders.contains($0) }) {
                replaced.insert(field)
            }
        }
        guard !replaced.isEmpty else { return observations }
        return observations.map { observation in
            var kept = observation.values
            for field in replaced where kept[field].map({ contains(field, $0) }) == true { kept[field] = nil }
            return kept.count == observation.values.count
                ? observation
                : Observation(recordID: observation.recordID, system: observation.system, receivedAt: observation.receivedAt, values: kept)
        }
    }
}
