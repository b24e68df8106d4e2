/// Whether one canonical value says everything another says, and more: a date to the day
/// within the month another gives (`1977-10-05` within `1977-10`), a code of a hierarchical
/// table under its general code (marital status `21` first marriage under `20` married;
/// relationship `11` husband under `10` spouse — GB/T 2261.2 and GB/T 4761 give the general
/// code of each group a trailing 0). Write-back never replaces a value with a vaguer one.
public enum ValueSpecificity {
    /// Code tables whose codes are two digits, the group's general code ending in 0.
    static let hierarchicalTables: Set<String> = ["marital-status", "family-relationship"]

    public static func refines(_ specific: String, _ general: String, field: CanonicalField) -> Bool {
        guard specific != general else { return false }
        switch field.kind {
        case .date:
            guard let precise = PartialDate(iso: specific), let vague = PartialDate(iso: general) else { return false }
            return precise.precision > vague.precision && precise.agreesAsFarAsKnown(with: vague)
        case .code(let table) where hierarchicalTables.contains(table):
            let a = Array(specific.utf8), b = Array(general.utf8)
            return a.count == 2 && b.count == 2 && a[0] == b[0] && b[1] == UInt8(ascii: "0") && a[1] != UInt8(ascii: "0")
        default:
            return false
        }
    }
}
