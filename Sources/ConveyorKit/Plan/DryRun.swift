import AWSCore
import AWSServices
import Foundation

/// What `conveyor plan` (= `run --dry-run`) found: the items, sample prompts, token and cost
/// estimates, and whether inputs are readable. Made without calling any model and without writing.
public struct PlanSummary: Sendable {
    public struct Sample: Sendable {
        public var itemID: String
        public var input: String?
        public var output: String
        public var system: String?
        public var messages: [(role: String, text: String)]
    }

    public var job: Job
    public var run: RunIdentity
    public var modelRegion: String?
    public var inputLocations: [String]
    public var items = 0
    public var objects = 0
    public var records = 0
    public var prompts = 0
    public var unreadableRecords: [(id: String, code: String, message: String)] = []
    public var inputBytes = 0
    public var estimatedInputTokens = 0
    public var worstCaseOutputTokens: Int?
    public var quote: PriceQuote?
    public var cost: CostEstimate?
    public var ssmParameters: [String] = []
    public var s3PromptObjects: [String] = []
    public var samples: [Sample] = []
    public var checked = 0
    public var checkProblems: [(id: String, problem: String)] = []
    public var shard: Shard?
    public var reportLocation: String?
    /// `output.collect` rendered for this run (format jsonl).
    public var collectLocation: String?
    public var maxItemsReached = false
    /// `--retry-failed`: the report retried, the ids that would run (the first 50), and the
    /// failed ids no longer in the inputs (nil when the listing stopped at --max-items).
    public var retry: RetrySelection?
    public var retryItems: [String] = []
    public var retryNotFound: [String]?

    /// Whether the job can run: inputs readable, prompts render.
    public var canRun: Bool { checkProblems.isEmpty }
}

public struct DryRunOptions: Sendable {
    public var show: Int = 3
    public var checkAll = false
    public var sample = 5
    public var shard: Shard?
    public var maxItems: Int?
    public var retry: RetrySelection?

    public init(show: Int = 3, checkAll: Bool = false, sample: Int = 5, shard: Shard? = nil, maxItems: Int? = nil,
                retry: RetrySelection? = nil) {
        self.show = show
        self.checkAll = checkAll
        self.sample = sample
        self.shard = shard
        self.maxItems = maxItems
        self.retry = retry
    }
}

public enum DryRun {
    /// Lists and counts the items, renders the first `show` prompts, checks a sample of inputs (or
    /// all), and estimates tokens and cost. Calls no model; writes nothing.
    public static func plan(_ job: Job, services: RunServices, run: RunIdentity = .new(),
                            options: DryRunOptions = DryRunOptions()) async throws -> PlanSummary {
        let prompts = try await PromptSources.resolve(job, services: services)
        let runValues = TemplateValues.Run(jobName: job.name, runID: run.id, startedAt: run.startedAt, vars: job.vars)
        let builder = RequestBuilder(job: job, prompts: prompts, run: runValues)
        let source = ItemSource(job: job, storage: services.storage, run: runValues, shard: options.shard,
                                maxItems: options.maxItems, only: options.retry?.failedIDs)
        var summary = PlanSummary(job: job, run: run, modelRegion: services.modelRegion ?? job.model.region,
                                  inputLocations: try source.inputLocations().map(\.description))
        summary.ssmParameters = prompts.ssmParameters
        summary.s3PromptObjects = prompts.s3Objects
        summary.shard = options.shard
        summary.reportLocation = try? builder.report().map { options.shard?.located($0) ?? $0 }?.description
        summary.collectLocation = try? ValueCollection.location(job: job, builder: builder, shard: options.shard)?.description
        let maxBytes = job.inputs?.maxBytes ?? 1_048_576
        // characters of a prompt without its input: the templates' own text
        let toolCharacters = Self.toolCharacters(StructuredOutput(job: job)?.toolConfiguration)
        let fixedCharacters = toolCharacters + (prompts.system?.text.count ?? 0) + (prompts.prompt?.text.count ?? 0)
            + job.templates.messages.reduce(0) { $0 + $1.text.text.count }

        summary.retry = options.retry
        var found = Set<String>()
        for try await item in source {
            summary.items += 1
            if options.retry != nil {
                found.insert(item.id)
                if summary.retryItems.count < 50 { summary.retryItems.append(item.id) }
            }
            var inputText: String?
            var attachment: InputAttachment?
            let needsRead = summary.checked < (options.checkAll ? Int.max : options.sample) || summary.samples.count < options.show
            switch item.source {
            case .object(let uri, let size) where job.inputs?.attachAs != nil:
                // an attachment's key and listed size are checked for every item; the bytes of a sample are read
                let kind = job.inputs!.attachAs!
                summary.objects += 1
                summary.inputBytes += size
                summary.estimatedInputTokens += (fixedCharacters + 3) / 4
                do {
                    let (format, _) = try InputAttachment.describe(key: item.key ?? "", size: size, kind: kind,
                                                                   maxBytes: maxBytes)
                    summary.estimatedInputTokens += kind == .document
                        ? ConverseMedia.documentTokens(bytes: size, format: format)
                        : ConverseMedia.imageTokens(width: nil, height: nil)
                    if needsRead {
                        summary.checked += 1
                        attachment = try await InputAttachment.read(uri, key: item.key ?? "", size: size, kind: kind,
                                                                    maxBytes: maxBytes, storage: services.storage)
                    }
                } catch let error as InputProblem {
                    summary.checkProblems.append((item.id, "\(error.code): \(error.message)"))
                    continue
                } catch let error as StorageError {
                    summary.checkProblems.append((item.id, "\(error.code): \(error.message)"))
                    continue
                }
            case .object(let uri, let size):
                summary.objects += 1
                summary.inputBytes += size
                summary.estimatedInputTokens += (fixedCharacters + size + 3) / 4
                if needsRead {
                    summary.checked += 1
                    do {
                        inputText = try TextInput.decode(try await services.storage.get(uri, maxBytes: maxBytes), maxBytes: maxBytes)
                    } catch let error as InputProblem {
                        summary.checkProblems.append((item.id, "\(error.code): \(error.message)"))
                    } catch let error as StorageError {
                        summary.checkProblems.append((item.id, "\(error.code): \(error.message)"))
                    }
                }
            case .record(let raw, _):
                summary.records += 1
                summary.inputBytes += raw.utf8.count
                // records are in hand: count the rendered prompt exactly
                if let request = try? builder.request(for: item, input: nil) {
                    summary.estimatedInputTokens += (Self.characters(request) + 3) / 4
                } else {
                    summary.estimatedInputTokens += (fixedCharacters + raw.count + 3) / 4
                }
            case .prompt(let id, let input):
                summary.prompts += 1
                var characters = job.templates.items[id]?.prompt.text.count ?? 0
                if let input, needsRead {
                    summary.checked += 1
                    do {
                        let text = try TextInput.decode(try await services.storage.get(input, maxBytes: maxBytes), maxBytes: maxBytes)
                        inputText = text
                        characters += text.count
                    } catch let error as InputProblem {
                        summary.checkProblems.append((item.id, "\(error.code): \(error.message)"))
                    } catch let error as StorageError {
                        summary.checkProblems.append((item.id, "\(error.code): \(error.message)"))
                    }
                } else if let input, let head = try? await services.storage.head(input) {
                    characters += head.size
                }
                summary.estimatedInputTokens += (characters + toolCharacters + (prompts.system?.text.count ?? 0) + 3) / 4
            case .unreadable(let problem):
                summary.records += 1
                summary.unreadableRecords.append((item.id, problem.code, problem.message))
            }
            if summary.samples.count < options.show, !isUnreadable(item) {
                do {
                    let request = try builder.request(for: item, input: inputText, attachment: attachment)
                    let output = try builder.output(for: item, input: inputText)
                    // text from SSM parameters may be SecureString: shown by name only
                    var system = request.system?.compactMap { if case .text(let t) = $0 { return t } else { return nil } }.joined()
                    if case .ssm(let name, _) = job.system { system = "(the value of SSM parameter \(name), not shown)" }
                    // attachments are shown by name, format and size, never their bytes
                    var messages = request.messages.map { message in
                        let attached = message.content.compactMap { InputAttachment.summary(of: $0) }.map { $0 + " " }.joined()
                        return (message.role.rawValue, attached + message.text)
                    }
                    if case .ssm(let name, _) = job.prompt { messages = [("user", "(rendered from SSM parameter \(name), not shown)")] }
                    summary.samples.append(PlanSummary.Sample(itemID: item.id, input: item.inputURI, output: output.description,
                                                              system: system, messages: messages))
                } catch {
                    summary.checkProblems.append((item.id, "\(error)"))
                }
            }
        }
        if let limit = options.maxItems, summary.items >= limit { summary.maxItemsReached = true }
        if let retry = options.retry, !summary.maxItemsReached {
            summary.retryNotFound = retry.notFound(found: found, shard: options.shard)
        }
        if let maxTokens = job.model.maxTokens { summary.worstCaseOutputTokens = summary.items * maxTokens }
        if let quote = PricingTable.quote(for: job.model.id, region: summary.modelRegion, override: job.model.pricing) {
            summary.quote = quote
            // the input part is estimated; the output part is known only as a worst case
            // engine batch is billed at the batch price
            summary.cost = CostEstimate.run(price: quote.price, mode: job.engine == .batch ? .batch : .onDemand,
                                            items: summary.items, inputTokens: summary.estimatedInputTokens,
                                            outputTokens: 0, maxTokens: job.model.maxTokens,
                                            priceIsApproximate: quote.isApproximate)
        }
        return summary
    }

    static func isUnreadable(_ item: WorkItem) -> Bool {
        if case .unreadable = item.source { return true }
        return false
    }

    /// The estimated tokens of a request's image and document blocks.
    static func attachmentTokens(_ request: ConverseRequest) -> Int {
        request.messages.reduce(0) { total, message in total + message.content.reduce(0) { $0 + ConverseMedia.tokens($1) } }
    }

    /// Characters of the tool definitions a request carries (the structured output's schema).
    static func toolCharacters(_ config: ToolConfiguration?) -> Int {
        config?.tools.reduce(0) { $0 + $1.json.serialized().count } ?? 0
    }

    static func characters(_ request: ConverseRequest) -> Int {
        let system = request.system?.reduce(0) { total, block in
            if case .text(let t) = block { return total + t.count }
            return total
        } ?? 0
        // tool definitions and tool turns (structured output) are input too
        let tools = toolCharacters(request.toolConfig)
        let toolTurns = request.messages.reduce(0) { total, message in
            message.content.reduce(total) { sum, block in
                switch block {
                case .toolUse, .toolResult: return sum + block.json.serialized().count
                default: return sum
                }
            }
        }
        return system + tools + toolTurns + request.messages.reduce(0) { $0 + $1.text.count }
    }
}

extension PlanSummary {
    /// The summary for people, as `conveyor plan` prints it.
    public func rendered() -> String {
        var lines: [String] = []
        let number = NumberFormatter()
        number.numberStyle = .decimal
        number.locale = Locale(identifier: "en_US_POSIX")
        number.usesGroupingSeparator = true
        number.groupingSeparator = ","
        func n(_ value: Int) -> String { number.string(from: NSNumber(value: value)) ?? String(value) }

        lines.append("Plan for job \(job.name) (\(job.path)), run \(run.id): a dry run, no model is called and nothing is written.")
        var model = "Model: \(job.model.id)"
        if let region = modelRegion { model += " in \(region)" }
        var settings: [String] = []
        if let m = job.model.maxTokens { settings.append("maxTokens \(m)") } else { settings.append("maxTokens not set") }
        if let t = job.model.temperature { settings.append("temperature \(t)") }
        lines.append(model + " (" + settings.joined(separator: ", ") + ")")
        if !ssmParameters.isEmpty {
            lines.append("SSM parameters read: \(ssmParameters.joined(separator: ", ")) (values not shown)")
        }
        if !s3PromptObjects.isEmpty { lines.append("Prompt text read from: \(s3PromptObjects.joined(separator: ", "))") }
        for location in inputLocations {
            var detail = job.inputs?.format.rawValue ?? "text"
            if let kind = job.inputs?.attachAs { detail += ", each attached as \(kind.withArticle)" }
            if let include = job.inputs?.include, !include.isEmpty { detail += "; include \(include.joined(separator: ", "))" }
            if let exclude = job.inputs?.exclude, !exclude.isEmpty { detail += "; exclude \(exclude.joined(separator: ", "))" }
            lines.append("Inputs: \(location) (\(detail))")
        }
        var parts: [String] = []
        if objects > 0 { parts.append("\(n(objects)) object\(objects == 1 ? "" : "s"), \(Self.bytes(inputBytes))") }
        if records > 0 { parts.append("\(n(records)) record\(records == 1 ? "" : "s")") }
        if prompts > 0 { parts.append("\(n(prompts)) explicit prompt\(prompts == 1 ? "" : "s")") }
        var itemsLine = "Items: \(n(items))" + (parts.isEmpty ? "" : " (" + parts.joined(separator: "; ") + ")")
        if let shard { itemsLine += ", shard \(shard)" }
        if maxItemsReached { itemsLine += ", stopped at --max-items" }
        lines.append(itemsLine)
        if let retry {
            lines.append("Retrying the failures of \(retry.previousReport) (run \(retry.previousRunId)): "
                + "\(n(retry.ids(in: shard).count)) failed item\(retry.ids(in: shard).count == 1 ? "" : "s")"
                + (shard.map { " in shard \($0)" } ?? "") + ", \(n(items)) found in the inputs")
            if !retryItems.isEmpty {
                let more = items > retryItems.count ? ", … (\(n(items - retryItems.count)) more)" : ""
                lines.append("Would retry: \(retryItems.joined(separator: ", "))\(more)")
            }
            if let missing = retryNotFound, !missing.isEmpty {
                lines.append("No longer in the inputs (\(n(missing.count)), cannot be retried): "
                    + missing.prefix(20).joined(separator: ", ") + (missing.count > 20 ? ", …" : ""))
            }
        }
        if !unreadableRecords.isEmpty {
            lines.append("Unreadable records: \(n(unreadableRecords.count)) (these items would fail):")
            for record in unreadableRecords.prefix(5) { lines.append("  \(record.id): \(record.code): \(record.message)") }
            if unreadableRecords.count > 5 { lines.append("  … and \(n(unreadableRecords.count - 5)) more") }
        }
        lines.append("Output: \(job.output.location.text) (format \(job.output.format.rawValue), onExisting \(job.output.onExisting.rawValue))")
        if let structured = StructuredOutput(job: job) {
            let calls = structured.retries + 1
            lines.append("Structured output: every call forces the tool \(StructuredOutput.toolName) (toolChoice tool); "
                + "an answer that does not fit the schema is sent back, at most \(structured.retries) time"
                + "\(structured.retries == 1 ? "" : "s") (up to \(calls) billed call\(calls == 1 ? "" : "s") per item), "
                + "then the item fails with \(StructuredOutput.mismatchCode). Schema:")
            lines.append("  " + PrettyJSON.format(structured.schema.schema, indent: "  "))
        }
        if let collectLocation { lines.append("Values collected at the end of the run in: \(collectLocation)") }
        if let reportLocation { lines.append("Report: \(reportLocation)") }
        lines.append("Estimated input tokens: \(n(estimatedInputTokens)) (an estimate: characters / 4)")
        if let worst = worstCaseOutputTokens {
            lines.append("Worst-case output tokens: \(n(worst)) (\(n(items)) items × maxTokens \(job.model.maxTokens ?? 0))")
        } else {
            lines.append("Worst-case output tokens: unknown (model.maxTokens is not set)")
        }
        if let cost, let quote {
            var line: String
            if let worst = cost.worstCaseUSD {
                line = "Estimated cost: at most \(CostEstimate.formatUSD(worst)): \(CostEstimate.formatUSD(cost.usd)) for input, "
                    + "\(CostEstimate.formatUSD(worst - cost.usd)) for output if every answer used maxTokens"
            } else {
                line = "Estimated cost: \(CostEstimate.formatUSD(cost.usd)) for input, output unknown (model.maxTokens is not set)"
            }
            line += " (\(quote.isOverride ? "prices from the job" : "prices as of \(PricingTable.asOf), \(quote.source)")"
            line += cost.isApproximate ? ", approximate)" : ")"
            lines.append(line)
            if let budget = job.limits.share(for: shard).budgetUSD {
                let worst = cost.worstCaseUSD ?? cost.usd
                let whose = budget == job.limits.budgetUSD ? "" : " (this shard's share of \(CostEstimate.formatUSD(job.limits.budgetUSD ?? 0)))"
                lines.append("Budget: \(CostEstimate.formatUSD(budget))\(whose); the worst case \(worst <= budget ? "fits" : "passes it: the run would stop early once spending approaches it (exit 4)")")
            }
        } else {
            lines.append("Estimated cost: unknown (no price for \(job.model.id); set model.pricing in the job)")
        }
        if checked > 0 || !checkProblems.isEmpty {
            lines.append("Inputs checked: \(n(checked)) of \(n(objects + prompts))" + (checkProblems.isEmpty ? ", all readable" : ""))
        }
        for problem in checkProblems.prefix(10) { lines.append("  problem: \(problem.id): \(problem.problem)") }
        for sample in samples {
            lines.append("")
            lines.append("--- item \(sample.itemID)\(sample.input.map { " (\($0))" } ?? "") -> \(sample.output)")
            if let system = sample.system { lines.append("[system] \(system)") }
            for message in sample.messages { lines.append("[\(message.role)] \(message.text)") }
        }
        return lines.joined(separator: "\n")
    }

    static func bytes(_ count: Int) -> String {
        let units = ["bytes", "KB", "MB", "GB", "TB"]
        var value = Double(count)
        var unit = 0
        while value >= 1000 && unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(count) bytes" : String(format: "%.1f %@", value, units[unit])
    }
}
