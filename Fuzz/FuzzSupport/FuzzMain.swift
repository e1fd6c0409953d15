import CLibFuzzer
import Foundation

/// A libFuzzer harness: `@main enum FuzzX: FuzzHarness { static func fuzz(_:) { … } }`.
///
/// `fuzz` is called with each input; it may only crash for a bug in the code under test, so it
/// catches every error thrown. `main` runs libFuzzer with the process's arguments (corpus
/// directories, `-max_total_time=` and the other libFuzzer flags) and exits with its status.
public protocol FuzzHarness {
    static func fuzz(_ input: UnsafeBufferPointer<UInt8>)
}

extension FuzzHarness {
    public static func main() {
        harness = fuzz
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        let status = LLVMFuzzerRunDriver(&argc, &argv) { data, size in
            harness?(UnsafeBufferPointer(start: data, count: size))
            return 0
        }
        exit(status)
    }
}

/// The harness body, set once by `main` before libFuzzer starts calling it (from one thread).
nonisolated(unsafe) private var harness: ((UnsafeBufferPointer<UInt8>) -> Void)?
