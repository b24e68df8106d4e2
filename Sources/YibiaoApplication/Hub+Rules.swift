public import YibiaoMerge
public import YibiaoStore

extension Hub {
    /// What the district's golden records would go through under `proposed` rules, per field,
    /// computed like a real refresh and written nowhere.
    /// `stages` hears the refresh's progress (residents merged so far).
    public func rulesDiff(district: String, proposed: SurvivorshipRules, stages: RunProgressObserver? = nil) async throws -> GoldenRecords.Summary {
        var golden = GoldenRecords(district: district, rules: proposed, logger: logger)
        golden.progress = stages
        return try await golden.refresh(client, cause: ChangeCause("rules"), actor: "rules-diff", dryRun: true)
    }
}
