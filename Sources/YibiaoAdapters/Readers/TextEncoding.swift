public import Foundation
#if canImport(Glibc)
    import Glibc
#endif

/// The encodings feeds arrive in. GB18030 and GBK are decoded with the C library's iconv:
/// Foundation on Linux has no GB18030 decoder, and iconv is what the system already ships.
public enum TextEncoding: String, Sendable, CaseIterable, Codable {
    case utf8 = "utf-8"
    case gb18030
    case gbk

    public init?(name: String) {
        switch name.lowercased().replacingOccurrences(of: "_", with: "-") {
        case "utf-8", "utf8": self = .utf8
        case "gb18030": self = .gb18030
        case "gbk", "cp936", "gb2312": self = .gbk
        default: return nil
        }
    }

    /// Bytes that can be the second byte of a multi-byte character: a delimiter among them
    /// would be ambiguous at the byte level.
    public func canBeTrailByte(_ byte: UInt8) -> Bool {
        switch self {
        case .utf8: byte >= 0x80
        case .gb18030, .gbk: byte >= 0x40
        }
    }
}

/// Decodes byte runs (one field at a time) to Swift strings; nil when the bytes are not valid.
final class TextDecoder {
    let encoding: TextEncoding
    private var converter: iconv_t?
    private var output = [UInt8](repeating: 0, count: 4096)

    init(_ encoding: TextEncoding) {
        self.encoding = encoding
        if encoding != .utf8 {
            // GB18030 is a superset of GBK, but GBK data must be rejected where it is invalid GBK.
            let name = encoding == .gb18030 ? "GB18030" : "GBK"
            let handle = iconv_open("UTF-8", name)
            converter = handle == iconv_t(bitPattern: -1) ? nil : handle
        }
    }

    deinit {
        if let converter { iconv_close(converter) }
    }

    func decode(_ bytes: ArraySlice<UInt8>) -> String? {
        if bytes.isEmpty { return "" }
        if encoding == .utf8 || bytes.allSatisfy({ $0 < 0x80 }) {
            return String(validating: bytes, as: UTF8.self)
        }
        guard let converter else { return nil }
        iconv(converter, nil, nil, nil, nil)
        var result = [UInt8]()
        result.reserveCapacity(bytes.count * 3 / 2)
        var input = Array(bytes)
        var ok = true
        input.withUnsafeMutableBufferPointer { inBuffer in
            var inPointer: UnsafeMutablePointer<CChar>? = UnsafeMutableRawPointer(inBuffer.baseAddress!).assumingMemoryBound(to: CChar.self)
            var inLeft = inBuffer.count
            while inLeft > 0 {
                let produced: Int = output.withUnsafeMutableBufferPointer { outBuffer in
                    var outPointer: UnsafeMutablePointer<CChar>? = UnsafeMutableRawPointer(outBuffer.baseAddress!).assumingMemoryBound(to: CChar.self)
                    var outLeft = outBuffer.count
                    let status = iconv(converter, &inPointer, &inLeft, &outPointer, &outLeft)
                    if status == -1 && errno != E2BIG { ok = false }
                    return outBuffer.count - outLeft
                }
                result.append(contentsOf: output[0..<produced])
                if !ok { return }
            }
        }
        guard ok else { return nil }
        return String(decoding: result, as: UTF8.self)
    }
}

/// Encodes Swift strings to GB18030 or GBK (for outbound files and synthetic feeds).
public final class TextEncoder {
    public let encoding: TextEncoding
    private var converter: iconv_t?

    public init(_ encoding: TextEncoding) {
        self.encoding = encoding
        if encoding != .utf8 {
            let handle = iconv_open(encoding == .gb18030 ? "GB18030" : "GBK", "UTF-8")
            converter = handle == iconv_t(bitPattern: -1) ? nil : handle
        }
    }

    deinit {
        if let converter { iconv_close(converter) }
    }

    /// Nil when a character has no representation (GBK lacks some; GB18030 covers all of Unicode).
    public func encode(_ text: String) -> [UInt8]? {
        if encoding == .utf8 { return Array(text.utf8) }
        guard let converter else { return nil }
        iconv(converter, nil, nil, nil, nil)
        var input = Array(text.utf8)
        if input.isEmpty { return [] }
        var output = [UInt8](repeating: 0, count: input.count * 2 + 16)
        var ok = true
        let produced: Int = input.withUnsafeMutableBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                var inPointer: UnsafeMutablePointer<CChar>? = UnsafeMutableRawPointer(inBuffer.baseAddress!).assumingMemoryBound(to: CChar.self)
                var inLeft = inBuffer.count
                var outPointer: UnsafeMutablePointer<CChar>? = UnsafeMutableRawPointer(outBuffer.baseAddress!).assumingMemoryBound(to: CChar.self)
                var outLeft = outBuffer.count
                if iconv(converter, &inPointer, &inLeft, &outPointer, &outLeft) == -1 { ok = false }
                return outBuffer.count - outLeft
            }
        }
        return ok ? Array(output[0..<produced]) : nil
    }
}

extension TextEncoding {
    /// Spreadsheet programs save CSV as UTF-8 or as the system's GB18030: told apart by whether
    /// the first megabyte is valid UTF-8.
    public static func guessUTF8OrGB18030(_ file: URL) -> TextEncoding {
        guard let handle = FileHandle(forReadingAtPath: file.path) else { return .utf8 }
        defer { try? handle.close() }
        var bytes = [UInt8]((try? handle.read(upToCount: 1 << 20)) ?? Data())
        // A cut at the end of the sample may split a character: drop up to 3 trailing bytes.
        for _ in 0..<4 {
            if String(validating: bytes, as: UTF8.self) != nil { return .utf8 }
            if bytes.isEmpty || bytes.last! < 0x80 { return .gb18030 }
            bytes.removeLast()
        }
        return .gb18030
    }
}
