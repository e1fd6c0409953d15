import CLibFuzzer
import Foundation

/// The harness body, set once by `fuzzMain` before libFuzzer starts calling it (from one thread).
nonisolated(unsafe) private var harness: ((UnsafeBufferPointer<UInt8>) -> Void)?

/// Runs libFuzzer with the process's arguments (corpus directories, `-max_total_time=` and the
/// other libFuzzer flags), calling `body` with each input, and exits with libFuzzer's status.
/// A harness may only crash for a bug in the code under test: every thrown error is caught.
public func fuzzMain(_ body: @escaping (UnsafeBufferPointer<UInt8>) -> Void) -> Never {
    harness = body
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    let status = LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        harness?(UnsafeBufferPointer(start: data, count: size))
        return 0
    }
    exit(status)
}
