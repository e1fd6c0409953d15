import AWSCore
import AWSServices
import Foundation
import Testing
@testable import ConveyorKit

/// Bytes that are not UTF-8, as a PDF's second line usually holds.
let samplePDF = Data("%PDF-1.4\n%".utf8) + Data([0xE2, 0xE3, 0xCF, 0xD3, 0x0A, 0x00, 0xFF]) + Data("\n1 0 obj <<>> endobj\n%%EOF\n".utf8)

/// The start of a PNG of `width` × `height`: signature and IHDR, then a few bytes of data.
func samplePNG(width: Int, height: Int) -> Data {
    var data = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13]) + Data("IHDR".utf8)
    for value in [width, height] { data += Data([UInt8(value >> 24 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]) }
    data += Data([8, 6, 0, 0, 0, 0x1D, 0x2E, 0x3F, 0x40]) + Data([0, 0, 0, 4]) + Data("IDAT".utf8) + Data([0x78, 0x9C, 0x80, 0xFE])
    return data
}

/// A job with attachments; `extra` lines go under `inputs:`.
func attachmentJob(as kind: String, prompt: String = "prompt: \"Summarise the attached file.\"", inputs extra: String = "") -> String {
    """
    version: 1
    name: attached
    model: {id: anthropic.claude-3-haiku-20240307-v1:0, maxTokens: 100}
    \(prompt)
    inputs:
      s3: s3://acme/in/
      as: \(kind)
    \(extra)
    output: {s3: "s3://acme/out/{{item.name}}.json"}
    """
}

@Suite struct AttachmentLoadingTests {
    @Test func aDocumentJobLoadsWithBedrocksSizeLimit() throws {
        let job = try KitFixture.job(attachmentJob(as: "document"))
        #expect(job.inputs?.attachAs == .document)
        #expect(job.inputs?.maxBytes == 4_500_000)
        let image = try KitFixture.job(attachmentJob(as: "image", inputs: "  maxBytes: 1000"))
        #expect(image.inputs?.attachAs == .image)
        #expect(image.inputs?.maxBytes == 1000)
        #expect(try KitFixture.job(attachmentJob(as: "text", prompt: "prompt: \"{{input}}\"")).inputs?.attachAs == nil)
    }

    @Test func inputInATemplateOfAnAttachmentJobIsAnErrorAtTheVariable() throws {
        let found = errors(attachmentJob(as: "image", prompt: "prompt: \"Describe {{input}} please\""))
        let error = try #require(found.first { $0.message.contains("{{input}} has no text") }, "\(found)")
        #expect(error.location?.line == 4)
        #expect(error.location?.column == 21)  // at the variable's name
        #expect(error.message.contains("inputs.as is image"))
        // system and messages too
        let inMessages = errors(attachmentJob(as: "document", prompt: """
            messages:
              - {role: user, text: "Read {{input}}"}
            """))
        #expect(inMessages.contains { $0.message.contains("{{input}} has no text") && $0.location?.line == 5 })
    }

    @Test func recordsCannotBeAttachments() {
        let found = errors(attachmentJob(as: "document", inputs: "  format: jsonl"))
        #expect(found.contains { $0.message.contains("format jsonl splits them into records, which cannot be attachments")
            && $0.location?.line == 7 && $0.location?.column == 7 })
    }

    @Test func maxBytesAboveBedrocksLimitIsRefused() {
        let found = errors(attachmentJob(as: "image", inputs: "  maxBytes: 5000000"))
        #expect(found.contains { $0.message.contains("5000000 is above Bedrock's limit for an image, 3750000 bytes")
            && $0.location?.line == 8 && $0.location?.column == 13 })
    }

    @Test func anUnknownKindIsNamed() {
        let found = errors(attachmentJob(as: "video"))
        #expect(found.contains { $0.message.hasPrefix("inputs.as must be one of text, document, image") && $0.location?.line == 7 })
    }

    @Test func turnsAreCheckedWhereTheyAreWritten() {
        let found = errors(attachmentJob(as: "document", prompt: """
            messages:
              - {role: assistant, text: "Hello"}
              - {role: user, text: "  "}
            """))
        // the first turn's role, at its own column
        #expect(found.contains { $0.message.hasPrefix("the first of messages must be the user's turn")
            && $0.location?.line == 5 && $0.location?.column == 12 })
        #expect(found.contains { $0.message.hasPrefix("messages[1].text is blank") && $0.location?.line == 6 })
    }
}

@Suite struct AttachmentRequestTests {
    let run = TemplateValues.Run(jobName: "attached", runID: "20261130T020000Z-abcd", startedAt: Date(timeIntervalSince1970: 0),
                                 vars: [:])

    func builder(_ text: String) throws -> RequestBuilder {
        let job = try KitFixture.job(text)
        return RequestBuilder(job: job, prompts: ResolvedPrompts(system: job.templates.system, prompt: job.templates.prompt,
                                                                 ssmParameters: [], s3Objects: []), run: run)
    }

    func item(_ key: String, size: Int) -> WorkItem {
        WorkItem(index: 0, id: ItemNaming.name(ofKey: key), key: key, source: .object(.s3(bucket: "acme", key: key), size: size),
                 inputURI: "s3://acme/" + key)
    }

    @Test func aDocumentGoesFirstInTheLastUserTurnAsBase64() throws {
        let b = try builder(attachmentJob(as: "document", prompt: """
            messages:
              - {role: user, text: "You review reports for {{job.name}}."}
              - {role: assistant, text: "Understood."}
              - {role: user, text: "Review {{item.name}}."}
            """))
        let key = "in/Q3 report_final.v2.pdf"
        let (format, name) = try InputAttachment.describe(key: key, size: samplePDF.count, kind: .document, maxBytes: 4_500_000)
        #expect(format == "pdf")
        #expect(name == "Q3 report-final-v2")
        let attachment = InputAttachment(kind: .document, format: format, name: name, data: samplePDF)
        let request = try b.request(for: item(key, size: samplePDF.count), input: nil, attachment: attachment)
        #expect(request.messages.map(\.role) == [.user, .assistant, .user])
        #expect(request.messages[0].content == [.text("You review reports for attached.")])
        #expect(request.messages[2].content == [
            .document(DocumentBlock(format: "pdf", name: "Q3 report-final-v2", source: .bytes(samplePDF))),
            .text("Review Q3 report_final.v2."),
        ])
        // on the wire: the bytes as base64, never as text
        let document = request.bodyJSON["messages"]?.arrayValue?[2]["content"]?.arrayValue?[0]["document"]
        #expect(document?["format"]?.stringValue == "pdf")
        #expect(document?["name"]?.stringValue == "Q3 report-final-v2")
        #expect(document?["source"]?["bytes"]?.stringValue == samplePDF.base64EncodedString())
        #expect(ConverseMedia.isValidDocumentName(name))
    }

    @Test func anImageFollowsItsExtension() throws {
        let b = try builder(attachmentJob(as: "image", prompt: "prompt: \"Describe {{item.key}}\""))
        let png = samplePNG(width: 300, height: 200)
        let (format, _) = try InputAttachment.describe(key: "in/photo.JPG", size: 10, kind: .image, maxBytes: 3_750_000)
        #expect(format == "jpeg")
        let attachment = InputAttachment(kind: .image, format: "png", name: "chart", data: png)
        let request = try b.request(for: item("in/chart.png", size: png.count), input: nil, attachment: attachment)
        #expect(request.messages.count == 1)
        #expect(request.messages[0].content == [.image(ImageBlock(format: "png", source: .bytes(png))), .text("Describe in/chart.png")])
        // the estimate counts the image by its pixels, beside the text
        #expect(DryRun.attachmentTokens(request) == ConverseMedia.imageTokens(width: 300, height: 200))
        #expect(Runner.estimateTokens(request) == (21 + 3) / 4 + 80)
    }

    func problem(_ key: String, size: Int, _ kind: AttachmentKind = .document, maxBytes: Int = 100) -> InputProblem? {
        #expect(throws: InputProblem.self) { try InputAttachment.describe(key: key, size: size, kind: kind, maxBytes: maxBytes) }
    }

    @Test func badObjectsFailTheirItemWithAClearProblem() {
        let unknown = problem("in/notes.bin", size: 10)
        #expect(unknown?.code == "UnsupportedInputFormat")
        #expect(unknown?.message.contains("the key has the extension .bin; inputs.as document takes .pdf .csv") == true)
        #expect(problem("in/README", size: 10)?.message.hasPrefix("the key has no extension") == true)
        #expect(problem("in/big.png", size: 3_750_001, .image, maxBytes: 3_750_000)
            == .inputTooLarge("the object is 3750001 bytes; an image may be at most 3750000 bytes"))
        #expect(problem("in/empty.md", size: 0)?.code == "EmptyInput")
    }
}

@Suite struct ConverseMediaTests {
    @Test func documentNamesFollowConverseRules() {
        #expect(ConverseMedia.documentName(from: "Q3  report_v2.final (draft) [1]") == "Q3 report-v2-final (draft) [1]")
        #expect(ConverseMedia.documentName(from: "___") == "---")
        #expect(ConverseMedia.documentName(from: "   ") == "document")
        #expect(ConverseMedia.documentName(from: "résumé") == "r-sum-")
        #expect(ConverseMedia.documentName(from: String(repeating: "a", count: 300)).count == 200)
        #expect(ConverseMedia.isValidDocumentName("Report (2026) [v2] - final"))
        #expect(!ConverseMedia.isValidDocumentName("two  spaces"))
        #expect(!ConverseMedia.isValidDocumentName("dots.not.allowed"))
        #expect(!ConverseMedia.isValidDocumentName(""))
    }

    @Test func pixelSizesAndTokens() {
        #expect(ConverseMedia.pixelSize(samplePNG(width: 640, height: 480))! == (640, 480))
        let gif = Data("GIF89a".utf8) + Data([0x20, 0x03, 0x58, 0x02]) + Data(repeating: 0, count: 8)
        #expect(ConverseMedia.pixelSize(gif)! == (800, 600))
        #expect(ConverseMedia.pixelSize(samplePDF) == nil)
        #expect(ConverseMedia.imageTokens(width: 1000, height: 1000) == 1334)
        // scaled down to 1568 on the long edge first
        #expect(ConverseMedia.imageTokens(width: 3136, height: 1568) == ConverseMedia.imageTokens(width: 1568, height: 784))
        #expect(ConverseMedia.imageTokens(width: nil, height: nil) == 1600)
        #expect(ConverseMedia.documentTokens(bytes: 4000, format: "txt") == 1000)
        #expect(ConverseMedia.documentTokens(bytes: 4000, format: "pdf") == 500)
    }
}
