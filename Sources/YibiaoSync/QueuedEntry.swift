public import Foundation

/// One entry as the worker's machine keeps it, from the moment the worker confirms it until the
/// hub has answered: the same id every time it is sent, so the hub changes a resident once.
public struct QueuedEntry: Codable, Sendable, Hashable, Identifiable {
    public enum State: String, Codable, Sendable, CaseIterable {
        /// Not sent yet (the hub could not be reached, or it was just saved).
        case waiting
        /// Sent, no answer yet: the connection was lost, or the program stopped. Sent again
        /// as it is; the hub answers "already received" when the first one arrived.
        case sent
        case accepted
        /// A value changed on the hub since the worker saw it: the worker decides.
        case conflict
        /// The hub refused it (a value it cannot accept, a resident out of reach).
        case rejected
        /// The worker kept the hub's values for every field: nothing left to send.
        case withdrawn

        /// Still to be sent by `yibiao sync push`.
        public var isPending: Bool { self == .waiting || self == .sent }
    }

    /// A field the hub holds differently from what the worker saw.
    public struct Conflict: Codable, Sendable, Hashable {
        public var seen: String?
        public var current: String?
        public var mine: String

        public init(seen: String?, current: String?, mine: String) {
            self.seen = seen
            self.current = current
            self.mine = mine
        }
    }

    /// A system the change reaches, as the hub's receipt says.
    public struct Reach: Codable, Sendable, Hashable {
        public var system: String
        public var fields: [String]
        public var held: Bool

        public init(system: String, fields: [String], held: Bool) {
            self.system = system
            self.fields = fields
            self.held = held
        }
    }

    public let id: String
    public let createdAt: Date
    /// How the hub finds the person: the citizen ID number the worker typed, or — for a row of
    /// a returned form, whose ID column is masked — the resident's id on the hub (digits, fewer
    /// than 15). Kept under one name so that queues written before forms came back still read.
    public var nationalID: String
    /// The resident's id on the hub when the entry names them so (a returned form's row).
    public var residentID: Int64? { nationalID.count < 15 ? Int64(nationalID) : nil }
    /// field → the new value, as the worker typed it (normalised on the worker's machine first).
    public var values: [String: String]
    /// field → the value the worker saw (nil inside: it was empty). Nil when the entry was made
    /// offline: the current values are read just before sending.
    public var seen: [String: String?]?
    /// Where it came from: the form, or a file and row.
    public var origin: String
    public var state: State
    public var attempts: Int
    public var lastTried: Date?
    /// The resident the hub filed it under.
    public var resident: Int64?
    public var changes: Int?
    public var reaches: [Reach]
    public var conflicts: [String: Conflict]
    /// Why the hub refused it: its code, and its message in the worker's language.
    public var reasonCode: String?
    public var reason: String?
    /// The hub said it had this entry already (sent twice, changed once).
    public var alreadyReceived: Bool

    public init(id: String = QueuedEntry.newID(), createdAt: Date = Date(), nationalID: String, values: [String: String], seen: [String: String?]?, origin: String) {
        self.id = id
        self.createdAt = createdAt
        self.nationalID = nationalID
        self.values = values
        self.seen = seen
        self.origin = origin
        self.state = .waiting
        self.attempts = 0
        self.reaches = []
        self.conflicts = [:]
        self.alreadyReceived = false
    }

    /// Made once, on the worker's machine.
    public static func newID() -> String { UUID().uuidString.lowercased() }
}
