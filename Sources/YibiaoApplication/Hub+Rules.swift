public import YibiaoMerge
public import YibiaoStore

extension Hub {
    /// What the district's golden records would go through under `proposed` rules, per field,
    /// computed like a real refresh and written nowhere.
    public func rulesDiff(district: String, proposed: SurvivorshipRules) async throws -> GoldenRecords.Summary {
        try await GoldenRecords(district: district, rules: proposed, logger: logger)
            .refresh(client, cause: ChangeCause("rules"), actor: "rules-diff", dryRun: true)
    }
}
