import Foundation

/// Splits a SQL script into statements. PostgresNIO speaks only the extended query protocol,
/// which takes one statement at a time, so migration files are split here. Written by hand:
/// no available package parses PostgreSQL's lexical rules, and only these few matter for
/// finding statement ends: quotes, E'' strings, quoted identifiers, dollar quotes, comments.
public enum SQLScript {
    public struct Statement: Sendable, Equatable {
        public let text: String
        /// 1-based line of the statement's first character, for error messages.
        public let line: Int
    }

    public static func statements(in script: String) -> [Statement] {
        let chars = Array(script.unicodeScalars)
        var result: [Statement] = []
        var start = 0
        var line = 1
        var startLine = 1
        var i = 0
        var blockDepth = 0

        func flush(upTo end: Int) {
            var text = String(String.UnicodeScalarView(chars[start..<end]))
            text = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if !isOnlyComments(text) { result.append(Statement(text: text, line: startLine)) }
        }

        func at(_ offset: Int) -> Unicode.Scalar? { i + offset < chars.count ? chars[i + offset] : nil }

        while i < chars.count {
            let c = chars[i]
            if c == "\n" { line += 1 }
            if blockDepth > 0 {
                if c == "*", at(1) == "/" {
                    blockDepth -= 1
                    i += 2
                    continue
                }
                if c == "/", at(1) == "*" {
                    blockDepth += 1
                    i += 2
                    continue
                }
                i += 1
                continue
            }
            switch c {
            case "-" where at(1) == "-":
                while i < chars.count, chars[i] != "\n" { i += 1 }
                continue
            case "/" where at(1) == "*":
                blockDepth = 1
                i += 2
                continue
            case "'":
                let escapes = i > 0 && (chars[i - 1] == "E" || chars[i - 1] == "e") && (i < 2 || !isIdentifierChar(chars[i - 2]))
                i += 1
                while i < chars.count {
                    if chars[i] == "\n" { line += 1 }
                    if escapes, chars[i] == "\\" {
                        i += 2
                        continue
                    }
                    if chars[i] == "'" {
                        if at(1) == "'" {
                            i += 2
                            continue
                        }
                        break
                    }
                    i += 1
                }
                i += 1
                continue
            case "\"":
                i += 1
                while i < chars.count {
                    if chars[i] == "\n" { line += 1 }
                    if chars[i] == "\"" {
                        if at(1) == "\"" {
                            i += 2
                            continue
                        }
                        break
                    }
                    i += 1
                }
                i += 1
                continue
            case "$" where i == 0 || !isIdentifierChar(chars[i - 1]):
                // $tag$ … $tag$ (tag may be empty); `$1` parameters are not quotes.
                var j = i + 1
                while j < chars.count, isIdentifierChar(chars[j]), !(chars[j].properties.numericType != nil && j == i + 1) { j += 1 }
                guard j < chars.count, chars[j] == "$" else {
                    i += 1
                    continue
                }
                let tag = Array(chars[i...j])
                var k = j + 1
                var found = false
                while k + tag.count <= chars.count {
                    if chars[k] == "\n" { line += 1 }
                    if chars[k] == "$", Array(chars[k..<(k + tag.count)]) == tag {
                        found = true
                        break
                    }
                    k += 1
                }
                i = found ? k + tag.count : chars.count
                continue
            case ";":
                flush(upTo: i)
                start = i + 1
                i += 1
                startLine = line
                // The next statement starts on the first non-blank line.
                var j = i
                var extraLines = 0
                while j < chars.count, chars[j].properties.isWhitespace {
                    if chars[j] == "\n" { extraLines += 1 }
                    j += 1
                }
                startLine = line + extraLines
                continue
            default:
                break
            }
            i += 1
        }
        if start < chars.count { flush(upTo: chars.count) }
        return result
    }

    private static func isIdentifierChar(_ c: Unicode.Scalar) -> Bool {
        c == "_" || c.properties.isAlphabetic || c.properties.numericType != nil
    }

    private static func isOnlyComments(_ text: String) -> Bool {
        var remaining = Substring(text)
        while true {
            remaining = remaining.drop(while: { $0.isWhitespace })
            if remaining.isEmpty { return true }
            if remaining.hasPrefix("--") {
                remaining = remaining.drop(while: { $0 != "\n" })
            } else if remaining.hasPrefix("/*"), let end = remaining.range(of: "*/") {
                remaining = remaining[end.upperBound...]
            } else {
                return false
            }
        }
    }
}
