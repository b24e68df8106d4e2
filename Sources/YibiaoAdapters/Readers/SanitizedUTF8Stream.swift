import Foundation

/// A file read as UTF-8 for the XML parser, with every byte that is not valid UTF-8 replaced by
/// U+FFFD. FoundationXML traps (SIGILL) when libxml2 hands it an element name or text that is not
/// valid UTF-8; replaced bytes reach the reader as U+FFFD instead, and the reader quarantines the
/// record that holds one (`invalid_utf8`) — nothing is passed on as a different value.
///
/// It also watches for `<!ENTITY`: FoundationXML expands no entity a file declares itself (their
/// text is dropped without a word) and external ones can reach outside the file, so such a file
/// is refused; reading stops there.
final class SanitizedUTF8Stream: InputStream {
    private let handle: FileHandle
    private var pending: [UInt8] = []
    private var pendingStart = 0
    /// An incomplete sequence at the end of the last chunk, completed by the next one.
    private var carry: [UInt8] = []
    private var finished = false
    private var status: Stream.Status = .notOpen
    /// The file declares an entity (`<!ENTITY`).
    private(set) var declaresEntities = false
    private var tail: [UInt8] = []
    private static let entityDeclaration = Array("<!ENTITY".utf8)

    init?(file url: URL) {
        guard let handle = FileHandle(forReadingAtPath: url.path) else { return nil }
        self.handle = handle
        super.init(data: Data())
    }

    override func open() { status = .open }

    override func close() {
        try? handle.close()
        status = .closed
    }

    override var streamStatus: Stream.Status { status }

    override var hasBytesAvailable: Bool { !(finished && pendingStart >= pending.count) }

    override func read(_ buffer: UnsafeMutablePointer<UInt8>, maxLength length: Int) -> Int {
        while pendingStart >= pending.count, !finished { refill() }
        if declaresEntities { return 0 }
        let count = min(length, pending.count - pendingStart)
        guard count > 0 else {
            status = .atEnd
            return 0
        }
        pending.withUnsafeBufferPointer { source in
            buffer.update(from: source.baseAddress! + pendingStart, count: count)
        }
        pendingStart += count
        return count
    }

    private func refill() {
        pending.removeAll(keepingCapacity: true)
        pendingStart = 0
        let chunk = (try? handle.read(upToCount: 1 << 16)) ?? nil
        var bytes = carry
        carry = []
        if let chunk, !chunk.isEmpty {
            bytes.append(contentsOf: chunk)
            let window = tail + chunk
            if Self.contains(window, Self.entityDeclaration) { declaresEntities = true }
            tail = Array(window.suffix(Self.entityDeclaration.count - 1))
        } else {
            finished = true
        }
        // Valid runs are copied whole, into a local buffer (not byte by byte into the property).
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count + 16)
        var index = 0
        var runStart = 0
        while index < bytes.count {
            if bytes[index] < 0x80 {
                index += 1
                continue
            }
            let length = Self.sequenceLength(bytes, at: index)
            if length > 0 {
                index += length
                continue
            }
            output.append(contentsOf: bytes[runStart..<index])
            if length == 0, !finished {
                // Possibly a sequence cut by the chunk boundary: wait for the rest.
                carry = Array(bytes[index...])
                runStart = bytes.count
                break
            }
            output.append(contentsOf: [0xEF, 0xBF, 0xBD])
            index += 1
            runStart = index
        }
        if runStart < bytes.count { output.append(contentsOf: bytes[runStart...]) }
        pending = output
    }

    static func contains(_ bytes: [UInt8], _ needle: [UInt8]) -> Bool {
        guard bytes.count >= needle.count else { return false }
        for start in 0...(bytes.count - needle.count) where bytes[start] == needle[0] {
            if bytes[start..<start + needle.count].elementsEqual(needle) { return true }
        }
        return false
    }

    /// The length of the valid UTF-8 sequence at `index`; 0 when it is cut off by the end of
    /// `bytes` (so far valid); -1 when it is invalid.
    static func sequenceLength(_ bytes: [UInt8], at index: Int) -> Int {
        let lead = bytes[index]
        if lead < 0x80 { return 1 }
        let length: Int
        var low: UInt8 = 0x80, high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0:
            length = 3
            low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED:
            length = 3
            high = 0x9F
        case 0xF0:
            length = 4
            low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4:
            length = 4
            high = 0x8F
        default: return -1
        }
        for offset in 1..<length {
            guard index + offset < bytes.count else { return 0 }
            let byte = bytes[index + offset]
            let (min, max) = offset == 1 ? (low, high) : (UInt8(0x80), UInt8(0xBF))
            guard byte >= min, byte <= max else { return -1 }
        }
        return length
    }
}
