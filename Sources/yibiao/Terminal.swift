import Foundation
import YibiaoCore
import YibiaoSync

#if canImport(Glibc)
    import Glibc
#endif

/// Questions asked of a person at a terminal. On a real terminal each key redraws the line with
/// a live hint beside it (an ID number checked as it is typed); on a pipe it reads whole lines.
/// Written by hand over termios: the packages at hand (console-kit, swift-argument-parser) ask
/// line by line and cannot check a value while it is typed.
enum Terminal {
    static var isInteractive: Bool { isatty(STDIN_FILENO) == 1 && isatty(STDOUT_FILENO) == 1 }

    static func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    static func dim(_ text: String) -> String { isInteractive ? "\u{1b}[2m" + text + "\u{1b}[0m" : text }
    static func bold(_ text: String) -> String { isInteractive ? "\u{1b}[1m" + text + "\u{1b}[0m" : text }

    static let cancelled = SyncError(
        .cancelled, .init(en: "stopped; nothing was sent", zh: "已中止；未发送任何内容"),
        remedy: .init(en: "entries confirmed earlier stay in `yibiao sync status`", zh: "此前已确认的录入可在 `yibiao sync status` 中查看"))

    /// One answer. `hint` sees the text typed so far and says what to show beside it. Ctrl-C or
    /// the end of input throws `cancelled`. `secret` shows nothing of what is typed.
    static func ask(_ prompt: String, secret: Bool = false, hint: (String) -> String? = { _ in nil }) throws -> String {
        guard isInteractive else {
            write(prompt)
            guard let line = readLine(strippingNewline: true) else {
                write("\n")
                throw cancelled
            }
            if !secret, let shown = hint(line) { write(dim("  " + shown) + "\n") }
            return line
        }
        var original = termios()
        tcgetattr(STDIN_FILENO, &original)
        var raw = original
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO | ISIG | IEXTEN)
        raw.c_iflag &= ~tcflag_t(ICRNL | IXON)
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw)
        defer { tcsetattr(STDIN_FILENO, TCSAFLUSH, &original) }

        var text = ""
        var pending: [UInt8] = []
        func redraw() {
            var line = "\r\u{1b}[2K" + prompt + (secret ? String(repeating: "•", count: text.count) : text)
            if !secret, let shown = hint(text), !shown.isEmpty { line += "\u{1b}7  " + dim(shown) + "\u{1b}8" }
            write(line)
        }
        redraw()
        while true {
            var byte: UInt8 = 0
            guard read(STDIN_FILENO, &byte, 1) == 1 else {
                write("\n")
                throw cancelled
            }
            switch byte {
            case 0x03:
                write("\r\n")
                throw cancelled
            case 0x04 where text.isEmpty:
                write("\r\n")
                throw cancelled
            case 0x0D, 0x0A:
                // Keep the hint on screen: it is the answer to what was typed.
                write("\r\n")
                return text
            case 0x7F, 0x08:
                if !text.isEmpty { text.removeLast() }
            case 0x15:
                text = ""
            case 0x1B:
                // An escape sequence (arrow keys): read it whole and ignore it.
                var next: UInt8 = 0
                if read(STDIN_FILENO, &next, 1) == 1, next == UInt8(ascii: "[") || next == UInt8(ascii: "O") {
                    while read(STDIN_FILENO, &next, 1) == 1, !(0x40...0x7E).contains(next) {}
                }
            case ..<0x20:
                continue
            default:
                pending.append(byte)
                if let decoded = String(validating: pending, as: UTF8.self) {
                    text += decoded
                    pending = []
                } else if pending.count >= 4 {
                    pending = []
                }
            }
            redraw()
        }
    }

    /// Yes or no; Enter takes `default`.
    static func confirm(_ prompt: String, default answer: Bool) throws -> Bool {
        let choices = answer ? " [Y/n] " : " [y/N] "
        while true {
            let reply = try ask(prompt + choices).trimmingCharacters(in: .whitespaces).lowercased()
            if reply.isEmpty { return answer }
            if ["y", "yes", "是", "好", "确认", "1"].contains(reply) { return true }
            if ["n", "no", "否", "不", "取消", "0"].contains(reply) { return false }
        }
    }

    /// One of `count` numbered choices (1-based), as typed.
    static func choose(_ prompt: String, count: Int) throws -> Int {
        while true {
            let reply = try ask(
                prompt + " [1-\(count)] ",
                hint: { typed in
                    guard let number = Int(typed.trimmingCharacters(in: .whitespaces)) else { return typed.isEmpty ? nil : "?" }
                    return (1...count).contains(number) ? "✓" : "?"
                })
            if let number = Int(reply.trimmingCharacters(in: .whitespaces)), (1...count).contains(number) { return number }
        }
    }
}
