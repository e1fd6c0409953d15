import AWSCore
import AWSServices
import Foundation
import Testing
@testable import ConverseEmulator

@Suite struct QuotaBucketTests {
    @Test func requestBucketHoldsBurstSecondsAndRefills() {
        // 600 rpm = 10/s; burst 2 s = 20 requests
        var quotas = QuotaBuckets(requestsPerMinute: 600, tokensPerMinute: nil, burstSeconds: 2, now: 0)
        for _ in 0..<20 { #expect(quotas.admit(reservedTokens: 0, now: 0) == .admitted) }
        #expect(quotas.admit(reservedTokens: 0, now: 0) == .tooManyRequests)
        #expect(quotas.admit(reservedTokens: 0, now: 0.1) == .admitted)  // 0.1 s refills one
        #expect(quotas.admit(reservedTokens: 0, now: 0.1) == .tooManyRequests)
        #expect(abs(quotas.waitEstimate(reservedTokens: 0) - 0.1) < 1e-9)
    }

    @Test func tokenBucketReservesAndSettles() {
        // 6,000 tpm = 100/s; burst 1 s = 100 tokens
        var quotas = QuotaBuckets(requestsPerMinute: nil, tokensPerMinute: 6000, burstSeconds: 1, now: 0)
        #expect(quotas.admit(reservedTokens: 60, now: 0) == .admitted)
        #expect(quotas.admit(reservedTokens: 60, now: 0) == .tooManyTokens)
        // the first call used only 10 of its 60: 50 come back
        quotas.settle(reservedTokens: 60, usedTokens: 10, now: 0)
        #expect(quotas.admit(reservedTokens: 60, now: 0) == .admitted)
    }

    @Test func oversizedReservationWaitsForAFullBucket() {
        var quotas = QuotaBuckets(requestsPerMinute: nil, tokensPerMinute: 6000, burstSeconds: 1, now: 0)
        #expect(quotas.admit(reservedTokens: 250, now: 0) == .admitted)  // full bucket: admitted, in debt
        #expect(quotas.admit(reservedTokens: 1, now: 1) == .tooManyTokens)  // -150 + 100
        #expect(quotas.admit(reservedTokens: 1, now: 2.6) == .admitted)
    }
}

@Suite struct EmulatedModelTests {
    func request(_ messages: [Message], maxTokens: Int? = 100, tools: ToolConfiguration? = nil) -> ConverseRequest {
        ConverseRequest(modelId: "m", messages: messages, inferenceConfig: InferenceConfiguration(maxTokens: maxTokens),
                        toolConfig: tools)
    }

    func validationMessage(_ r: ConverseRequest) -> String? {
        do {
            try EmulatedModel.validate(r, defaultMaxTokens: 4096)
            return nil
        } catch {
            #expect(error.code == "ValidationException")
            return error.message
        }
    }

    @Test func validatesLikeBedrock() {
        #expect(validationMessage(request([]))?.contains("must start with a user message") == true)
        #expect(validationMessage(request([.assistant("a")]))?.contains("start with a user") == true)
        #expect(validationMessage(request([.user("a"), .assistant("b")]))?.contains("end with a user") == true)
        #expect(validationMessage(request([.user("a"), .user("b")]))?.contains("alternate") == true)
        #expect(validationMessage(request([.user("")]))?.contains("blank") == true)
        #expect(validationMessage(request([Message(role: .user, content: [])]))?.contains("empty") == true)
        #expect(validationMessage(request([.user("a")], maxTokens: 0))?.contains("maxTokens") == true)
        #expect(validationMessage(request([.user("a"), .assistant("b"), .user("c")])) == nil)
        let badTool = ToolConfiguration(
            tools: [.toolSpec(ToolSpecification(name: "x", inputSchema: ["type": "object"]))], toolChoice: .tool(name: "y"))
        #expect(validationMessage(request([.user("a")], tools: badTool))?.contains("toolChoice") == true)
    }

    @Test func answersDeterministicallyWithUsage() throws {
        let r = request([.user("Summarise this ticket: printer on fire")])
        let a = try EmulatedModel.answer(r, defaultMaxTokens: 4096, latencyMs: 0)
        let b = try EmulatedModel.answer(r, defaultMaxTokens: 4096, latencyMs: 0)
        #expect(a == b)
        #expect(a.text == "Echo: Summarise this ticket: printer on fire")
        #expect(a.stopReason == .endTurn)
        #expect(a.usage.inputTokens == ("Summarise this ticket: printer on fire".count + 3) / 4)
        #expect(a.usage.outputTokens == (a.text.count + 3) / 4)
        #expect(a.usage.totalTokens == a.usage.inputTokens + a.usage.outputTokens)
    }

    @Test func maxTokensAndStopSequencesCutTheAnswer() throws {
        let long = request([.user(String(repeating: "word ", count: 100))], maxTokens: 5)
        let cut = try EmulatedModel.answer(long, defaultMaxTokens: 4096, latencyMs: 0)
        #expect(cut.stopReason == .maxTokens)
        #expect(cut.text.count == 20)
        var stopped = request([.user("one STOP two")])
        stopped.inferenceConfig?.stopSequences = ["STOP"]
        let s = try EmulatedModel.answer(stopped, defaultMaxTokens: 4096, latencyMs: 0)
        #expect(s.text == "Echo: one ")
        #expect(s.stopReason == .stopSequence)
    }

    @Test func forcedToolGetsSchemaConformingInput() throws {
        let schema: JSONValue = [
            "type": "object", "required": ["label", "score", "tags"],
            "properties": [
                "label": ["enum": ["bug", "question", "praise"]],
                "score": ["type": "integer", "minimum": 1, "maximum": 5],
                "tags": ["type": "array", "items": ["type": "string", "minLength": 10], "minItems": 2],
                "urgent": ["type": "boolean"],
            ],
        ]
        let tools = ToolConfiguration(tools: [.toolSpec(ToolSpecification(name: "classify", inputSchema: schema))],
                                      toolChoice: .tool(name: "classify"))
        let answer = try EmulatedModel.answer(request([.user("the app crashes")], tools: tools), defaultMaxTokens: 4096,
                                              latencyMs: 0)
        #expect(answer.stopReason == .toolUse)
        let use = try #require(answer.toolUses.first)
        #expect(use.name == "classify")
        #expect(["bug", "question", "praise"].contains(use.input["label"]?.stringValue ?? ""))
        #expect((1...5).contains(use.input["score"]?.intValue ?? 0))
        #expect(use.input["tags"]?.arrayValue?.count == 2)
        #expect((use.input["tags"]?.arrayValue?.first?.stringValue?.count ?? 0) >= 10)
        // different prompts can pick different enum values, the same prompt always the same
        let again = try EmulatedModel.answer(request([.user("the app crashes")], tools: tools), defaultMaxTokens: 4096,
                                             latencyMs: 0)
        #expect(again.toolUses.first?.input == use.input)
    }

    @Test func directivesSteerOneCall() throws {
        #expect(throws: EmulatedError.self) {
            try EmulatedModel.answer(request([.user("x [[error:ModelErrorException]]")]), defaultMaxTokens: 10, latencyMs: 0)
        }
        do {
            _ = try EmulatedModel.answer(request([.user("[[error:ModelErrorException]]")]), defaultMaxTokens: 10, latencyMs: 0)
        } catch {
            #expect(error.status == 424)
        }
        let tools = ToolConfiguration(tools: [.toolSpec(ToolSpecification(name: "t", inputSchema: ["type": "object"]))],
                                      toolChoice: .any)
        let forced = try EmulatedModel.answer(request([.user(#"[[tool-input:{"label": 7}]]"#)], tools: tools),
                                              defaultMaxTokens: 10, latencyMs: 0)
        #expect(forced.toolUses.first?.input == ["label": 7])
        #expect(EmulatedModel.directive("latency", in: "a [[latency:250]] b") == "250")
    }
}

@Suite struct EmulatedMediaTests {
    func request(_ blocks: [ContentBlock]) -> ConverseRequest {
        ConverseRequest(modelId: "m", messages: [Message(role: .user, content: blocks + [.text("Look.")])])
    }

    func validationMessage(_ blocks: [ContentBlock]) -> String? {
        do {
            try EmulatedModel.validate(request(blocks), defaultMaxTokens: 100)
            return nil
        } catch {
            #expect(error.code == "ValidationException")
            return error.message
        }
    }

    @Test func documentsAndImagesAreCheckedAsBedrockDoes() {
        let pdf = Data("%PDF-1.4".utf8)
        #expect(validationMessage([.document(DocumentBlock(format: "pdf", name: "Q3 report (v2)", source: .bytes(pdf)))]) == nil)
        #expect(validationMessage([.document(DocumentBlock(format: "pdf", name: "q3.report", source: .bytes(pdf)))])?
            .hasPrefix("The document file name can only contain") == true)
        #expect(validationMessage([.document(DocumentBlock(format: "exe", name: "x", source: .bytes(pdf)))])?
            .contains("document.format") == true)
        #expect(validationMessage([.image(ImageBlock(format: "bmp", source: .bytes(pdf)))])?.contains("image.format") == true)
        let big = Data(count: ConverseMedia.maxImageBytes + 1)
        #expect(validationMessage([.image(ImageBlock(format: "png", source: .bytes(big)))])?.contains("the maximum is 3750000") == true)
        let six = (0..<6).map { ContentBlock.document(DocumentBlock(format: "txt", name: "d\($0)", source: .bytes(pdf))) }
        #expect(validationMessage(six)?.hasPrefix("Too many documents: 6") == true)
        let twice = [ContentBlock.document(DocumentBlock(format: "txt", name: "d", source: .bytes(pdf)))]
        #expect(validationMessage(twice + twice)?.contains("is used more than once") == true)
    }

    @Test func mediaTokensAndTheEchoNameWhatArrived() throws {
        // a 1000 × 500 PNG header: 667 tokens by its pixels
        var png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13]) + Data("IHDR".utf8)
        png += Data([0, 0, 0x03, 0xE8, 0, 0, 0x01, 0xF4, 8, 6, 0, 0, 0])
        let doc = Data(repeating: 0x41, count: 400)
        let r = request([.document(DocumentBlock(format: "txt", name: "notes", source: .bytes(doc))),
                         .image(ImageBlock(format: "png", source: .bytes(png)))])
        #expect(EmulatedModel.inputTokens(r) == 100 + 667 + 2)  // 400 bytes of text, the image, "Look."
        let answer = try EmulatedModel.answer(r, defaultMaxTokens: 1000, latencyMs: 1)
        #expect(answer.text == "Echo: [document notes (txt, 400 bytes, fnv \(String(StableHash.fnv1a(bytes: doc), radix: 16)))] "
            + "[image (png, \(png.count) bytes, fnv \(String(StableHash.fnv1a(bytes: png), radix: 16)))] Look.")
    }
}
