// libFuzzer harness: a job file from its bytes to a checked `Job` or its diagnostics, as
// `conveyor validate` reads it (YAMLDocument's limits, JobFormat's shape checks, the decoding,
// the templates and URIs in it). Built only by `make fuzz`; see docs/fuzzing.md.
import Foundation
import FuzzSupport

@testable import ConveyorKit

@main
enum FuzzJob: FuzzHarness {
    static func fuzz(_ input: UnsafeBufferPointer<UInt8>) {
        let bytes = Data(input)
        do {
            let document = try YAMLDocument(path: "fuzz.yaml", data: bytes)
            let job = try JobLoader.load(document, overrides: ["team": "fuzz"])
            _ = job.warnings.map(\.description)
        } catch {
            // Every refusal must be a located, printable diagnostic.
            _ = error.description
        }
    }
}
