public import YibiaoCore

/// What a long run (a match, a golden refresh) is doing now, for a front end's progress line:
/// the stage it has entered and, where it works in slices, how far through it is. Reported to
/// the `progress` closure a caller sets on `ResidentLinker` or `GoldenRecords`.
public struct RunProgress: Sendable, Hashable {
    public enum Stage: String, Sendable, Hashable, CaseIterable {
        case training, matching, links
        case goldenRecords = "golden records"
        case households, outbox
    }

    public var stage: Stage
    /// Residents (or records) done of `total`, when the stage counts them.
    public var done: Int?
    public var total: Int?

    public init(_ stage: Stage, done: Int? = nil, of total: Int? = nil) {
        self.stage = stage
        self.done = done
        self.total = total
    }

    /// The stage in the user's words, with its count when known: "golden records 50000/131219".
    public var text: LocalizedText {
        let count =
            switch (done, total) {
            case (let done?, let total?): " \(done)/\(total)"
            case (let done?, nil): " \(done)"
            case (nil, let total?): " (\(total))"
            case (nil, nil): ""
            }
        let name: LocalizedText =
            switch stage {
            case .training: LocalizedText(en: "estimating match parameters", zh: "估计匹配参数")
            case .matching: LocalizedText(en: "matching", zh: "匹配")
            case .links: LocalizedText(en: "writing links", zh: "写入关联")
            case .goldenRecords: LocalizedText(en: "golden records", zh: "黄金记录")
            case .households: LocalizedText(en: "households", zh: "户信息")
            case .outbox: LocalizedText(en: "write-back updates", zh: "回写更新")
            }
        return LocalizedText(en: name.en + count, zh: name.zh + count)
    }
}

/// Where a run reports its stages; nothing when no one listens.
public typealias RunProgressObserver = @Sendable (RunProgress) -> Void
