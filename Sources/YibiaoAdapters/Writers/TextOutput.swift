public import Foundation

/// Buffered text output to a file or an open handle, in UTF-8, GB18030 or GBK. A character the
/// encoding cannot represent is an error, never a silent substitute.
public final class TextOutput {
    private let handle: FileHandle
    private let ownsHandle: Bool
    private var buffer: [UInt8] = []
    private let encoder: TextEncoder?

    /// Creates (or truncates) the file.
    public convenience init(url: URL, encoding: TextEncoding = .utf8) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: url.path])
        }
        self.init(handle: try FileHandle(forWritingTo: url), encoding: encoding, ownsHandle: true)
    }

    public init(handle: FileHandle, encoding: TextEncoding = .utf8, ownsHandle: Bool = false) {
        self.handle = handle
        self.ownsHandle = ownsHandle
        encoder = encoding == .utf8 ? nil : TextEncoder(encoding)
        buffer.reserveCapacity(1 << 16)
    }

    public func write(_ text: String) throws {
        if let encoder {
            guard let bytes = encoder.encode(text) else { throw UnencodableText(encoding: encoder.encoding) }
            buffer.append(contentsOf: bytes)
        } else {
            buffer.append(contentsOf: text.utf8)
        }
        if buffer.count >= 1 << 20 { try flush() }
    }

    public func flush() throws {
        try handle.write(contentsOf: buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes, and closes the file when this output opened it.
    public func finish() throws {
        try flush()
        if ownsHandle { try handle.close() }
    }
}

/// Text with a character the target encoding lacks (GBK has no 𠀀).
public struct UnencodableText: Error, Sendable, CustomStringConvertible {
    public let encoding: TextEncoding
    public var description: String { "a character cannot be written in \(encoding.rawValue)" }
}
