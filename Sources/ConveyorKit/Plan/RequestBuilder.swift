import AWSCore
import AWSServices
import Foundation

/// Turns a work item (and its input text) into the Converse request and the output location,
/// by rendering the job's templates.
public struct RequestBuilder: Sendable {
    public let job: Job
    public let prompts: ResolvedPrompts
    public let run: TemplateValues.Run

    public init(job: Job, prompts: ResolvedPrompts, run: TemplateValues.Run) {
        self.job = job
        self.prompts = prompts
        self.run = run
    }

    public func values(for item: WorkItem, input: String?) -> TemplateValues {
        var record: TemplateRecord?
        var text = input
        if case .record(let raw, let fields) = item.source {
            record = fields
            text = raw
        }
        return TemplateValues(run: run, item: TemplateValues.Item(id: item.id, index: item.index, key: item.key, input: text,
                                                                  record: record))
    }

    /// The request for `item`; `input` is the text of its input object, if it has one, and
    /// `attachment` its bytes when `inputs.as` is document or image: that block goes first in the
    /// last user turn, before the turn's text.
    public func request(for item: WorkItem, input: String?, attachment: InputAttachment? = nil) throws(TemplateRenderError)
        -> ConverseRequest
    {
        let values = values(for: item, input: input)
        var messages: [Message] = []
        if case .prompt(let id, _) = item.source, let template = job.templates.items[id]?.prompt {
            messages = [.user(try template.render(values))]
        } else if let prompt = prompts.prompt {
            messages = [.user(try prompt.render(values))]
        } else {
            for (role, template) in job.templates.messages {
                messages.append(Message(role: role == .user ? .user : .assistant, content: [.text(try template.render(values))]))
            }
        }
        if let attachment, let last = messages.lastIndex(where: { $0.role == .user }) {
            messages[last].content.insert(attachment.block, at: 0)
        }
        var system: [SystemContentBlock]?
        if let template = prompts.system { system = [.text(try template.render(values))] }
        let model = job.model
        var inference: InferenceConfiguration?
        if model.maxTokens != nil || model.temperature != nil || model.topP != nil || model.stopSequences != nil {
            inference = InferenceConfiguration(maxTokens: model.maxTokens, temperature: model.temperature, topP: model.topP,
                                               stopSequences: model.stopSequences)
        }
        return ConverseRequest(
            modelId: model.id, messages: messages, system: system, inferenceConfig: inference,
            toolConfig: StructuredOutput(job: job)?.toolConfiguration, additionalModelRequestFields: model.additionalFields,
            requestMetadata: ["conveyor-job": Self.metadataValue(job.name), "conveyor-run": Self.metadataValue(run.runID),
                              "conveyor-item": Self.metadataValue(item.id)])
    }

    /// Where `item`'s result goes.
    public func output(for item: WorkItem, input: String? = nil) throws(TemplateRenderError) -> StorageURI {
        var template = job.templates.output
        if case .prompt(let id, _) = item.source, let own = job.templates.items[id]?.output { template = own }
        let location = try template.render(values(for: item, input: input))
        return Self.uri(location, base: job.baseDirectory)
    }

    /// The report's location, if the job has one.
    public func report() throws(TemplateRenderError) -> StorageURI? {
        guard let template = job.templates.report else { return nil }
        return Self.uri(try template.render(TemplateValues(run: run, item: nil)), base: job.baseDirectory)
    }

    static func uri(_ location: OutputLocation, base: String) -> StorageURI {
        switch location.store {
        case .s3(let bucket): return .s3(bucket: bucket, key: location.key)
        case .local(let root): return StorageURI.file(path: root + location.key).resolved(against: base)
        }
    }

    /// requestMetadata values allow `[a-zA-Z0-9\s:_@$#=/+,-.]`, up to 256 characters.
    static func metadataValue(_ text: String) -> String {
        // the usual case, an id of allowed ASCII, without building a character set
        let utf8 = text.utf8
        if utf8.count <= 256, utf8.allSatisfy({ $0 < 128 && metadataAllowedASCII[Int($0)] }) { return text }
        return String(String(text.map { metadataAllowed.contains($0) ? $0 : "_" }).prefix(256))
    }

    private static let metadataAllowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 :_@$#=/+,-.")
    private static let metadataAllowedASCII: [Bool] = (0..<128).map { byte in
        metadataAllowed.contains(Character(Unicode.Scalar(UInt8(byte))))
    }
}
