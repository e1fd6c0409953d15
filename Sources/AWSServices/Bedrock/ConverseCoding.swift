import AWSCore
import Foundation

// JSON for the Converse shapes, both ways. Members are written in the service model's order;
// reading accepts exactly one member per union and keeps unknown members.

extension ImageBlock {
    public var json: JSONValue { ["format": .string(format), "source": source.json] }

    init(json: JSONValue) throws(ConverseDecodingError) {
        guard let format = json["format"]?.stringValue else { throw ConverseDecodingError("image needs format") }
        guard let sourceJSON = json["source"], let source = try MediaSource(json: sourceJSON) else {
            throw ConverseDecodingError("image needs a source")
        }
        self.init(format: format, source: source)
    }
}

extension DocumentBlock {
    public var json: JSONValue {
        var o = JSONObject()
        if let format { o["format"] = .string(format) }
        o["name"] = .string(name)
        o["source"] = source.json
        if let context { o["context"] = .string(context) }
        if let citationsEnabled { o["citations"] = ["enabled": .bool(citationsEnabled)] }
        return .object(o)
    }

    init(json: JSONValue) throws(ConverseDecodingError) {
        guard let name = json["name"]?.stringValue else { throw ConverseDecodingError("document needs name") }
        guard let sourceJSON = json["source"], let source = try MediaSource(json: sourceJSON) else {
            throw ConverseDecodingError("document needs a source")
        }
        self.init(format: json["format"]?.stringValue, name: name, source: source,
                  context: json["context"]?.stringValue, citationsEnabled: json["citations"]?["enabled"]?.boolValue)
    }
}

extension ToolResultBlock.Content {
    public var json: JSONValue {
        switch self {
        case .json(let v): return ["json": v]
        case .text(let t): return ["text": .string(t)]
        case .image(let i): return ["image": i.json]
        case .document(let d): return ["document": d.json]
        case .unknown(let v): return v
        }
    }

    init(json: JSONValue) throws(ConverseDecodingError) {
        if let v = json["json"] {
            self = .json(v)
        } else if let t = json["text"]?.stringValue {
            self = .text(t)
        } else if let i = json["image"] {
            self = .image(try ImageBlock(json: i))
        } else if let d = json["document"] {
            self = .document(try DocumentBlock(json: d))
        } else {
            self = .unknown(json)
        }
    }
}

extension ContentBlock {
    public var json: JSONValue {
        switch self {
        case .text(let t): return ["text": .string(t)]
        case .image(let i): return ["image": i.json]
        case .document(let d): return ["document": d.json]
        case .toolUse(let t):
            var o: JSONObject = ["toolUseId": .string(t.toolUseId), "name": .string(t.name), "input": t.input]
            if let type = t.type { o["type"] = .string(type) }
            return ["toolUse": .object(o)]
        case .toolResult(let r):
            var o: JSONObject = ["toolUseId": .string(r.toolUseId), "content": .array(r.content.map(\.json))]
            if let status = r.status { o["status"] = .string(status) }
            return ["toolResult": .object(o)]
        case .cachePoint(let c): return ["cachePoint": c.json]
        case .reasoningContent(let r):
            switch r {
            case .reasoningText(let text, let signature):
                var o: JSONObject = ["text": .string(text)]
                if let signature { o["signature"] = .string(signature) }
                return ["reasoningContent": ["reasoningText": .object(o)]]
            case .redactedContent(let data):
                return ["reasoningContent": ["redactedContent": .string(data.base64EncodedString())]]
            }
        case .unknown(let kind, let value): return .object(JSONObject([(kind, value)]))
        }
    }

    public init(json: JSONValue) throws(ConverseDecodingError) {
        guard let object = json.objectValue else { throw ConverseDecodingError("a content block must be an object") }
        guard object.count == 1, let (kind, value) = object.members.first.map({ ($0.key, $0.value) }) else {
            throw ConverseDecodingError("a content block must set exactly one member, found \(object.keys)")
        }
        switch kind {
        case "text":
            guard let t = value.stringValue else { throw ConverseDecodingError("text must be a string") }
            self = .text(t)
        case "image": self = .image(try ImageBlock(json: value))
        case "document": self = .document(try DocumentBlock(json: value))
        case "toolUse":
            guard let id = value["toolUseId"]?.stringValue, let name = value["name"]?.stringValue,
                  let input = value["input"]
            else { throw ConverseDecodingError("toolUse needs toolUseId, name and input") }
            self = .toolUse(ToolUseBlock(toolUseId: id, name: name, input: input, type: value["type"]?.stringValue))
        case "toolResult":
            guard let id = value["toolUseId"]?.stringValue, let content = value["content"]?.arrayValue else {
                throw ConverseDecodingError("toolResult needs toolUseId and content")
            }
            var parts: [ToolResultBlock.Content] = []
            for part in content { parts.append(try ToolResultBlock.Content(json: part)) }
            self = .toolResult(ToolResultBlock(toolUseId: id, content: parts, status: value["status"]?.stringValue))
        case "cachePoint":
            guard let type = value["type"]?.stringValue else { throw ConverseDecodingError("cachePoint needs type") }
            self = .cachePoint(CachePointBlock(type: type, ttl: value["ttl"]?.stringValue))
        case "reasoningContent":
            if let text = value["reasoningText"] {
                guard let t = text["text"]?.stringValue else {
                    throw ConverseDecodingError("reasoningText needs text")
                }
                self = .reasoningContent(.reasoningText(text: t, signature: text["signature"]?.stringValue))
            } else if let redacted = value["redactedContent"]?.stringValue, let data = Data(base64Encoded: redacted) {
                self = .reasoningContent(.redactedContent(data))
            } else {
                self = .unknown(kind: kind, value: value)
            }
        default:
            self = .unknown(kind: kind, value: value)
        }
    }
}

extension SystemContentBlock {
    public var json: JSONValue {
        switch self {
        case .text(let t): return ["text": .string(t)]
        case .cachePoint(let c): return ["cachePoint": c.json]
        case .unknown(let kind, let value): return .object(JSONObject([(kind, value)]))
        }
    }

    public init(json: JSONValue) throws(ConverseDecodingError) {
        guard let object = json.objectValue, object.count == 1, let first = object.members.first else {
            throw ConverseDecodingError("a system block must set exactly one member")
        }
        switch first.key {
        case "text":
            guard let t = first.value.stringValue else { throw ConverseDecodingError("text must be a string") }
            self = .text(t)
        case "cachePoint":
            self = .cachePoint(CachePointBlock(type: first.value["type"]?.stringValue ?? "default",
                                               ttl: first.value["ttl"]?.stringValue))
        default:
            self = .unknown(kind: first.key, value: first.value)
        }
    }
}

extension Message {
    public var json: JSONValue { ["role": .string(role.rawValue), "content": .array(content.map(\.json))] }

    public init(json: JSONValue) throws(ConverseDecodingError) {
        guard let role = json["role"]?.stringValue else { throw ConverseDecodingError("a message needs a role") }
        guard let blocks = json["content"]?.arrayValue else { throw ConverseDecodingError("a message needs content") }
        var content: [ContentBlock] = []
        for block in blocks { content.append(try ContentBlock(json: block)) }
        self.init(role: ConversationRole(role), content: content)
    }
}

extension Tool {
    public var json: JSONValue {
        switch self {
        case .toolSpec(let spec):
            var o: JSONObject = ["name": .string(spec.name)]
            if let d = spec.description { o["description"] = .string(d) }
            o["inputSchema"] = ["json": spec.inputSchema]
            if let strict = spec.strict { o["strict"] = .bool(strict) }
            return ["toolSpec": .object(o)]
        case .cachePoint(let c): return ["cachePoint": c.json]
        case .unknown(let kind, let value): return .object(JSONObject([(kind, value)]))
        }
    }

    init(json: JSONValue) throws(ConverseDecodingError) {
        if let spec = json["toolSpec"] {
            guard let name = spec["name"]?.stringValue, let schema = spec["inputSchema"]?["json"] else {
                throw ConverseDecodingError("toolSpec needs name and inputSchema.json")
            }
            self = .toolSpec(ToolSpecification(name: name, description: spec["description"]?.stringValue,
                                               inputSchema: schema, strict: spec["strict"]?.boolValue))
        } else if let c = json["cachePoint"] {
            self = .cachePoint(CachePointBlock(type: c["type"]?.stringValue ?? "default", ttl: c["ttl"]?.stringValue))
        } else if let first = json.objectValue?.members.first {
            self = .unknown(kind: first.key, value: first.value)
        } else {
            throw ConverseDecodingError("a tool must set one member")
        }
    }
}

extension ConverseRequest {
    /// The request body (everything but `modelId`, which goes in the path).
    public var bodyJSON: JSONValue {
        var o = JSONObject()
        o["messages"] = .array(messages.map(\.json))
        if let system { o["system"] = .array(system.map(\.json)) }
        if let c = inferenceConfig {
            var ic = JSONObject()
            if let v = c.maxTokens { ic["maxTokens"] = .integer(Int64(v)) }
            if let v = c.temperature { ic["temperature"] = .double(v) }
            if let v = c.topP { ic["topP"] = .double(v) }
            if let v = c.stopSequences { ic["stopSequences"] = .array(v.map { .string($0) }) }
            o["inferenceConfig"] = .object(ic)
        }
        if let t = toolConfig {
            var tc: JSONObject = ["tools": .array(t.tools.map(\.json))]
            switch t.toolChoice {
            case .none: break
            case .auto: tc["toolChoice"] = ["auto": .object(JSONObject())]
            case .any: tc["toolChoice"] = ["any": .object(JSONObject())]
            case .tool(let name): tc["toolChoice"] = ["tool": ["name": .string(name)]]
            }
            o["toolConfig"] = .object(tc)
        }
        if let guardrailConfig { o["guardrailConfig"] = guardrailConfig }
        if let additionalModelRequestFields { o["additionalModelRequestFields"] = additionalModelRequestFields }
        if let promptVariables {
            o["promptVariables"] = .object(JSONObject(promptVariables.sorted { $0.key < $1.key }
                .map { ($0.key, ["text": .string($0.value)]) }))
        }
        if let paths = additionalModelResponseFieldPaths {
            o["additionalModelResponseFieldPaths"] = .array(paths.map { .string($0) })
        }
        if let requestMetadata {
            o["requestMetadata"] = .object(JSONObject(requestMetadata.sorted { $0.key < $1.key }
                .map { ($0.key, .string($0.value)) }))
        }
        if let performanceLatency { o["performanceConfig"] = ["latency": .string(performanceLatency)] }
        if let serviceTier { o["serviceTier"] = ["type": .string(serviceTier)] }
        if let outputConfig { o["outputConfig"] = outputConfig }
        return .object(o)
    }

    /// Reads a request body (as the emulator receives it).
    public init(modelId: String, body: JSONValue) throws(ConverseDecodingError) {
        guard body.objectValue != nil else { throw ConverseDecodingError("the body must be a JSON object") }
        var messages: [Message] = []
        if let list = body["messages"] {
            guard let array = list.arrayValue else { throw ConverseDecodingError("messages must be a list") }
            for m in array { messages.append(try Message(json: m)) }
        }
        self.init(modelId: modelId, messages: messages)
        if let list = body["system"]?.arrayValue {
            var blocks: [SystemContentBlock] = []
            for s in list { blocks.append(try SystemContentBlock(json: s)) }
            system = blocks
        }
        if let ic = body["inferenceConfig"] {
            guard ic.objectValue != nil else { throw ConverseDecodingError("inferenceConfig must be an object") }
            if let v = ic["maxTokens"], v.intValue == nil { throw ConverseDecodingError("maxTokens must be an integer") }
            inferenceConfig = InferenceConfiguration(
                maxTokens: ic["maxTokens"]?.intValue, temperature: ic["temperature"]?.doubleValue,
                topP: ic["topP"]?.doubleValue, stopSequences: ic["stopSequences"]?.arrayValue?.compactMap(\.stringValue))
        }
        if let tc = body["toolConfig"] {
            guard let list = tc["tools"]?.arrayValue else { throw ConverseDecodingError("toolConfig needs tools") }
            var tools: [Tool] = []
            for t in list { tools.append(try Tool(json: t)) }
            var choice: ToolChoice?
            if let c = tc["toolChoice"] {
                if c["auto"] != nil { choice = .auto } else if c["any"] != nil { choice = .any } else if let name = c["tool"]?["name"]?.stringValue {
                    choice = .tool(name: name)
                } else {
                    throw ConverseDecodingError("toolChoice must be auto, any or tool")
                }
            }
            toolConfig = ToolConfiguration(tools: tools, toolChoice: choice)
        }
        guardrailConfig = body["guardrailConfig"]
        additionalModelRequestFields = body["additionalModelRequestFields"]
        additionalModelResponseFieldPaths = body["additionalModelResponseFieldPaths"]?.arrayValue?.compactMap(\.stringValue)
        if let pv = body["promptVariables"]?.objectValue {
            promptVariables = Dictionary(uniqueKeysWithValues: pv.members.compactMap { m in
                m.value["text"]?.stringValue.map { (m.key, $0) }
            })
        }
        if let rm = body["requestMetadata"]?.objectValue {
            requestMetadata = Dictionary(uniqueKeysWithValues: rm.members.compactMap { m in
                m.value.stringValue.map { (m.key, $0) }
            })
        }
        performanceLatency = body["performanceConfig"]?["latency"]?.stringValue
        serviceTier = body["serviceTier"]?["type"]?.stringValue
        outputConfig = body["outputConfig"]
    }
}

extension TokenUsage {
    public var json: JSONValue {
        var o: JSONObject = ["inputTokens": .integer(Int64(inputTokens)), "outputTokens": .integer(Int64(outputTokens)),
                             "totalTokens": .integer(Int64(totalTokens))]
        if let v = cacheReadInputTokens { o["cacheReadInputTokens"] = .integer(Int64(v)) }
        if let v = cacheWriteInputTokens { o["cacheWriteInputTokens"] = .integer(Int64(v)) }
        return .object(o)
    }
}

extension ConverseResponse {
    /// The response body, as the service sends it.
    public var bodyJSON: JSONValue {
        var o = JSONObject()
        if let message { o["output"] = ["message": message.json] }
        o["stopReason"] = .string(stopReason.rawValue)
        o["usage"] = usage.json
        o["metrics"] = ["latencyMs": .integer(Int64(latencyMs))]
        if let additionalModelResponseFields { o["additionalModelResponseFields"] = additionalModelResponseFields }
        if let trace { o["trace"] = trace }
        if let performanceLatency { o["performanceConfig"] = ["latency": .string(performanceLatency)] }
        if let serviceTier { o["serviceTier"] = ["type": .string(serviceTier)] }
        return .object(o)
    }

    /// Reads a response body; `output`, `stopReason`, `usage` and `metrics` are required.
    public init(body: JSONValue, requestId: String?) throws(ConverseDecodingError) {
        guard let output = body["output"] else { throw ConverseDecodingError("the answer has no output") }
        var message: Message?
        if let m = output["message"] { message = try Message(json: m) }
        guard let stop = body["stopReason"]?.stringValue else { throw ConverseDecodingError("the answer has no stopReason") }
        guard let usage = body["usage"], let input = usage["inputTokens"]?.intValue,
              let outputTokens = usage["outputTokens"]?.intValue
        else { throw ConverseDecodingError("the answer has no usage") }
        guard let latency = body["metrics"]?["latencyMs"]?.intValue else {
            throw ConverseDecodingError("the answer has no metrics.latencyMs")
        }
        self.init(
            message: message, stopReason: StopReason(stop),
            usage: TokenUsage(inputTokens: input, outputTokens: outputTokens,
                              totalTokens: usage["totalTokens"]?.intValue ?? input + outputTokens,
                              cacheReadInputTokens: usage["cacheReadInputTokens"]?.intValue,
                              cacheWriteInputTokens: usage["cacheWriteInputTokens"]?.intValue),
            latencyMs: latency, additionalModelResponseFields: body["additionalModelResponseFields"],
            trace: body["trace"], performanceLatency: body["performanceConfig"]?["latency"]?.stringValue,
            serviceTier: body["serviceTier"]?["type"]?.stringValue, requestId: requestId)
    }
}
