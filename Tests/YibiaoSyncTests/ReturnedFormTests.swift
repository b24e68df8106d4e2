import Foundation
import Testing
import YibiaoAdapters
import YibiaoApplication
import YibiaoCore
import YibiaoStore
import YibiaoSync
import YibiaoTestSupport

/// The rows of a sheet, each as its cells in column order (rows above `headerRow` read one at a time).
private func rows(of file: URL) throws -> (preamble: [[String]], header: [String], data: [[String: String]]) {
    var preamble: [[String]] = []
    for line in 1...FormLayout.preambleRows {
        var cells: [String] = []
        do {
            try XLSXReader(url: file, headerRow: line).read { event in
                if case .header(let names) = event { cells = names }
                throw StopReading()
            }
        } catch is StopReading {}
        preamble.append(cells)
    }
    var header: [String] = []
    var data: [[String: String]] = []
    try XLSXReader(url: file, headerRow: FormLayout.preambleRows + 1).read { event in
        switch event {
        case .header(let names): header = names
        case .row(let row): data.append(row.cells)
        case .unreadable(let issue): Issue.record("unreadable: \(issue)")
        }
    }
    return (preamble, header, data)
}

@Suite(.timeLimit(.minutes(10))) struct ReturnedFormTests {
    @Test("an XLSX form filled, edited in two cells (one in the department's codes) and read back: exactly those two values, canonical")
    func xlsxRoundTrip() async throws {
        try await withCivilAffairs(repository.appendingPathComponent("adapters/samples/civil_affairs.csv"), connections: 4) { hub, _ in
            _ = try await hub.addConsumer(
                district: district,
                Consumers.Definition(
                    id: "office", name: "社区居委会", purpose: "社区居民服务", legalBasis: "PIPL art. 13(1)(3)",
                    grant: AccessGrant(fields: ["name", "sex", "national_id", "phone", "marital_status"], communities: ["110105001001"])),
                actor: "test")
            let spec = FormSpec(
                id: "visits", title: LocalizedText(en: "Visits", zh: "走访"), department: LocalizedText(en: "Bureau", zh: "民政局"), purpose: "走访",
                consumer: "office",
                columns: [
                    FormSpec.Column(header: "姓名", field: "name"), FormSpec.Column(header: "性别", field: "sex", codes: ["1": "男", "2": "女"]),
                    FormSpec.Column(header: "公民身份号码", field: "national_id"), FormSpec.Column(header: "联系电话", field: "phone"),
                    FormSpec.Column(header: "婚姻状况", field: "marital_status", codes: ["10": "单身", "20": "有配偶"]),
                    FormSpec.Column(header: "走访人", field: nil),
                ])
            let directory = try TestDatabase.makeTemporaryDirectory(prefix: "yibiao-returned")
            defer { try? FileManager.default.removeItem(at: directory) }
            let filled = directory.appendingPathComponent("visits.xlsx")
            let result = try await hub.fillForm(spec, district: district, community: "110105001001", format: .xlsx, to: filled, actor: "test")
            let (preamble, header, data) = try rows(of: filled)
            #expect(data.count == result.rows && data.count >= 2)
            #expect(data.allSatisfy { Int64($0[FormLayout.residentHeader] ?? "") != nil }, "resident ids read back as whole numbers")
            let zhang = try #require(data.firstIndex { $0["公民身份号码"]?.hasSuffix("0118") == true })
            let wang = try #require(data.firstIndex { $0["公民身份号码"]?.hasSuffix("022X") == true })
            #expect(data[zhang]["婚姻状况"] == "有配偶", "filled in the department's label")

            // The office: 张伟's marital status in its own label, 王芳's phone, and its own column everywhere.
            var edited = data
            edited[zhang]["婚姻状况"] = "单身"
            edited[wang]["联系电话"] = "13900001234"
            for index in edited.indices { edited[index]["走访人"] = "李娜" }
            /// The office's copy: the form as it was, with its rows as edited.
            func save(_ rows: [[String: String]], as name: String) throws -> URL {
                let file = directory.appendingPathComponent(name)
                let writer = try XLSXWriter(url: file, sheetName: "走访")
                for line in preamble { try writer.append(line) }
                try writer.append(header)
                for row in rows { try writer.append(header.map { row[$0] }) }
                try writer.finish()
                return file
            }
            let returned = try save(edited, as: "returned.xlsx")

            #expect(ReturnedForm.isFilledForm(returned) && !ReturnedForm.isFilledForm(repository.appendingPathComponent("adapters/samples/civil_affairs.csv")))
            let form = try ReturnedForm.read(returned, client: try freshClient(), editable: WorkerFields().editable)
            #expect(form.formID == "visits" && form.cursor == result.cursor)
            let changes = Dictionary(uniqueKeysWithValues: form.changes.map { ($0.resident, $0.values) })
            #expect(changes[Int64(data[zhang][FormLayout.residentHeader]!)!] == ["marital_status": "10"], "单身 read back through the form's codes")
            #expect(changes[Int64(data[wang][FormLayout.residentHeader]!)!] == ["phone": "13900001234"])
            #expect(form.changes.count == 2 && form.setAside.isEmpty && form.unchanged == data.count - 2)

            // A row whose check code was lost cannot be compared: set aside, not guessed.
            edited[zhang][FormLayout.checkHeader] = ""
            let damaged = try save(edited, as: "damaged.xlsx")
            let read = try ReturnedForm.read(damaged, client: try freshClient(), editable: WorkerFields().editable)
            #expect(read.setAside.count == 1 && read.changes.count == 1)
        }
    }
}
