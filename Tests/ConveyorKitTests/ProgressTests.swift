import Foundation
import Synchronization
@testable import ConveyorKit
import Testing

/// Captures what the reporter writes, and supplies its time.
final class ProgressHarness: Sendable {
    private let out = Mutex<[String]>([])
    private let time = Mutex<TimeInterval>(1000)
    var writes: [String] { out.withLock { $0 } }
    var write: @Sendable (String) -> Void { { text in self.out.withLock { $0.append(text) } } }
    var now: @Sendable () -> TimeInterval { { self.time.withLock { $0 } } }
    func advance(_ seconds: TimeInterval) { time.withLock { $0 += seconds } }
    func clear() { out.withLock { $0.removeAll() } }

    func reporter(_ mode: ProgressMode, terminal: Bool, width: Int = 120, liveInterval: TimeInterval = 0.2) -> ProgressReporter {
        ProgressReporter(mode: mode, label: "nightly", isTerminal: terminal, width: { width }, write: write, now: now,
                         liveInterval: liveInterval)
    }
}

@Suite("Progress")
struct ProgressTests {
    static let running = ProgressSnapshot(done: 1234, total: 2000, succeeded: 1220, failed: 4, skipped: 10, inFlight: 16,
                                          throttled: 40, inputTokens: 1_234_567, outputTokens: 95_000, costUSD: 1.23,
                                          elapsed: 100)

    @Test func fullLiveLine() {
        let line = ProgressFormat.liveLine(Self.running, width: 200, label: "nightly")
        #expect(line == "nightly  1,234/2,000 61.7%  ok 1,220  failed 4  skipped 10  12.3/s  ETA 1m02s  in flight 16  throttled 40  tok 1.2M/95k  $1.23")
    }

    @Test func liveLineFitsTheWidth() {
        var previous = Int.max
        for width in stride(from: 130, through: 1, by: -1) {
            let line = ProgressFormat.liveLine(Self.running, width: width, label: "nightly")
            #expect(line.count <= max(1, width - 1), "width \(width): \(line)")
            #expect(line.count <= previous)
            previous = line.count
            if width >= 18 { #expect(line.contains("1,234/2,000 61.7%"), "width \(width): \(line)") }
        }
        // the least useful go first
        #expect(ProgressFormat.liveLine(Self.running, width: 80, label: "nightly")
                == "1,234/2,000 61.7%  ok 1,220  failed 4  12.3/s  ETA 1m02s  throttled 40  $1.23")
        #expect(ProgressFormat.liveLine(Self.running, width: 40, label: "nightly") == "1,234/2,000 61.7%  failed 4  ETA 1m02s")
        #expect(ProgressFormat.liveLine(Self.running, width: 10, label: "nightly") == "1,234/2,0")
    }

    @Test func unknownTotal() {
        var s = Self.running
        s.total = nil
        let line = ProgressFormat.liveLine(s, width: 200)
        #expect(line.hasPrefix("1,234/? listing  ok 1,220"))
        #expect(!line.contains("ETA"))
        #expect(s.effectiveETA == nil)
        let summary = ProgressFormat.summaryLine(s)
        #expect(summary.hasPrefix("progress: 1234/? (listing) succeeded=1220"))
        #expect(!summary.contains("eta="))
    }

    @Test func rateAndETA() {
        let s = ProgressSnapshot(done: 100, total: 1000, elapsed: 10)
        #expect(s.effectiveRate == 10)
        #expect(s.effectiveETA == 90)
        #expect(ProgressFormat.liveLine(s, width: 100) == "100/1,000 10.0%  ok 0  10.0/s  ETA 1m30s")
        var given = s
        given.rate = 2
        #expect(given.effectiveETA == 450)
        given.eta = 7
        #expect(given.effectiveETA == 7)
        // nothing done yet: no rate, no ETA
        #expect(ProgressSnapshot(done: 0, total: 10, elapsed: 5).effectiveETA == nil)
        #expect(ProgressSnapshot(done: 10, total: 10, elapsed: 5).effectiveETA == 0)
        #expect(ProgressFormat.duration(3725) == "1h02m")
        #expect(ProgressFormat.duration(400_000) == ">99h")
        #expect(ProgressFormat.compact(999) == "999" && ProgressFormat.compact(1500) == "1.5k" && ProgressFormat.compact(12_345_678) == "12M")
        #expect(ProgressSnapshot(done: 0, total: 0).fraction == 1)
    }

    @Test func summaryLines() {
        #expect(ProgressFormat.summaryLine(Self.running, label: "nightly")
                == "nightly progress: 1234/2000 (61.7%) succeeded=1220 failed=4 skipped=10 rate=12.3/s eta=1m02s in_flight=16 throttled=40 input_tokens=1234567 output_tokens=95000 cost_usd=1.23 elapsed=1m40s")
        var done = Self.running
        done.done = 2000
        done.succeeded = 1986
        done.inFlight = 0
        done.elapsed = 162
        #expect(ProgressFormat.summaryLine(done, final: true)
                == "finished: 2000/2000 (100.0%) succeeded=1986 failed=4 skipped=10 rate=12.3/s throttled=40 input_tokens=1234567 output_tokens=95000 cost_usd=1.23 elapsed=2m42s")
    }

    @Test func fromRunStats() {
        let stats = RunStats()
        stats.record(.succeeded(id: "a", attempts: 2, throttled: 1, latencyMs: 10, inputTokens: 5, outputTokens: 6, costUSD: 0.5))
        stats.record(.skipped(id: "b"))
        let s = ProgressSnapshot(stats: stats.snapshot, total: 10, inFlight: 3, elapsed: 4)
        #expect(s == ProgressSnapshot(done: 2, total: 10, succeeded: 1, failed: 0, skipped: 1, inFlight: 3, throttled: 1,
                                      inputTokens: 5, outputTokens: 6, costUSD: 0.5, elapsed: 4))
    }

    @Test func modes() {
        let h = ProgressHarness()
        #expect(h.reporter(.auto, terminal: true).style == .live)
        #expect(h.reporter(.auto, terminal: false).style == .periodic)
        #expect(h.reporter(.always, terminal: false).style == .live)
        #expect(h.reporter(.never, terminal: true).style == .periodic)
        #expect(h.reporter(.auto, terminal: true).tickInterval == 0.2)
        #expect(h.reporter(.auto, terminal: false).tickInterval == 30)
        #expect(ProgressReporter.terminalWidth() > 0)
    }

    @Test func liveLineIsThrottledAndEndsWithANewline() {
        let h = ProgressHarness()
        // times in binary fractions, so that the sums are exact
        let reporter = h.reporter(.auto, terminal: true, width: 60, liveInterval: 0.25)
        var s = ProgressSnapshot(done: 0, total: 100, elapsed: 0)
        for step in 1...20 {  // 20 updates 1/16 s apart: one line every 1/4 s
            h.advance(0.0625)
            s.done = step
            s.succeeded = step
            s.elapsed += 0.0625
            reporter.update(s)
        }
        #expect(h.writes.count == 5)
        #expect(h.writes.allSatisfy { $0.hasPrefix("\r") && $0.hasSuffix("\u{1B}[K") && !$0.contains("\n") })
        #expect(h.writes[0] == "\rnightly  4/100 4.0%  ok 4  16.0/s  ETA 6s\u{1B}[K")
        #expect(h.writes[4] == "\rnightly  20/100 20.0%  ok 20  16.0/s  ETA 5s\u{1B}[K")
        h.clear()
        reporter.clearLine()
        #expect(h.writes == ["\r\u{1B}[K"])
        reporter.update(s)  // drawn again at once
        #expect(h.writes.count == 2)
        h.clear()
        s.done = 100
        s.succeeded = 100
        reporter.finish(s)
        #expect(h.writes == ["\rnightly  100/100 100.0%  ok 100  80.0/s\u{1B}[K\n"])
        reporter.update(s)
        reporter.tick()
        reporter.finish(s)
        reporter.clearLine()
        #expect(h.writes.count == 1)
    }

    @Test func periodicSummariesUnderCron() {
        let h = ProgressHarness()
        let reporter = h.reporter(.auto, terminal: false)
        var s = ProgressSnapshot(done: 0, total: 50, elapsed: 0)
        for second in 1...29 {
            h.advance(1)
            s.done = second
            s.succeeded = second
            s.elapsed = Double(second)
            reporter.update(s)
        }
        #expect(h.writes.isEmpty)
        h.advance(1)
        s.elapsed = 30
        reporter.update(s)
        #expect(h.writes == ["nightly progress: 29/50 (58.0%) succeeded=29 failed=0 skipped=0 rate=0.97/s eta=22s in_flight=0 throttled=0 input_tokens=0 output_tokens=0 cost_usd=0.00 elapsed=30s\n"])
        // nothing finishes for a while: the timer still writes every 30 s
        h.advance(15)
        reporter.tick()
        #expect(h.writes.count == 1)
        h.advance(15)
        reporter.tick()
        #expect(h.writes.count == 2)
        s.done = 50
        s.succeeded = 50
        s.elapsed = 75
        reporter.finish(s)
        #expect(h.writes.last == "nightly finished: 50/50 (100.0%) succeeded=50 failed=0 skipped=0 rate=0.67/s throttled=0 input_tokens=0 output_tokens=0 cost_usd=0.00 elapsed=1m15s\n")
        #expect(h.writes.allSatisfy { !$0.contains("\r") && !$0.contains("\u{1B}") })
    }

    /// Waits (a bounded number of short pauses) until the ticker's task has written `count` lines.
    static func waitForWrites(_ h: ProgressHarness, _ count: Int) async {
        for _ in 0..<5000 where h.writes.count < count { try? await Task.sleep(for: .milliseconds(1)) }
    }

    @Test func tickerDrivenBySleep() async {
        let h = ProgressHarness()
        let reporter = h.reporter(.never, terminal: false)
        let ticks = Ticks()
        let slept = Mutex<[Duration]>([])
        reporter.update(ProgressSnapshot(done: 1, total: 10, succeeded: 1, elapsed: 1))
        reporter.startTicking(sleep: { interval in
            slept.withLock { $0.append(interval) }
            try await ticks.wait()
        })
        for n in 1...3 {
            h.advance(30)
            await ticks.release()
            await Self.waitForWrites(h, n)  // the ticker runs on its own task
            #expect(h.writes.count == n)
        }
        #expect(slept.withLock { $0.first } == .seconds(30))
        reporter.finish(ProgressSnapshot(done: 10, total: 10, succeeded: 10, elapsed: 91))
        #expect(h.writes.count == 4)
    }

    @Test func consumesAStream() async throws {
        let h = ProgressHarness()
        let reporter = h.reporter(.always, terminal: false, width: 80)
        let (stream, continuation) = AsyncStream.makeStream(of: ProgressSnapshot.self)
        for i in 1...10 {
            continuation.yield(ProgressSnapshot(done: i, total: 10, succeeded: i, elapsed: Double(i)))
        }
        continuation.finish()
        try await reporter.run(stream)
        #expect(h.writes == ["\rnightly  10/10 100.0%  ok 10  1.00/s\u{1B}[K\n"])
    }
}
