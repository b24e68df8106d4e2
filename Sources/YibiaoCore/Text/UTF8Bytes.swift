extension String {
    /// True when one of the text's UTF-8 bytes satisfies `predicate`. Read from the string's own
    /// storage when it has it: a byte at a time through `utf8` cost several times more, and
    /// staging asks this of every cell of every row.
    @inlinable
    public func containsUTF8Byte(where predicate: (UInt8) -> Bool) -> Bool {
        utf8.withContiguousStorageIfAvailable { $0.contains(where: predicate) } ?? utf8.contains(where: predicate)
    }

    /// True when the text's UTF-8 holds `byte`.
    @inlinable
    public func containsUTF8Byte(_ byte: UInt8) -> Bool {
        containsUTF8Byte { $0 == byte }
    }
}

extension String {
    /// True when the text's UTF-8 bytes sort before `other`'s: byte order, as canonical JSON and
    /// the stored documents order their keys. Compared in the strings' own storage: through
    /// `utf8.lexicographicallyPrecedes`, sorting each golden record's and change's keys was a
    /// few percent of a district's first load.
    @inlinable
    public func utf8Precedes(_ other: String) -> Bool {
        let compared = utf8.withContiguousStorageIfAvailable { x in
            other.utf8.withContiguousStorageIfAvailable { y -> Bool in
                for index in 0..<Swift.min(x.count, y.count) where x[index] != y[index] { return x[index] < y[index] }
                return x.count < y.count
            }
        }
        return (compared ?? nil) ?? utf8.lexicographicallyPrecedes(other.utf8)
    }
}

/// A text as a dictionary key by its UTF-8 bytes: hashed and compared as bytes, where a
/// `String` key hashes and compares any non-ASCII text through Unicode normalisation (most of a
/// lookup's time for a Chinese name or address). Two spellings of one text that normalise
/// alike are two keys here — right for a memo of what each spelling becomes.
public struct UTF8Key: Hashable, Sendable {
    public let text: String

    @inlinable
    public init(_ text: String) {
        var text = text
        // Native, contiguous storage: a bridged or lazy string is copied once here.
        text.makeContiguousUTF8()
        self.text = text
    }

    @inlinable
    public func hash(into hasher: inout Hasher) {
        text.utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }

    @inlinable
    public static func == (a: UTF8Key, b: UTF8Key) -> Bool {
        let compared = a.text.utf8.withContiguousStorageIfAvailable { x in
            b.text.utf8.withContiguousStorageIfAvailable { y -> Bool in x.elementsEqual(y) }
        }
        return (compared ?? nil) ?? a.text.utf8.elementsEqual(b.text.utf8)
    }
}
