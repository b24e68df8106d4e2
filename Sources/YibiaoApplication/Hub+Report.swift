public import YibiaoStore

extension Hub {
    /// The district's data-quality report: counts only, no person's values. Audited as a read.
    public func qualityReport(district: String, reader: String) async throws -> QualityReport {
        let report = try await QualityReport.load(client, district: district, logger: logger)
        try await audit(district, actor: reader, "report", AuditLog.Detail(count: report.activeResidents, format: "html"))
        return report
    }

    /// The records behind one of the report's counts: record and resident ids, no values.
    public func qualityRows(
        district: String, finding: QualityReport.Finding, system: String?, limit: Int, reader: String
    ) async throws -> [QualityReport.Row] {
        let rows = try await QualityReport.rows(client, district: district, finding: finding, system: system, limit: limit, logger: logger)
        try await audit(
            district, actor: reader, "report_list", subject: finding.rawValue,
            AuditLog.Detail(residents: Array(Set(rows.map(\.residentID))).sorted(), count: rows.count))
        return rows
    }
}
