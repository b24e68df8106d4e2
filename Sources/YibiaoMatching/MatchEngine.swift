import Foundation
import YibiaoCore

/// One scored pair and why.
public struct PairScore: Sendable, Hashable {
    public enum Method: String, Sendable, Codable { case deterministic, probabilistic }

    public let a: Int64
    public let b: Int64
    public let vector: ComparisonVector
    /// log2(m/u) per comparison, in `Comparison` order.
    public let contributions: [Double]
    public let weight: Double
    public let probability: Double
    public let method: Method
}

/// The outcome of a matching run over a set of records.
public struct MatchResult: Sendable {
    /// Record ids grouped by person; singletons included.
    public let clusters: [[Int64]]
    public let links: [PairScore]
    /// Pairs for a person to decide.
    public let review: [PairScore]
    public let candidatePairs: Int
    /// Candidate pairs found by each blocking key.
    public let pairsByBlockingKey: [String: Int]
}

/// Blocking, scoring, decisions and clustering: plain values in, plain values out.
public struct MatchEngine: Sendable {
    public var parameters: MatchParameters
    /// Blocks larger than this are skipped (a shared placeholder phone must not make the
    /// work quadratic); their records still meet through the other keys.
    public var maximumBlockSize = 60
    /// The name alone makes blocks of namesakes: only small ones are compared (a common name's
    /// records meet through the keys that add a birth date or an address).
    public static let looseBlockSize = 12
    static let looseKinds: Set<Int> = [7]

    /// The largest block of a key kind (index into `blockingKeys`) that is compared.
    func blockLimit(kind: Int) -> Int {
        Self.looseKinds.contains(kind) ? min(Self.looseBlockSize, maximumBlockSize) : maximumBlockSize
    }

    /// The largest block of this stored key (`storedKey`) that is compared.
    public func blockLimit(forStoredKey key: Int64) -> Int {
        blockLimit(kind: Self.kind(ofStoredKey: key))
    }

    public init(parameters: MatchParameters = .initial) {
        self.parameters = parameters
    }

    // MARK: Blocking

    public static let blockingKeys = [
        "id", "name+birth", "pinyin+birth", "phone", "birth+sex+division", "name part+birth", "name+birth year", "name",
        "address numbers", "name start+birth", "address sketch+birth", "address sketch", "name part starts",
    ]

    /// The record's blocking keys as (index into `blockingKeys`, text `prefix:value`; the
    /// database holds each as `storedKey(kind:key:)`).
    /// Beyond the exact keys: each name part with the birth date finds a name written in another
    /// order, with a part missing or one part mistyped; the name with the birth year finds a
    /// birth date with a typo. A key that a record repeats (two equal parts) is given once.
    /// `birthDay` and `others`: whether to give the keys of the `birthDayKinds`, and the rest.
    public static func blockingKeys(of record: MatchRecord, birthDay: Bool = true, others: Bool = true) -> [(kind: Int, key: String)] {
        var keys: [(Int, String)] = []
        keys.reserveCapacity(8)
        let addressPairs = record.address.map(StringSimilarity.bigrams)
        if others, let id = record.nationalID ?? record.nationalIDRaw.flatMap({ $0.utf8.count == 18 ? $0 : nil }) {
            keys.append((0, "id:" + id))
        }
        if others, record.nationalID == nil {
            for identifier in record.otherIdentifierKeys { keys.append((0, "id:" + identifier)) }
        }
        if birthDay, let birth = record.birth {
            let iso = birth.iso
            if let name = record.nameKey { keys.append((1, "nb:" + name + "|" + iso)) }
            if let pinyin = record.pinyinKey { keys.append((2, "pb:" + pinyin + "|" + iso)) }
            if let sex = record.sex {
                keys.append((4, "bsd:" + iso + sex.rawValue + (record.division ?? record.nationalID.map { String($0.prefix(6)) } ?? "")))
            }
            // A one-part name meets the same part of a longer one ("webb" and "amber webb").
            for part in Set(record.nameParts).sorted() { keys.append((5, "npb:" + part + "|" + iso)) }
            // The first three letters (of the pinyin for Han names) survive a typo further on.
            if let spelled = record.pinyinKey ?? record.nameKey, spelled.unicodeScalars.count > 3 {
                keys.append((9, "nsb:" + String(String.UnicodeScalarView(spelled.unicodeScalars.prefix(3))) + "|" + iso))
            }
            // Two addresses meet on a min-hash with a chance equal to the share of character pairs
            // they have in common, whatever part a typo hit; two of them, each its own key, so
            // that addresses sharing 70 % of their pairs meet 91 % of the time.
            if let pairs = addressPairs {
                for seed in Self.addressSketchSeeds.prefix(2) {
                    if let sketch = Self.minHash(ofPairs: pairs, seed: seed) { keys.append((10, "asb:" + sketch + "|" + iso)) }
                }
            }
        }
        guard others else { return keys }
        // A birth date known only to the month or year still has its year.
        if let name = record.nameKey, let year = record.knownBirth?.year { keys.append((6, "nby:" + name + "|" + String(year))) }
        if let phone = record.phone { keys.append((phoneKind, phoneKeyText(phone))) }
        // Alone, a name is a small block unless it is common (then the block is skipped).
        if let name = record.nameKey { keys.append(nameAloneKey(name)) }
        // The first four letters of each part, in either order: a typo further on, or parts
        // swapped, and no birth date to go with it. (Short parts make the name itself: no key.)
        if record.nameParts.count > 1, record.nameParts.contains(where: { $0.unicodeScalars.count > 4 }) {
            let starts = record.nameParts.map { String(String.UnicodeScalarView($0.unicodeScalars.prefix(4))) }.sorted()
            keys.append((12, "nps:" + starts.joined(separator: "|")))
        }
        // The numbers of an address (house, building, unit, flat, postcode) survive the typos and
        // abbreviations of its words, and are few to a household.
        if let numbers = record.address.flatMap(Self.addressNumbers) { keys.append((8, "an:" + numbers)) }
        // Without the birth date (missing or mistyped), two min-hashes in one key: similar
        // addresses meet (J = 0.8: 64 %), addresses that merely share common pairs rarely do.
        if let pairs = addressPairs, let first = Self.minHash(ofPairs: pairs, seed: Self.addressSketchSeeds[2]),
            let second = Self.minHash(ofPairs: pairs, seed: Self.addressSketchSeeds[3])
        {
            keys.append((11, "as:" + first + "." + second))
        }
        return keys
    }

    /// The key of a name alone (its matching form). Every current record with the name holds
    /// it, so the index of stored keys also counts namesakes (no index of its own).
    static func nameAloneKey(_ nameKey: String) -> (kind: Int, key: String) { (7, "n:" + nameKey) }

    /// The stored key (`storedKey`) every current record with this name (its matching form) holds.
    public static func storedNameKey(_ nameKey: String) -> Int64 {
        let (kind, key) = nameAloneKey(nameKey)
        return storedKey(kind: kind, key: key)
    }

    /// Fixed seeds of the address min-hashes: stored keys must be the same in every run.
    static let addressSketchSeeds: [UInt64] = [0x9E37_79B9_7F4A_7C15, 0xD1B5_4A32_D192_ED03, 0x8CB9_2BA7_2F3D_8DD7, 0xA24B_AED4_963E_E407]

    /// The smallest hash among a text's character pairs, in hexadecimal (a fixed hash, not
    /// Swift's per-process one: stored keys must be the same in every run).
    static func minHash(of text: String, seed: UInt64 = addressSketchSeeds[0]) -> String? {
        minHash(ofPairs: StringSimilarity.bigrams(text), seed: seed)
    }

    /// The same of a text's pairs (`StringSimilarity.bigrams`): a record's address gives up to
    /// four sketches, its pairs found once.
    static func minHash(ofPairs pairs: [UInt64], seed: UInt64) -> String? {
        guard pairs.count >= 3 else { return nil }
        var smallest = UInt64.max
        for pair in pairs {
            // SplitMix64's finaliser: every bit of the pair moves every bit of the hash.
            var z = pair &+ seed
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            smallest = min(smallest, z ^ (z >> 31))
        }
        return String(smallest >> 32, radix: 16)
    }

    /// The runs of digits in an address joined by `|`; nil for an address with fewer than two.
    static func addressNumbers(_ address: String) -> String? {
        var runs: [Substring] = []
        var start: String.Index?
        for index in address.indices {
            let isDigit = address[index].isASCII && address[index].isNumber
            if isDigit, start == nil { start = index }
            if !isDigit, let first = start {
                runs.append(address[first..<index])
                start = nil
            }
        }
        if let start { runs.append(address[start...]) }
        return runs.count >= 2 ? runs.joined(separator: "|") : nil
    }

    /// The blocking keys as staging stores them (`source_record.match_keys`), so that an
    /// incremental run finds a new record's candidates, and the sizes of their blocks, without
    /// reading the district.
    /// Keys of the `birthDayKinds` are not among them (`birthDayKeys`), nor the phone's
    /// (`phoneKey`).
    public static func lookupKeys(of record: MatchRecord) -> [Int64] {
        blockingKeys(of: record, birthDay: false).compactMap { $0.kind == phoneKind ? nil : storedKey(kind: $0.kind, key: $0.key) }
    }

    /// The kind of the phone's key. Its holders are the current records with that phone, which
    /// the phone's own B-tree finds (the golden records' placeholders and the matcher's phone
    /// frequencies need it anyway): not stored among the lookup keys (migration 0038).
    public static let phoneKind = 3

    static func phoneKeyText(_ phone: String) -> String { "ph:" + phone }

    /// The record's phone key in its stored form (`storedKey`).
    public static func phoneKey(of record: MatchRecord) -> Int64? {
        record.phone.map(phoneKey)
    }

    /// A phone's key in its stored form.
    public static func phoneKey(_ phone: String) -> Int64 {
        storedKey(kind: phoneKind, key: phoneKeyText(phone))
    }

    /// Kinds of key whose text holds the full birth date: every record holding one was born that
    /// day, so an incremental run finds their blocks among the records born on the day (one
    /// B-tree entry a record) rather than in the index of stored keys. They were 60 % of its
    /// entries and of its cost to maintain.
    public static let birthDayKinds: Set<Int> = [1, 2, 4, 5, 9, 10]

    /// The record's keys of the `birthDayKinds`, in their stored form (`storedKey`).
    public static func birthDayKeys(of record: MatchRecord) -> [Int64] {
        guard record.birth != nil else { return [] }
        return blockingKeys(of: record, others: false).map { storedKey(kind: $0.kind, key: $0.key) }
    }

    /// A blocking key as the database indexes it: its kind in the top byte, a 56-bit FNV-1a hash
    /// of its text below. Eight bytes instead of about twenty-five made the index about 30 %
    /// smaller and its inserts about 40 % faster; two keys sharing a hash only load a record that no
    /// block then pairs (blocking itself compares the keys' text). FNV-1a is written here,
    /// not taken from a library: it must never change between versions or processes.
    public static func storedKey(kind: Int, key: String) -> Int64 {
        Int64(bitPattern: UInt64(kind) << 56 | (keyBytesHash(key) & 0x00ff_ffff_ffff_ffff))
    }

    /// The kind (index into `blockingKeys`) of a stored key.
    public static func kind(ofStoredKey key: Int64) -> Int {
        Int(UInt64(bitPattern: key) >> 56)
    }

    /// Candidate pairs (indices into `records`, i < j), each once, from every blocking key.
    /// Blocks in `oversized` are skipped whatever their size among `records`: an incremental run
    /// loads part of a block and must skip the blocks the whole district would.
    /// `keys`: each record's `blockingKeys(of:)`, when computed already.
    public func candidatePairs(
        _ records: [MatchRecord], keys: [[(kind: Int, key: String)]]? = nil, oversized: Set<String> = []
    ) -> (pairs: [(Int32, Int32)], byKey: [String: Int]) {
        let byKind: [KeysOfKind]
        if let keys {
            byKind = KeysOfKind.byKind(keys.indices) { keys[$0] }
        } else {
            byKind = KeysOfKind.byKind(records.indices) { Self.blockingKeys(of: records[$0]) }
        }
        return candidatePairs(groups: byKind.map { Self.blocks($0) }, oversized: oversized)
    }

    /// Record indices by key, for the keys of one kind, in the order keys first appear. Grouped
    /// by a 64-bit FNV-1a hash of the key's bytes and checked byte for byte: a dictionary keyed
    /// by the texts hashed and compared them as Unicode text, most of blocking's time. A key
    /// whose hash another key holds gets a block of its own, so no two texts share a block.
    /// (Keys are built from normalised values, so equal texts are equal bytes — as the stored
    /// lookup keys, hashed from the same bytes, already assume.)
    /// `keys`: one kind's keys, set apart (`KeysOfKind.byKind`). `hash`: the FNV-1a hash of the
    /// key's bytes; a test gives one that collides.
    static func blocks(_ keys: KeysOfKind, hash: (String) -> UInt64 = keyBytesHash) -> [(key: String, members: [Int32])] {
        var blockOfHash: [UInt64: Int] = [:]
        // Sized once: growing it step by step was a quarter of the grouping's time.
        blockOfHash.reserveCapacity(keys.keys.count)
        var blocks: [(key: String, members: [Int32])] = []
        var sharingAHash: [String: Int] = [:]
        for (index, key) in zip(keys.records, keys.keys) {
            let hash = hash(key)
            guard let block = blockOfHash[hash] else {
                blockOfHash[hash] = blocks.count
                blocks.append((key, [index]))
                continue
            }
            if blocks[block].key.utf8.elementsEqual(key.utf8) {
                blocks[block].members.append(index)
            } else if let other = sharingAHash[key] {
                blocks[other].members.append(index)
            } else {
                sharingAHash[key] = blocks.count
                blocks.append((key, [index]))
            }
        }
        return blocks
    }

    /// The keys of one kind, each with its record's index, in record order (and a record's own
    /// order). Set apart once: grouping each kind by walking every record's keys walked them all
    /// thirteen times over, most of the grouping's time.
    struct KeysOfKind: Sendable {
        var records: [Int32] = []
        var keys: [String] = []

        init() {}

        /// The keys of the records at `indices` (`keys(index)`: a record's keys) set apart by
        /// kind in one pass.
        static func byKind(_ indices: Range<Int>, _ keys: (Int) -> [(kind: Int, key: String)]) -> [KeysOfKind] {
            var byKind = Array(repeating: KeysOfKind(), count: blockingKeys.count)
            for index in indices {
                for (kind, key) in keys(index) {
                    byKind[kind].records.append(Int32(index))
                    byKind[kind].keys.append(key)
                }
            }
            return byKind
        }

        mutating func append(contentsOf other: KeysOfKind) {
            records.append(contentsOf: other.records)
            keys.append(contentsOf: other.keys)
        }
    }

    /// Every record's blocking keys set apart by kind (index into `blockingKeys`), computed in
    /// slices side by side (names and address sketches make them a large share of blocking).
    static func keysByKind(_ records: [MatchRecord]) async -> [KeysOfKind] {
        let slices = await ParallelSlices.map(records.count, size: ParallelSlices.perCore(records.count, minimum: 5_000)) { range in
            KeysOfKind.byKind(range) { blockingKeys(of: records[$0]) }
        }
        var byKind = Array(repeating: KeysOfKind(), count: blockingKeys.count)
        for slice in slices {
            for kind in byKind.indices { byKind[kind].append(contentsOf: slice[kind]) }
        }
        return byKind
    }

    /// 64-bit FNV-1a of the text's UTF-8 bytes: blocking groups keys by it, and the stored
    /// lookup keys keep its low 56 bits (`storedKey`).
    static func keyBytesHash(_ key: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }

    /// The pairs of the blocks of every kind, in kind order: the kind that finds a pair first is fixed.
    private func candidatePairs(groups: [[(key: String, members: [Int32])]], oversized: Set<String>) -> (pairs: [(Int32, Int32)], byKey: [String: Int]) {
        var seen = Set<UInt64>()
        var pairs: [(Int32, Int32)] = []
        var byKey: [String: Int] = [:]
        for (kind, blocks) in groups.enumerated() {
            var added = 0
            // In the order keys first appear, not sorted: which kind finds a pair first is fixed,
            // and everything after blocking orders the pairs by score and ids (sorting the keys
            // cost more than comparing the pairs).
            let limit = blockLimit(kind: kind)
            for (key, members) in blocks {
                guard members.count > 1, members.count <= limit, oversized.isEmpty || !oversized.contains(key) else { continue }
                for x in 0..<members.count {
                    for y in (x + 1)..<members.count {
                        let i = members[x], j = members[y]
                        let code = UInt64(UInt32(i)) << 32 | UInt64(UInt32(j))
                        if seen.insert(code).inserted {
                            pairs.append((i, j))
                            added += 1
                        }
                    }
                }
            }
            byKey[Self.blockingKeys[kind]] = added
        }
        return (pairs, byKey)
    }

    /// The candidate pairs of one array of records, found once: a run that trains hands them to
    /// the match over the same records that follows, rather than blocking the district twice.
    public struct Blocking: Sendable {
        public let recordCount: Int
        let oversized: Set<String>
        let pairs: [(Int32, Int32)]
        let byKey: [String: Int]
        /// Each pair's comparison vector, in `pairs`' order, once `comparing` found them:
        /// training counts them and matching scores them without comparing the records again.
        private(set) var vectors: [ComparisonVector]?

        init(recordCount: Int, oversized: Set<String>, pairs: [(Int32, Int32)], byKey: [String: Int]) {
            self.recordCount = recordCount
            self.oversized = oversized
            self.pairs = pairs
            self.byKey = byKey
        }

        /// The same blocking with every candidate pair compared (on every core). `records` must
        /// be the records it was found in.
        public func comparing(_ records: [MatchRecord]) async -> Blocking {
            precondition(records.count == recordCount, "a blocking is compared on the records it was found in")
            var compared = self
            compared.vectors = await ParameterTraining.vectors(records, pairs)
            return compared
        }

        public var pairCount: Int { pairs.count }

        func fits(_ records: [MatchRecord], oversized: Set<String>) -> Bool {
            recordCount == records.count && self.oversized == oversized
        }
    }

    public func blocking(of records: [MatchRecord], oversized: Set<String> = []) async -> Blocking {
        let keys = await Self.keysByKind(records)
        // Grouping the keys, a dictionary per kind, was most of blocking's time: the kinds side by side.
        let groups = await ParallelSlices.map(Self.blockingKeys.count, size: 1) { kinds in Self.blocks(keys[kinds.lowerBound]) }
        let (pairs, byKey) = candidatePairs(groups: groups, oversized: oversized)
        return Blocking(recordCount: records.count, oversized: oversized, pairs: pairs, byKey: byKey)
    }

    // MARK: Training

    /// Estimates u from random pairs and m and the prior by EM over the candidate pairs.
    /// `blocking`: of these records, when found already.
    public func trained(
        on records: [MatchRecord], seed: UInt64 = 1, randomPairs: Int = 400_000, blocking: Blocking? = nil
    ) async -> (MatchEngine, ParameterTraining.Report) {
        let found = if let blocking, blocking.fits(records, oversized: []) { blocking } else { await self.blocking(of: records) }
        let pairs = found.pairs
        let vectors =
            if let compared = found.vectors { ParameterTraining.counts(of: compared) } else { await ParameterTraining.vectorCounts(records, pairs) }
        var trainedParameters = parameters
        let random = await ParameterTraining.randomPairVectors(records: records, samplePairs: randomPairs, seed: seed)
        trainedParameters.u = ParameterTraining.estimateU(randomPairs: random, excludingMatchesBy: nil)
        (trainedParameters.m, trainedParameters.evidencePairs) = ParameterTraining.estimateMByIndependentEvidence(
            vectors: vectors, fallback: parameters)
        // The share of matches among candidate pairs, turned into the share among all pairs: u
        // was measured on random pairs, so the prior must be too. (Among candidates, the blocking
        // keys' agreement would be counted twice: once in the prior, once in the weights.) Then u
        // again without the random pairs that are one person, and the prior with that u.
        let allPairs = Double(records.count) * Double(max(records.count - 1, 1)) / 2
        var amongCandidates = parameters.prior
        for round in 0..<2 {
            if round > 0 { trainedParameters.u = ParameterTraining.estimateU(randomPairs: random, excludingMatchesBy: trainedParameters) }
            trainedParameters.prior = amongCandidates
            amongCandidates = ParameterTraining.estimatePrior(vectors: vectors, parameters: trainedParameters)
            trainedParameters.prior = min(max(amongCandidates * Double(pairs.count) / allPairs, 1e-12), 0.5)
        }
        // Records with hardly anyone in them twice (a district's first feed) say the share of
        // matches is about nil — until the next feed, which is mostly matches. Until training sees
        // enough pairs of one person, the prior is that each record has one other of its person.
        if trainedParameters.restsOnTooLittleEvidence {
            trainedParameters.prior = max(trainedParameters.prior, 1 / Double(max(records.count, 2)))
        }
        let iterations = 1
        var engine = self
        engine.parameters = trainedParameters
        engine.parameters.linkThreshold = parameters.linkThreshold
        engine.parameters.reviewThreshold = parameters.reviewThreshold
        return (engine, .init(iterations: iterations, candidatePairs: pairs.count, randomPairs: randomPairs))
    }

    // MARK: Matching

    public func score(_ a: MatchRecord, _ b: MatchRecord, frequencies: TermFrequencies) -> PairScore {
        score(a, b, vector: ComparisonVector.compare(a, b), frequencies: frequencies)
    }

    /// `vector`: the pair's comparison vector (`ComparisonVector.compare`).
    func score(_ a: MatchRecord, _ b: MatchRecord, vector: ComparisonVector, frequencies: TermFrequencies) -> PairScore {
        var overrides: [Double?] = Array(repeating: nil, count: Comparison.allCases.count)
        if vector[.name] == 1, let name = a.nameKey { overrides[Comparison.name.rawValue] = frequencies.nameShare(name) }
        if vector[.phone] == 1, let phone = a.phone { overrides[Comparison.phone.rawValue] = frequencies.phoneShare(phone) }
        var contributions = parameters.contributions(vector, uOverride: overrides)
        discountHouseholdEvidence(
            &contributions, vector, sharedPhone: vector[.phone] == 1 ? a.phone : nil, sharedAddress: vector[.address] == 1 ? a.address : nil,
            frequencies: frequencies)
        let weight = contributions.reduce(0, +)
        // Two different valid ID numbers are two people: one typo always breaks the check character.
        if vector[.id] == ComparisonVector.IDLevel.different.rawValue, a.nationalID != nil, b.nationalID != nil {
            return PairScore(
                a: a.id, b: b.id, vector: vector, contributions: contributions, weight: weight,
                probability: 0, method: .deterministic)
        }
        // The same valid ID number is the person — unless everything else disagrees.
        if vector[.id] == ComparisonVector.IDLevel.identical.rawValue, a.nationalID != nil, b.nationalID != nil {
            let clearlyOther =
                vector[.sex] == 2 && vector[.birth] == ComparisonVector.BirthLevel.different.rawValue
                && vector[.name] == ComparisonVector.NameLevel.different.rawValue
            return PairScore(
                a: a.id, b: b.id, vector: vector, contributions: contributions, weight: weight,
                probability: clearlyOther ? parameters.reviewThreshold : 1, method: .deterministic)
        }
        return PairScore(
            a: a.id, b: b.id, vector: vector, contributions: contributions, weight: weight,
            probability: parameters.probability(weight: weight), method: .probabilistic)
    }

    /// Household evidence is not person evidence. Family members share a phone and an address:
    /// between records that look like two members of a family (and no ID number agrees), the two
    /// count as one piece of evidence at half its weight; a phone number or an address held by
    /// k people (k different names) weighs log2(k) bits less wherever it agrees.
    func discountHouseholdEvidence(
        _ contributions: inout [Double], _ vector: ComparisonVector, sharedPhone: String?, sharedAddress: String? = nil,
        frequencies: TermFrequencies
    ) {
        let phone = Comparison.phone.rawValue, address = Comparison.address.rawValue
        // Term-frequency style: a value held by k people is k times as likely among strangers.
        if let sharedPhone, contributions[phone] > 0 {
            contributions[phone] = max(contributions[phone] - log2(Double(frequencies.phoneHolders(sharedPhone))), 0)
        }
        if let sharedAddress, contributions[address] > 0 {
            contributions[address] = max(contributions[address] - log2(Double(frequencies.addressHolders(sharedAddress))), 0)
        }
        // A shared surname is a family's mark; a wholly different name is one only with another
        // birth date (the same birth date and address under another name is a garbled record
        // more often than a relative).
        let birthAgrees = vector[.birth] >= 1 && vector[.birth] <= ComparisonVector.BirthLevel.oneDigit.rawValue
        let family =
            vector[.name] == ComparisonVector.NameLevel.onePart.rawValue
            || (vector[.name] == ComparisonVector.NameLevel.different.rawValue && !birthAgrees)
        guard family, vector[.id] != ComparisonVector.IDLevel.identical.rawValue else { return }
        let household = max(contributions[phone], contributions[address], 0)
        guard household > 0 else { return }
        let stronger = contributions[phone] >= contributions[address] ? phone : address
        contributions[phone] = min(contributions[phone], 0)
        contributions[address] = min(contributions[address], 0)
        contributions[stronger] = household / 2
    }

    /// What people decided, which no automatic run may undo.
    public struct Constraints: Sendable {
        /// Pairs of record ids a person declared the same person.
        public var together: [(Int64, Int64)] = []
        /// Pairs of record ids a person declared different people.
        public var apart: [(Int64, Int64)] = []
        /// Record id → the resident a person pinned it to: records pinned to different
        /// residents never end up in one cluster.
        public var pinned: [Int64: Int64] = [:]

        public init() {}
    }

    /// What an incremental run knows of the district beyond the records it loaded.
    public struct Context: Sendable {
        /// Blocks larger than their limit (`blockLimit(kind:)`) in the whole district.
        public var oversizedBlocks: Set<String> = []
        /// Name and phone frequencies over the whole district; nil counts the records given.
        public var frequencies: TermFrequencies?

        public init(oversizedBlocks: Set<String> = [], frequencies: TermFrequencies? = nil) {
            self.oversizedBlocks = oversizedBlocks
            self.frequencies = frequencies
        }
    }

    /// Blocks (unless `blocking` of these records is given), scores (on every core), decides and clusters.
    public func match(
        _ records: [MatchRecord], constraints: Constraints = Constraints(), context: Context = Context(), blocking: Blocking? = nil
    ) async -> MatchResult {
        let frequencies = if let known = context.frequencies { known } else { await TermFrequencies.counting(records) }
        let found =
            if let blocking, blocking.fits(records, oversized: context.oversizedBlocks) {
                blocking
            } else {
                await self.blocking(of: records, oversized: context.oversizedBlocks)
            }
        let scored = await scoreInParallel(records, found.pairs, vectors: found.vectors, frequencies: frequencies)
        return decide(records, pairs: found.pairs.count, byKey: found.byKey, scored: scored, constraints: constraints)
    }

    /// Pairs at or above the review threshold, strongest first (ties by record ids: the same
    /// input always gives the same order). Scoring is split across cores in large slices.
    /// `vectors`: the pairs' comparison vectors when they were compared already (`Blocking.comparing`).
    func scoreInParallel(
        _ records: [MatchRecord], _ pairs: [(Int32, Int32)], vectors: [ComparisonVector]? = nil, frequencies: TermFrequencies
    ) async -> [(Int32, Int32, PairScore)] {
        var scored = await ParallelSlices.map(pairs.count, size: 50_000) { range in
            self.score(records, pairs[range], vectors: vectors?[range], frequencies: frequencies)
        }.flatMap { $0 }
        // Strongest evidence first, so that a weak edge cannot pre-empt a strong one.
        scored.sort { left, right in
            let (l, r) = (left.2, right.2)
            if l.probability != r.probability { return l.probability > r.probability }
            if l.weight != r.weight { return l.weight > r.weight }
            return (min(l.a, l.b), max(l.a, l.b)) < (min(r.a, r.b), max(r.a, r.b))
        }
        return scored
    }

    private func score(
        _ records: [MatchRecord], _ pairs: ArraySlice<(Int32, Int32)>, vectors: ArraySlice<ComparisonVector>?, frequencies: TermFrequencies
    ) -> [(Int32, Int32, PairScore)] {
        var scored: [(Int32, Int32, PairScore)] = []
        for index in pairs.indices {
            let (i, j) = pairs[index]
            let (a, b) = (records[Int(i)], records[Int(j)])
            let score = score(a, b, vector: vectors?[index] ?? ComparisonVector.compare(a, b), frequencies: frequencies)
            if score.probability >= parameters.reviewThreshold { scored.append((i, j, score)) }
        }
        return scored
    }

    private func decide(
        _ records: [MatchRecord], pairs: Int, byKey: [String: Int], scored: [(Int32, Int32, PairScore)],
        constraints: Constraints
    ) -> MatchResult {
        let ambiguous = ambiguousRecords(records, scored)
        var clusters = ClusterSet(records, constraints: constraints)
        var links: [PairScore] = []
        var review: [PairScore] = []
        let apart = Set(constraints.apart.map { PairKey($0.0, $0.1) })
        for (i, j, score) in scored {
            if clusters.same(Int(i), Int(j)) { continue }
            // A pair a person already judged is not asked again.
            if apart.contains(PairKey(records[Int(i)].id, records[Int(j)].id)) { continue }
            let isAmbiguous = score.method == .probabilistic && (ambiguous.contains(i) || ambiguous.contains(j))
            if score.probability >= parameters.linkThreshold, !isAmbiguous, clusters.union(Int(i), Int(j)) {
                links.append(score)
            } else {
                review.append(score)
            }
        }
        return MatchResult(
            clusters: clusters.groups(records), links: links, review: review,
            candidatePairs: pairs, pairsByBlockingKey: byKey)
    }
}

extension MatchEngine {
    /// A record without a valid ID that fits two people with different valid IDs about equally
    /// well (namesakes born the same day) is a question for a person, not a coin toss.
    func ambiguousRecords(_ records: [MatchRecord], _ scored: [(Int32, Int32, PairScore)]) -> Set<Int32> {
        var best: [Int32: [String: Double]] = [:]
        for (i, j, score) in scored where score.probability >= parameters.linkThreshold && score.method == .probabilistic {
            for (loose, anchored) in [(i, j), (j, i)] {
                guard records[Int(loose)].nationalID == nil, let id = records[Int(anchored)].nationalID,
                    !records[Int(anchored)].idContradictsRecord
                else { continue }
                best[loose, default: [:]][id] = max(best[loose]?[id] ?? -.infinity, score.weight)
            }
        }
        var result: Set<Int32> = []
        for (record, byID) in best where byID.count > 1 {
            let weights = byID.values.sorted(by: >)
            if weights[0] - weights[1] < 8 { result.insert(record) }
        }
        return result
    }
}

/// An unordered pair of record ids.
struct PairKey: Hashable {
    let low: Int64
    let high: Int64
    init(_ a: Int64, _ b: Int64) {
        low = min(a, b)
        high = max(a, b)
    }
}

/// How common a value is, for term-frequency adjustment.
public struct TermFrequencies: Sendable, Equatable {
    private let names: [String: Int]
    private let phones: [String: Int]
    private let holders: [String: Int]
    private let addressHolders: [String: Int]
    private let total: Double

    /// Counts over the whole district, when only part of it is loaded. `phoneHolders` and
    /// `addressHolders`: how many different names each phone number and address is given with.
    public init(
        names: [String: Int], phones: [String: Int], phoneHolders: [String: Int] = [:], addressHolders: [String: Int] = [:], total: Int
    ) {
        self.names = names
        self.phones = phones
        self.holders = phoneHolders
        self.addressHolders = addressHolders
        self.total = Double(max(total, 1))
    }

    public init(_ records: [MatchRecord]) {
        self.init(
            names: Self.counts(records, \.nameKey), phones: Self.counts(records, \.phone), phoneHolders: Self.holders(records, \.phone),
            addressHolders: Self.holders(records, \.address), total: records.count)
    }

    /// The same, its four counts side by side: a whole district's took half a second of one
    /// core while the other idled.
    public static func counting(_ records: [MatchRecord]) async -> TermFrequencies {
        async let names = counts(records, \.nameKey)
        async let phones = counts(records, \.phone)
        async let phoneHolders = holders(records, \.phone)
        async let addressHolders = holders(records, \.address)
        return await TermFrequencies(
            names: names, phones: phones, phoneHolders: phoneHolders, addressHolders: addressHolders, total: records.count)
    }

    /// How many records give each value.
    static func counts(_ records: [MatchRecord], _ value: any KeyPath<MatchRecord, String?> & Sendable) -> [String: Int] {
        var counts: [String: Int] = [:]
        for index in records.indices {
            if let key = records[index][keyPath: value] { counts[key, default: 0] += 1 }
        }
        return counts
    }

    /// The same frequencies with the address holders counted among `records` (an incremental
    /// run loads every record sharing an address's keys, so they are the ones that count).
    public func countingAddresses(among records: [MatchRecord]) -> TermFrequencies {
        TermFrequencies(names: names, phones: phones, phoneHolders: holders, addressHolders: Self.holders(records, \.address), total: Int(total))
    }

    /// How many different names each value is given with, for values given with more than one.
    static func holders(_ records: [MatchRecord], _ value: any KeyPath<MatchRecord, String?> & Sendable) -> [String: Int] {
        // A value's first name, and a set of its names only once a second one appears: most
        // addresses and phones have one holder, and a set for each was most of this count.
        var firstName: [String: String] = [:]
        var names: [String: Set<String>] = [:]
        for index in records.indices {
            guard let key = records[index][keyPath: value], let name = records[index].nameKey else { continue }
            guard let first = firstName[key] else {
                firstName[key] = name
                continue
            }
            if first != name || names[key] != nil { names[key, default: [first]].insert(name) }
        }
        return names.compactMapValues { $0.count > 1 ? $0.count : nil }
    }

    /// How many different names the phone number is given with (1 when unknown).
    public func phoneHolders(_ phone: String) -> Int { holders[phone] ?? 1 }

    /// How many different names the address is given with (1 when unknown): a collective
    /// household's or a dormitory's address says little about which of its people a record is.
    public func addressHolders(_ address: String) -> Int { addressHolders[address] ?? 1 }

    /// The chance that two different people share this name: the share of the other records
    /// (not counting the record compared) that hold it.
    public func nameShare(_ name: String) -> Double { Double(max((names[name] ?? 1) - 1, 1)) / total }
    public func phoneShare(_ phone: String) -> Double { Double(phones[phone] ?? 1) / total }
}

/// Union-find that refuses to join two groups holding different valid ID numbers: two valid
/// IDs are two people, so a chain of weak links cannot merge them.
struct ClusterSet {
    private var parent: [Int32]
    /// Labels that must not meet: valid ID numbers, pinned residents, and one label per side of
    /// each "different people" decision.
    private var ids: [Set<String>]

    init(_ records: [MatchRecord], constraints: MatchEngine.Constraints = .init()) {
        parent = (0..<records.count).map { Int32($0) }
        // An ID number its own record contradicts may be a relative's: it does not keep people apart.
        ids = records.map { record in record.nationalID.flatMap { record.idContradictsRecord ? nil : [$0] } ?? [] }
        var index: [Int64: Int] = [:]
        for (position, record) in records.enumerated() { index[record.id] = position }
        for (record, resident) in constraints.pinned {
            if let position = index[record] { ids[position].insert("resident:\(resident)") }
        }
        for (a, b) in constraints.apart {
            guard let x = index[a], let y = index[b] else { continue }
            // Distinct labels on each side make a later union of the two refuse.
            ids[x].insert("apart:\(a)-\(b):a")
            ids[y].insert("apart:\(a)-\(b):b")
        }
        for (a, b) in constraints.together {
            if let x = index[a], let y = index[b] { _ = forceUnion(x, y) }
        }
    }

    /// A person's "same person": joined whatever the labels say.
    mutating func forceUnion(_ a: Int, _ b: Int) -> Bool {
        let x = find(a), y = find(b)
        if x == y { return true }
        parent[x] = Int32(y)
        ids[y].formUnion(ids[x])
        ids[x] = []
        return true
    }

    mutating func find(_ x: Int) -> Int {
        var root = x
        while parent[root] != Int32(root) { root = Int(parent[root]) }
        var node = x
        while parent[node] != Int32(root) {
            let next = Int(parent[node])
            parent[node] = Int32(root)
            node = next
        }
        return root
    }

    mutating func same(_ a: Int, _ b: Int) -> Bool { find(a) == find(b) }

    /// False when the groups hold conflicting ID numbers.
    mutating func union(_ a: Int, _ b: Int) -> Bool {
        let x = find(a), y = find(b)
        if x == y { return true }
        if conflicts(ids[x], ids[y]) { return false }
        let (small, large) = ids[x].count < ids[y].count ? (x, y) : (y, x)
        parent[small] = Int32(large)
        ids[large].formUnion(ids[small])
        ids[small] = []
        return true
    }

    /// Two valid IDs, two pinned residents, or the two sides of an "apart" decision.
    private func conflicts(_ a: Set<String>, _ b: Set<String>) -> Bool {
        func kinds(_ labels: Set<String>, _ prefix: String) -> Set<String> { labels.filter { $0.hasPrefix(prefix) } }
        let idsA = a.filter { !$0.contains(":") }, idsB = b.filter { !$0.contains(":") }
        if !idsA.isEmpty, !idsB.isEmpty, idsA.isDisjoint(with: idsB) { return true }
        let residentsA = kinds(a, "resident:"), residentsB = kinds(b, "resident:")
        if !residentsA.isEmpty, !residentsB.isEmpty, residentsA.isDisjoint(with: residentsB) { return true }
        for label in a where label.hasPrefix("apart:") {
            let other = label.hasSuffix(":a") ? String(label.dropLast()) + "b" : String(label.dropLast()) + "a"
            if b.contains(other) { return true }
        }
        return false
    }

    mutating func groups(_ records: [MatchRecord]) -> [[Int64]] {
        var byRoot: [Int: [Int64]] = [:]
        for index in records.indices { byRoot[find(index), default: []].append(records[index].id) }
        return byRoot.values.map { $0.sorted() }.sorted { $0[0] < $1[0] }
    }
}

/// Pairwise precision, recall and F1 of predicted clusters against the truth.
public struct PairwiseQuality: Sendable {
    public let precision: Double
    public let recall: Double
    public var f1: Double { precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall) }
    public let truePairs: Int
    public let predictedPairs: Int

    /// `focus`: only pairs with at least one record in it (e.g. records without a valid ID).
    public init(predicted: [[Int64]], truth: [Int64: Int], focus: Set<Int64>? = nil) {
        func pairs(_ members: [Int64]) -> Int {
            let n = members.count
            guard let focus else { return n * (n - 1) / 2 }
            let outside = members.filter { !focus.contains($0) }.count
            return n * (n - 1) / 2 - outside * (outside - 1) / 2
        }
        var predictedPairs = 0, correct = 0
        var byPerson: [Int: [Int64]] = [:]
        for cluster in predicted {
            predictedPairs += pairs(cluster)
            var split: [Int: [Int64]] = [:]
            for id in cluster { split[truth[id] ?? -Int(id), default: []].append(id) }
            for members in split.values { correct += pairs(members) }
        }
        for (id, person) in truth { byPerson[person, default: []].append(id) }
        let truePairs = byPerson.values.reduce(0) { $0 + pairs($1) }
        self.truePairs = truePairs
        self.predictedPairs = predictedPairs
        precision = predictedPairs == 0 ? 1 : Double(correct) / Double(predictedPairs)
        recall = truePairs == 0 ? 1 : Double(correct) / Double(truePairs)
    }
}
