import AWSCore
import Foundation

// The Converse API's shapes (bedrock-runtime 2023-09-30), serialised in the service model's
// member order with botocore's JSON formatting, and read back leniently: blocks, stop reasons
// and roles this client does not know are kept as they came, never fatal.

/// Who wrote a message.
public enum ConversationRole: Sendable, Equatable, Hashable {
    case user
    case assistant
    case other(String)

    public init(_ raw: String) {
        switch raw {
        case "user": self = .user
        case "assistant": self = .assistant
        default: self = .other(raw)
        }
    }

    public var rawValue: String {
        switch self {
        case .user: return "user"
        case .assistant: return "assistant"
        case .other(let raw): return raw
        }
    }
}

/// Where an image's or document's bytes come from.
public enum MediaSource: Sendable, Equatable {
    case bytes(Data)
    case s3(uri: String, bucketOwner: String?)
    /// Documents only: plain text.
    case text(String)
    /// Documents only: a list of text blocks.
    case content([String])

    public var json: JSONValue {
        switch self {
        case .bytes(let data): return ["bytes": .string(data.base64EncodedString())]
        case .s3(let uri, let owner):
            var location: JSONObject = ["uri": .string(uri)]
            if let owner { location["bucketOwner"] = .string(owner) }
            return ["s3Location": .object(location)]
        case .text(let text): return ["text": .string(text)]
        case .content(let blocks): return ["content": .array(blocks.map { ["text": .string($0)] })]
        }
    }

    init?(json: JSONValue) throws(ConverseDecodingError) {
        if let b64 = json["bytes"]?.stringValue {
            guard let data = Data(base64Encoded: b64) else { throw ConverseDecodingError("source.bytes is not base64") }
            self = .bytes(data)
        } else if let location = json["s3Location"] {
            guard let uri = location["uri"]?.stringValue else { throw ConverseDecodingError("s3Location needs uri") }
            self = .s3(uri: uri, bucketOwner: location["bucketOwner"]?.stringValue)
        } else if let text = json["text"]?.stringValue {
            self = .text(text)
        } else if let blocks = json["content"]?.arrayValue {
            self = .content(blocks.compactMap { $0["text"]?.stringValue })
        } else {
            return nil
        }
    }
}

public struct ImageBlock: Sendable, Equatable {
    /// png, jpeg, gif or webp.
    public var format: String
    public var source: MediaSource
    public init(format: String, source: MediaSource) {
        self.format = format
        self.source = source
    }
}

public struct DocumentBlock: Sendable, Equatable {
    /// pdf, csv, doc, docx, xls, xlsx, html, txt or md.
    public var format: String?
    public var name: String
    public var source: MediaSource
    public var context: String?
    public var citationsEnabled: Bool?
    public init(format: String?, name: String, source: MediaSource, context: String? = nil,
                citationsEnabled: Bool? = nil) {
        self.format = format
        self.name = name
        self.source = source
        self.context = context
        self.citationsEnabled = citationsEnabled
    }
}

public struct ToolUseBlock: Sendable, Equatable {
    public var toolUseId: String
    public var name: String
    public var input: JSONValue
    public var type: String?
    public init(toolUseId: String, name: String, input: JSONValue, type: String? = nil) {
        self.toolUseId = toolUseId
        self.name = name
        self.input = input
        self.type = type
    }
}

public struct ToolResultBlock: Sendable, Equatable {
    public enum Content: Sendable, Equatable {
        case json(JSONValue)
        case text(String)
        case image(ImageBlock)
        case document(DocumentBlock)
        case unknown(JSONValue)
    }

    public var toolUseId: String
    public var content: [Content]
    /// success or error.
    public var status: String?
    public init(toolUseId: String, content: [Content], status: String? = nil) {
        self.toolUseId = toolUseId
        self.content = content
        self.status = status
    }
}

public struct CachePointBlock: Sendable, Equatable {
    public var type: String
    /// 5m or 1h.
    public var ttl: String?
    public init(type: String = "default", ttl: String? = nil) {
        self.type = type
        self.ttl = ttl
    }

    public var json: JSONValue {
        var o: JSONObject = ["type": .string(type)]
        if let ttl { o["ttl"] = .string(ttl) }
        return .object(o)
    }
}

public enum ReasoningContentBlock: Sendable, Equatable {
    case reasoningText(text: String, signature: String?)
    case redactedContent(Data)
}

/// One block of a message: exactly one kind.
public enum ContentBlock: Sendable, Equatable {
    case text(String)
    case image(ImageBlock)
    case document(DocumentBlock)
    case toolUse(ToolUseBlock)
    case toolResult(ToolResultBlock)
    case cachePoint(CachePointBlock)
    case reasoningContent(ReasoningContentBlock)
    /// A block of a kind this client does not model (video, audio, citations, guard content, ...),
    /// kept as it is so that it can be sent back and reported.
    case unknown(kind: String, value: JSONValue)

    public var text: String? {
        if case .text(let t) = self { return t }
        return nil
    }
}

/// A block of the system prompt.
public enum SystemContentBlock: Sendable, Equatable {
    case text(String)
    case cachePoint(CachePointBlock)
    case unknown(kind: String, value: JSONValue)
}

public struct Message: Sendable, Equatable {
    public var role: ConversationRole
    public var content: [ContentBlock]
    public init(role: ConversationRole, content: [ContentBlock]) {
        self.role = role
        self.content = content
    }

    public static func user(_ text: String) -> Message { Message(role: .user, content: [.text(text)]) }
    public static func assistant(_ text: String) -> Message { Message(role: .assistant, content: [.text(text)]) }

    /// The concatenation of the text blocks.
    public var text: String { content.compactMap(\.text).joined() }
}

public struct InferenceConfiguration: Sendable, Equatable {
    public var maxTokens: Int?
    public var temperature: Double?
    public var topP: Double?
    public var stopSequences: [String]?
    public init(maxTokens: Int? = nil, temperature: Double? = nil, topP: Double? = nil,
                stopSequences: [String]? = nil) {
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.topP = topP
        self.stopSequences = stopSequences
    }
}

public struct ToolSpecification: Sendable, Equatable {
    public var name: String
    public var description: String?
    /// The tool input's JSON Schema.
    public var inputSchema: JSONValue
    public var strict: Bool?
    public init(name: String, description: String? = nil, inputSchema: JSONValue, strict: Bool? = nil) {
        self.name = name
        self.description = description
        self.inputSchema = inputSchema
        self.strict = strict
    }
}

public enum Tool: Sendable, Equatable {
    case toolSpec(ToolSpecification)
    case cachePoint(CachePointBlock)
    case unknown(kind: String, value: JSONValue)
}

public enum ToolChoice: Sendable, Equatable {
    case auto
    case any
    case tool(name: String)
}

public struct ToolConfiguration: Sendable, Equatable {
    public var tools: [Tool]
    public var toolChoice: ToolChoice?
    public init(tools: [Tool], toolChoice: ToolChoice? = nil) {
        self.tools = tools
        self.toolChoice = toolChoice
    }
}

/// A Converse call.
public struct ConverseRequest: Sendable, Equatable {
    /// A model id, inference-profile id or ARN; sent in the path.
    public var modelId: String
    public var messages: [Message]
    public var system: [SystemContentBlock]?
    public var inferenceConfig: InferenceConfiguration?
    public var toolConfig: ToolConfiguration?
    /// `{guardrailIdentifier, guardrailVersion, trace?}`.
    public var guardrailConfig: JSONValue?
    public var additionalModelRequestFields: JSONValue?
    public var additionalModelResponseFieldPaths: [String]?
    public var promptVariables: [String: String]?
    public var requestMetadata: [String: String]?
    /// standard or optimized.
    public var performanceLatency: String?
    /// priority, default, flex or reserved.
    public var serviceTier: String?
    /// `outputConfig` as the model defines it (structured output).
    public var outputConfig: JSONValue?

    public init(modelId: String, messages: [Message], system: [SystemContentBlock]? = nil,
                inferenceConfig: InferenceConfiguration? = nil, toolConfig: ToolConfiguration? = nil,
                guardrailConfig: JSONValue? = nil, additionalModelRequestFields: JSONValue? = nil,
                additionalModelResponseFieldPaths: [String]? = nil, promptVariables: [String: String]? = nil,
                requestMetadata: [String: String]? = nil, performanceLatency: String? = nil,
                serviceTier: String? = nil, outputConfig: JSONValue? = nil) {
        self.modelId = modelId
        self.messages = messages
        self.system = system
        self.inferenceConfig = inferenceConfig
        self.toolConfig = toolConfig
        self.guardrailConfig = guardrailConfig
        self.additionalModelRequestFields = additionalModelRequestFields
        self.additionalModelResponseFieldPaths = additionalModelResponseFieldPaths
        self.promptVariables = promptVariables
        self.requestMetadata = requestMetadata
        self.performanceLatency = performanceLatency
        self.serviceTier = serviceTier
        self.outputConfig = outputConfig
    }
}

/// Why the model stopped.
public enum StopReason: Sendable, Equatable, Hashable {
    case endTurn, toolUse, maxTokens, stopSequence, guardrailIntervened, contentFiltered
    case malformedModelOutput, malformedToolUse, modelContextWindowExceeded
    case other(String)

    public init(_ raw: String) {
        switch raw {
        case "end_turn": self = .endTurn
        case "tool_use": self = .toolUse
        case "max_tokens": self = .maxTokens
        case "stop_sequence": self = .stopSequence
        case "guardrail_intervened": self = .guardrailIntervened
        case "content_filtered": self = .contentFiltered
        case "malformed_model_output": self = .malformedModelOutput
        case "malformed_tool_use": self = .malformedToolUse
        case "model_context_window_exceeded": self = .modelContextWindowExceeded
        default: self = .other(raw)
        }
    }

    public var rawValue: String {
        switch self {
        case .endTurn: return "end_turn"
        case .toolUse: return "tool_use"
        case .maxTokens: return "max_tokens"
        case .stopSequence: return "stop_sequence"
        case .guardrailIntervened: return "guardrail_intervened"
        case .contentFiltered: return "content_filtered"
        case .malformedModelOutput: return "malformed_model_output"
        case .malformedToolUse: return "malformed_tool_use"
        case .modelContextWindowExceeded: return "model_context_window_exceeded"
        case .other(let raw): return raw
        }
    }
}

public struct TokenUsage: Sendable, Equatable {
    public var inputTokens: Int
    public var outputTokens: Int
    public var totalTokens: Int
    public var cacheReadInputTokens: Int?
    public var cacheWriteInputTokens: Int?
    public init(inputTokens: Int, outputTokens: Int, totalTokens: Int, cacheReadInputTokens: Int? = nil,
                cacheWriteInputTokens: Int? = nil) {
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.totalTokens = totalTokens
        self.cacheReadInputTokens = cacheReadInputTokens
        self.cacheWriteInputTokens = cacheWriteInputTokens
    }
}

/// A Converse answer.
public struct ConverseResponse: Sendable, Equatable {
    /// The assistant's message (nil only if the service sent an output of another kind).
    public var message: Message?
    public var stopReason: StopReason
    public var usage: TokenUsage
    public var latencyMs: Int
    public var additionalModelResponseFields: JSONValue?
    public var trace: JSONValue?
    public var performanceLatency: String?
    public var serviceTier: String?
    /// `x-amzn-RequestId`.
    public var requestId: String?

    public init(message: Message?, stopReason: StopReason, usage: TokenUsage, latencyMs: Int,
                additionalModelResponseFields: JSONValue? = nil, trace: JSONValue? = nil,
                performanceLatency: String? = nil, serviceTier: String? = nil, requestId: String? = nil) {
        self.message = message
        self.stopReason = stopReason
        self.usage = usage
        self.latencyMs = latencyMs
        self.additionalModelResponseFields = additionalModelResponseFields
        self.trace = trace
        self.performanceLatency = performanceLatency
        self.serviceTier = serviceTier
        self.requestId = requestId
    }

    /// The reply text: every text block of the message, concatenated.
    public var text: String { message?.text ?? "" }

    /// The tool calls in the reply.
    public var toolUses: [ToolUseBlock] {
        message?.content.compactMap { if case .toolUse(let t) = $0 { return t } else { return nil } } ?? []
    }
}

public struct ConverseDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "malformed Converse data: \(message)" }
}
