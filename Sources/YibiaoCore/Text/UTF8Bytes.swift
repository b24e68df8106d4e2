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
