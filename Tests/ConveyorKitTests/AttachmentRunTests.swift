import AWSCore
import AWSServices
import Foundation
import Testing
import TestSupport
@testable import ConveyorKit

/// `inputs.as: document | image` end to end: binary objects in moto's S3, `conveyor plan` and
/// `conveyor run` as processes, the emulator over HTTP answering with what it received.
@Suite(.timeLimit(.minutes(3))) struct AttachmentRunTests {
    func writeJob(_ dir: String, bucket: String, kind: String, prefix: String, turns: String) throws -> String {
        let path = dir + "/\(kind).yaml"
        try """
            version: 1
            name: attached-\(kind)
            model: {id: anthropic.claude-3-haiku-20240307-v1:0, maxTokens: 200}
            \(turns)
            inputs: {s3: "s3://\(bucket)/\(prefix)/", as: \(kind)}
            output: {s3: "s3://\(bucket)/out/\(kind)/{{item.name}}.json"}
            report: s3://\(bucket)/reports/\(kind)/{{run.id}}.json
            limits: {concurrency: 2}
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func environment(_ emulator: String) throws -> [String: String] {
        ["AWS_ENDPOINT_URL_S3": try TestAWS.proxyURL().absoluteString, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": emulator]
    }

    func record(_ bucket: String, _ key: String) async throws -> JSONValue {
        try JSONValue.parse(try await KitFixture.s3().getObject(bucket: bucket, key: key).body)
    }

    @Test func aPDFGoesAsADocumentInTheLastTurnAndAnUnknownExtensionFailsItsItem() async throws {
        let bucket = try await KitFixture.bucket()
        let s3 = try KitFixture.s3()
        _ = try await s3.putObject(bucket: bucket, key: "docs/Q3 report.pdf", body: samplePDF, contentType: "application/pdf")
        _ = try await s3.putObject(bucket: bucket, key: "docs/notes.bin", body: Data([1, 2, 3]), contentType: "application/octet-stream")
        let (emulator, url) = try KitFixture.startEmulator()
        defer { try? emulator.stop() }
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let job = try writeJob(dir, bucket: bucket, kind: "document", prefix: "docs", turns: """
            messages:
              - {role: user, text: "You check reports."}
              - {role: assistant, text: "Send one."}
              - {role: user, text: "Check {{item.name}}."}
            """)

        // the plan shows the turns and the attachment, never its bytes, and fails on the .bin
        let plan = try CLI.run(["plan", job, "--show", "5"], environment: try environment(url))
        #expect(plan.status == 2, "\(plan.output)")
        #expect(plan.output.contains("(text, each attached as a document)"), "\(plan.output)")
        #expect(plan.output.contains("[user] You check reports."), "\(plan.output)")
        #expect(plan.output.contains("[assistant] Send one."), "\(plan.output)")
        #expect(plan.output.contains("[user] <document 'Q3 report' (pdf, \(samplePDF.count) bytes)> Check Q3 report."), "\(plan.output)")
        #expect(plan.output.contains("problem: notes: UnsupportedInputFormat: the key has the extension .bin"), "\(plan.output)")
        #expect(!plan.output.contains("%PDF") && !plan.output.contains(samplePDF.base64EncodedString()))
        #expect(emulator.stats.calls == 0)

        let run = try CLI.run(["run", job, "--progress", "never"], environment: try environment(url))
        #expect(run.status == 1, "\(run.output)")  // the .bin item failed
        #expect(emulator.stats.calls == 1)
        let output = try await record(bucket, "out/document/Q3 report.json")
        // the emulator saw the document whole, as bytes, before the turn's text
        let hash = String(StableHash.fnv1a(bytes: samplePDF), radix: 16)
        #expect(output["text"]?.stringValue == "Echo: [document Q3 report (pdf, \(samplePDF.count) bytes, fnv \(hash))] Check Q3 report.")
        let textTokens = ("You check reports.".count + "Send one.".count + "Check Q3 report.".count + 3) / 4
        #expect(output["usage"]?["inputTokens"]?.intValue
            == textTokens + ConverseMedia.documentTokens(bytes: samplePDF.count, format: "pdf"))
        let report = try #require(try await KitFixture.reports(bucket).first)
        #expect(report.counts.succeeded == 1)
        #expect(report.failures.map(\.code) == ["UnsupportedInputFormat"])
        #expect(report.failures.first?.id == "notes")
    }

    @Test func aPNGGoesAsAnImageCountedByItsPixels() async throws {
        let bucket = try await KitFixture.bucket()
        let png = samplePNG(width: 800, height: 600)
        _ = try await KitFixture.s3().putObject(bucket: bucket, key: "images/chart.png", body: png, contentType: "image/png")
        let (emulator, url) = try KitFixture.startEmulator()
        defer { try? emulator.stop() }
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let job = try writeJob(dir, bucket: bucket, kind: "image", prefix: "images",
                               turns: "prompt: \"Describe the chart {{item.name}}.\"")
        let run = try CLI.run(["run", job, "--progress", "never"], environment: try environment(url))
        #expect(run.status == 0, "\(run.output)")
        let output = try await record(bucket, "out/image/chart.json")
        let hash = String(StableHash.fnv1a(bytes: png), radix: 16)
        #expect(output["text"]?.stringValue == "Echo: [image (png, \(png.count) bytes, fnv \(hash))] Describe the chart chart.")
        let expected = ("Describe the chart chart.".count + 3) / 4 + ConverseMedia.imageTokens(width: 800, height: 600)
        #expect(output["usage"]?["inputTokens"]?.intValue == expected)
        #expect(emulator.stats.inputTokens == expected)
    }
}
