import AWSCore
import Foundation
import Synchronization
import Testing
import TestSupport
@testable import ConveyorKit

/// `conveyor run` killed with SIGKILL at points chosen by a seeded generator (while listing the
/// inputs, after some model calls, while the manifest or report is written), then run again:
/// every output must be there and whole, and at most `concurrency` model calls repeated. And a
/// second SIGTERM ends a draining run at once.
///
/// No test waits for time to pass: each kill happens at a point the test saw reached (a request
/// held at the fault proxy, a number of calls counted by the emulator), polled with a bound.
@Suite(.timeLimit(.minutes(5))) struct CrashTests {
    enum Point: String, CaseIterable, CustomTestStringConvertible {
        case listing, calls, report
        var testDescription: String { rawValue }
    }

    static let items = 30
    static let concurrency = 4

    @Test(arguments: Point.allCases) func sigkillThenRerunFinishesEverythingWholeWithFewRepeatedCalls(at point: Point) async throws {
        let seed = UInt64(20_261_130 + Point.allCases.firstIndex(of: point)!)
        var random = SplitMix64(seed: seed)
        let context = "kill \(point.rawValue), seed \(seed)"
        var objects: [String: String] = [:]
        for i in 0..<Self.items { objects[String(format: "in/t%03d.txt", i)] = "ticket \(i)" }
        let bucket = try await KitFixture.bucket(objects)
        let faults = try FaultProxy.start(upstream: try TestAWS.proxyURL())
        let (emulator, url) = try KitFixture.startEmulator { $0.latencyMs = 200 }
        defer { try? emulator.stop() }
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let job = try RunCommandTests().writeJob(dir, bucket: bucket, concurrency: Self.concurrency)
        let environment = ["AWS_ENDPOINT_URL_S3": faults.url.absoluteString, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": url]
        // where to stop it: a request held at the proxy, or a number of calls
        var callsBeforeKill = 0
        switch point {
        case .listing:
            try await faults.configure([FaultProxy.Rule(.hold, method: "GET", path: "^/\(bucket)$", query: "prefix=in/")])
        case .calls:
            callsBeforeKill = Int.random(in: 1...(Self.items - Self.concurrency), using: &random)
            // the run cannot end before the kill, however fast its calls go
            try await faults.configure([FaultProxy.Rule(.hold, method: "PUT", path: "\\.items\\.jsonl$")])
        case .report:
            // the manifest is uploaded first, then the report
            let target = Bool.random(using: &random) ? "\\.items\\.jsonl$" : "/reports/[^/]*[0-9a-f]\\.json$"
            try await faults.configure([FaultProxy.Rule(.hold, method: "PUT", path: target)])
        }
        let process = try CLI.start(["run", job, "--progress", "never"], environment: environment)
        switch point {
        case .listing, .report:
            try await waitUntil("a request held (\(context))") {
                (try? await faults.stats().holding) ?? 0 >= 1 || !process.isRunning
            }
        case .calls:
            try await waitUntil("\(callsBeforeKill) calls (\(context))") {
                emulator.stats.calls >= callsBeforeKill || !process.isRunning
            }
        }
        #expect(process.isRunning, "the run ended before the kill point: \(context)")
        kill(process.processIdentifier, SIGKILL)
        _ = CLI.finish(process)
        try await faults.release()
        let callsBefore = emulator.stats.calls
        var writtenBefore = 0
        for key in try await KitFixture.keys(bucket) where key.hasPrefix("out/") {
            writtenBefore += 1
            let body = try await KitFixture.s3().getObject(bucket: bucket, key: key).body
            #expect((try? JSONValue.parse(body))?["text"] != nil, "\(key) is not whole (\(context))")
        }
        switch point {
        case .listing: #expect(callsBefore == 0, "\(context)")
        case .calls: #expect(callsBefore >= callsBeforeKill, "\(context)")
        case .report: #expect(writtenBefore == Self.items, "\(context)")
        }
        // the killed run's lock is fresh: take it over, as an operator would after a crash
        try await faults.configure([])
        let rerun = try CLI.run(["run", job, "--progress", "never", "--break-lock"], environment: environment)
        #expect(rerun.status == 0, "\(context): \(rerun.output)")
        let outputs = try await KitFixture.keys(bucket).filter { $0.hasPrefix("out/") }
        #expect(outputs.count == Self.items, "\(context)")
        for key in outputs {
            let body = try await KitFixture.s3().getObject(bucket: bucket, key: key).body
            #expect((try? JSONValue.parse(body))?["text"] != nil, "\(key) is not whole (\(context))")
        }
        // the rerun called the model only for the items without an output ...
        #expect(emulator.stats.calls - callsBefore == Self.items - writtenBefore, "\(context)")
        // ... and the calls repeated across the crash (made, never written) were at most the
        // calls in flight
        #expect(callsBefore - writtenBefore <= Self.concurrency, "\(context): \(callsBefore) calls, \(writtenBefore) written")
        let report = try #require(try await KitFixture.reports(bucket).first { $0.status == .succeeded }, "\(context)")
        #expect(report.counts.succeeded + report.counts.skipped == Self.items)
    }

    @Test func aSecondSigtermExitsAtOnceWithoutDraining() async throws {
        var objects: [String: String] = [:]
        for i in 0..<12 { objects[String(format: "in/t%03d.txt", i)] = "ticket \(i)" }
        let bucket = try await KitFixture.bucket(objects)
        // calls that take ten minutes: a drain could not end while this test runs
        let (emulator, url) = try KitFixture.startEmulator { $0.latencyMs = 600_000 }
        defer { try? emulator.stop() }
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let job = try RunCommandTests().writeJob(dir, bucket: bucket)
        let process = try CLI.start(["run", job, "--progress", "never"],
                                    environment: try RunCommandTests().environment(url))
        let output = CLI.collect(process)
        try await waitUntil("a call in flight") { emulator.stats.inFlight >= 1 || !process.isRunning }
        kill(process.processIdentifier, SIGTERM)
        try await waitUntil("the first signal handled") { output.text.contains("conveyor: stopping") || !process.isRunning }
        #expect(process.isRunning, "\(output.text)")  // draining: the calls in flight have minutes to go
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationStatus == 130, "\(output.text)")
        #expect(output.text.contains("second signal"), "\(output.text)")
        #expect(emulator.stats.accepted == 0)  // no call had finished: it did not wait for them
        #expect(try await KitFixture.reports(bucket).isEmpty)
    }
}

/// What a running `conveyor` has written so far (standard output and error together).
final class CollectedOutput: Sendable {
    let data = Mutex(Data())
    var text: String { String(decoding: data.withLock { $0 }, as: UTF8.self) }
}

extension CLI {
    /// Collects the process's output as it comes, instead of at the end (`finish`).
    static func collect(_ process: Process) -> CollectedOutput {
        let collected = CollectedOutput()
        let pipe = process.standardOutput as! Pipe
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let chunk = handle.availableData
            collected.data.withLock { $0.append(chunk) }
        }
        return collected
    }
}
