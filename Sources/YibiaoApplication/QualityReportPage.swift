import Foundation
public import YibiaoStore

/// `yibiao report`: one self-contained HTML file (inline CSS and SVG, no script, nothing fetched
/// at view time) that shows a district's data at a glance, in Chinese and English. Every chart
/// names the command that lists the rows behind it.
public enum QualityReportPage {
    /// A series of bars: its labels and colour.
    struct Series {
        var zh: String
        var en: String
        var color: String
    }

    /// One row of a chart: a label and a value per series, each with the command listing its rows.
    struct Group {
        var label: String
        var values: [Int]
        var commands: [String?]
    }

    static let palette = ["#2f6db5", "#e08a2c", "#3a9a5b", "#b8423f", "#7b5ea7", "#8c6d31"]

    public static func html(_ report: QualityReport) -> String {
        func name(_ system: String) -> String { report.systemNames[system].map { "\($0) (\(system))" } ?? system }
        let stamp = ISO8601DateFormatter.string(from: report.asOf, timeZone: TimeZone(identifier: "Asia/Shanghai")!, formatOptions: [.withInternetDateTime])
        let systems = report.systems
        var body = ""

        let records = systems.reduce(0) { $0 + $1.records }
        let quarantinedRows = report.quarantined.reduce(0) { $0 + $1.rows }
        let conflicts = report.openConflictsByField.values.reduce(0, +)
        body += "<section class=\"tiles\">"
        for (zh, en, value) in [
            ("在册居民", "active residents", report.activeResidents), ("系统", "systems", systems.count), ("现行记录", "current records", records),
            ("待处理冲突", "open conflicts", conflicts), ("待核对配对", "pairs to review", report.openReviewItems),
            ("隔离行", "quarantined rows", quarantinedRows),
        ] {
            body += "<div class=\"tile\"><b>\(value.grouped)</b><span>\(zh)<br><i>\(en)</i></span></div>"
        }
        body += "</section>"

        body += figure(
            id: "systems", zh: "各系统的记录与居民", en: "Records and residents per system",
            note: "yibiao xref export",
            chart: barChart(
                series: [Series(zh: "记录", en: "records", color: palette[0]), Series(zh: "居民", en: "residents", color: palette[1])],
                groups: systems.map { Group(label: name($0.system), values: [$0.records, $0.residents], commands: [nil, nil]) }))

        body += figure(
            id: "overlap", zh: "系统之间的重叠", en: "Overlap between systems",
            note: "yibiao xref export",
            chart: barChart(
                series: [Series(zh: "共有居民", en: "residents in both", color: palette[2])],
                groups: report.overlaps.map { Group(label: "\(name($0.a)) ∩ \(name($0.b))", values: [$0.residents], commands: [nil]) })
                + barChart(
                    series: [Series(zh: "居民", en: "residents", color: palette[4])],
                    groups: report.residentsBySystemCount.keys.sorted().map { count in
                        Group(label: "\(count) 个系统 · \(count) system\(count == 1 ? "" : "s")", values: [report.residentsBySystemCount[count] ?? 0], commands: [nil])
                    }))

        func findingChart(_ id: String, zh: String, en: String, _ findings: [(QualityReport.Finding, String, String)]) -> String {
            figure(
                id: id, zh: zh, en: en,
                note: findings.map { "yibiao report list \($0.0.rawValue) [--system S]" }.joined(separator: " · "),
                chart: barChart(
                    series: findings.enumerated().map { Series(zh: $1.1, en: $1.2, color: palette[($0 + 3) % palette.count]) },
                    groups: systems.map { system in
                        Group(
                            label: name(system.system), values: findings.map { system.findings[$0.0] ?? 0 },
                            commands: findings.map { "yibiao report list \($0.0.rawValue) --system \(system.system)" })
                    }))
        }
        body += findingChart(
            "ids", zh: "身份证号码", en: "ID numbers",
            [(.idInvalid, "无效", "invalid"), (.idMissing, "缺失", "missing"), (.idOldFormat, "15 位旧号", "old 15-digit format")])
        body += findingChart(
            "phones", zh: "占位与共用的电话号码", en: "Placeholder and shared phone numbers",
            [(.phoneShared, "多人共用（≥ 8 人）", "given by 8 or more people")])
        body += findingChart(
            "stale", zh: "与标准记录不一致（过时）", en: "Stale: the system's value differs from the golden one",
            [(.stalePhone, "电话", "phone"), (.staleAddress, "地址", "address")])
        body += findingChart(
            "duplicates", zh: "同一系统内的重复", en: "Duplicates within a feed", [(.duplicate, "同一居民的多条记录", "records of one resident")])

        body += figure(
            id: "conflicts", zh: "待处理冲突（按字段）与待核对配对", en: "Open conflicts by field, and pairs to review",
            note: "yibiao conflicts list --field F · yibiao review",
            chart: barChart(
                series: [Series(zh: "冲突", en: "conflicts", color: palette[3])],
                groups: report.openConflictsByField.keys.sorted().map { field in
                    Group(label: field, values: [report.openConflictsByField[field] ?? 0], commands: ["yibiao conflicts list --field \(field)"])
                } + [Group(label: "待核对 · to review", values: [report.openReviewItems], commands: ["yibiao review"])]))

        body += figure(
            id: "quarantine", zh: "隔离行（按原因）", en: "Quarantined rows by reason",
            note: "yibiao quarantine list --reason R",
            chart: barChart(
                series: [Series(zh: "行", en: "rows", color: palette[5])],
                groups: report.quarantined.map {
                    Group(label: "\(name($0.system)) · \($0.reason)", values: [$0.rows], commands: ["yibiao quarantine list --reason \($0.reason)"])
                }))

        body += figure(
            id: "batches", zh: "各批次的趋势", en: "Trends per batch",
            note: "yibiao quarantine list --batch N",
            chart: barChart(
                series: [
                    Series(zh: "新增或变更", en: "staged", color: palette[0]), Series(zh: "未变", en: "unchanged", color: palette[2]),
                    Series(zh: "隔离", en: "quarantined", color: palette[3]),
                ],
                groups: report.batches.map { batch in
                    let day = ISO8601DateFormatter.string(
                        from: batch.startedAt, timeZone: TimeZone(identifier: "Asia/Shanghai")!, formatOptions: [.withFullDate])
                    return Group(
                        label: "#\(batch.id) \(name(batch.system)) \(day)\(batch.status == "finished" ? "" : " (\(batch.status))")",
                        values: [batch.staged, batch.unchanged, batch.quarantined],
                        commands: [nil, nil, "yibiao quarantine list --batch \(batch.id)"])
                },
                stacked: true))

        return """
            <!DOCTYPE html>
            <html lang="zh-CN">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>数据质量报告 · Data-quality report · \(escape(report.district))</title>
            <style>
            body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", sans-serif; margin: 2em auto; max-width: 60em; color: #222; padding: 0 1em; }
            h1 { font-size: 1.6em; margin-bottom: 0.2em; }
            h2 { font-size: 1.15em; margin: 0; }
            h2 i, .tile i { font-weight: normal; color: #666; }
            .meta { color: #555; margin-bottom: 1.5em; }
            .tiles { display: flex; flex-wrap: wrap; gap: 0.8em; margin-bottom: 1.5em; }
            .tile { border: 1px solid #ddd; border-radius: 6px; padding: 0.6em 1em; min-width: 8em; }
            .tile b { display: block; font-size: 1.5em; }
            figure { margin: 0 0 2em 0; border-top: 1px solid #eee; padding-top: 1em; }
            figcaption { margin-top: 0.4em; color: #555; font-size: 0.9em; }
            code { background: #f4f4f4; padding: 0 0.3em; border-radius: 3px; }
            .legend span { display: inline-block; margin-right: 1.2em; font-size: 0.9em; }
            .legend span::before { content: ""; display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.3em; background: var(--c); }
            .empty { color: #888; font-style: italic; }
            svg text { font-size: 12px; fill: #333; }
            </style>
            </head>
            <body>
            <h1>数据质量报告 <i>Data-quality report</i></h1>
            <div class="meta">区县 District \(escape(report.district)) · 截至 as of \(escape(stamp)) · 变更日志游标 change-log cursor \(report.changeLogSeq)</div>
            \(body)
            <footer class="meta">由 yibiao report 生成；每张图下列出可逐行查看的命令。Made by <code>yibiao report</code>; under each chart, the command that lists its rows.</footer>
            </body>
            </html>

            """
    }

    static func figure(id: String, zh: String, en: String, note: String, chart: String) -> String {
        """
        <figure id="\(id)">
        <h2>\(escape(zh)) <i>\(escape(en))</i></h2>
        \(chart)
        <figcaption>列出这些行 · list the rows: <code>\(escape(note))</code></figcaption>
        </figure>

        """
    }

    /// Horizontal bars, one row per group: side by side per series, or stacked.
    static func barChart(series: [Series], groups: [Group], stacked: Bool = false) -> String {
        guard !groups.isEmpty else { return "<p class=\"empty\">无数据 · nothing to show</p>" }
        let labelWidth = 300.0, plotWidth = 520.0, barHeight = 14.0, gap = 10.0
        let rowHeight = stacked ? barHeight + gap : Double(series.count) * barHeight + gap
        let largest = Double(max(1, groups.map { stacked ? $0.values.reduce(0, +) : ($0.values.max() ?? 0) }.max() ?? 1))
        let height = Double(groups.count) * rowHeight + gap
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(labelWidth + plotWidth + 70))\" height=\"\(Int(height))\" role=\"img\">"
        for (row, group) in groups.enumerated() {
            let top = gap / 2 + Double(row) * rowHeight
            let middle = top + (stacked ? barHeight : Double(series.count) * barHeight) / 2 + 4
            svg += "<text x=\"\(Int(labelWidth - 8))\" y=\"\(format(middle))\" text-anchor=\"end\">\(escape(truncated(group.label)))</text>"
            var offset = 0.0
            for (index, value) in group.values.enumerated() {
                let width = Double(value) / largest * plotWidth
                let x = labelWidth + (stacked ? offset : 0)
                let y = stacked ? top : top + Double(index) * barHeight
                let title = "\(series[index].zh) \(series[index].en): \(value.grouped)" + (group.commands[index].map { " — \($0)" } ?? "")
                svg +=
                    "<rect class=\"bar\" x=\"\(format(x))\" y=\"\(format(y))\" width=\"\(format(max(width, value > 0 ? 1 : 0)))\" height=\"\(format(barHeight - 2))\" fill=\"\(series[index].color)\"><title>\(escape(title))</title></rect>"
                if !stacked {
                    svg += "<text x=\"\(format(x + width + 4))\" y=\"\(format(y + barHeight - 3))\">\(value.grouped)</text>"
                }
                offset += width
            }
            if stacked {
                svg += "<text x=\"\(format(labelWidth + offset + 4))\" y=\"\(format(top + barHeight - 3))\">\(group.values.reduce(0, +).grouped)</text>"
            }
        }
        svg += "</svg>"
        let legend = series.map { "<span style=\"--c: \($0.color)\">\(escape($0.zh)) \(escape($0.en))</span>" }.joined()
        return "<div class=\"legend\">\(legend)</div>" + svg
    }

    static func truncated(_ label: String) -> String {
        label.count > 44 ? String(label.prefix(43)) + "…" : label
    }

    static func format(_ value: Double) -> String { String(format: "%.1f", value) }

    static func escape(_ text: String) -> String {
        var escaped = ""
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}

extension Int {
    /// 1234567 → "1,234,567", the same in every locale.
    fileprivate var grouped: String {
        let digits = String(magnitude)
        var text = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { text.append(",") }
            text.append(digit)
        }
        return (self < 0 ? "-" : "") + text
    }
}
