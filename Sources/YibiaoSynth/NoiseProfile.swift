/// Rates of the entry errors injected into feeds, at noise level 1 (the default). `--noise X`
/// multiplies every rate by X (0 gives clean feeds). Documented in docs/synth.md.
public struct NoiseProfile: Sendable, Hashable, Codable {
    public var missingID = 0.03
    public var mistypedID = 0.01
    public var transposedID = 0.005
    /// Of people born before 1985, whose old 15-digit ID a system still holds.
    public var fifteenDigitID = 0.04
    /// Lower-case x, full-width digits, spaces: formatting only, the ID stays valid.
    public var formattedID = 0.03
    /// Excel cut the ID to 15 significant digits (XLSX feeds only).
    public var excelDamagedID = 0.005
    public var traditionalName = 0.03
    public var homophoneName = 0.01
    /// Of names with a middle dot: written with another dot character or none.
    public var middleDotVariant = 0.5
    public var swappedDayMonth = 0.005
    /// Of people who moved: a feed still has the old address and phone.
    public var staleAfterMove = 0.5
    /// The community office's number typed in for people without a phone.
    public var placeholderPhone = 0.02
    public var duplicateRecord = 0.01
    /// Of people who died: a feed still lists them.
    public var deceasedLingering = 0.5

    public init() {}

    public func scaled(by factor: Double) -> NoiseProfile {
        var copy = self
        let clamp = { (value: Double) in min(max(value * factor, 0), 1) }
        copy.missingID = clamp(missingID)
        copy.mistypedID = clamp(mistypedID)
        copy.transposedID = clamp(transposedID)
        copy.fifteenDigitID = clamp(fifteenDigitID)
        copy.formattedID = clamp(formattedID)
        copy.excelDamagedID = clamp(excelDamagedID)
        copy.traditionalName = clamp(traditionalName)
        copy.homophoneName = clamp(homophoneName)
        copy.middleDotVariant = clamp(middleDotVariant)
        copy.swappedDayMonth = clamp(swappedDayMonth)
        copy.staleAfterMove = clamp(staleAfterMove)
        copy.placeholderPhone = clamp(placeholderPhone)
        copy.duplicateRecord = clamp(duplicateRecord)
        copy.deceasedLingering = clamp(deceasedLingering)
        return copy
    }
}
