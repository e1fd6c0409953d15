import AWSCore
import Foundation
@testable import ConveyorKit
import Testing

@Suite("Run report: render and merge")
struct ReportRenderMergeTests {
    static let start = ReportTests.start

    static func shard(_ index: Int, of count: Int, succeeded: Int, failed: Int, latencyBase: Double, offset: TimeInterval = 0,
                      ending: RunEnding = .completed) throws -> RunReport {
        let stats = RunStats()
        for i in 0..<succeeded {
            stats.record(.succeeded(id: "s\(index)-\(i)", attempts: 1, latencyMs: latencyBase + Double(i * 7 % 5000),
                                    inputTokens: 100, outputTokens: 10, costUSD: 0.001))
        }
        for i in 0..<failed {
            stats.record(.failed(id: "f\(index)-\(i)", input: "s3://in/f\(index)-\(i)", code: i % 2 == 0 ? "ValidationException" : "AccessDenied",
                                 message: "shard \(index) failure \(i)", attempts: 2, throttled: 1, latencyMs: 100))
        }
        var run = ReportTests.context
        run.runId = "20261130T020000Z-000\(index)"
        run.startedAt = start.addingTimeInterval(offset)
        run.shard = try Shard(index: index, count: count)
        return stats.report(run: run, finishedAt: start.addingTimeInterval(offset + 100), ending: ending,
                            manifest: "s3://acme/reports/j/\(run.runId).items.jsonl")
    }

    @Test func renderSummarisesTheRun() throws {
        let stats = RunStats()
        for i in 0..<1990 {
            stats.record(.succeeded(id: "\(i)", attempts: i < 47 ? 2 : 1, throttled: i < 40 ? 1 : 0,
                                    latencyMs: 2000 + Double(i % 100) * 20, inputTokens: 600, outputTokens: 48, costUSD: 0.0006))
        }
        for i in 0..<4 {
            stats.record(.failed(id: "t\(i)", input: "s3://acme-support/tickets/t\(i).txt",
                                 code: i == 0 ? "AccessDenied" : "ValidationException",
                                 message: i == 0 ? "not authorized\nto write" : "Input is too long for requested model.", attempts: 1))
        }
        for i in 0..<6 { stats.record(.skipped(id: "k\(i)")) }
        let report = stats.report(run: ReportTests.context, finishedAt: Self.start.addingTimeInterval(200),
                                  manifest: "s3://acme/reports/ticket-summaries/20261130T020000Z-3f9a.items.jsonl")
        let text = report.render()
        let expected = """
        ticket-summaries run 20261130T020000Z-3f9a: partial, exit 1
        model      anthropic.claude-3-sonnet-20240229-v1:0
        time       2026-11-30T02:00:00Z to 2026-11-30T02:03:20Z (3m20s)
        items      2,000 total: 1,990 succeeded, 4 failed, 6 skipped
        throughput 10.0 items/s, 478 output tokens/s
        tokens     1,194,000 input, 95,520 output
        cost       $1.19 (estimated)
        calls      2,041 attempts, 40 throttled, 47 retried
        latency    p50 2.98 s, p90 3.78 s, p99 3.96 s, max 3.98 s
        failures by code:
          3  ValidationException  e.g. t1: Input is too long for requested model.
          1  AccessDenied         e.g. t0: not authorized to write
        manifest   s3://acme/reports/ticket-summaries/20261130T020000Z-3f9a.items.jsonl

        """
        #expect(text == expected)
    }

    @Test func renderAbortedAndTruncated() throws {
        let stats = RunStats(failureLimit: 2)
        for i in 0..<5 { stats.record(.failed(id: "\(i)", code: "ServiceUnavailableException", message: "busy", attempts: 10, throttled: 0)) }
        stats.setTotal(50)
        var report = stats.report(run: ReportTests.context, finishedAt: Self.start.addingTimeInterval(5),
                                  ending: .aborted(.maxFailures, message: "5 items failed; limit 4"))
        report.dryRun = false
        let text = report.render()
        #expect(text.hasPrefix("ticket-summaries run 20261130T020000Z-3f9a: aborted, exit 4\n"))
        #expect(text.contains("aborted    maxFailures: 5 items failed; limit 4\n"))
        #expect(text.contains("items      50 total: 0 succeeded, 5 failed, 0 skipped, 45 not run\n"))
        #expect(text.contains("  5  ServiceUnavailableException  e.g. 0: busy\n"))
        #expect(text.contains("(the report lists the first 2 failures; 3 more are in the manifest)"))
        #expect(text.contains("latency    no items timed\n"))
        #expect(text.contains("manifest   none\n"))
    }

    @Test func renderedFromLoadedReport() throws {
        let report = try Self.shard(0, of: 1, succeeded: 10, failed: 1, latencyBase: 500)
        let loaded = try RunReport.load(from: report.encoded())
        #expect(loaded.render() == report.render())
    }

    @Test func mergeSumsShards() throws {
        let a = try Self.shard(0, of: 3, succeeded: 300, failed: 3, latencyBase: 1000)
        let b = try Self.shard(1, of: 3, succeeded: 500, failed: 0, latencyBase: 3000, offset: -20)
        let c = try Self.shard(2, of: 3, succeeded: 200, failed: 2, latencyBase: 200, offset: 30)
        let merged = try RunReport.merge([c, a, b])
        #expect(merged.counts == RunReport.Counts(total: 1005, succeeded: 1000, failed: 5, skipped: 0))
        #expect(merged.usage == RunReport.Usage(inputTokens: 100_000, outputTokens: 10_000))
        #expect(merged.calls == RunReport.Calls(attempts: 1010, throttled: 5, retried: 5))
        #expect(abs(merged.estimatedCostUSD - 1.0) < 1e-9)
        #expect(merged.startedAt == Self.start.addingTimeInterval(-20))
        #expect(merged.finishedAt == Self.start.addingTimeInterval(130))
        #expect(merged.durationSeconds == 150)
        #expect(merged.status == .partial)
        #expect(merged.failures.map(\.id) == ["f0-0", "f0-1", "f0-2", "f2-0", "f2-1"])  // in shard order
        #expect(merged.failureCodes.map(\.code) == ["ValidationException", "AccessDenied"])
        #expect(merged.failureCodes.map(\.count) == [3, 2])
        #expect(merged.manifest == nil)
        #expect(merged.manifests?.count == 3)
        #expect(merged.mergedFrom?.map(\.shard?.index) == [0, 1, 2])
        #expect(merged.shard == nil)

        // exact latency: the same as one histogram of every item
        var all = LatencyHistogram()
        for r in [a, b, c] { all.merge(r.latencyHistogram!) }
        #expect(merged.latencyMs == RunReport.Latency(all))
        #expect(!merged.latencyApproximate)

        // and through the files
        let loaded = try [a, b, c].map { try RunReport.load(from: $0.encoded()) }
        let mergedFromFiles = try RunReport.merge(loaded)
        #expect(mergedFromFiles.latencyMs == merged.latencyMs)
        let again = try RunReport.load(from: mergedFromFiles.encoded())
        #expect(again.mergedFrom == merged.mergedFrom)
        #expect(again.manifests == merged.manifests)
        #expect(merged.render().contains("merged     3 reports: shard 0/3 partial, shard 1/3 succeeded, shard 2/3 partial\n"))
    }

    @Test func mergeWithoutHistogramsIsApproximate() throws {
        var a = try Self.shard(0, of: 2, succeeded: 100, failed: 0, latencyBase: 1000)
        var b = try Self.shard(1, of: 2, succeeded: 300, failed: 0, latencyBase: 2000)
        a.latencyHistogram = nil
        b.latencyHistogram = nil
        a.latencyMs = RunReport.Latency(p50: 1000, p90: 2000, p99: 3000, max: 3500)
        b.latencyMs = RunReport.Latency(p50: 2000, p90: 4000, p99: 5000, max: 6000)
        let merged = try RunReport.merge([a, b])
        #expect(merged.latencyApproximate)
        #expect(merged.latencyMs == RunReport.Latency(p50: 1750, p90: 3500, p99: 4500, max: 6000))
        #expect(merged.json["latencyApproximate"] == true)
        #expect(merged.render().contains("(approximate)"))
    }

    @Test func mergeStatus() throws {
        let ok = try Self.shard(0, of: 3, succeeded: 10, failed: 0, latencyBase: 1)
        let allFailed = try Self.shard(1, of: 3, succeeded: 0, failed: 4, latencyBase: 1)
        let aborted = try Self.shard(2, of: 3, succeeded: 1, failed: 9, latencyBase: 1,
                                     ending: .aborted(.maxFailures, message: "9 failed"))
        #expect(try RunReport.merge([ok]).status == .succeeded)
        #expect(try RunReport.merge([ok, allFailed]).status == .partial)
        #expect(try RunReport.merge([allFailed]).status == .failed)
        let m = try RunReport.merge([ok, allFailed, aborted])
        #expect(m.status == .aborted && m.exitCode == 4)
        #expect(m.abortReason == .maxFailures)
        #expect(m.abortMessage == "shard 2/3: 9 failed")
        let interrupted = try Self.shard(2, of: 3, succeeded: 1, failed: 0, latencyBase: 1, ending: .interrupted(message: "SIGINT"))
        #expect(try RunReport.merge([ok, interrupted]).status == .interrupted)
    }

    @Test func mergeRefusesMismatches() throws {
        let a = try Self.shard(0, of: 2, succeeded: 1, failed: 0, latencyBase: 1)
        var other = a
        other.job = "another-job"
        #expect(throws: RunReportError.self) { try RunReport.merge([a, other]) }
        #expect(throws: RunReportError.self) { try RunReport.merge([a, a]) }  // the same shard twice
        let b = try Self.shard(1, of: 3, succeeded: 1, failed: 0, latencyBase: 1)
        #expect(throws: RunReportError.self) { try RunReport.merge([a, b]) }
        #expect(throws: RunReportError.self) { try RunReport.merge([]) }
    }
}
