import AWSCore
import AWSServices
import Foundation
import Logging
import Synchronization

/// How a run is asked to go.
public struct RunOptions: Sendable {
    public var shard: Shard?
    public var maxItems: Int?
    /// Overrides `limits.concurrency`.
    public var concurrency: Int?
    public var breakLock = false
    /// `--retry-failed`: run only the items that failed in that report.
    public var retry: RetrySelection?
    /// How often the job's lock is renewed (a minute; tests make it shorter).
    public var lockHeartbeat: Duration = .seconds(60)
    /// Overrides the job's `engine` (`--engine`).
    public var engine: Engine?
    /// Engine batch: return once the batch jobs are submitted (`--detach`); `collect` finishes the run.
    public var detach = false
    /// Finish a detached batch run (`conveyor collect`) instead of starting one.
    public var collect = false

    public init(shard: Shard? = nil, maxItems: Int? = nil, concurrency: Int? = nil, breakLock: Bool = false,
                retry: RetrySelection? = nil, engine: Engine? = nil, detach: Bool = false, collect: Bool = false) {
        self.shard = shard
        self.maxItems = maxItems
        self.concurrency = concurrency
        self.breakLock = breakLock
        self.retry = retry
        self.engine = engine
        self.detach = detach
        self.collect = collect
    }
}

/// Receives every item's result as it finishes (report, manifest, progress).
public protocol RunRecorder: Sendable {
    func record(_ result: ItemResult)
}

/// The running totals the runner's own decisions need: failures, spending, abort checks.
final class RunTally: Sendable {
    struct State {
        var seen = 0
        var finished = 0
        var succeeded = 0
        var failed = 0
        var skipped = 0
        var spentUSD = 0.0
        /// The worst case of the calls admitted and not finished.
        var reservedUSD = 0.0
        var firstFailureCodes: [String] = []
        var stop: RunStopReason?
        var listingDone = false
    }

    let state = Mutex(State())

    var stop: RunStopReason? { state.withLock { $0.stop } }

    /// Sets the stop reason unless one is set already; true when this call set it.
    @discardableResult
    func stop(_ reason: RunStopReason) -> Bool {
        state.withLock { s in
            guard s.stop == nil else { return false }
            s.stop = reason
            return true
        }
    }
}

/// Runs a job: streams its items, calls the model for each through the scheduler (which paces
/// the calls and owns retries), writes each output, and reports every result.
public final class Runner: Sendable {
    public let job: Job
    public let services: RunServices
    public let options: RunOptions
    public let identity: RunIdentity
    let logger: Logger
    let recorder: any RunRecorder
    public let scheduler: CallScheduler
    let tally = RunTally()
    let clock: @Sendable () -> Double
    let price: ModelPrice?
    /// How many times output tokens count against the token quota (5 for Claude 4 models).
    let burndown: Double
    /// Engine batch: its jobs, and whether the run detached from them.
    public let batch = BatchProgress()

    public init(job: Job, services: RunServices, options: RunOptions = RunOptions(), identity: RunIdentity = .new(),
                recorder: any RunRecorder, logger: Logger, pacing: (any CallPacing)? = nil,
                clock: @escaping @Sendable () -> Double = AdaptiveRateLimiter.monotonicSeconds) {
        // a shard paces to its share of the job's limits (limits.scope)
        var job = job
        job.limits = job.limits.share(for: options.shard)
        self.job = job
        self.services = services
        self.options = options
        self.identity = identity
        self.recorder = recorder
        self.logger = logger
        self.clock = clock
        let concurrency = options.concurrency ?? job.limits.concurrency
        let quote = PricingTable.quote(for: job.model.id, region: services.modelRegion, override: job.model.pricing)
        price = quote?.price
        burndown = Double(quote?.burndownRate ?? PricingTable.burndownRate(for: job.model.id))
        var limits = job.limits
        limits.concurrency = concurrency
        let configuration = GovernorConfiguration(limits: limits, model: job.model, burndown: burndown)
        scheduler = CallScheduler(pacing: pacing ?? GovernorPacing(configuration: configuration, clock: clock),
                                  probe: job.limits.probe, clock: clock)
    }

    /// Why the run stopped early, if it did.
    public var stopReason: RunStopReason? { tally.stop }

    /// The number of items once all are listed, else nil.
    public var knownTotal: Int? { tally.state.withLock { $0.listingDone ? $0.seen : nil } }

    /// Items taken from the listing so far.
    public var seen: Int { tally.state.withLock { $0.seen } }

    /// With `--retry-failed`, once the listing is done: the failed ids (of this shard) that the
    /// inputs no longer hold. Nil when not retrying, or when the listing stopped early.
    public var retryNotFound: [String]? { notFound.withLock { $0 } }
    let notFound = Mutex<[String]?>(nil)

    /// Stops admitting new calls; the calls in flight finish and their items are recorded.
    public func interrupt() {
        if tally.stop(.interrupted) { logger.notice("stopping: no new calls; waiting for the calls in flight") }
        scheduler.close()
    }

    public func abort(_ reason: RunStopReason) {
        if tally.stop(reason) { logger.error("aborting the run: \(reason.message)") }
        // a budget stop admits no new item, but the calls it already budgeted for may go
        if case .budget = reason { return }
        scheduler.close()
    }

    /// What this version cannot run yet, refused before anything starts rather than ignored.
    public static func unsupported(_ job: Job, price: ModelPrice?) -> ConfigurationError? {
        if job.limits.budgetUSD != nil && price == nil {
            return ConfigurationError("\(job.path): limits.budgetUSD needs the model's price, and Conveyor's table has none for \(job.model.id): set model.pricing (inputPer1k, outputPer1k)")
        }
        return nil
    }

    /// Runs every item; returns when all started items are recorded.
    public func run() async throws {
        if options.collect || (options.engine ?? job.engine) == .batch { return try await runBatch() }
        let (context, source) = try await start()
        let collection = context.collection
        let concurrency = options.concurrency ?? job.limits.concurrency
        // items alive at once: those in calls, plus some reading inputs or writing outputs
        let slots = AsyncSlots(concurrency + max(4, concurrency / 4))
        var found = Set<String>()
        try await withThrowingDiscardingTaskGroup { group in
            for try await item in source {
                if options.retry != nil { found.insert(item.id) }
                if tally.stop != nil { break }
                await slots.acquire()
                if tally.stop != nil {
                    slots.release()
                    break
                }
                tally.state.withLock { $0.seen += 1 }
                group.addTask {
                    defer { slots.release() }
                    let result = await self.process(item, context)
                    guard let result else { return }  // stopped before its call: not recorded
                    if result.attempts > 0 {
                        self.scheduler.itemFinished(owner: item.index, succeeded: result.status != .failed)
                    }
                    self.recordAndCheck(result)
                }
            }
            if tally.stop == nil { tally.state.withLock { $0.listingDone = true } }
        }
        if let retry = options.retry, knownTotal != nil, options.maxItems.map({ seen < $0 }) ?? true {
            let missing = retry.notFound(found: found, shard: options.shard)
            notFound.withLock { $0 = missing }
            if !missing.isEmpty {
                let items = missing.count == 1 ? "1 item that failed in run \(retry.previousRunId) is"
                    : "\(missing.count) items that failed in run \(retry.previousRunId) are"
                let ids = missing.prefix(10).joined(separator: ", ") + (missing.count > 10 ? ", …" : "")
                logger.warning("\(items) no longer in the inputs: not retried",
                               metadata: ["ids": "\(ids)"])
            }
        }
        if let collection {
            // only a run through all the job's items has all the values: one stopped early, cut by
            // --max-items or limited to --retry-failed's items would write a partial collection
            if tally.stop != nil {
                collection.discard(because: "the run stopped early")
            } else if options.retry != nil {
                collection.discard(because: "a --retry-failed run goes over the failed items only")
            } else if let limit = options.maxItems, seen >= limit {
                collection.discard(because: "--max-items \(limit) cut the run short")
            } else {
                _ = try await collection.finish(storage: services.storage)
            }
        }
    }

    /// What every item needs (prompts resolved, existing outputs listed), and the stream of items.
    func start() async throws -> (ItemContext, ItemSource) {
        guard let bedrock = services.bedrock else { throw ConfigurationError("no Bedrock client is configured") }
        if let problem = Self.unsupported(job, price: price) { throw problem }
        let prompts = try await PromptSources.resolve(job, services: services)
        let runValues = TemplateValues.Run(jobName: job.name, runID: identity.id, startedAt: identity.startedAt, vars: job.vars)
        let builder = RequestBuilder(job: job, prompts: prompts, run: runValues)
        let existing = try await ExistingOutputs.load(job: job, builder: builder, storage: services.storage, logger: logger)
        let source = ItemSource(job: job, storage: services.storage, run: runValues, shard: options.shard,
                                maxItems: options.maxItems, only: options.retry?.failedIDs)
        let collection = try ValueCollection.location(job: job, builder: builder, shard: options.shard)
            .map { try ValueCollection(destination: $0, logger: logger) }
        let context = ItemContext(job: job, builder: builder, storage: services.storage, bedrock: bedrock, existing: existing,
                                  structured: StructuredOutput(job: job), collection: collection,
                                  unwritten: AsyncSlots(options.concurrency ?? job.limits.concurrency))
        return (context, source)
    }

    struct ItemContext: Sendable {
        let job: Job
        let builder: RequestBuilder
        let storage: Storage
        let bedrock: any BedrockRuntimeAPI
        let existing: ExistingOutputs
        let structured: StructuredOutput?
        let collection: ValueCollection?
        /// Items between their first model call and their output written: at most `concurrency`,
        /// so that a crash repeats at most that many calls.
        let unwritten: AsyncSlots
    }

    func recordAndCheck(_ result: ItemResult) {
        recorder.record(result)
        let (failed, finished, codes, succeeded) = tally.state.withLock { s -> (Int, Int, [String], Int) in
            s.finished += 1
            switch result.status {
            case .succeeded: s.succeeded += 1
            case .failed:
                s.failed += 1
                // only failures that spent a model call count towards "every item failing alike"
                if result.attempts > 0, s.firstFailureCodes.count < 5 { s.firstFailureCodes.append(result.errorCode ?? "") }
            case .skipped: s.skipped += 1
            }
            return (s.failed, s.finished, s.firstFailureCodes, s.succeeded)
        }
        if let limit = job.limits.maxFailures {
            let exceeded: Bool
            switch limit {
            case .count: exceeded = limit.isExceeded(failed: failed, total: finished)
            case .percent: exceeded = finished >= 20 && limit.isExceeded(failed: failed, total: finished)
            }
            if exceeded { abort(.maxFailures("\(failed) of \(finished) items failed, more than limits.maxFailures allows")) }
        }
        // the first five model calls all failed with one code, and nothing succeeded: stop spending
        if succeeded == 0, codes.count == 5, Set(codes).count == 1, let code = codes.first, !code.isEmpty {
            abort(.fatal("the first 5 items all failed with \(code); stopping before spending more"))
        }
    }

    // MARK: One item

    /// An item ready for its model call (its output location and request), or one that ended
    /// before it: skipped, or failed reading its input or rendering its templates.
    enum Preparation {
        case finished(ItemResult)
        case ready(ItemResult, output: StorageURI, request: ConverseRequest)
    }

    /// Runs one item; nil when the run stopped before the item's model call.
    func process(_ item: WorkItem, _ context: ItemContext) async -> ItemResult? {
        switch await prepare(item, context) {
        case .finished(let result): return result
        case .ready(let result, let output, let request):
            return await call(item, context, request: request, output: output, result: result)
        }
    }

    /// Where the item's output goes (skipped or failed when it exists, as output.onExisting
    /// says), its input, and its request.
    func prepare(_ item: WorkItem, _ context: ItemContext) async -> Preparation {
        var result = ItemResult(id: item.id, index: item.index, input: item.inputURI, output: nil, status: .failed)
        func fail(_ code: String, _ message: String) -> Preparation { .finished(result.failed(code, message)) }
        if case .unreadable(let problem) = item.source { return fail(problem.code, problem.message) }
        // where it goes, and whether it is there already
        let output: StorageURI
        do {
            output = try context.builder.output(for: item)
        } catch {
            return fail("TemplateError", error.message)
        }
        result.output = output.description
        if context.job.output.onExisting != .overwrite {
            let exists: Bool
            do {
                exists = try await context.existing.contains(output, storage: context.storage)
            } catch let error as StorageError {
                if error.kind == .accessDenied || error.kind == .notFound {
                    abort(.fatal("cannot check the output \(output): \(error.code): \(error.message)"))
                }
                return fail(error.code, error.message)
            } catch {
                return fail("OutputCheckFailed", "\(error)")
            }
            if exists {
                if context.job.output.onExisting == .skip {
                    await context.collection?.addExisting(item, output: output, storage: context.storage)
                    result.status = .skipped
                    return .finished(result)
                }
                return fail("OutputExists", "\(output) exists and output.onExisting is fail")
            }
        }
        // its input
        var inputText: String?
        var attachment: InputAttachment?
        let maxBytes = context.job.inputs?.maxBytes ?? 1_048_576
        var inputURI: StorageURI?
        switch item.source {
        case .object(let uri, _): inputURI = uri
        case .prompt(_, let input): inputURI = input
        default: break
        }
        if let inputURI {
            do {
                if case .object(_, let size) = item.source, let kind = context.job.inputs?.attachAs {
                    attachment = try await InputAttachment.read(inputURI, key: item.key ?? "", size: size, kind: kind,
                                                                maxBytes: maxBytes, storage: context.storage)
                } else {
                    inputText = try TextInput.decode(try await context.storage.get(inputURI, maxBytes: maxBytes), maxBytes: maxBytes)
                }
            } catch let problem as InputProblem {
                return fail(problem.code, problem.message)
            } catch let error as StorageError {
                return fail(error.code, error.message)
            } catch {
                return fail("InputReadFailed", "\(error)")
            }
        }
        let request: ConverseRequest
        do {
            request = try context.builder.request(for: item, input: inputText, attachment: attachment)
        } catch {
            return fail("TemplateError", error.message)
        }
        return .ready(result, output: output, request: request)
    }

    /// The item's model calls (follow-ups too, with output.schema), then its output.
    func call(_ item: WorkItem, _ context: ItemContext, request: ConverseRequest, output: StorageURI,
              result: ItemResult) async -> ItemResult? {
        var result = result
        var request = request
        func fail(_ code: String, _ message: String) -> ItemResult { result.failed(code, message) }
        // the budget: admit the item only if what is spent, plus the worst case of every call in
        // flight and of this one, stays within it (only a successful call is billed)
        var worstUSD = 0.0
        if context.job.limits.budgetUSD != nil {
            guard let reserved = reserveBudget(for: request, replacing: 0) else { return nil }
            worstUSD = reserved
        }
        defer {
            if worstUSD > 0 { tally.state.withLock { $0.reservedUSD -= worstUSD } }
        }
        await context.unwritten.acquire()
        defer { context.unwritten.release() }
        let started = clock()
        var response: ConverseResponse
        var value: JSONValue?
        calls: while true {
            switch await call(request, item: item, context: context, result: &result) {
            case .stopped:
                // the run is stopping: an item whose call never went is not recorded
                if result.attempts == 0 { return nil }
                return fail("Interrupted", "the run stopped before the call succeeded")
            case .failed(let code, let message):
                return fail(code, message)
            case .answered(let answer):
                response = answer
            }
            // every answered call is billed, an answer that did not fit the schema too
            result.usage = result.usage.map { $0 + response.usage } ?? response.usage
            if let price {
                let cost = price.cost(inputTokens: response.usage.inputTokens, outputTokens: response.usage.outputTokens).usd
                result.costUSD += cost
                tally.state.withLock { $0.spentUSD += cost }
            }
            guard let structured = context.structured else { break calls }
            switch structured.check(response) {
            case .value(let fitting):
                value = fitting
                break calls
            case .mismatch(let problems):
                let answers = result.schemaRetries + 1
                let summary = problems.prefix(5).joined(separator: "; ")
                    + (problems.count > 5 ? "; and \(problems.count - 5) more" : "")
                guard result.schemaRetries < structured.retries else {
                    return fail(StructuredOutput.mismatchCode, "\(answers) answer\(answers == 1 ? "" : "s") did not match "
                        + "output.schema (output.schemaRetries is \(structured.retries)): \(summary)")
                }
                request = structured.followUp(request, answer: response, problems: problems)
                if context.job.limits.budgetUSD != nil {
                    guard let reserved = reserveBudget(for: request, replacing: worstUSD) else {
                        worstUSD = 0
                        return fail(StructuredOutput.mismatchCode, "the answer did not match output.schema, and a "
                            + "follow-up call would pass limits.budgetUSD: \(summary)")
                    }
                    worstUSD = reserved
                }
                result.schemaRetries += 1
                logger.debug("the answer does not match output.schema; asking again",
                             metadata: ["item": "\(item.id)", "followUp": "\(result.schemaRetries)",
                                        "problems": "\(problems.count)"])
            }
        }
        result.latencyMs = Int(((clock() - started) * 1000).rounded())
        return await writeOutput(response, value: value, item: item, to: output, result: result, context)
    }

    /// Writes an answered item's output, whole; never over an existing one unless asked.
    func writeOutput(_ response: ConverseResponse, value: JSONValue?, item: WorkItem, to output: StorageURI,
                     result: ItemResult, _ context: ItemContext) async -> ItemResult {
        var result = result
        func fail(_ code: String, _ message: String) -> ItemResult { result.failed(code, message) }
        let body: Data
        let contentType: String
        switch context.job.output.format {
        case .text:
            body = Data((value.map { PrettyJSON.compact($0) + "\n" } ?? response.text).utf8)
            contentType = "text/plain; charset=utf-8"
        case .json, .jsonl:
            body = OutputRecord.json(job: context.job, runID: identity.id, item: item, response: response,
                                     latencyMs: result.latencyMs ?? 0, attempts: result.attempts, usage: result.usage,
                                     value: value, schemaRetries: result.schemaRetries)
            contentType = "application/json"
        }
        do {
            let mark = "\(identity.id)/\(item.index)"
            let outcome = try await context.storage.put(output, data: body, contentType: contentType,
                                                        ifAbsent: context.job.output.onExisting != .overwrite,
                                                        metadata: [Self.writeMarkKey: mark])
            // a PUT whose answer was lost took effect, and its retry found the object: ours. When
            // the object cannot be read (the policy may grant only s3:PutObject on the outputs),
            // it counts as another's, and the item is skipped as before
            var ours = false
            if outcome == .alreadyExists, let found = try? await context.storage.head(output) {
                ours = found.metadata[Self.writeMarkKey] == mark
            }
            if outcome == .alreadyExists, !ours {
                if context.job.output.onExisting == .skip {
                    await context.collection?.addExisting(item, output: output, storage: context.storage)
                    result.status = .skipped
                    return result
                }
                return fail("OutputExists", "\(output) appeared while the item ran and output.onExisting is fail")
            }
        } catch let error as StorageError {
            if error.kind == .accessDenied || error.code == "NoSuchBucket" {
                abort(.fatal("cannot write outputs to \(output): \(error.code): \(error.message)"))
            }
            return fail(error.code, error.message)
        } catch {
            return fail("OutputWriteFailed", "\(error)")
        }
        if let value { context.collection?.add(item, value: value) }
        result.status = .succeeded
        return result
    }

    /// How one model call ended.
    enum CallOutcome {
        case answered(ConverseResponse)
        case failed(code: String, message: String)
        /// The run stopped before the call was answered.
        case stopped
    }

    /// One model call, paced and retried by the scheduler: throttles and transient errors are
    /// tried again, up to `limits.maxAttempts` attempts. Every attempt counts in `result`.
    func call(_ request: ConverseRequest, item: WorkItem, context: ItemContext, result: inout ItemResult) async
        -> CallOutcome
    {
        let inputEstimate = Self.estimateTokens(request)
        let reserved = Double(inputEstimate) + Double(context.job.model.maxTokens ?? 4096) * burndown
        var notBefore = 0.0
        var lastError: AWSError?
        var attempts = 0
        while attempts < context.job.limits.maxAttempts {
            guard let ticket = await scheduler.admit(reservedTokens: reserved, notBefore: notBefore, owner: item.index) else {
                break
            }
            attempts += 1
            result.attempts += 1
            do {
                let answer = try await context.bedrock.converse(request, retry: false)
                let usage = answer.response.usage
                scheduler.finish(ticket, outcome: .success(usedTokens: Double(usage.inputTokens)
                                                              + Double(usage.outputTokens) * burndown))
                return .answered(answer.response)
            } catch let error as AWSError {
                lastError = error
                let verdict = Self.classify(error)
                scheduler.finish(ticket, outcome: verdict == .throttle ? .throttled(message: error.message) : .failed)
                if verdict == .throttle { result.throttles += 1 }
                switch verdict {
                case .abort:
                    abort(.fatal("the model call failed with \(error.code): \(error.explanation)"))
                    return .failed(code: error.code, message: error.explanation)
                case .itemFails:
                    return .failed(code: error.code, message: error.explanation)
                case .throttle, .retry:
                    if tally.stop != nil { break }
                    let suggested = error.retryAfter.map { Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18 }
                    let delay = await scheduler.retryDelay(attempt: attempts + 1,
                                                           outcome: verdict == .throttle ? .throttled(message: error.message) : .failed,
                                                           suggested: suggested)
                    notBefore = clock() + delay
                    logger.debug("retrying", metadata: ["item": "\(item.id)", "code": "\(error.code)",
                                                        "attempt": "\(attempts + 1)", "delay": "\(String(format: "%.2f", delay))s"])
                }
            } catch {
                scheduler.finish(ticket, outcome: .failed)
                return .failed(code: "CallFailed", message: "\(error)")
            }
        }
        if let lastError { return .failed(code: lastError.code, message: lastError.message + " (after \(attempts) attempts)") }
        return .stopped
    }

    /// Reserves the worst-case cost of `request` (input estimate, maxTokens of output) within
    /// `limits.budgetUSD`, in place of an earlier reservation `replacing`; nil, and a budget stop,
    /// when spending plus every reservation would pass the budget.
    func reserveBudget(for request: ConverseRequest, replacing previous: Double) -> Double? {
        guard let budget = job.limits.budgetUSD, let price else { return 0 }
        let worst = price.cost(inputTokens: Self.estimateTokens(request), outputTokens: job.model.maxTokens ?? 4096).usd
        let fits = tally.state.withLock { s -> Bool in
            s.reservedUSD -= previous
            guard s.spentUSD + s.reservedUSD + worst <= budget else { return false }
            s.reservedUSD += worst
            return true
        }
        if !fits {
            let spent = tally.state.withLock { $0.spentUSD }
            abort(.budget(String(format: "the estimated cost would pass limits.budgetUSD ($%.2f): $%.4f spent, and the calls in flight and the next one could cost more", budget, spent)))
            return nil
        }
        return worst
    }

    /// The S3 metadata (`x-amz-meta-conveyor-write`) naming the run and item that wrote an output.
    static let writeMarkKey = "conveyor-write"

    enum Verdict { case throttle, retry, itemFails, abort }

    /// The runner's own retry policy: throttles and transient errors are retried up to
    /// maxAttempts (ModelTimeoutException too, unlike botocore); request errors fail the item;
    /// a missing model or refused access stops the run.
    static func classify(_ error: AWSError) -> Verdict {
        switch error.kind {
        case .throttled: return .throttle
        case .transport: return error.transportError?.isTransient == true ? .retry : .itemFails
        case .notFound: return .abort  // the model (or profile) does not exist
        case .accessDenied: return .abort
        case .invalidRequest, .preconditionFailed: return .itemFails
        case .service:
            if ["ModelTimeoutException", "ModelNotReadyException", "InternalServerException",
                "ServiceUnavailableException"].contains(error.code) { return .retry }
            if let status = error.status, [500, 502, 503, 504].contains(status) { return .retry }
            return .itemFails
        }
    }

    /// Input tokens as Bedrock's quota first counts them: characters / 4, plus attachments.
    static func estimateTokens(_ request: ConverseRequest) -> Int {
        (DryRun.characters(request) + 3) / 4 + DryRun.attachmentTokens(request)
    }
}

/// The output record of `output.format: json`, as the contract gives it.
enum OutputRecord {
    static func json(job: Job, runID: String, item: WorkItem, response: ConverseResponse, latencyMs: Int, attempts: Int,
                     usage: TokenUsage? = nil, value: JSONValue? = nil, schemaRetries: Int = 0) -> Data {
        let usage = usage ?? response.usage
        var record: JSONObject = [
            "job": .string(job.name), "runId": .string(runID), "model": .string(job.model.id),
            "item": .object(itemObject(item)),
            "text": .string(response.text), "stopReason": .string(response.stopReason.rawValue),
            "usage": ["inputTokens": .integer(Int64(usage.inputTokens)),
                      "outputTokens": .integer(Int64(usage.outputTokens)),
                      "totalTokens": .integer(Int64(usage.totalTokens))],
            "latencyMs": .integer(Int64(latencyMs)), "attempts": .integer(Int64(attempts)),
            "finishedAt": .string(RunIdentity.iso8601(Date())),
        ]
        if let value {
            // structured output: the value, and the follow-up calls it took
            record["json"] = value
            record["schemaRetries"] = .integer(Int64(schemaRetries))
        }
        return Data((PrettyJSON.compact(.object(record)) + "\n").utf8)
    }

    /// The record's `item`: id, key (when the item has one) and index.
    static func itemObject(_ item: WorkItem) -> JSONObject {
        var object: JSONObject = ["id": .string(item.id)]
        if let key = item.key { object["key"] = .string(key) }
        object["index"] = .integer(Int64(item.index))
        return object
    }
}

/// A counting semaphore for tasks: `acquire` suspends (never blocks a thread) until a slot is free.
final class AsyncSlots: Sendable {
    struct State {
        var available: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    let state: Mutex<State>

    init(_ count: Int) {
        state = Mutex(State(available: count))
    }

    func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { s -> Bool in
                if s.available > 0 {
                    s.available -= 1
                    return true
                }
                s.waiters.append(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }

    func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.waiters.isEmpty {
                s.available += 1
                return nil
            }
            return s.waiters.removeFirst()
        }
        next?.resume()
    }
}
