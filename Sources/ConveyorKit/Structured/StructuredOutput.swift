import AWSCore
import AWSServices
import Foundation

/// Structured output (`output.schema`): every call forces one tool whose input schema is the
/// job's schema, the answer's toolUse input is the item's value, and an answer that does not fit
/// is sent back as a failed tool result for the model to correct, up to `output.schemaRetries`
/// times.
public struct StructuredOutput: Sendable, Equatable {
    /// The forced tool's name, as the model sees it.
    public static let toolName = "structured_output"
    public static let toolDescription = "Give your answer by calling this tool: its input is the answer, "
        + "and it must satisfy the input schema."
    /// The failure code of an item whose answers never fitted the schema.
    public static let mismatchCode = "SchemaMismatch"
    /// Model families that accept Converse `toolChoice: {tool: {name}}`, as the Converse API
    /// reference lists them.
    public static let supportingModels = "Anthropic Claude 3 and later, Mistral Large, Amazon Nova"

    public let schema: OutputSchema
    public let retries: Int

    public init(schema: JSONValue, retries: Int) {
        self.schema = OutputSchema(schema)
        self.retries = retries
    }

    /// The job's structured output, if it asks for one.
    public init?(job: Job) {
        guard let schema = job.output.schema else { return nil }
        self.init(schema: schema, retries: job.output.schemaRetries)
    }

    /// The tool configuration every call of the job carries.
    public var toolConfiguration: ToolConfiguration {
        ToolConfiguration(tools: [.toolSpec(ToolSpecification(name: Self.toolName, description: Self.toolDescription,
                                                              inputSchema: schema.schema))],
                          toolChoice: .tool(name: Self.toolName))
    }

    /// What an answer gave: the value when it fits, else the problems to send back.
    public enum Verdict: Sendable, Equatable {
        case value(JSONValue)
        case mismatch([String])
    }

    public func check(_ response: ConverseResponse) -> Verdict {
        guard let call = response.toolUses.first(where: { $0.name == Self.toolName }) else {
            return .mismatch(["the answer did not call the tool \(Self.toolName) (stop reason \(response.stopReason.rawValue))"])
        }
        let problems = schema.violations(of: call.input)
        return problems.isEmpty ? .value(call.input) : .mismatch(problems)
    }

    /// The next request after an answer that did not fit: the conversation so far, the
    /// assistant's answer, then a user turn with the errors: a toolResult (with status error for
    /// the models that accept a status) when the answer called the tool, else a plain reminder.
    public func followUp(_ request: ConverseRequest, answer: ConverseResponse, problems: [String]) -> ConverseRequest {
        var next = request
        let list = problems.map { "- " + $0 }.joined(separator: "\n")
        let content = answer.message?.content ?? []
        if !content.isEmpty { next.messages.append(Message(role: .assistant, content: content)) }
        if let call = content.lazy.compactMap({ if case .toolUse(let t) = $0 { return t } else { return nil } }).first {
            let text = "The input does not match the schema:\n\(list)\nCall \(Self.toolName) again with input that does."
            next.messages.append(Message(role: .user, content: [
                .toolResult(ToolResultBlock(toolUseId: call.toolUseId, content: [.text(text)],
                                            status: Self.acceptsToolResultStatus(request.modelId) ? "error" : nil)),
            ]))
        } else if !content.isEmpty {
            next.messages.append(.user("Answer by calling the tool \(Self.toolName): \(list)"))
        }
        return next
    }

    /// Whether the model accepts a forced tool choice: true for the families that do, false for
    /// other known model ids, nil when the id does not say (an ARN of a provisioned, custom or
    /// application-profile model).
    public static func supportsForcedTool(_ modelId: String) -> Bool? {
        guard let reference = ModelReference(parsing: modelId) else { return nil }
        let id = reference.modelId
        if let version = reference.claudeVersion { return version.major >= 3 }
        if id.hasPrefix("anthropic.") { return false }
        if id.hasPrefix("mistral.mistral-large") || id.hasPrefix("amazon.nova-") { return true }
        return false
    }
}

extension StructuredOutput {
    /// Whether the model accepts `status` in a toolResult: the Converse API reference allows it
    /// for Amazon Nova and Anthropic Claude 3 and later only (others, such as Mistral Large,
    /// refuse the request), and for a model id that does not say, Conveyor leaves it out.
    public static func acceptsToolResultStatus(_ modelId: String) -> Bool {
        guard let reference = ModelReference(parsing: modelId) else { return false }
        if let version = reference.claudeVersion { return version.major >= 3 }
        return reference.modelId.hasPrefix("amazon.nova-")
    }
}

extension TokenUsage {
    /// The usage of two calls together.
    static func + (a: TokenUsage, b: TokenUsage) -> TokenUsage {
        func sum(_ x: Int?, _ y: Int?) -> Int? { x == nil && y == nil ? nil : (x ?? 0) + (y ?? 0) }
        return TokenUsage(inputTokens: a.inputTokens + b.inputTokens, outputTokens: a.outputTokens + b.outputTokens,
                          totalTokens: a.totalTokens + b.totalTokens,
                          cacheReadInputTokens: sum(a.cacheReadInputTokens, b.cacheReadInputTokens),
                          cacheWriteInputTokens: sum(a.cacheWriteInputTokens, b.cacheWriteInputTokens))
    }
}
