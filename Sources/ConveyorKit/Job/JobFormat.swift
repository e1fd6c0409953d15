import AWSCore

/// The shape of a job file, version 1: one declaration that the loader checks files against
/// (unknown keys, types, enums, required keys) and that `conveyor schema` turns into a JSON
/// Schema for editors. Keeping both in one place keeps them in sync.
public indirect enum JobShape: Sendable {
    case string(enumeration: [String]? = nil, pattern: String? = nil, patternHint: String? = nil)
    case integer(minimum: Int? = nil, maximum: Int? = nil)
    case number(minimum: Double? = nil, maximum: Double? = nil)
    case boolean
    /// `5s`, `2m`, `1h`, `500ms`, or a number of seconds.
    case duration
    /// A count (`10`) or a percentage of the items (`"5%"`).
    case countOrPercent
    /// `s3://bucket/key`, `file:///abs/path`, or a relative path (the local store); may hold templates.
    case uri
    /// Text with `{{variables}}`.
    case template
    /// Text, `{ssm: /name}` (decrypted) or `{s3: s3://bucket/key}`.
    case textSource
    /// One value of `element`, or a list of them.
    case oneOrMany(JobShape)
    case object([JobField], additional: JobShape? = nil)
    case array(JobShape, minItems: Int = 0)
    /// Any JSON value (passed through to the model).
    case anyJSON
    /// `output.schema`: a JSON Schema using the keywords ``OutputSchema`` validates.
    case outputSchema
}

public struct JobField: Sendable {
    public var name: String
    public var shape: JobShape
    public var description: String
    public var required: Bool
    public var defaultValue: JSONValue?

    public init(_ name: String, _ shape: JobShape, required: Bool = false, default defaultValue: JSONValue? = nil,
                _ description: String) {
        self.name = name
        self.shape = shape
        self.description = description
        self.required = required
        self.defaultValue = defaultValue
    }
}

public enum JobFormat {
    public static let namePattern = "^[a-z0-9][a-z0-9-]*$"
    public static let durationPattern = "^[0-9]+(\\.[0-9]+)?(ms|s|m|h)$"
    public static let percentPattern = "^[0-9]+(\\.[0-9]+)?%$"

    static let model = JobShape.object([
        JobField("id", .string(), required: true,
                 "Model id, inference-profile id (us., eu., apac., global.) or ARN, as Converse takes it."),
        JobField("region", .string(pattern: "^[a-z0-9-]+$", patternHint: "a region name such as eu-west-2"),
                 "Region of the model; else AWS_REGION, AWS_DEFAULT_REGION, then the profile's region."),
        JobField("maxTokens", .integer(minimum: 1),
                 "inferenceConfig.maxTokens. Set it: Bedrock reserves this many output tokens against the quota for every call."),
        JobField("temperature", .number(minimum: 0, maximum: 1), "inferenceConfig.temperature."),
        JobField("topP", .number(minimum: 0, maximum: 1), "inferenceConfig.topP."),
        JobField("stopSequences", .array(.string()), "inferenceConfig.stopSequences."),
        JobField("additionalFields", .anyJSON, "additionalModelRequestFields: passed to the model as they are (e.g. top_k)."),
        JobField("pricing", .object([
            JobField("inputPer1k", .number(minimum: 0), "USD per 1,000 input tokens."),
            JobField("outputPer1k", .number(minimum: 0), "USD per 1,000 output tokens."),
            JobField("inputPerMillion", .number(minimum: 0), "USD per 1,000,000 input tokens (instead of inputPer1k)."),
            JobField("outputPerMillion", .number(minimum: 0), "USD per 1,000,000 output tokens (instead of outputPer1k)."),
            JobField("burndown", .integer(minimum: 1), "How many times output tokens count against the token quota."),
        ]), "Prices for cost estimates and budgets, overriding Conveyor's table (which may not know the model): inputPer1k and outputPer1k, or inputPerMillion and outputPerMillion."),
    ])

    static let message = JobShape.object([
        JobField("role", .string(enumeration: ["user", "assistant"]), required: true, "Who says this turn."),
        JobField("text", .template, required: true, "The turn's text, a template."),
    ])

    static let inputs = JobShape.object([
        JobField("s3", .oneOrMany(.uri), required: true,
                 "Input location(s): a key, or a prefix ending in '/' whose objects are listed; s3://, file:// or a relative path."),
        JobField("include", .array(.string()), "Globs on the key below the prefix; an object must match one (default: all)."),
        JobField("exclude", .array(.string()), "Globs on the key below the prefix; an object matching one is skipped."),
        JobField("format", .string(enumeration: ["text", "jsonl", "csv"]), default: "text",
                 "text: one item per object; jsonl: one item per line; csv: one item per row (first row is the header)."),
        JobField("idField", .string(), "For jsonl and csv: the field holding each record's id (default: KEY#LINE)."),
        JobField("maxBytes", .integer(minimum: 1), default: 1_048_576,
                 "Largest input object (text) or record read; larger ones fail with InputTooLarge. With `as: document` or `image` the default (and the most) is Bedrock's limit: 4,500,000 or 3,750,000 bytes."),
        JobField("as", .string(enumeration: ["text", "document", "image"]), default: "text",
                 "text: the object is {{input}}; document (pdf csv doc docx xls xlsx html txt md) or image (png jpeg gif webp): the object is attached to the last user turn as that block, its format from the key's extension. Format text only."),
    ])

    static let promptItem = JobShape.object([
        JobField("id", .string(pattern: "^[A-Za-z0-9][A-Za-z0-9._-]*$", patternHint: "letters, digits, '.', '_' and '-'"),
                 required: true, "The item's id, unique in the job."),
        JobField("prompt", .template, required: true, "The prompt, a template; {{input}} is the text of `input` if given."),
        JobField("input", .uri, "An object whose text is {{input}}."),
        JobField("output", .uri, "Where this item's result goes; default: output.s3."),
    ])

    static let output = JobShape.object([
        JobField("s3", .uri, required: true,
                 "Output key template, rendered per item; must differ per item (use {{item.name}}, {{item.id}}, ...)."),
        JobField("format", .string(enumeration: ["json", "text", "jsonl"]), default: "json",
                 "json: the output record (text, usage, latency, ...; the value under json with a schema); text: the model's text only (with a schema, the value); jsonl: json, and every item's value collected into output.collect at the end of the run."),
        JobField("onExisting", .string(enumeration: ["skip", "overwrite", "fail"]), default: "skip",
                 "What to do when an item's output exists: skip (resume), overwrite, or fail the item."),
        JobField("schema", .outputSchema, "A JSON Schema (type: object) the answer must satisfy: every call forces a tool with this input schema, and the answer is validated. Keywords: type, properties, required, enum, items, minimum, maximum, minLength, maxLength, minItems, maxItems, additionalProperties, description, title."),
        JobField("schemaRetries", .integer(minimum: 0, maximum: 10), default: 2,
                 "Follow-up calls after an answer that does not fit output.schema, each sending the errors back; then the item fails with SchemaMismatch."),
        JobField("collect", .uri, "With format jsonl: where every item's value goes at the end of the run, one JSON line per item (a template with run-wide variables)."),
    ])

    static let limits = JobShape.object([
        JobField("concurrency", .integer(minimum: 1, maximum: 4096), default: 16, "Most model calls in flight."),
        JobField("requestsPerMinute", .number(minimum: 0.01), "Client-side cap on calls per minute."),
        JobField("tokensPerMinute", .number(minimum: 1),
                 "Client-side cap on tokens per minute (input + maxTokens reserved per call, as Bedrock counts)."),
        JobField("maxAttempts", .integer(minimum: 1, maximum: 100), default: 10,
                 "Attempts per model call, throttles included, before the item fails."),
        JobField("connectTimeout", .duration, default: "5s", "Longest wait to connect."),
        JobField("readTimeout", .duration, default: "60s", "Longest silence while waiting for an answer."),
        JobField("maxFailures", .countOrPercent, "Stop early (exit 4) once more items than this have failed: a count or \"5%\"."),
        JobField("budgetUSD", .number(minimum: 0), "Stop admitting calls before the estimated cost passes this (exit 4)."),
        JobField("scope", .string(enumeration: ["job", "shard"]), default: "job",
                 "With --shard I/N: job (requestsPerMinute, tokensPerMinute and budgetUSD are the whole job's, each shard takes 1/N) or shard (each shard gets them whole)."),
        JobField("probe", .boolean, default: true,
                 "true: until one item has succeeded end to end (call and output written), items go one at a time, so a wrong model, permission or output bucket costs one call; false: start concurrency items at once (saves about one item's time per run; a broken job can cost up to concurrency calls)."),
    ])

    static let batch = JobShape.object([
        JobField("roleArn", .string(pattern: "^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", patternHint: "an IAM role ARN"),
                 "The service role Bedrock assumes to read and write the staging prefix."),
        JobField("staging", .uri, "Prefix for the batch records and results (s3://...)."),
        JobField("minRecords", .integer(minimum: 1), default: 100, "Below this many items, say so and suggest ondemand."),
        JobField("timeoutHours", .integer(minimum: 24, maximum: 168), default: 24, "Batch job timeout."),
        JobField("maxRecords", .integer(minimum: 1), default: 50000,
                 "Most records per batch job (the quota \"Records per batch inference job\"); more items make more jobs."),
        JobField("maxFileMB", .integer(minimum: 1), default: 1024,
                 "Most megabytes per batch job's input file (\"Batch inference input file size\"); one file per job."),
        JobField("maxJobs", .integer(minimum: 1), default: 10,
                 "Most batch jobs submitted or in progress at once (the per-model quota)."),
        JobField("pollInterval", .duration, default: "60s", "First wait between status checks; doubles up to 10m."),
    ])

    /// The whole file.
    public static let root = JobShape.object([
        JobField("version", .integer(minimum: 1, maximum: 1), required: true, "Job file format version: 1."),
        JobField("name", .string(pattern: namePattern, patternHint: "lowercase letters, digits and '-', starting with a letter or digit"),
                 required: true, "The job's name, used in run ids, reports and lock names."),
        JobField("description", .string(), "What the job is for."),
        JobField("model", model, required: true, "The model and its inference settings."),
        JobField("system", .textSource, "The system prompt: text (a template), {ssm: /name} or {s3: s3://bucket/key}."),
        JobField("prompt", .textSource, "The prompt template, or {ssm: ...} / {s3: ...}. Use `prompt` or `messages`."),
        JobField("messages", .array(message, minItems: 1),
                 "A multi-turn conversation instead of `prompt`; the last turn is the user's."),
        JobField("inputs", inputs, "Form A: one item per input object, line or row."),
        JobField("prompts", .array(promptItem, minItems: 1), "Form B: explicit items, instead of or beside `inputs`."),
        JobField("output", output, required: true, "Where and how results are written."),
        JobField("report", .uri, "Where the run report goes (a template); the item manifest is written beside it."),
        JobField("limits", limits, "Concurrency, client-side rate caps, retries, timeouts and stop conditions."),
        JobField("vars", .object([], additional: .string()), "Values for {{vars.NAME}}, overridden by --var NAME=VALUE."),
        JobField("engine", .string(enumeration: ["ondemand", "batch"]), default: "ondemand",
                 "ondemand: Converse calls; batch: Bedrock batch inference at the batch price (see batch; --engine overrides)."),
        JobField("batch", batch, "Settings for engine batch."),
    ])

    /// The JSON Schema (draft-07) of a job file, for yaml-language-server and other editors.
    public static func jsonSchema() -> JSONValue {
        var schema = schemaFor(root)
        if case .object(var object) = schema {
            var head: JSONObject = [
                "$schema": "http://json-schema.org/draft-07/schema#",
                "$id": "https://conveyor.dev/schema/conveyor-job-v1.json",
                "title": "Conveyor job file, version 1",
                "description": "A batch of prompts for Amazon Bedrock: model, inputs, prompt, outputs and limits. See docs/job-format.md.",
            ]
            for (key, value) in object { head[key] = value }
            head["definitions"] = ["outputSchema": outputSchemaDefinition]
            object = head
            schema = .object(object)
        }
        return schema
    }

    static func schemaFor(_ shape: JobShape) -> JSONValue {
        switch shape {
        case .string(let enumeration, let pattern, _):
            var o: JSONObject = ["type": "string"]
            if let enumeration { o["enum"] = .array(enumeration.map { .string($0) }) }
            if let pattern { o["pattern"] = .string(pattern) }
            return .object(o)
        case .integer(let minimum, let maximum):
            var o: JSONObject = ["type": "integer"]
            if let minimum { o["minimum"] = .integer(Int64(minimum)) }
            if let maximum { o["maximum"] = .integer(Int64(maximum)) }
            return .object(o)
        case .number(let minimum, let maximum):
            var o: JSONObject = ["type": "number"]
            if let minimum { o["minimum"] = .double(minimum) }
            if let maximum { o["maximum"] = .double(maximum) }
            return .object(o)
        case .boolean:
            return ["type": "boolean"]
        case .duration:
            return ["oneOf": [["type": "string", "pattern": .string(durationPattern)], ["type": "number", "minimum": 0]]]
        case .countOrPercent:
            return ["oneOf": [["type": "integer", "minimum": 0], ["type": "string", "pattern": .string(percentPattern)]]]
        case .uri:
            return ["type": "string", "minLength": 1]
        case .template:
            return ["type": "string"]
        case .textSource:
            return ["oneOf": [
                ["type": "string"],
                ["type": "object", "properties": ["ssm": ["type": "string", "minLength": 1]], "required": ["ssm"],
                 "additionalProperties": false],
                ["type": "object", "properties": ["s3": ["type": "string", "pattern": "^s3://"]], "required": ["s3"],
                 "additionalProperties": false],
            ]]
        case .oneOrMany(let element):
            let one = schemaFor(element)
            return ["oneOf": [one, ["type": "array", "items": one, "minItems": 1]]]
        case .object(let fields, let additional):
            var properties = JSONObject()
            for field in fields {
                var property = schemaFor(field.shape).objectValue ?? JSONObject()
                var ordered: JSONObject = ["description": .string(field.description)]
                if let value = field.defaultValue { ordered["default"] = value }
                for (key, value) in property { ordered[key] = value }
                property = ordered
                properties[field.name] = .object(property)
            }
            var o: JSONObject = ["type": "object"]
            if !fields.isEmpty { o["properties"] = .object(properties) }
            let required = fields.filter(\.required).map { JSONValue.string($0.name) }
            if !required.isEmpty { o["required"] = .array(required) }
            o["additionalProperties"] = additional.map(schemaFor) ?? .bool(false)
            return .object(o)
        case .array(let element, let minItems):
            var o: JSONObject = ["type": "array", "items": schemaFor(element)]
            if minItems > 0 { o["minItems"] = .integer(Int64(minItems)) }
            return .object(o)
        case .anyJSON:
            return .object(JSONObject())
        case .outputSchema:
            return ["$ref": "#/definitions/outputSchema"]
        }
    }

    /// The JSON Schema of `output.schema` itself, recursive through properties, items and
    /// additionalProperties; `validate` checks the same rules with places in the file.
    static var outputSchemaDefinition: JSONValue {
        let reference: JSONValue = ["$ref": "#/definitions/outputSchema"]
        let typeName: JSONValue = ["enum": .array(OutputSchema.typeNames.map { .string($0) })]
        let count: JSONValue = ["type": "integer", "minimum": 0]
        return [
            "type": "object",
            "properties": [
                "type": ["oneOf": [typeName, ["type": "array", "items": typeName, "minItems": 1]]],
                "properties": ["type": "object", "additionalProperties": reference],
                "required": ["type": "array", "items": ["type": "string"]],
                "enum": ["type": "array", "minItems": 1],
                "items": reference,
                "minimum": ["type": "number"], "maximum": ["type": "number"],
                "minLength": count, "maxLength": count, "minItems": count, "maxItems": count,
                "additionalProperties": ["oneOf": [["type": "boolean"], reference]],
                "description": ["type": "string"], "title": ["type": "string"],
            ],
            "additionalProperties": false,
        ]
    }
}

extension JobFormat {
    /// The schema as the committed file holds it: indented JSON, members in declaration order.
    public static func jsonSchemaText() -> String {
        PrettyJSON.format(jsonSchema())
    }
}

/// Indented JSON (two spaces), members in their order, for files people read and diff.
public enum PrettyJSON {
    public static func format(_ value: JSONValue, indent: String = "") -> String {
        let inner = indent + "  "
        switch value {
        case .array(let items):
            if items.isEmpty { return "[]" }
            if items.allSatisfy({ if case .object = $0 { return false }; if case .array = $0 { return false }; return true }) {
                return "[" + items.map { compact($0) }.joined(separator: ", ") + "]"
            }
            return "[\n" + items.map { inner + format($0, indent: inner) }.joined(separator: ",\n") + "\n" + indent + "]"
        case .object(let object):
            if object.isEmpty { return "{}" }
            return "{\n" + object.map { inner + compact(.string($0.key)) + ": " + format($0.value, indent: inner) }
                .joined(separator: ",\n") + "\n" + indent + "}"
        default:
            return compact(value)
        }
    }

    static func compact(_ value: JSONValue) -> String {
        // JSON as botocore writes it, but without escaping non-ASCII
        switch value {
        case .string(let s):
            var out = "\""
            for scalar in s.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\t": out += "\\t"
                case "\r": out += "\\r"
                default:
                    if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
                }
            }
            return out + "\""
        default:
            return value.serializedString
        }
    }
}
