import AWSCore
import AWSServices
import Foundation

/// An error the emulator answers with, shaped like Bedrock's.
public struct EmulatedError: Error, Sendable, Equatable {
    public var code: String
    public var status: Int
    public var message: String

    public init(code: String, status: Int, message: String) {
        self.code = code
        self.status = status
        self.message = message
    }

    public static func validation(_ message: String) -> EmulatedError {
        EmulatedError(code: "ValidationException", status: 400, message: message)
    }

    /// Bedrock's errors by code, with their statuses (for `[[error:CODE]]` directives).
    public static let statuses: [String: Int] = [
        "AccessDeniedException": 403, "ResourceNotFoundException": 404, "ThrottlingException": 429,
        "ModelTimeoutException": 408, "InternalServerException": 500, "ServiceUnavailableException": 503,
        "ValidationException": 400, "ModelNotReadyException": 429, "ModelErrorException": 424,
        "ServiceQuotaExceededException": 400, "UnrecognizedClientException": 403, "ExpiredTokenException": 403,
    ]
}

/// The emulated model: checks a request as Bedrock does and answers it deterministically, so
/// that tests can assert what the model saw.
///
/// The answer to a text conversation is `Echo: ` followed by the last user message's text, after
/// a note of each document or image in that message (``mediaEcho(_:)``). With
/// `toolChoice` naming a tool (or `any`), the answer is a toolUse whose input satisfies the tool's
/// input schema. Directives in the last user text (a follow-up turn that only holds tool results
/// keeps the directives of the prompt before it) steer a call: `[[error:CODE]]` answers with that
/// Bedrock error, `[[latency:MS]]` sets the latency, `[[tool-input:JSON]]` makes the toolUse
/// input exactly that JSON, and `[[wrong-tool-input:N]]` makes the first N answers of a
/// conversation (counted by the tool results already in it) break the tool's input schema.
public enum EmulatedModel {
    /// Checks the request as Bedrock's front door does.
    public static func validate(_ request: ConverseRequest, defaultMaxTokens: Int) throws(EmulatedError) {
        guard !request.messages.isEmpty else {
            throw .validation("A conversation must start with a user message. Try again with a conversation that starts with a user message.")
        }
        guard request.messages.first?.role == .user else {
            throw .validation("A conversation must start with a user message. Try again with a conversation that starts with a user message.")
        }
        guard request.messages.last?.role == .user else {
            throw .validation("A conversation must end with a user message. Try again with a conversation that ends with a user message.")
        }
        for (index, message) in request.messages.enumerated() {
            if case .other(let role) = message.role {
                throw .validation("1 validation error detected: Value '\(role)' at 'messages.\(index + 1).member.role' failed to satisfy constraint: Member must satisfy enum value set: [user, assistant]")
            }
            if index > 0, request.messages[index - 1].role == message.role {
                throw .validation("A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.")
            }
            if message.content.isEmpty {
                throw .validation("The content field in the Message object at messages.\(index).content is empty. Add a ContentBlock object to the content field and try again.")
            }
            for block in message.content {
                if case .text(let text) = block, text.isEmpty {
                    throw .validation("The text field in the ContentBlock object at messages.\(index).content.0 is blank. Add text to the text field, and try again.")
                }
            }
        }
        try validateMedia(request)
        if let config = request.inferenceConfig {
            if let maxTokens = config.maxTokens, maxTokens < 1 {
                throw .validation("1 validation error detected: Value '\(maxTokens)' at 'inferenceConfig.maxTokens' failed to satisfy constraint: Member must have value greater than or equal to 1")
            }
            if let t = config.temperature, !(0...1).contains(t) {
                throw .validation("1 validation error detected: Value '\(t)' at 'inferenceConfig.temperature' failed to satisfy constraint: Member must have value less than or equal to 1")
            }
            if let p = config.topP, !(0...1).contains(p) {
                throw .validation("1 validation error detected: Value '\(p)' at 'inferenceConfig.topP' failed to satisfy constraint: Member must have value less than or equal to 1")
            }
        }
        try validateToolTurns(request)
        if let tools = request.toolConfig {
            let names = tools.tools.compactMap { if case .toolSpec(let s) = $0 { return s.name } else { return nil } }
            if names.isEmpty { throw .validation("The toolConfig field must be defined when using toolUse and toolResult content blocks.") }
            if case .tool(let name) = tools.toolChoice, !names.contains(name) {
                throw .validation("The tool \(name) named in toolChoice is not one of the tools in toolConfig.")
            }
        }
    }

    /// Image and document blocks as Bedrock checks them: formats, document names, sizes, counts.
    static func validateMedia(_ request: ConverseRequest) throws(EmulatedError) {
        var documents = 0
        var images = 0
        var names = Set<String>()
        for (index, message) in request.messages.enumerated() {
            for block in message.content {
                switch block {
                case .document(let d):
                    documents += 1
                    if let format = d.format, !ConverseMedia.documentFormats.contains(format) {
                        throw .validation("1 validation error detected: Value '\(format)' at 'messages.\(index + 1).member.content.member.document.format' failed to satisfy constraint: Member must satisfy enum value set: [\(ConverseMedia.documentFormats.joined(separator: ", "))]")
                    }
                    if !ConverseMedia.isValidDocumentName(d.name) {
                        throw .validation("The document file name can only contain alphanumeric characters, whitespace characters, hyphens, parentheses, and square brackets. The name can't contain more than one consecutive whitespace character.")
                    }
                    if !names.insert(d.name).inserted {
                        throw .validation("The document name '\(d.name)' is used more than once. Give each document a unique name.")
                    }
                    if case .bytes(let data) = d.source {
                        if data.isEmpty { throw .validation("The document at messages.\(index).content is empty.") }
                        if data.count > ConverseMedia.maxDocumentBytes {
                            throw .validation("The document at messages.\(index).content is \(data.count) bytes; the maximum is \(ConverseMedia.maxDocumentBytes).")
                        }
                    }
                case .image(let i):
                    images += 1
                    if !ConverseMedia.imageFormats.contains(i.format) {
                        throw .validation("1 validation error detected: Value '\(i.format)' at 'messages.\(index + 1).member.content.member.image.format' failed to satisfy constraint: Member must satisfy enum value set: [\(ConverseMedia.imageFormats.joined(separator: ", "))]")
                    }
                    if case .bytes(let data) = i.source {
                        if data.isEmpty { throw .validation("The image at messages.\(index).content is empty.") }
                        if data.count > ConverseMedia.maxImageBytes {
                            throw .validation("The image at messages.\(index).content is \(data.count) bytes; the maximum is \(ConverseMedia.maxImageBytes).")
                        }
                    }
                default:
                    break
                }
            }
        }
        if documents > ConverseMedia.maxDocuments {
            throw .validation("Too many documents: \(documents); a request may have at most \(ConverseMedia.maxDocuments).")
        }
        if images > ConverseMedia.maxImages {
            throw .validation("Too many images: \(images); a request may have at most \(ConverseMedia.maxImages).")
        }
    }

    /// What the model saw of the last user message's images and documents, for its answer:
    /// `[document NAME (pdf, 1234 bytes)] `, so tests can check that the bytes arrived whole.
    static func mediaEcho(_ request: ConverseRequest) -> String {
        let content = request.messages.last { $0.role == .user }?.content ?? []
        return content.compactMap { block -> String? in
            func size(_ source: MediaSource) -> String {
                if case .bytes(let data) = source { return ", \(data.count) bytes, fnv \(String(StableHash.fnv1a(bytes: data), radix: 16))" }
                return ""
            }
            switch block {
            case .document(let d): return "[document \(d.name) (\(d.format ?? "-")\(size(d.source)))] "
            case .image(let i): return "[image (\(i.format)\(size(i.source)))] "
            default: return nil
            }
        }.joined()
    }

    /// The text of the last user message that has text (its text blocks, joined).
    public static func lastUserText(_ request: ConverseRequest) -> String {
        request.messages.last { $0.role == .user && !$0.text.isEmpty }?.text ?? ""
    }

    static func toolUseIDs(_ message: Message) -> [String] {
        message.content.compactMap { if case .toolUse(let t) = $0 { return t.toolUseId } else { return nil } }
    }

    static func toolResultIDs(_ message: Message) -> [String] {
        message.content.compactMap { if case .toolResult(let r) = $0 { return r.toolUseId } else { return nil } }
    }

    /// Tool turns as Bedrock checks them: toolUse and toolResult blocks need a toolConfig, an
    /// assistant's toolUse blocks are answered by toolResult blocks with the same ids in the next
    /// turn, and a toolResult answers a toolUse of the turn before.
    static func validateToolTurns(_ request: ConverseRequest) throws(EmulatedError) {
        for (index, message) in request.messages.enumerated() {
            let uses = toolUseIDs(message)
            let results = toolResultIDs(message)
            if (!uses.isEmpty || !results.isEmpty) && request.toolConfig == nil {
                throw .validation("The toolConfig field must be defined when using toolUse and toolResult content blocks.")
            }
            if !uses.isEmpty, index + 1 < request.messages.count {
                let answered = Set(toolResultIDs(request.messages[index + 1]))
                let missing = uses.filter { !answered.contains($0) }
                if !missing.isEmpty {
                    throw .validation("Expected toolResult blocks at messages.\(index + 1).content for the following Ids: \(missing.joined(separator: ", "))")
                }
            }
            if !results.isEmpty {
                let asked = index > 0 ? Set(toolUseIDs(request.messages[index - 1])) : []
                if results.contains(where: { !asked.contains($0) }) {
                    throw .validation("The number of toolResult blocks at messages.\(index).content exceeds the number of toolUse blocks of previous turn.")
                }
            }
        }
    }

    /// The estimate Bedrock-like quotas use: a token per four characters, rounded up.
    public static func tokens(forCharacters count: Int) -> Int { (count + 3) / 4 }

    /// Input tokens of a request: its system and message text, tool blocks by their JSON, and
    /// images and documents as ``ConverseMedia`` counts them (images by their pixel size).
    public static func inputTokens(_ request: ConverseRequest) -> Int {
        var characters = 0
        var media = 0
        for block in request.system ?? [] {
            if case .text(let t) = block { characters += t.count }
        }
        // tool definitions are input, as Bedrock counts them
        for tool in request.toolConfig?.tools ?? [] { characters += tool.json.serialized().count }
        for message in request.messages {
            for block in message.content {
                switch block {
                case .text(let t): characters += t.count
                case .document, .image: media += ConverseMedia.tokens(block)
                case .toolUse(let t): characters += t.input.serialized().count
                case .toolResult(let r): characters += r.content.reduce(0) { $0 + $1.json.serialized().count }
                default: break
                }
            }
        }
        return max(1, tokens(forCharacters: characters) + media)
    }

    /// A directive `[[name:value]]` in the text, if present.
    public static func directive(_ name: String, in text: String) -> String? {
        guard let start = text.range(of: "[[\(name):") else { return nil }
        guard let end = text.range(of: "]]", range: start.upperBound..<text.endIndex) else { return nil }
        return String(text[start.upperBound..<end.lowerBound])
    }

    /// The answer to a valid request.
    public static func answer(_ request: ConverseRequest, defaultMaxTokens: Int, latencyMs: Int) throws(EmulatedError)
        -> ConverseResponse
    {
        let text = lastUserText(request)
        if let code = directive("error", in: text) {
            throw EmulatedError(code: code, status: EmulatedError.statuses[code] ?? 400,
                                message: "Emulated \(code) requested by the prompt.")
        }
        let input = inputTokens(request)
        let maxTokens = request.inferenceConfig?.maxTokens ?? defaultMaxTokens
        if let tools = request.toolConfig, let name = forcedTool(tools) {
            let spec = tools.tools.compactMap { if case .toolSpec(let s) = $0, s.name == name { return s } else { return nil } }.first
            var toolInput: JSONValue
            let schema = spec?.inputSchema ?? ["type": "object"]
            // this answer's number in the conversation: one more than the tool results sent back
            let answer = request.messages.filter { $0.role == .user && !toolResultIDs($0).isEmpty }.count + 1
            if let wrong = directive("wrong-tool-input", in: text).flatMap(Int.init), answer <= wrong {
                toolInput = SchemaSampler.violating(schema, seed: stableHash(text))
            } else if let forced = directive("tool-input", in: text), let parsed = try? JSONValue.parse(Data(forced.utf8)) {
                toolInput = parsed
            } else {
                toolInput = SchemaSampler.sample(schema, seed: stableHash(text))
            }
            let output = tokens(forCharacters: toolInput.serialized().count)
            let block = ToolUseBlock(toolUseId: "tooluse_\(String(stableHash(text + name + "#\(answer)"), radix: 36))", name: name,
                                     input: toolInput)
            return ConverseResponse(
                message: Message(role: .assistant, content: [.toolUse(block)]), stopReason: .toolUse,
                usage: TokenUsage(inputTokens: input, outputTokens: output, totalTokens: input + output),
                latencyMs: latencyMs)
        }
        var reply = "Echo: " + mediaEcho(request) + text
        var stop = StopReason.endTurn
        if let sequences = request.inferenceConfig?.stopSequences {
            for sequence in sequences where !sequence.isEmpty {
                if let range = reply.range(of: sequence) {
                    reply = String(reply[..<range.lowerBound])
                    stop = .stopSequence
                }
            }
        }
        if tokens(forCharacters: reply.count) > maxTokens {
            reply = String(reply.prefix(maxTokens * 4))
            stop = .maxTokens
        }
        let output = tokens(forCharacters: reply.count)
        return ConverseResponse(
            message: .assistant(reply), stopReason: stop,
            usage: TokenUsage(inputTokens: input, outputTokens: output, totalTokens: input + output),
            latencyMs: latencyMs)
    }

    static func forcedTool(_ config: ToolConfiguration) -> String? {
        switch config.toolChoice {
        case .tool(let name): return name
        case .any:
            for tool in config.tools { if case .toolSpec(let s) = tool { return s.name } }
            return nil
        case .auto, .none: return nil
        }
    }

    /// The same text gives the same number in every run.
    public static func stableHash(_ text: String) -> UInt64 { StableHash.fnv1a(text) }
}

/// Makes a JSON value that satisfies a JSON Schema (the subset tools use: type, properties,
/// required, enum, const, items, minItems, minimum/maximum, minLength/maxLength, anyOf/oneOf).
/// Enum choices depend on `seed`, so different prompts get different (but repeatable) answers.
public enum SchemaSampler {
    /// A value that breaks `schema`: a conforming sample whose first required (else first)
    /// property holds a value of the wrong kind; for a schema without properties, a string.
    public static func violating(_ schema: JSONValue, seed: UInt64) -> JSONValue {
        guard case .object(var object) = sample(schema, seed: seed), let properties = schema["properties"]?.objectValue,
              let name = schema["required"]?.arrayValue?.first?.stringValue ?? properties.keys.first
        else { return .string("not an object") }
        object[name] = wrongValue(for: properties[name] ?? [:])
        return .object(object)
    }

    /// A value `schema` refuses: outside its enum, else of another type.
    static func wrongValue(for schema: JSONValue) -> JSONValue {
        if schema["enum"] != nil { return .string("none-of-the-allowed-values") }
        switch schema["type"]?.stringValue {
        case "string": return .integer(12345)
        case "integer", "number": return .string("not a number")
        case "boolean", "array", "object", "null": return .string("not a \(schema["type"]!.stringValue!)")
        default: return .null
        }
    }

    public static func sample(_ schema: JSONValue, seed: UInt64, depth: Int = 0) -> JSONValue {
        guard depth < 16 else { return .null }
        if let constant = schema["const"] { return constant }
        if let options = schema["enum"]?.arrayValue, !options.isEmpty {
            return options[Int(seed % UInt64(options.count))]
        }
        if let choices = (schema["anyOf"] ?? schema["oneOf"])?.arrayValue, let first = choices.first {
            return sample(first, seed: seed, depth: depth + 1)
        }
        var type = schema["type"]?.stringValue
        if type == nil, let types = schema["type"]?.arrayValue { type = types.first { $0 != "null" }?.stringValue }
        if type == nil { type = schema["properties"] != nil ? "object" : (schema["items"] != nil ? "array" : "string") }
        switch type {
        case "object":
            var object = JSONObject()
            let properties = schema["properties"]?.objectValue ?? JSONObject()
            for (index, member) in properties.enumerated() {
                object[member.key] = sample(member.value, seed: seed &+ UInt64(index) &* 31, depth: depth + 1)
            }
            return .object(object)
        case "array":
            let count = max(schema["minItems"]?.intValue ?? 1, 1)
            let limited = min(count, schema["maxItems"]?.intValue ?? count)
            let items = schema["items"] ?? ["type": "string"]
            return .array((0..<limited).map { sample(items, seed: seed &+ UInt64($0), depth: depth + 1) })
        case "integer":
            let low = schema["minimum"]?.intValue ?? schema["exclusiveMinimum"]?.intValue.map { $0 + 1 } ?? 0
            let high = schema["maximum"]?.intValue ?? schema["exclusiveMaximum"]?.intValue.map { $0 - 1 } ?? max(low, 100)
            guard high >= low else { return .integer(Int64(low)) }
            return .integer(Int64(low + Int(seed % UInt64(high - low + 1))))
        case "number":
            let low = schema["minimum"]?.doubleValue ?? 0
            let high = schema["maximum"]?.doubleValue ?? max(low, 1)
            return .double(low + (high - low) * Double(seed % 1000) / 1000)
        case "boolean":
            return .bool(seed % 2 == 0)
        case "null":
            return .null
        default:
            let minLength = schema["minLength"]?.intValue ?? 0
            let maxLength = schema["maxLength"]?.intValue ?? Int.max
            var text = "sample"
            while text.count < minLength { text += "x" }
            if text.count > maxLength { text = String(text.prefix(maxLength)) }
            return .string(text)
        }
    }
}
