import AWSCore
import Foundation
import Testing
import TestSupport
@testable import ConveyorKit

/// Sharded runs: where a shard's index comes from, its share of the limits, its own report, and
/// `report merge --job` putting the shards back together.
@Suite struct ShardingTests {
    /// A small job on bucket `bkt` with `extra` lines appended.
    func job(_ name: String, _ extra: String) throws -> Job {
        try KitFixture.job("""
            version: 1
            name: \(name)
            model: {id: anthropic.claude-3-haiku-20240307-v1:0}
            prompt: "{{input}}"
            inputs: {s3: "s3://bkt/in/"}
            output: {s3: "s3://bkt/out/{{item.name}}.json"}
            \(extra)
            """)
    }

    @Test func theIndexComesFromTheOptionOrTheOrchestratorsVariable() throws {
        #expect(try Shard.resolve(shard: nil, shards: nil, environment: ["AWS_BATCH_JOB_ARRAY_INDEX": "2"]) == nil)
        #expect(try Shard.resolve(shard: "1/4", shards: nil, environment: [:]) == Shard(index: 1, count: 4))
        #expect(try Shard.resolve(shard: nil, shards: 4, environment: ["AWS_BATCH_JOB_ARRAY_INDEX": "3"])
            == Shard(index: 3, count: 4))
        #expect(try Shard.resolve(shard: nil, shards: 4, environment: ["JOB_COMPLETION_INDEX": "0"])
            == Shard(index: 0, count: 4))
        #expect(try Shard.resolve(shard: nil, shards: 4,
                                  environment: ["AWS_BATCH_JOB_ARRAY_INDEX": "2", "JOB_COMPLETION_INDEX": "2"])
            == Shard(index: 2, count: 4))
    }

    @Test(arguments: [
        (nil as String?, 3, ["AWS_BATCH_JOB_ARRAY_INDEX": "1", "JOB_COMPLETION_INDEX": "2"], "disagree"),
        (nil, 3, [:], "neither is set; set one, or give --shard I/3"),
        (nil, 3, ["JOB_COMPLETION_INDEX": "3"], "JOB_COMPLETION_INDEX=3 is not below --shards 3"),
        (nil, 3, ["AWS_BATCH_JOB_ARRAY_INDEX": "one"], "AWS_BATCH_JOB_ARRAY_INDEX='one' is not a shard index"),
        (nil, 0, ["AWS_BATCH_JOB_ARRAY_INDEX": "0"], "--shards must be at least 1"),
        ("0/3", 3, [:], "not both"),
        ("3/3", nil, [:], "--shard 3/3 is not valid"),
    ] as [(String?, Int?, [String: String], String)])
    func badShardSettingsAreRefusedWithTheReason(shard: String?, shards: Int?, environment: [String: String],
                                                 message: String) {
        #expect {
            _ = try Shard.resolve(shard: shard, shards: shards, environment: environment)
        } throws: { ($0 as? ConfigurationError)?.message.contains(message) == true }
    }

    @Test func aShardsLocationsCarryItsSuffix() throws {
        let shard = try Shard(index: 1, count: 4)
        #expect(shard.located(.s3(bucket: "bkt", key: "reports/run-1.json")) == .s3(bucket: "bkt", key: "reports/run-1.shard-1-of-4.json"))
        #expect(shard.located(.s3(bucket: "bkt", key: "reports.d/run")) == .s3(bucket: "bkt", key: "reports.d/run.shard-1-of-4"))
        #expect(shard.located(.s3(bucket: "bkt", key: "a/.hidden")) == .s3(bucket: "bkt", key: "a/.hidden.shard-1-of-4"))
        #expect(shard.located(.file(path: "/tmp/r/x.tar.json")) == .file(path: "/tmp/r/x.tar.shard-1-of-4.json"))
        let single = try Shard(index: 0, count: 1)
        #expect(single.located(.s3(bucket: "bkt", key: "r.json")) == .s3(bucket: "bkt", key: "r.json"))
    }

    @Test func theJobsLimitsAreSharedOutUnlessScopedToTheShard() throws {
        var limits = Limits()
        limits.requestsPerMinute = 600
        limits.tokensPerMinute = 90_000
        limits.budgetUSD = 30
        limits.concurrency = 16
        limits.maxFailures = .count(10)
        let share = limits.share(for: try Shard(index: 0, count: 3))
        #expect(share.requestsPerMinute == 200)
        #expect(share.tokensPerMinute == 30_000)
        #expect(share.budgetUSD == 10)
        #expect(share.concurrency == 16)  // each process's own
        #expect(share.maxFailures == .count(10))
        #expect(limits.share(for: nil) == limits)
        limits.scope = .shard
        #expect(limits.share(for: try Shard(index: 0, count: 3)) == limits)
    }

    @Test func theScopeIsReadFromTheJobAndCheckedWhereItIsWritten() throws {
        let scoped = try job("scoped", "limits: {requestsPerMinute: 100, scope: shard}")
        #expect(scoped.limits.scope == .shard)
        #expect {
            _ = try job("scoped", "limits: {scope: shards}")
        } throws: { error in
            (error as? DiagnosticsError)?.errors.contains { $0.location?.line == 7 && $0.message.contains("job") } == true
        }
    }

    @Test func givenRunIDsMustBeUsableInKeys() throws {
        #expect(try RunIdentity.given("nightly-2026-11-30").id == "nightly-2026-11-30")
        #expect(try RunIdentity.given("5e1b2c3d-aaaa-4bbb-8ccc-123456789abc").id.count == 36)
        for bad in ["", "../x", "a/b", "-x", "job:3", String(repeating: "a", count: 129), "é"] {
            #expect(throws: ConfigurationError.self) { try RunIdentity.given(bad) }
        }
    }

    @Test func shardReportsAreFoundFromTheJob() throws {
        let found = try ShardReports.locate(job: try job("found", "report: s3://bkt/reports/{{job.name}}/{{run.id}}.json"), runID: "r1", count: 2)
        #expect(found.merged == .s3(bucket: "bkt", key: "reports/found/r1.json"))
        #expect(found.shards == [.s3(bucket: "bkt", key: "reports/found/r1.shard-0-of-2.json"),
                                 .s3(bucket: "bkt", key: "reports/found/r1.shard-1-of-2.json")])
        let dated = try job("dated", "report: s3://bkt/reports/{{run.date}}/{{run.id}}.json")
        #expect { _ = try ShardReports.locate(job: dated, runID: "r1", count: 2) } throws: {
            ($0 as? ConfigurationError)?.message.contains("{{run.date}}") == true
        }
    }
}

/// Three shards, started the three ways orchestrators start them, cover every item once, and
/// their merged report counts what a single run of the same job counts.
@Suite(.timeLimit(.minutes(3))) struct ShardedRunTests {
    func writeJob(_ dir: String, bucket: String) throws -> String {
        try KitFixture.writeJob(dir, bucket: bucket, name: "sharded", output: "{{run.id}}/{{item.name}}", concurrency: 4)
    }

    func seed() async throws -> String {
        var objects: [String: String] = [:]
        for i in 0..<30 { objects[String(format: "in/t%03d.txt", i)] = i % 10 == 7 ? "bad [[error:ValidationException]]" : "ticket \(i)" }
        return try await KitFixture.bucket(objects)
    }

    func report(_ bucket: String, _ key: String) async throws -> RunReport {
        try RunReport.load(from: try await KitFixture.s3().getObject(bucket: bucket, key: key).body)
    }

    @Test func shardsCoverEveryItemOnceAndMergeToTheSingleRunsCounts() async throws {
        let sharded = try await seed()
        let single = try await seed()
        let (emulator, url) = try KitFixture.startEmulator()
        defer { try? emulator.stop() }
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let base = ["AWS_ENDPOINT_URL_S3": try TestAWS.proxyURL().absoluteString, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": url]
        let job = try writeJob(dir, bucket: sharded)
        let starts: [([String], [String: String])] = [
            (["--shard", "0/3", "--run-id", "nightly-7"], [:]),
            (["--shards", "3", "--run-id", "nightly-7"], ["AWS_BATCH_JOB_ARRAY_INDEX": "1"]),
            (["--shards", "3"], ["JOB_COMPLETION_INDEX": "2", "CONVEYOR_RUN_ID": "nightly-7"]),
        ]
        var exits: [Int32] = []
        for (arguments, environment) in starts {
            let result = try CLI.run(["run", job, "--progress", "never"] + arguments,
                                     environment: base.merging(environment) { $1 })
            exits.append(result.status)
        }
        #expect(exits.allSatisfy { $0 == 0 || $0 == 1 }, "\(exits)")
        #expect(emulator.stats.calls == 30)  // every item called once, by exactly one shard
        let keys = try await KitFixture.keys(sharded)
        #expect(Set(keys.filter { $0.hasPrefix("reports/") && $0.hasSuffix(".json") })
            == ["reports/nightly-7.shard-0-of-3.json", "reports/nightly-7.shard-1-of-3.json", "reports/nightly-7.shard-2-of-3.json"])
        #expect(keys.filter { $0.hasSuffix(".items.jsonl") }.count == 3)  // a manifest per shard

        let merge = try CLI.run(["report", "merge", "--job", job, "--run-id", "nightly-7", "--shards", "3"], environment: base)
        #expect(merge.status == 0, "\(merge.output)")
        let merged = try await report(sharded, "reports/nightly-7.json")

        let alone = try CLI.run(["run", try writeJob(dir, bucket: single), "--progress", "never", "--run-id", "nightly-7"],
                                environment: base)
        #expect(alone.status == 1, "\(alone.output)")
        let whole = try await report(single, "reports/nightly-7.json")
        #expect(merged.counts == whole.counts)
        #expect(merged.counts.total == 30 && merged.counts.failed == 3)
        #expect(merged.usage == whole.usage)
        #expect(Set(merged.failures.map(\.id)) == Set(whole.failures.map(\.id)))
        let outputs = { (keys: [String]) in Set(keys.filter { $0.hasPrefix("out/") }) }
        #expect(outputs(keys) == outputs(try await KitFixture.keys(single)))
        #expect(outputs(keys).count == 27)

        // a missing shard report is named, not merged around
        let missing = try CLI.run(["report", "merge", "--job", job, "--run-id", "nightly-8", "--shards", "3"], environment: base)
        #expect(missing.status == 2, "\(missing.output)")
        #expect(missing.output.contains("nightly-8.shard-0-of-3.json"), "\(missing.output)")
    }
}
