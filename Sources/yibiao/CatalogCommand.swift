import ArgumentParser
import Foundation
import YibiaoApplication
import YibiaoCore

struct CatalogCommand: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "catalog",
            abstract: tr(
                "The data catalogue: every field, which systems hold and receive it, its owner, sensitivity, readers and coverage.",
                "数据目录：每个字段由哪些系统持有和接收、权威来源、敏感性、使用方及覆盖率。"))
    }

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var districtOption: DistrictOption
    enum Format: String, ExpressibleByArgument, CaseIterable { case md, csv, html }
    @Option(name: .long, help: ArgumentHelp(tr("md, csv or html.", "md、csv 或 html。"))) var format: Format = .md
    @Option(name: .long, help: ArgumentHelp(tr("Write to this file instead of the terminal.", "写入此文件而非终端。"))) var out: String?
    @Option(name: .long, help: ArgumentHelp(tr("The district's form specs, for the forms using each field.", "本区的表格定义目录，用于列出使用各字段的表格。")))
    var forms = "forms"

    func run() async throws {
        let district = try districtOption.resolved()
        let specs = knownForms(in: forms)
        let catalog = try await database.withHub { hub in try await hub.catalog(district: district, reader: cliActor(), forms: specs) }
        let text = DataCatalogPage.render(catalog, as: DataCatalogPage.Format(rawValue: format.rawValue) ?? .md)
        guard let out else {
            print(text, terminator: "")
            return
        }
        try Data(text.utf8).write(to: URL(fileURLWithPath: out), options: .atomic)
        print(tr("Wrote \(out): \(catalog.entries.count) fields.", "已写入 \(out)：\(catalog.entries.count) 个字段。"))
    }
}

/// The district's form specs, for the forms using each field.
func knownForms(in path: String) -> [FormSpec] { loadSpecs(in: path, checkedBy: "yibiao form check", FormSpec.load) }
