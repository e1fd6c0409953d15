import AWSCore
import Foundation
@testable import ConveyorKit
import Testing

@Suite("Run report")
struct ReportTests {
    static let start = Date(timeIntervalSince1970: 1_796_004_000)  // 2026-11-30T02:00:00Z
    static let context = RunContext(job: "ticket-summaries", runId: "20261130T020000Z-3f9a",
                                    model: "anthropic.claude-3-sonnet-20240229-v1:0", startedAt: start,
                                    conveyorVersion: "0.4.0", host: "builder")

    static func stats(succeeded: Int, failed: Int, skipped: Int = 0) -> RunStats {
        let stats = RunStats()
        for i in 0..<succeeded {
            stats.record(.succeeded(id: "ok-\(i)", input: "s3://in/ok-\(i).txt", output: "s3://out/ok-\(i).json",
                                    attempts: i % 10 == 0 ? 3 : 1, throttled: i % 10 == 0 ? 2 : 0,
                                    latencyMs: Double(1000 + i), inputTokens: 800, outputTokens: 90, costUSD: 0.0037))
        }
        for i in 0..<failed {
            stats.record(.failed(id: "bad-\(i)", input: "s3://in/bad-\(i).txt", code: "ValidationException",
                                 message: "Input is too long for requested model.", attempts: 1, latencyMs: 300))
        }
        for i in 0..<skipped { stats.record(.skipped(id: "skip-\(i)")) }
        return stats
    }

    @Test func jsonHasTheContractsFieldsInItsOrder() throws {
        let report = Self.stats(succeeded: 20, failed: 2, skipped: 1)
            .report(run: Self.context, finishedAt: Self.start.addingTimeInterval(12.5),
                    manifest: "s3://acme/reports/ticket-summaries/20261130T020000Z-3f9a.items.jsonl")
        let json = try JSONValue.parse(report.encoded())
        let keys = json.objectValue!.keys
        let contract = ["reportVersion", "job", "runId", "dryRun", "status", "startedAt", "finishedAt", "durationSeconds",
                        "model", "counts", "usage", "calls", "latencyMs", "estimatedCostUSD", "failures", "manifest"]
        #expect(Array(keys.prefix(contract.count)) == contract)
        for ext in ["failuresTruncated", "abortReason", "abortMessage", "exitCode", "shard", "conveyorVersion", "host",
                    "previousReport", "throughput", "latencyHistogram"] {
            #expect(keys.contains(ext), "missing \(ext)")
        }
        #expect(json["reportVersion"] == 1)
        #expect(json["job"] == "ticket-summaries")
        #expect(json["dryRun"] == false)
        #expect(json["status"] == "partial")
        #expect(json["startedAt"] == "2026-11-30T02:00:00Z")
        #expect(json["finishedAt"] == "2026-11-30T02:00:12Z")
        #expect(json["durationSeconds"] == 12.5)
        #expect(json["counts"]?.objectValue?.keys == ["total", "succeeded", "failed", "skipped"])
        #expect(json["counts"] == ["total": 23, "succeeded": 20, "failed": 2, "skipped": 1])
        #expect(json["usage"] == ["inputTokens": 16_000, "outputTokens": 1_800])
        // items 0 and 10 made 3 attempts with 2 throttles each
        #expect(json["calls"] == ["attempts": 26, "throttled": 4, "retried": 4])
        #expect(json["latencyMs"]?.objectValue?.keys.prefix(3) == ["p50", "p90", "p99"])
        #expect(json["latencyMs"]?["p99"]?.intValue == 1019)
        #expect(json["estimatedCostUSD"] == 0.074)
        #expect(json["failures"]?.arrayValue?.first == ["id": "bad-0", "input": "s3://in/bad-0.txt",
                                                        "code": "ValidationException",
                                                        "message": "Input is too long for requested model."])
        #expect(json["manifest"] == "s3://acme/reports/ticket-summaries/20261130T020000Z-3f9a.items.jsonl")
        #expect(json["exitCode"] == 1)
        #expect(json["abortReason"] == .null)
        #expect(json["failureCodes"]?.arrayValue?.first?["count"] == 2)
        #expect(json["throughput"]?["itemsPerSecond"] == 1.84)
    }

    @Test func statusRules() {
        let end = Self.start.addingTimeInterval(1)
        #expect(Self.stats(succeeded: 3, failed: 0).report(run: Self.context, finishedAt: end).status == .succeeded)
        #expect(Self.stats(succeeded: 0, failed: 0, skipped: 4).report(run: Self.context, finishedAt: end).status == .succeeded)
        #expect(RunStats().report(run: Self.context, finishedAt: end).status == .succeeded)  // nothing to do
        #expect(Self.stats(succeeded: 3, failed: 1).report(run: Self.context, finishedAt: end).status == .partial)
        #expect(Self.stats(succeeded: 0, failed: 2).report(run: Self.context, finishedAt: end).status == .failed)
        #expect(Self.stats(succeeded: 0, failed: 2, skipped: 5).report(run: Self.context, finishedAt: end).status == .failed)

        let aborted = Self.stats(succeeded: 5, failed: 11)
            .report(run: Self.context, finishedAt: end, ending: .aborted(.maxFailures, message: "11 items failed; the limit is 10"))
        #expect(aborted.status == .aborted && aborted.exitCode == 4)
        #expect(aborted.json["abortReason"] == "maxFailures")
        #expect(aborted.json["abortMessage"] == "11 items failed; the limit is 10")
        let interrupted = Self.stats(succeeded: 5, failed: 0).report(run: Self.context, finishedAt: end, ending: .interrupted(message: "SIGTERM"))
        #expect(interrupted.status == .interrupted && interrupted.exitCode == 130)
        #expect(RunReport.Status.allCases.map(\.exitCode) == [0, 1, 1, 4, 130, 0])
    }

    @Test func totalCoversItemsNotRun() {
        let stats = Self.stats(succeeded: 5, failed: 0)
        stats.setTotal(100)
        let report = stats.report(run: Self.context, finishedAt: Self.start, ending: .aborted(.budget, message: "budget"))
        #expect(report.counts.total == 100 && report.counts.notRun == 95)
        stats.setTotal(2)  // never below what finished
        #expect(stats.report(run: Self.context, finishedAt: Self.start).counts.total == 5)
    }

    @Test func failuresAreCappedAndCounted() {
        let stats = RunStats(failureLimit: 1000)
        for i in 0..<2500 {
            stats.record(.failed(id: "i\(i)", code: i % 5 == 0 ? "ThrottlingException" : "ValidationException",
                                 message: "m\(i)", attempts: 1))
        }
        let report = stats.report(run: Self.context, finishedAt: Self.start)
        #expect(report.failures.count == 1000)
        #expect(report.failures.first?.id == "i0" && report.failures.last?.id == "i999")  // the first ones
        #expect(report.failuresTruncated == 1500)
        #expect(report.failureCodes.map(\.code) == ["ValidationException", "ThrottlingException"])
        #expect(report.failureCodes.map(\.count) == [2000, 500])
        #expect(report.failureCodes[1].exampleId == "i0")
        #expect(report.json["failuresTruncated"] == 1500)
    }

    @Test func distinctCodesAreBounded() {
        let stats = RunStats(codeLimit: 3)
        for i in 0..<10 { stats.record(.failed(id: "\(i)", code: "Code\(i)", message: "x")) }
        let codes = stats.report(run: Self.context, finishedAt: Self.start).failureCodes
        #expect(codes.count == 4)
        #expect(codes.first == RunReport.FailureCode(code: RunStats.otherCodes, count: 7, exampleId: "3", exampleMessage: "x"))
    }

    @Test func recordingFromManyTasks() async {
        let stats = RunStats()
        await withTaskGroup(of: Void.self) { group in
            for t in 0..<8 {
                group.addTask {
                    for i in 0..<1000 {
                        stats.record(.succeeded(id: "\(t)-\(i)", latencyMs: Double(i + 1), inputTokens: 1, outputTokens: 2))
                    }
                }
            }
        }
        let s = stats.snapshot
        #expect(s.succeeded == 8000 && s.inputTokens == 8000 && s.outputTokens == 16_000)
        #expect(stats.latencies.count == 8000)
    }

    @Test func loadRoundTrips() throws {
        var report = Self.stats(succeeded: 50, failed: 3, skipped: 2)
            .report(run: Self.context, finishedAt: Self.start.addingTimeInterval(61.25), manifest: "file:///tmp/r/x.items.jsonl")
        report.shard = try Shard(index: 1, count: 4)
        report.previousReport = "s3://acme/reports/old.json"
        let loaded = try RunReport.load(from: report.encoded())
        #expect(loaded == report)
    }

    @Test func loadIsTolerantOfUnknownAndMissingOptionalFields() throws {
        let text = """
        {"reportVersion": 1, "job": "j", "runId": "r", "status": "failed",
         "startedAt": "2026-11-30T02:00:00.250Z", "finishedAt": "2026-11-30T02:00:10Z",
         "counts": {"total": 2, "succeeded": 0, "failed": 2, "skipped": 0, "extra": 1},
         "somethingNew": {"nested": [1, 2]},
         "failures": [{"id": "a", "code": "X", "message": "m", "newField": true}]}
        """
        let report = try RunReport.load(from: Data(text.utf8))
        #expect(report.status == .failed)
        #expect(report.durationSeconds == 9.75)
        #expect(report.failures == [RunReport.Failure(id: "a", input: nil, code: "X", message: "m")])
        #expect(report.latencyMs == RunReport.Latency())
        #expect(report.manifest == nil)
        #expect(report.render().contains("no items timed"))
    }

    @Test func loadNamesWhatIsWrong() {
        func error(_ text: String) -> String {
            do {
                _ = try RunReport.load(from: Data(text.utf8))
                return "no error"
            } catch {
                return error.message
            }
        }
        let base = #""reportVersion": 1, "job": "j", "runId": "r", "status": "succeeded", "startedAt": "2026-11-30T02:00:00Z", "finishedAt": "2026-11-30T02:00:01Z""#
        #expect(error("[1]") == "the report is not a JSON object")
        #expect(error("{") .hasPrefix("the report is not valid JSON"))
        #expect(error("{\(base)}") == "the report has no \"counts\"")
        #expect(error("{\(base), \"counts\": {\"total\": 1, \"succeeded\": 1, \"failed\": 0}}") == "the report has no \"counts.skipped\"")
        #expect(error("{\(base), \"counts\": {\"total\": \"1\", \"succeeded\": 1, \"failed\": 0, \"skipped\": 0}}")
                == "\"counts.total\" must be a whole number")
        #expect(error(#"{"reportVersion": 2, "job": "j"}"#).contains("newer conveyor"))
        #expect(error(#"{"reportVersion": 1, "job": "j", "runId": "r", "status": "done"}"#)
                == "\"status\" is \"done\"; expected one of succeeded, partial, failed, aborted, interrupted, detached")
        #expect(error(#"{"reportVersion": 1, "job": "j", "runId": "r", "status": "failed", "startedAt": "yesterday"}"#)
                .hasPrefix("\"startedAt\" is \"yesterday\", not an ISO 8601 time"))
        #expect(error("{\(base), \"counts\": {\"total\": 1, \"succeeded\": 1, \"failed\": 0, \"skipped\": 0}, \"failures\": [{\"code\": \"X\"}]}")
                == "the report has no \"failures[0].id\"")
    }
}
