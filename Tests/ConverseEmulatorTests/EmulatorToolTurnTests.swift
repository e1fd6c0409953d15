import AWSCore
import AWSServices
import Foundation
import Testing
@testable import ConverseEmulator

/// Forced tool calls answered wrongly on purpose, and the tool turns that correct them.
@Suite struct EmulatorToolTurnTests {
    let schema: JSONValue = ["type": "object", "required": ["label"],
                             "properties": ["label": ["enum": ["a", "b"]], "score": ["type": "integer"]]]
    var tools: ToolConfiguration {
        ToolConfiguration(tools: [.toolSpec(ToolSpecification(name: "answer", inputSchema: schema))],
                          toolChoice: .tool(name: "answer"))
    }

    func request(_ messages: [Message]) -> ConverseRequest {
        ConverseRequest(modelId: "m", messages: messages, inferenceConfig: InferenceConfiguration(maxTokens: 100),
                        toolConfig: tools)
    }

    func answer(_ messages: [Message]) throws -> ConverseResponse {
        let r = request(messages)
        try EmulatedModel.validate(r, defaultMaxTokens: 100)
        return try EmulatedModel.answer(r, defaultMaxTokens: 100, latencyMs: 0)
    }

    /// The conversation after `response`, with a failed tool result for its call.
    func sendBack(_ messages: [Message], _ response: ConverseResponse) throws -> [Message] {
        let call = try #require(response.toolUses.first)
        return messages + [response.message!, Message(role: .user, content: [
            .toolResult(ToolResultBlock(toolUseId: call.toolUseId, content: [.text("wrong")], status: "error")),
        ])]
    }

    @Test func wrongToolInputBreaksTheFirstAnswersOnly() throws {
        let prompt: [Message] = [.user("classify [[wrong-tool-input:2]]")]
        let first = try answer(prompt)
        #expect(first.toolUses.first?.input["label"] == "none-of-the-allowed-values")
        let second = try answer(try sendBack(prompt, first))
        #expect(second.toolUses.first?.input["label"] == "none-of-the-allowed-values")
        #expect(second.toolUses.first?.toolUseId != first.toolUses.first?.toolUseId)
        let third = try answer(try sendBack(try sendBack(prompt, first), second))
        #expect(["a", "b"].contains(third.toolUses.first?.input["label"]?.stringValue ?? ""))
    }

    @Test func violatingValuesBreakEachKindOfSchema() {
        #expect(SchemaSampler.violating(["type": "object", "properties": ["n": ["type": "integer"]]], seed: 1)
            == ["n": "not a number"])
        #expect(SchemaSampler.violating(["type": "object", "properties": ["s": ["type": "string"]]], seed: 1) == ["s": 12345])
        #expect(SchemaSampler.violating(["type": "object"], seed: 1) == "not an object")
    }

    @Test func toolTurnsFollowBedrocksRules() throws {
        let prompt: [Message] = [.user("classify")]
        let first = try answer(prompt)
        let call = try #require(first.toolUses.first)
        func problem(_ messages: [Message]) -> String? {
            do {
                try EmulatedModel.validate(request(messages), defaultMaxTokens: 100)
                return nil
            } catch {
                return error.message
            }
        }
        // a toolUse answered by a plain text turn
        #expect(problem(prompt + [first.message!, .user("again")])
            == "Expected toolResult blocks at messages.2.content for the following Ids: \(call.toolUseId)")
        // a toolResult for a call that was not made
        let stray = Message(role: .user, content: [.toolResult(ToolResultBlock(toolUseId: "nope", content: [.text("x")]))])
        #expect(problem(prompt + [first.message!, stray])?.contains("Expected toolResult blocks") == true)
        #expect(problem(prompt + [.assistant("hi"), stray])
            == "The number of toolResult blocks at messages.2.content exceeds the number of toolUse blocks of previous turn.")
        // tool blocks without a toolConfig
        var bare = request(try sendBack(prompt, first))
        bare.toolConfig = nil
        #expect(throws: EmulatedError.self) { try EmulatedModel.validate(bare, defaultMaxTokens: 100) }
        #expect(problem(try sendBack(prompt, first)) == nil)
    }
}
