import AWSCore
import Foundation
import Testing
@testable import AWSServices

@Suite struct ConverseWireTests {
    let date = Date(timeIntervalSince1970: 1_735_787_045)  // 2025-01-02T03:04:05Z
    let credentials = Credentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                  sessionToken: "SESSIONTOKEN")

    func client(_ endpoint: String = "https://bedrock-runtime.eu-west-1.amazonaws.com") -> BedrockRuntimeClient {
        BedrockRuntimeClient(client: AWSClient(
            service: BedrockRuntimeClient.serviceInfo, region: "eu-west-1", endpoint: Endpoint(url: endpoint, isCustom: false)!,
            credentials: StaticCredentialProvider(credentials), transport: UnusedTransport()))
    }

    /// The reference's §1.7 vector: the body bytes botocore sends and the signature it computes.
    @Test func bodyAndSignatureMatchBotocore() {
        let request = ConverseRequest(modelId: "eu.anthropic.claude-3-7-sonnet-20250219-v1:0", messages: [.user("hi")],
                                      inferenceConfig: InferenceConfiguration(maxTokens: 10))
        var http = client().httpRequest(for: request)
        #expect(String(decoding: http.body, as: UTF8.self)
            == #"{"messages": [{"role": "user", "content": [{"text": "hi"}]}], "inferenceConfig": {"maxTokens": 10}}"#)
        #expect(http.body.count == 99)
        #expect(http.path == "/model/eu.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse")
        let signer = SigV4Signer(credentials: credentials, region: "eu-west-1", service: "bedrock")
        let result = signer.sign(&http, date: date)
        #expect(result.signature == "2dd635a099e6db58ad8594d4ba2487fd678ca0a996d5d4e87b5920db41afc9ba")
        #expect(result.canonicalRequest.contains("/model/eu.anthropic.claude-3-7-sonnet-20250219-v1%253A0/converse"))
    }

    @Test func arnModelIdIsOneEscapedSegment() {
        let arn = "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-3-7-sonnet-20250219-v1:0"
        let request = ConverseRequest(modelId: arn, messages: [.user("hi")],
                                      inferenceConfig: InferenceConfiguration(maxTokens: 10))
        var http = client().httpRequest(for: request)
        #expect(http.path == "/model/arn%3Aaws%3Abedrock%3Aeu-west-1%3A123456789012%3Ainference-profile%2Feu.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse")
        let result = SigV4Signer(credentials: credentials, region: "eu-west-1", service: "bedrock").sign(&http, date: date)
        #expect(result.signature == "0c80ff05674a60655726851eebd6ba9454247bf5fb080f9fe31a902b96002c27")
    }

    @Test func everyRequestMemberIsWrittenInModelOrder() throws {
        let request = ConverseRequest(
            modelId: "m", messages: [.user("a"), .assistant("b"), .user("c")],
            system: [.text("be brief"), .cachePoint(CachePointBlock())],
            inferenceConfig: InferenceConfiguration(maxTokens: 256, temperature: 0.2, topP: 0.9, stopSequences: ["END"]),
            toolConfig: ToolConfiguration(
                tools: [.toolSpec(ToolSpecification(name: "label", description: "d",
                                                    inputSchema: ["type": "object", "required": ["label"]]))],
                toolChoice: .tool(name: "label")),
            additionalModelRequestFields: ["top_k": 200], requestMetadata: ["job": "x"],
            performanceLatency: "optimized", serviceTier: "flex")
        let text = request.bodyJSON.serializedString
        #expect(text.hasPrefix(#"{"messages": [{"role": "user", "content": [{"text": "a"}]}, "#))
        #expect(text.contains(#""system": [{"text": "be brief"}, {"cachePoint": {"type": "default"}}]"#))
        #expect(text.contains(#""inferenceConfig": {"maxTokens": 256, "temperature": 0.2, "topP": 0.9, "stopSequences": ["END"]}"#))
        #expect(text.contains(#""toolChoice": {"tool": {"name": "label"}}"#))
        #expect(text.contains(#""inputSchema": {"json": {"type": "object", "required": ["label"]}}"#))
        #expect(text.contains(#""additionalModelRequestFields": {"top_k": 200}"#))
        #expect(text.contains(#""performanceConfig": {"latency": "optimized"}, "serviceTier": {"type": "flex"}"#))
        // and it reads back to the same request
        let back = try ConverseRequest(modelId: "m", body: try JSONValue.parse(Data(text.utf8)))
        #expect(back == request)
    }

    @Test func contentBlocksRoundTrip() throws {
        let blocks: [ContentBlock] = [
            .text("t"),
            .image(ImageBlock(format: "png", source: .bytes(Data([1, 2, 3])))),
            .image(ImageBlock(format: "jpeg", source: .s3(uri: "s3://b/k.jpg", bucketOwner: "123"))),
            .document(DocumentBlock(format: "pdf", name: "doc", source: .bytes(Data("pdf".utf8)), context: "c",
                                    citationsEnabled: true)),
            .document(DocumentBlock(format: "txt", name: "plain", source: .text("hello"))),
            .toolUse(ToolUseBlock(toolUseId: "t1", name: "label", input: ["label": "a", "score": 0.5])),
            .toolResult(ToolResultBlock(toolUseId: "t1", content: [.json(["ok": true]), .text("fine")], status: "success")),
            .cachePoint(CachePointBlock(ttl: "1h")),
            .reasoningContent(.reasoningText(text: "thinking", signature: "sig")),
            .reasoningContent(.redactedContent(Data([9, 9]))),
            .unknown(kind: "video", value: ["format": "mp4"]),
        ]
        for block in blocks {
            let text = block.json.serializedString
            #expect(try ContentBlock(json: try JSONValue.parse(Data(text.utf8))) == block, "\(text)")
        }
    }

    @Test func unionsWithTwoMembersAreRejected() {
        #expect(throws: ConverseDecodingError.self) {
            try ContentBlock(json: ["text": "a", "image": ["format": "png"]])
        }
        #expect(throws: ConverseDecodingError.self) { try ContentBlock(json: [:]) }
    }

    @Test func responseWithUnknownBlocksAndStopReasonIsKept() throws {
        let body = """
            {"output": {"message": {"role": "assistant", "content": [{"text": "Hello"}, \
            {"citationsContent": {"content": [{"text": "x"}]}}, {"text": " world"}, \
            {"toolUse": {"toolUseId": "tu", "name": "label", "input": {"label": "b"}}}]}}, \
            "stopReason": "brand_new_reason", "usage": {"inputTokens": 5, "outputTokens": 7, "totalTokens": 12, \
            "cacheReadInputTokens": 3, "cacheWriteInputTokens": 1}, "metrics": {"latencyMs": 321}, \
            "additionalModelResponseFields": {"stop_sequence": null}}
            """
        let response = try ConverseResponse(body: try JSONValue.parse(Data(body.utf8)), requestId: "rid")
        #expect(response.text == "Hello world")
        #expect(response.stopReason == .other("brand_new_reason"))
        #expect(response.stopReason.rawValue == "brand_new_reason")
        #expect(response.usage == TokenUsage(inputTokens: 5, outputTokens: 7, totalTokens: 12, cacheReadInputTokens: 3,
                                             cacheWriteInputTokens: 1))
        #expect(response.latencyMs == 321)
        #expect(response.toolUses.first?.input == ["label": "b"])
        #expect(response.message?.content[1] == .unknown(kind: "citationsContent", value: ["content": [["text": "x"]]]))
        #expect(response.requestId == "rid")
        #expect(StopReason("end_turn") == .endTurn)
    }

    @Test func missingRequiredResponseMembersAreErrors() {
        #expect(throws: ConverseDecodingError.self) {
            try ConverseResponse(body: ["stopReason": "end_turn"], requestId: nil)
        }
    }
}

@Suite struct JSONTests {
    @Test func writesLikePythonJsonDumps() {
        let value: JSONValue = ["a": "é日🚀\n\"\\", "b": [1, 2.5, true, nil], "c": 1.0, "d": 1e-05, "e": -0.0, "f": 1e16, "g": 123456789.5, "h": 1e300, "i": 0.30000000000000004]
        #expect(value.serializedString
            == #"{"a": "\u00e9\u65e5\ud83d\ude80\n\"\\", "b": [1, 2.5, true, null], "c": 1.0, "d": 1e-05, "e": -0.0, "f": 1e+16, "g": 123456789.5, "h": 1e+300, "i": 0.30000000000000004}"#)
    }

    @Test func readerKeepsOrderAndDecodesEscapes() throws {
        let value = try JSONValue.parse(Data(#"{"z": 1, "a": "\u00e9\ud83d\ude80", "m": [1.5e3, -2, "x\/y"]}"#.utf8))
        #expect(value.objectValue?.keys == ["z", "a", "m"])
        #expect(value["a"] == "é🚀")
        #expect(value["m"] == [1500.0, -2, "x/y"])
    }

    @Test func readerRefusesBadInput() {
        for bad in ["{", #"{"a" 1}"#, "[1,]", #""\ud800""#, "01x", "nul", #"{"a":1} x"#, String(repeating: "[", count: 600)] {
            #expect(throws: (any Error).self, "\(bad.prefix(20))") { try JSONValue.parse(Data(bad.utf8)) }
        }
    }

    /// Numbers exactly as RFC 8259 writes them.
    @Test func numbersFollowTheGrammar() throws {
        for bad in ["+1", ".5", "01", "-01", "1.", "1.e3", "1e", "1e+", "-", "--1", "0x10", "1_000", "- 1", "[1.]"] {
            #expect(throws: (any Error).self, "\(bad)") { try JSONValue.parse(Data(bad.utf8)) }
        }
        #expect(try JSONValue.parse(Data("0".utf8)) == .integer(0))
        #expect(try JSONValue.parse(Data("-0".utf8)) == .integer(0))
        #expect(try JSONValue.parse(Data("-12".utf8)) == .integer(-12))
        #expect(try JSONValue.parse(Data("0.5".utf8)) == .double(0.5))
        #expect(try JSONValue.parse(Data("-1.25e-2".utf8)) == .double(-0.0125))
        #expect(try JSONValue.parse(Data("2E+3".utf8)) == .double(2000))
        #expect(try JSONValue.parse(Data("[10,0,-3.5e1]".utf8)) == [10, 0, -35.0])
        #expect(try JSONValue.parse(Data("9223372036854775808".utf8)) == .double(9_223_372_036_854_775_808))
    }
}

/// A transport that must not be used (these tests never send).
struct UnusedTransport: HTTPTransport {
    func execute(_ request: HTTPRequest, timeouts: HTTPTimeouts, queue: DispatchQueue,
                 completion: @escaping @Sendable (Result<HTTPResponse, TransportError>) -> Void) {
        queue.async { completion(.failure(TransportError(kind: .other, message: "not for sending", requestSent: false))) }
    }
}
