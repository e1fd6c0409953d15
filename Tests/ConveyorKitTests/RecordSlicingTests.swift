import Foundation
import Testing
@testable import ConveyorKit

/// Records are parsed a slice of a downloaded chunk at a time; wherever the chunk and slice
/// boundaries fall, every record comes out once, whole and in order.
@Suite struct RecordSlicingTests {
    @Test(arguments: [4 * 1024 * 1024, 700_001, 65_537])
    func everyRecordOnceWholeAndInOrder(chunkSize: Int) async throws {
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/in", withIntermediateDirectories: true)
        var text = ""
        let count = 15_000
        for i in 1...count {
            // lengths vary, so that boundaries fall at every position within a record
            text += "{\"id\": \(i), \"text\": \"ticket \(i) \(String(repeating: "x", count: i % 97))\"}\n"
        }
        #expect(text.utf8.count > 3 * RecordCursor.parseSlice)
        try text.write(toFile: dir + "/in/records.jsonl", atomically: true, encoding: .utf8)
        let job = try KitFixture.job("""
            version: 1
            name: slices
            model: {id: anthropic.claude-3-haiku-20240307-v1:0, maxTokens: 10}
            prompt: "{{record.text}}"
            inputs: {s3: in/records.jsonl, format: jsonl, idField: id}
            output: {s3: "out/{{item.id}}.json"}
            """, path: dir + "/job.yaml")
        let source = ItemSource(job: job, storage: Storage(s3: nil),
                                run: TemplateValues.Run(jobName: "slices", runID: "r", runDate: "2026-11-30"),
                                chunkSize: chunkSize)
        var expected = 1
        for try await item in source {
            #expect(item.id == String(expected))
            guard case .record(_, let fields) = item.source, case .json(let object) = fields else {
                Issue.record("item \(item.id) is not a jsonl record")
                break
            }
            #expect(object["text"] == .string("ticket \(expected) \(String(repeating: "x", count: expected % 97))"))
            expected += 1
        }
        #expect(expected == count + 1)
    }
}
