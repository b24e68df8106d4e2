import Logging
import PostgresNIO
import YibiaoMatching

/// The numbers a matching run's links name their comparisons by (`link_comparisons`, migration
/// 0039): each distinct compact text (`MatchExplanation.compactComparisons`) once per district.
/// Built inside the run's transaction, under the district's lock — the only writer of the
/// table — so that a number taken here cannot be taken by another session meanwhile.
struct LinkComparisons {
    /// What makes two pairs' texts alike: their levels and their weights.
    struct Evidence: Hashable {
        let levels: [UInt8]
        let contributions: [Double]

        init(_ score: PairScore) {
            levels = score.vector.levels
            contributions = score.contributions
        }
    }

    private var textOf: [Evidence: String] = [:]
    private var numberOf: [String: Int32] = [:]
    /// Numbered by this run, not yet stored; stored when a link names them.
    private var fresh: [Int32: String] = [:]
    private var named: Set<Int32> = []
    private var highest: Int32 = 0

    /// The numbers of the texts of `scores`: those the district has, and the next free ones
    /// for the rest. Reads the district's texts among them only (a run of one entry reads one).
    static func numbering(
        _ scores: some Sequence<PairScore>, district: String, on connection: PostgresConnection, logger: Logger
    ) async throws -> LinkComparisons {
        var comparisons = LinkComparisons()
        for score in scores {
            let evidence = Evidence(score)
            if comparisons.textOf[evidence] == nil { comparisons.textOf[evidence] = MatchExplanation.compactComparisons(of: score) }
        }
        let texts = Array(Set(comparisons.textOf.values))
        guard !texts.isEmpty else { return comparisons }
        for try await (number, text, highest) in try await connection.query(
            """
            SELECT c.comparisons_id, c.comparisons, m.highest
            FROM (SELECT coalesce(max(comparisons_id), 0) AS highest FROM link_comparisons WHERE district = \(district)) m
            LEFT JOIN link_comparisons c ON c.district = \(district) AND c.comparisons = ANY(\(texts))
            """, logger: logger
        ).decode((Int32?, String?, Int32).self) {
            comparisons.highest = highest
            if let number, let text { comparisons.numberOf[text] = number }
        }
        for text in texts.sorted() where comparisons.numberOf[text] == nil { comparisons.numberFresh(text) }
        return comparisons
    }

    @discardableResult
    private mutating func numberFresh(_ text: String) -> Int32 {
        highest += 1
        numberOf[text] = highest
        fresh[highest] = text
        return highest
    }

    /// The number of `score`'s comparisons. A score it was not built from is numbered afresh:
    /// should the district hold its text already, storing it fails on the unique text.
    mutating func number(of score: PairScore) -> Int32 {
        let text = textOf[Evidence(score)] ?? MatchExplanation.compactComparisons(of: score)
        let number = numberOf[text] ?? numberFresh(text)
        if fresh[number] != nil { named.insert(number) }
        return number
    }

    /// Stores the texts numbered by this run that a link names.
    func store(district: String, on connection: PostgresConnection, logger: Logger) async throws {
        let numbers = named.sorted()
        guard !numbers.isEmpty else { return }
        try await connection.query(
            """
            INSERT INTO link_comparisons (district, comparisons_id, comparisons)
            SELECT \(district), n, t FROM unnest(\(numbers)::integer[], \(numbers.map { fresh[$0]! })::text[]) AS s(n, t)
            """, logger: logger)
    }
}
