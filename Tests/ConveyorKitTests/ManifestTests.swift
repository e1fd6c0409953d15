import AWSCore
import AWSServices
import Foundation
@testable import ConveyorKit
import Testing

@Suite("Item manifest")
struct ManifestTests {
    static func item(_ i: Int, task: Int = 0) -> ItemRecord {
        switch i % 3 {
        case 0:
            return .succeeded(id: "t\(task)-\(i)", input: "s3://in/t\(task)/\(i).txt", output: "s3://out/t\(task)/\(i).json",
                              attempts: 1 + i % 2, throttled: i % 2, latencyMs: Double(1000 + i), inputTokens: 10 * i, outputTokens: i)
        case 1:
            return .failed(id: "t\(task)-\(i)", input: "s3://in/t\(task)/\(i).txt", code: "ValidationException",
                           message: "line one\nline \"two\" é", attempts: 1, latencyMs: 250)
        default:
            return .skipped(id: "t\(task)-\(i)", input: "s3://in/t\(task)/\(i).txt", output: "s3://out/t\(task)/\(i).json")
        }
    }

    @Test func lineShape() throws {
        let line = Self.item(0).manifestLine
        #expect(line.last == 0x0A)
        #expect(line.dropLast().contains(0x0A) == false)
        let json = try JSONValue.parse(line)
        #expect(json.objectValue?.keys == ["id", "input", "output", "status", "attempts", "latencyMs", "usage", "error", "throttled"])
        #expect(json == ["id": "t0-0", "input": "s3://in/t0/0.txt", "output": "s3://out/t0/0.json", "status": "succeeded",
                         "attempts": 1, "latencyMs": 1000, "usage": ["inputTokens": 0, "outputTokens": 0], "error": nil,
                         "throttled": 0])
        let failed = try JSONValue.parse(Self.item(1).manifestLine)
        #expect(failed["error"] == ["code": "ValidationException", "message": "line one\nline \"two\" é"])
        #expect(failed["output"] == .null)
        for i in 0..<3 {
            var expected = Self.item(i)
            expected.costUSD = 0  // not in the manifest
            #expect(try ItemRecord(manifest: JSONValue.parse(expected.manifestLine).objectValue!) == expected)
        }
    }

    @Test func locationBesideTheReport() {
        #expect(ManifestWriter.location(besideReport: .s3(bucket: "b", key: "reports/job/R1.json"), runId: "R1")
                == .s3(bucket: "b", key: "reports/job/R1.items.jsonl"))
        #expect(ManifestWriter.location(besideReport: .s3(bucket: "b", key: "report.json"), runId: "R1")
                == .s3(bucket: "b", key: "R1.items.jsonl"))
        #expect(ManifestWriter.location(besideReport: .file(path: "/tmp/x/reports/r.json"), runId: "R1")
                == .file(path: "/tmp/x/reports/R1.items.jsonl"))
        #expect(ManifestWriter.location(besideReport: .file(path: "r.json"), runId: "R1") == .file(path: "R1.items.jsonl"))
    }

    /// 8 tasks append at once, with a buffer small enough to write often: every line whole, none lost.
    @Test(arguments: [0, 300, 64 * 1024])
    func concurrentAppendsToTheLocalStore(bufferSize: Int) async throws {
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let destination = StorageURI.file(path: dir + "/reports/RUN.items.jsonl")
        let writer = try ManifestWriter(destination: destination, temporaryDirectory: dir + "/spool", bufferSize: bufferSize)
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for i in 0..<1500 { writer.append(Self.item(i, task: task)) }
                }
            }
        }
        #expect(writer.count == 12_000)
        let upload = try await writer.finish(storage: Storage(s3: nil))
        #expect(upload.uri == destination && upload.lines == 12_000)
        #expect(!FileManager.default.fileExists(atPath: writer.spoolPath))

        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/reports/RUN.items.jsonl"))
        #expect(upload.bytes == data.count)
        var ids = Set<String>()
        for line in data.split(separator: 0x0A) {
            let record = try ItemRecord(manifest: JSONValue.parse(Data(line)).objectValue!)
            ids.insert(record.id)
        }
        #expect(ids.count == 12_000)
        // no temporary files left beside it
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/reports") == ["RUN.items.jsonl"])

        // read back in small chunks
        var seen = 0
        var failed = 0
        for try await item in ManifestReader(uri: destination, storage: Storage(s3: nil), chunkSize: 1000) {
            seen += 1
            if item.status == .failed { failed += 1 }
        }
        #expect(seen == 12_000 && failed == 8 * 500)
    }

    @Test func uploadToS3AndReadBack() async throws {
        let bucket = try await KitFixture.bucket()
        let storage = Storage(s3: try KitFixture.s3())
        let report = StorageURI.s3(bucket: bucket, key: "reports/nightly/20261130T020000Z-3f9a.json")
        let destination = ManifestWriter.location(besideReport: report, runId: "20261130T020000Z-3f9a")
        let writer = try ManifestWriter(destination: destination)
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask { for i in 0..<100 { writer.append(Self.item(i, task: task)) } }
            }
        }
        let upload = try await writer.finish(storage: storage)
        #expect(upload.lines == 800)
        #expect(try await KitFixture.keys(bucket) == ["reports/nightly/20261130T020000Z-3f9a.items.jsonl"])
        #expect(try await storage.head(destination)?.size == upload.bytes)

        var ids = Set<String>()
        for try await item in ManifestReader(uri: destination, storage: storage, chunkSize: 777) { ids.insert(item.id) }
        #expect(ids.count == 800)
        let retry = ManifestReader(uri: destination, storage: storage).filter { $0.status == .failed }
        var failedIds: [String] = []
        for try await item in retry { failedIds.append(item.id) }
        #expect(failedIds.count == 8 * 33)
    }

    /// Beyond the client's multipart threshold the spool goes up in 5 MiB parts read from the file.
    @Test func largeManifestGoesUpInParts() async throws {
        let bucket = try await KitFixture.bucket()
        let s3 = S3Client(client: try KitFixture.awsClient(S3Client.serviceInfo), multipartThreshold: 1 << 20, partSize: 5 << 20)
        let storage = Storage(s3: s3)
        let destination = StorageURI.s3(bucket: bucket, key: "reports/big.items.jsonl")
        let writer = try ManifestWriter(destination: destination)
        let message = String(repeating: "x", count: 1000)
        for i in 0..<7000 {
            writer.append(.failed(id: "item-\(i)", input: "s3://in/\(i)", code: "ValidationException", message: message, attempts: 1))
        }
        let upload = try await writer.finish(storage: storage)
        #expect(upload.bytes > 6 << 20)
        let head = try #require(try await storage.head(destination))
        #expect(head.size == upload.bytes)
        #expect(head.etag?.hasSuffix("-2\"") == true, "a two-part upload's ETag: \(head.etag ?? "none")")
        var count = 0
        for try await item in ManifestReader(uri: destination, storage: storage) {
            #expect(item.id == "item-\(count)")
            count += 1
        }
        #expect(count == 7000)
    }

    @Test func failedUploadKeepsTheSpoolFile() async throws {
        let storage = Storage(s3: try KitFixture.s3())
        let writer = try ManifestWriter(destination: .s3(bucket: TestAWSName.missingBucket, key: "r.items.jsonl"))
        writer.append(Self.item(0))
        await #expect(throws: ManifestError.self) { _ = try await writer.finish(storage: storage) }
        do {
            _ = try await writer.finish(storage: storage)
        } catch let error as ManifestError {
            #expect(error.message.contains("it is kept in \(writer.spoolPath)"))
        }
        #expect(FileManager.default.fileExists(atPath: writer.spoolPath))
        // finishing again, once the destination works, uploads what was kept
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let retried = try ManifestWriter(destination: .s3(bucket: TestAWSName.missingBucket, key: "r.items.jsonl"))
        retried.append(Self.item(0))
        _ = try? await retried.finish(storage: storage)
        let local = try ManifestWriter(destination: .file(path: dir + "/r.items.jsonl"), temporaryDirectory: dir)
        local.append(Self.item(1))
        #expect(try await local.finish(storage: storage).lines == 1)
        #expect(try await local.finish(storage: storage).lines == 1)  // idempotent
        retried.discard()
        writer.discard()
        #expect(!FileManager.default.fileExists(atPath: writer.spoolPath))
    }

    @Test func readerNamesBadLines() async throws {
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/m.items.jsonl"
        try Data((String(decoding: Self.item(0).manifestLine, as: UTF8.self) + "\n{\"id\": \"x\"}\n").utf8)
            .write(to: URL(fileURLWithPath: path))
        var iterator = ManifestReader(uri: .file(path: path), storage: Storage(s3: nil)).makeAsyncIterator()
        #expect(try await iterator.next()?.id == "t0-0")
        do {
            _ = try await iterator.next()
            Issue.record("the bad line was read")
        } catch let error as ManifestError {
            #expect(error.message == "file://\(path):3: item x: the line has no string \"status\"")
        }
        await #expect(throws: ManifestError.self) {
            for try await _ in ManifestReader(uri: .file(path: dir + "/none.jsonl"), storage: Storage(s3: nil)) {}
        }
    }
}

enum TestAWSName {
    /// A bucket that is never created.
    static let missingBucket = "conveyor-no-such-bucket-4242"
}
