import Foundation

/// Every line of the benchmark's output written out at once, not held in stdout's buffer: into
/// a file or a pipe, a run that crashed half-way lost every figure it had printed.
func print(_ items: Any..., separator: String = " ", terminator: String = "\n") {
    Swift.print(items.map { "\($0)" }.joined(separator: separator), terminator: terminator)
    fflush(nil)
}
