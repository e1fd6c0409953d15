import AWSCore
import Foundation
import Yams

/// Reads a job file into a `Job`, reporting every problem it finds (not just the first) as a
/// located diagnostic.
public enum JobLoader {
    /// Loads and checks the job at `path`. `overrides` are `--var NAME=VALUE` pairs.
    public static func load(path: String, overrides: [String: String] = [:]) throws(DiagnosticsError) -> Job {
        let document = try YAMLDocument.load(path: path)
        return try load(document, overrides: overrides)
    }

    /// Loads and checks a job from its text (tests, stdin).
    public static func load(text: String, path: String, overrides: [String: String] = [:]) throws(DiagnosticsError) -> Job {
        try load(YAMLDocument(path: path, data: Data(text.utf8)), overrides: overrides)
    }

    static func load(_ document: YAMLDocument, overrides: [String: String]) throws(DiagnosticsError) -> Job {
        let reader = JobReader(path: document.path, text: document.text)
        guard let root = document.root else {
            throw DiagnosticsError([.error(at: SourceLocation(file: document.path, line: 1, column: 1),
                                           "the file is empty; a job needs at least version, name, model and output")])
        }
        reader.check(root, JobFormat.root, context: "the job")
        let job = reader.decodeJob(root, overrides: overrides)
        let errors = reader.diagnostics.filter { $0.severity == .error }
        if !errors.isEmpty || job == nil {
            throw DiagnosticsError(reader.sorted)
        }
        var loaded = job!
        loaded.warnings = reader.sorted.filter { $0.severity == .warning }
        return loaded
    }
}

/// The checks and the decoding, with the diagnostics they collect.
final class JobReader {
    let path: String
    let rawLines: [Substring]
    var diagnostics: [Diagnostic] = []

    init(path: String, text: String) {
        self.path = path
        rawLines = text.split(separator: "\n", omittingEmptySubsequences: false)
    }

    var sorted: [Diagnostic] {
        var seen = Set<String>()
        return diagnostics.sorted { ($0.location?.line ?? 0, $0.location?.column ?? 0) < ($1.location?.line ?? 0, $1.location?.column ?? 0) }
            .filter { seen.insert($0.description).inserted }
    }

    func at(_ node: Node) -> SourceLocation {
        let mark = node.mark
        return SourceLocation(file: path, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    func error(_ node: Node, _ message: String) {
        diagnostics.append(.error(at: at(node), message))
    }

    func warning(_ node: Node, _ message: String) {
        diagnostics.append(.warning(at: at(node), message))
    }

    // MARK: Generic checks against the format

    static func isNull(_ node: Node) -> Bool {
        if case .scalar(let s) = node {
            return s.style == .plain && ["", "~", "null", "Null", "NULL"].contains(s.string)
        }
        return false
    }

    static func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let s):
            if isNull(node) { return "nothing" }
            let text = s.string.count > 40 ? String(s.string.prefix(40)) + "…" : s.string
            return "'\(text)'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    /// Checks `node` against `shape`; `context` names the place for messages ("model.maxTokens").
    func check(_ node: Node, _ shape: JobShape, context: String) {
        switch shape {
        case .string(let enumeration, let pattern, let hint):
            guard case .scalar(let s) = node, !Self.isNull(node) else {
                return error(node, "\(context) must be text, found \(Self.describe(node))")
            }
            if let enumeration, !enumeration.contains(s.string) {
                var message = "\(context) must be one of \(enumeration.joined(separator: ", ")); found '\(s.string)'"
                if let guess = Suggest.closest(s.string, among: enumeration) { message += "; did you mean '\(guess)'?" }
                error(node, message)
            }
            if let pattern, s.string.range(of: pattern, options: .regularExpression) == nil {
                error(node, "\(context) '\(s.string)' is not valid: expected \(hint ?? "text matching \(pattern)")")
            }
        case .integer(let minimum, let maximum):
            guard case .scalar(let s) = node, s.style == .plain,
                  let value = Int(s.string.replacingOccurrences(of: "_", with: ""))
            else { return error(node, "\(context) must be a whole number, found \(Self.describe(node))") }
            if let minimum, value < minimum { error(node, "\(context) must be at least \(minimum), found \(value)") }
            if let maximum, value > maximum { error(node, "\(context) must be at most \(maximum), found \(value)") }
        case .number(let minimum, let maximum):
            // Double() also reads nan, inf and 1e999, which no limit or setting means.
            guard case .scalar(let s) = node, s.style == .plain, let value = Double(s.string), value.isFinite else {
                return error(node, "\(context) must be a number, found \(Self.describe(node))")
            }
            if let minimum, value < minimum { error(node, "\(context) must be at least \(Self.format(minimum)), found \(s.string)") }
            if let maximum, value > maximum { error(node, "\(context) must be at most \(Self.format(maximum)), found \(s.string)") }
        case .boolean:
            guard case .scalar(let s) = node, ["true", "false"].contains(s.string.lowercased()) else {
                return error(node, "\(context) must be true or false, found \(Self.describe(node))")
            }
        case .duration:
            guard case .scalar(let s) = node, !Self.isNull(node) else {
                return error(node, "\(context) must be a duration such as 5s, 2m or 500ms, found \(Self.describe(node))")
            }
            if DurationText.parse(s.string) == nil {
                error(node, "\(context) '\(s.string)' is not a duration: write a number with a unit, such as 5s, 2m, 1h or 500ms")
            }
        case .countOrPercent:
            guard case .scalar(let s) = node, !Self.isNull(node), FailureLimitText.parse(s.string) != nil else {
                return error(node, "\(context) must be a count such as 10 or a percentage such as \"5%\", found \(Self.describe(node))")
            }
        case .uri, .template:
            guard case .scalar(let s) = node, !Self.isNull(node) else {
                return error(node, "\(context) must be text, found \(Self.describe(node))")
            }
            if case .uri = shape, s.string.trimmingCharacters(in: .whitespaces).isEmpty {
                error(node, "\(context) is empty")
            }
        case .textSource:
            switch node {
            case .scalar where !Self.isNull(node):
                return
            case .mapping(let mapping):
                let keys = mapping.keys.compactMap(\.string)
                guard mapping.count == 1, let key = keys.first, key == "ssm" || key == "s3" else {
                    return error(node, "\(context) must be text, {ssm: /parameter/name} or {s3: s3://bucket/key}; found the keys \(keys.joined(separator: ", "))")
                }
                let value = mapping.values.first!
                guard case .scalar(let s) = value, !Self.isNull(value), !s.string.isEmpty else {
                    return error(value, "\(context).\(key) must name \(key == "ssm" ? "a parameter" : "an object")")
                }
                if key == "s3" && !s.string.hasPrefix("s3://") {
                    error(value, "\(context).s3 must be an s3:// URI, found '\(s.string)'")
                }
            default:
                error(node, "\(context) must be text, {ssm: /parameter/name} or {s3: s3://bucket/key}; found \(Self.describe(node))")
            }
        case .oneOrMany(let element):
            if case .sequence(let sequence) = node {
                if sequence.isEmpty { error(node, "\(context) is an empty list") }
                for (i, item) in sequence.enumerated() { check(item, element, context: "\(context)[\(i)]") }
            } else {
                check(node, element, context: context)
            }
        case .object(let fields, let additional):
            guard case .mapping(let mapping) = node else {
                return error(node, "\(context) must be a mapping of keys to values, found \(Self.describe(node))")
            }
            let known = Dictionary(uniqueKeysWithValues: fields.map { ($0.name, $0) })
            var present = Set<String>()
            for (keyNode, value) in mapping {
                guard case .scalar(let keyScalar) = keyNode else {
                    error(keyNode, "keys in \(context) must be plain names")
                    continue
                }
                let key = keyScalar.string
                present.insert(key)
                let child = context == "the job" ? key : "\(context).\(key)"
                if let field = known[key] {
                    if Self.isNull(value) && !field.required {
                        warning(value, "\(child) has no value and is ignored")
                        continue
                    }
                    check(value, field.shape, context: child)
                } else if let additional {
                    check(value, additional, context: child)
                } else {
                    var message = "unknown key '\(key)' in \(context)"
                    if let guess = Suggest.closest(key, among: fields.map(\.name)) {
                        message += "; did you mean '\(guess)'?"
                    } else {
                        message += "; expected one of \(fields.map(\.name).joined(separator: ", "))"
                    }
                    error(keyNode, message)
                }
            }
            for field in fields where field.required && !present.contains(field.name) {
                let place = context == "the job" ? "" : " in \(context)"
                error(node, "missing required key '\(field.name)'\(place): \(field.description)")
            }
        case .array(let element, let minItems):
            guard case .sequence(let sequence) = node else {
                return error(node, "\(context) must be a list, found \(Self.describe(node))")
            }
            if sequence.count < minItems { error(node, "\(context) needs at least \(minItems) item\(minItems == 1 ? "" : "s")") }
            for (i, item) in sequence.enumerated() { check(item, element, context: "\(context)[\(i)]") }
        case .anyJSON:
            _ = json(node)
        case .outputSchema:
            _ = json(node)
            checkOutputSchema(node)
        }
    }

    static func format(_ d: Double) -> String { d == d.rounded() ? String(Int(d)) : String(d) }

    /// A YAML node as JSON (for additionalFields and schemas).
    func json(_ node: Node) -> JSONValue {
        switch node {
        case .scalar(let s):
            if Self.isNull(node) && s.style == .plain { return .null }
            guard s.style == .plain else { return .string(s.string) }
            let lower = s.string.lowercased()
            if lower == "true" || lower == "false" { return .bool(lower == "true") }
            if let i = Int64(s.string) { return .integer(i) }
            if let d = Double(s.string), d.isFinite, s.string.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) {
                return .double(d)
            }
            return .string(s.string)
        case .mapping(let mapping):
            var object = JSONObject()
            for (k, v) in mapping {
                guard let key = k.string else {
                    error(k, "JSON object keys must be text")
                    continue
                }
                object[key] = json(v)
            }
            return .object(object)
        case .sequence(let sequence):
            return .array(sequence.map { json($0) })
        case .alias:
            return .null
        }
    }

    // MARK: Decoding

    func value(_ node: Node, _ key: String) -> Node? {
        guard case .mapping(let mapping) = node else { return nil }
        guard let found = mapping[key] else { return nil }
        return Self.isNull(found) ? nil : found
    }

    func string(_ node: Node?) -> String? {
        guard let node, case .scalar(let s) = node, !Self.isNull(node) else { return nil }
        return s.string
    }

    func int(_ node: Node?) -> Int? { string(node).flatMap { Int($0.replacingOccurrences(of: "_", with: "")) } }
    func double(_ node: Node?) -> Double? { string(node).flatMap(Double.init) }

    func located(_ node: Node) -> LocatedText? {
        guard case .scalar(let s) = node else { return nil }
        let start = at(node)
        switch s.style {
        case .literal, .folded:
            // content starts on the next line, at the block's indentation
            let lines = rawLines
            var indent = start.column + 2
            if start.line < lines.count {
                let next = lines[start.line]  // 0-based: the line after the indicator
                indent = next.prefix { $0 == " " }.count + 1
            }
            let blockStart = SourceLocation(file: path, line: start.line + 1, column: indent)
            return LocatedText(text: s.string, location: blockStart, blockIndent: s.style == .literal ? indent : nil)
        case .singleQuoted, .doubleQuoted:
            return LocatedText(text: s.string, location: start, quoteOffset: 1)
        default:
            return LocatedText(text: s.string, location: start)
        }
    }

    func textSource(_ node: Node?) -> TextSource? {
        guard let node else { return nil }
        switch node {
        case .scalar:
            return located(node).map { .inline($0) }
        case .mapping(let mapping):
            if let v = mapping["ssm"], let name = string(v) { return .ssm(name: name, at: at(v)) }
            if let v = mapping["s3"], let uri = string(v) { return .s3(uri: uri, at: at(v)) }
            return nil
        default:
            return nil
        }
    }

    func decodeJob(_ root: Node, overrides: [String: String]) -> Job? {
        guard case .mapping = root else { return nil }
        let version = int(value(root, "version")) ?? 1
        let name = string(value(root, "name")) ?? ""

        // model
        var model: ModelSettings?
        if let m = value(root, "model") {
            var pricing: PricingOverride?
            if let p = value(m, "pricing"), case .mapping(let mapping) = p {
                var fields: [String: Double] = [:]
                for (key, node) in mapping { if let k = key.string, let v = double(node) { fields[k] = v } }
                do {
                    pricing = try PricingOverride(fields: fields)
                } catch {
                    self.error(p, "model.pricing: \(error.message)")
                }
            }
            model = ModelSettings(
                id: string(value(m, "id")) ?? "", region: string(value(m, "region")), maxTokens: int(value(m, "maxTokens")),
                temperature: double(value(m, "temperature")), topP: double(value(m, "topP")),
                stopSequences: value(m, "stopSequences").flatMap { n -> [String]? in
                    guard case .sequence(let s) = n else { return nil }
                    return s.compactMap { string($0) }
                },
                additionalFields: value(m, "additionalFields").map { json($0) }, pricing: pricing, location: at(m))
            if let model, model.maxTokens == nil {
                warning(m, "model.maxTokens is not set: Bedrock then reserves the model's maximum output against your quota for every call; set it close to the answers you expect")
            }
        }

        // prompt, messages, system
        let system = textSource(value(root, "system"))
        let prompt = textSource(value(root, "prompt"))
        var messages: [MessageSpec]?
        if let list = value(root, "messages"), case .sequence(let sequence) = list {
            messages = sequence.compactMap { item in
                guard let role = string(value(item, "role")).flatMap(MessageSpec.Role.init(rawValue:)),
                      let textNode = value(item, "text"), let text = located(textNode) else { return nil }
                return MessageSpec(role: role, text: text)
            }
            // each rule points at the turn's role, or the turn when it has none
            func role(_ turn: Node) -> Node { value(turn, "role") ?? turn }
            if let last = sequence.last, string(value(last, "role")) != "user" {
                error(role(last), "the last of messages must be the user's turn (role: user): the model answers it")
            }
            if let first = sequence.first, string(value(first, "role")) != "user" {
                error(role(first), "the first of messages must be the user's turn (role: user), as Converse requires")
            }
            for (a, b) in zip(sequence, sequence.dropFirst()) where string(value(a, "role")) == string(value(b, "role")) {
                error(role(b), "messages must alternate between user and assistant, as Converse requires; this turn repeats "
                    + "the role of the one before: merge the two, or put the other role's turn between them")
            }
            for (i, turn) in sequence.enumerated() {
                if case .mapping(let m) = turn, let textNode = m["text"], case .scalar(let t) = textNode,
                   t.string.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, !Self.isNull(textNode) {
                    error(textNode, "messages[\(i)].text is blank: Converse refuses a turn without text; write the turn's text")
                }
            }
        }
        if prompt != nil, messages != nil, let node = value(root, "messages") {
            error(node, "use either prompt or messages, not both")
        }

        // inputs
        var inputs: InputsSpec?
        if let i = value(root, "inputs") {
            var locations: [LocatedText] = []
            if let s3 = value(i, "s3") {
                if case .sequence(let seq) = s3 { locations = seq.compactMap { located($0) } } else if let l = located(s3) {
                    locations = [l]
                }
            }
            func strings(_ key: String) -> [String] {
                guard let n = value(i, key), case .sequence(let seq) = n else { return [] }
                return seq.compactMap { string($0) }
            }
            let attachAs = string(value(i, "as")).flatMap(AttachmentKind.init(rawValue:))
            inputs = InputsSpec(
                locations: locations, include: strings("include"), exclude: strings("exclude"),
                format: string(value(i, "format")).flatMap(InputFormat.init(rawValue:)) ?? .text,
                idField: string(value(i, "idField")),
                maxBytes: int(value(i, "maxBytes")) ?? attachAs?.maxBytes ?? TextInput.defaultMaxBytes, location: at(i),
                attachAs: attachAs)
            if let attachAs, let node = value(i, "as") {
                checkAttachment(attachAs, node: node, inputs: i)
            }
            for location in locations {
                checkURI(location, context: "inputs.s3", allowTemplates: false)
            }
            if inputs?.idField != nil && inputs?.format == .text, let n = value(i, "idField") {
                error(n, "inputs.idField applies to jsonl and csv inputs; with format text each object is one item named by its key")
            }
        }

        // prompts (form B)
        var prompts: [PromptItemSpec] = []
        if let list = value(root, "prompts"), case .sequence(let sequence) = list {
            var ids = [String: SourceLocation]()
            for item in sequence {
                guard let id = string(value(item, "id")), let promptNode = value(item, "prompt"),
                      let promptText = located(promptNode) else { continue }
                if let first = ids[id] {
                    error(value(item, "id")!, "the prompt id '\(id)' is used twice (first at line \(first.line))")
                }
                ids[id] = at(item)
                let input = value(item, "input").flatMap { located($0) }
                let output = value(item, "output").flatMap { located($0) }
                if let input { checkURI(input, context: "prompts[].input", allowTemplates: false) }
                if let output { checkURI(output, context: "prompts[].output", allowTemplates: true) }
                prompts.append(PromptItemSpec(id: id, prompt: promptText, input: input, output: output, location: at(item)))
            }
        }

        if inputs == nil && prompts.isEmpty {
            error(root, "the job has no items: add inputs (one item per input object, line or row) or prompts (explicit items)")
        }
        if inputs != nil && prompt == nil && messages == nil {
            if let node = value(root, "inputs") {
                error(node, "inputs need a prompt (or messages) to turn each input into a request: add prompt: with {{input}} in it")
            }
        }

        // output
        var output: OutputSpec?
        if let o = value(root, "output"), let s3 = value(o, "s3"), let location = located(s3) {
            output = OutputSpec(
                location: location, format: string(value(o, "format")).flatMap(OutputFormat.init(rawValue:)) ?? .json,
                onExisting: string(value(o, "onExisting")).flatMap(OnExisting.init(rawValue:)) ?? .skip,
                schema: value(o, "schema").map { json($0) })
            checkURI(location, context: "output.s3", allowTemplates: true)
            decodeStructuredOutput(o, into: &output!, modelId: model?.id)
        }
        let report = value(root, "report").flatMap { located($0) }
        if let report { checkURI(report, context: "report", allowTemplates: true) }

        // limits
        var limits = Limits()
        if let l = value(root, "limits") {
            if let v = int(value(l, "concurrency")) { limits.concurrency = v }
            limits.requestsPerMinute = double(value(l, "requestsPerMinute"))
            limits.tokensPerMinute = double(value(l, "tokensPerMinute"))
            if let v = int(value(l, "maxAttempts")) { limits.maxAttempts = v }
            if let v = string(value(l, "connectTimeout")).flatMap(DurationText.parse) { limits.connectTimeout = v }
            if let v = string(value(l, "readTimeout")).flatMap(DurationText.parse) { limits.readTimeout = v }
            limits.maxFailures = string(value(l, "maxFailures")).flatMap(FailureLimitText.parse)
            limits.budgetUSD = double(value(l, "budgetUSD"))
            if let v = string(value(l, "scope")).flatMap(LimitScope.init(rawValue:)) { limits.scope = v }
            if let v = string(value(l, "probe")) { limits.probe = v.lowercased() == "true" }
        }

        // vars, with --var overrides
        var vars: [String: String] = [:]
        if let v = value(root, "vars"), case .mapping(let mapping) = v {
            for (k, val) in mapping {
                if let key = k.string {
                    if key.range(of: "^[A-Za-z_][A-Za-z0-9_]*$", options: .regularExpression) == nil {
                        error(k, "vars names are letters, digits and '_', starting with a letter or '_': '\(key)' is not")
                    }
                    vars[key] = string(val) ?? ""
                }
            }
        }
        for (key, value) in overrides { vars[key] = value }

        // engine and batch
        let engine = string(value(root, "engine")).flatMap(Engine.init(rawValue:)) ?? .ondemand
        var batch: BatchSettings?
        if let b = value(root, "batch") {
            var settings = BatchSettings()
            settings.roleArn = string(value(b, "roleArn"))
            settings.staging = value(b, "staging").flatMap { located($0) }
            if let v = int(value(b, "minRecords")) { settings.minRecords = v }
            if let v = int(value(b, "timeoutHours")) { settings.timeoutHours = v }
            if let v = int(value(b, "maxRecords")) { settings.maxRecords = v }
            if let v = int(value(b, "maxFileMB")) { settings.maxFileMB = v }
            if let v = int(value(b, "maxJobs")) { settings.maxJobs = v }
            if let v = string(value(b, "pollInterval")).flatMap(DurationText.parse) { settings.pollInterval = v }
            if let node = value(b, "maxRecords"), settings.maxRecords < settings.minRecords {
                error(node, "batch.maxRecords (\(settings.maxRecords)) is below batch.minRecords (\(settings.minRecords)): no batch job could be sent")
            }
            if let staging = settings.staging {
                checkURI(staging, context: "batch.staging", allowTemplates: false)
                if !staging.text.hasPrefix("s3://"), let node = value(b, "staging") {
                    error(node, "batch.staging must be an s3:// prefix: Bedrock reads the records from S3 and writes the results there")
                }
            }
            batch = settings
        }
        if engine == .batch {
            if batch?.roleArn == nil || batch?.staging == nil {
                error(value(root, "engine") ?? root, "engine batch needs batch.roleArn (the role Bedrock assumes) and batch.staging (an s3:// prefix)")
            }
        }

        var templates = compileTemplates(system: system, prompt: prompt, messages: messages, inputs: inputs,
                                         prompts: prompts, output: output, report: report, vars: Set(vars.keys))
        if let collect = output?.collect {
            templates?.collect = compileCollect(collect, vars: Set(vars.keys))
        }
        guard let model, let output, let templates else { return nil }
        return Job(path: path, version: version, name: name, description: string(value(root, "description")), model: model,
                   system: system, prompt: prompt, messages: messages, inputs: inputs, prompts: prompts, output: output,
                   report: report, limits: limits, vars: vars, engine: engine, batch: batch, templates: templates)
    }

    /// `inputs.as: document | image` sends whole objects as bytes: not records, and within
    /// Bedrock's size limit for the kind.
    func checkAttachment(_ kind: AttachmentKind, node: Node, inputs: Node) {
        if let format = string(value(inputs, "format")), format != InputFormat.text.rawValue {
            error(node, "inputs.as \(kind.rawValue) attaches whole objects; format \(format) splits them into records, "
                + "which cannot be attachments: use format text, or as: text")
        }
        if let maxNode = value(inputs, "maxBytes"), let max = int(maxNode), max > kind.maxBytes {
            error(maxNode, "inputs.maxBytes \(max) is above Bedrock's limit for \(kind.withArticle), \(kind.maxBytes) bytes: "
                + "lower it or leave it out")
        }
    }

    /// Checks a location's form: `s3://bucket/key` with a valid, literal bucket; `file:///abs`; or a
    /// relative path.
    func checkURI(_ text: LocatedText, context: String, allowTemplates: Bool) {
        let value = text.text
        // input locations render once per run ({{vars.bucket}} may name the bucket): their form
        // is checked after rendering, when the run starts
        if !allowTemplates && value.contains("{{") { return }
        do {
            _ = try StorageURI.parse(value)
        } catch {
            // a templated location's own compiler (OutputKeyTemplate) reports these two itself
            let reportedByTemplate = error.kind == .templatedBucket || error.kind == .unsupportedScheme
            if !(allowTemplates && reportedByTemplate) {
                diagnostics.append(.error(at: text.location, "\(context): \(error.message)"))
            }
        }
    }
}

/// Durations as job files write them.
public enum DurationText {
    /// `500ms`, `5s`, `2m`, `1h`, `1.5s`, or a bare number of seconds; nil for anything else,
    /// including a number too large for a `Duration` in milliseconds (`1e300s`, `inf`).
    public static func parse(_ text: String) -> Duration? {
        let t = text.trimmingCharacters(in: .whitespaces)
        if let seconds = Double(t), seconds >= 0 { return milliseconds(seconds * 1000) }
        for (suffix, scale) in [("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)] where t.hasSuffix(suffix) {
            let number = t.dropLast(suffix.count)
            guard let value = Double(number), value >= 0, number.first?.isNumber == true else { return nil }
            if suffix == "s" && number.hasSuffix("m") { return nil }
            return milliseconds((value * scale * 1000).rounded())
        }
        return nil
    }

    /// nil unless `ms` is a whole number of milliseconds that fits in an Int64 (not NaN or infinite).
    private static func milliseconds(_ ms: Double) -> Duration? {
        Int64(exactly: ms.rounded(.towardZero)).map { .milliseconds($0) }
    }
}

/// `maxFailures` as job files write it.
public enum FailureLimitText {
    public static func parse(_ text: String) -> FailureLimit? {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t.hasSuffix("%") {
            guard let p = Double(t.dropLast()), p >= 0, p <= 100 else { return nil }
            return .percent(p)
        }
        guard let n = Int(t), n >= 0 else { return nil }
        return .count(n)
    }
}

/// Did-you-mean suggestions.
enum Suggest {
    static func closest(_ word: String, among candidates: [String]) -> String? {
        let lower = word.lowercased()
        var best: (String, Int)?
        for candidate in candidates {
            let d = distance(lower, candidate.lowercased())
            if d <= max(2, candidate.count / 3), best == nil || d < best!.1 { best = (candidate, d) }
        }
        return best?.0
    }

    static func distance(_ a: String, _ b: String) -> Int {
        let x = Array(a)
        let y = Array(b)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var previous = Array(0...y.count)
        var current = previous
        for i in 1...x.count {
            current[0] = i
            for j in 1...y.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[y.count]
    }
}
